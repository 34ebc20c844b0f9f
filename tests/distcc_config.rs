//! `distfarm config` and its `distcc-config` name: Gentoo's options on the files the real
//! distcc reads. A list set here is the list `distcc --show-hosts` prints; a bad list changes
//! nothing; comments and an offer's block survive; the env.d settings are kept (checked in a
//! private mount namespace so the machine's own /etc/env.d is never touched).

use crate::support::namespace::with_private_mounts;
use crate::support::{Cmd, Work, distfarm_bin, read_text, text};

/// `distcc-config` as a link to distfarm, in the work area.
fn distcc_config(work: &Work) -> Cmd {
    let link = work.root().join("distcc-config");
    if !link.exists() {
        std::os::unix::fs::symlink(distfarm_bin(), &link).unwrap();
    }
    work.env(Cmd::new(link), None)
}

#[test]
fn set_hosts_writes_the_list_the_real_distcc_shows() {
    let work = Work::new();
    let list = "@a/8 b:3700/4,lzo";
    let out = distcc_config(&work).args(["--set-hosts", list]).run();
    assert!(text(&out.stdout).contains("distcc_dir/hosts"), "{out:?}");

    let shown = work.env(Cmd::new(crate::support::require("distcc", "distcc")), None);
    let out = shown.arg("--show-hosts").run();
    assert_eq!(
        text(&out.stdout).split_whitespace().collect::<Vec<_>>(),
        list.split_whitespace().collect::<Vec<_>>(),
        "the real distcc reads the same list from $DISTCC_DIR/hosts"
    );
    let ours = work.distfarm(None).arg("--show-hosts").run();
    assert_eq!(text(&ours.stdout), text(&out.stdout));
    let got = work.distfarm(None).args(["config", "--get-hosts"]).run();
    assert_eq!(text(&got.stdout).trim(), list);
}

#[test]
fn a_bad_list_names_the_token_and_changes_nothing() {
    let work = Work::new();
    let hosts = work.distcc_dir().join("hosts");
    std::fs::write(&hosts, "# mine\ngood/2\n").unwrap();
    let out = distcc_config(&work)
        .args(["--set-hosts", "@a/8 b:x/4"])
        .run_expect_failure();
    assert!(text(&out.stderr).contains("\"b:x/4\""), "{out:?}");
    assert!(text(&out.stderr).contains("nothing was changed"), "{out:?}");
    assert_eq!(read_text(&hosts), "# mine\ngood/2\n");
}

#[test]
fn set_hosts_keeps_comments_and_an_offer_block() {
    let work = Work::new();
    let hosts = work.distcc_dir().join("hosts");
    let block = "# BEGIN distfarm offer x\n127.0.0.1:4000/8\n# END distfarm offer x\n";
    std::fs::write(&hosts, format!("# my farm\nold/2\n{block}")).unwrap();
    distcc_config(&work).args(["--set-hosts", "new/4"]).run();
    assert_eq!(read_text(&hosts), format!("# my farm\nnew/4\n{block}"));
}

/// As root, `--set-verbose` and `--set-log` write Gentoo's /etc/env.d/02distcc — here into
/// an overlay over /etc in a namespace of its own, whose writes land on a tmpfs (Debian has
/// no /etc/env.d) — and the `--get-` options read it back.
#[test]
fn verbose_and_log_settings_live_in_env_d() {
    assert!(
        nix::unistd::Uid::effective().is_root(),
        "writing /etc/env.d needs root: run the tests as root (CI does)"
    );
    let work = Work::new();
    let script = r#"scratch=$2 && mount -t tmpfs distfarm-test "$scratch" || exit 90
mkdir "$scratch/upper" "$scratch/work" || exit 90
mount -t overlay distfarm-test -o "lowerdir=/etc,upperdir=$scratch/upper,workdir=$scratch/work" /etc || exit 90
"$1" config --set-verbose 1 >/dev/null || exit 91
"$1" config --set-log /var/log/distcc.log >/dev/null || exit 92
"$1" config --get-verbose && "$1" config --get-log && cat /etc/env.d/02distcc"#;
    let out = work
        .env(
            with_private_mounts(script)
                .arg(distfarm_bin())
                .arg(work.root().join("tmp")),
            None,
        )
        .run();
    assert_eq!(
        text(&out.stdout),
        "DISTCC_VERBOSE=1\nDISTCC_LOG=/var/log/distcc.log\n\
         DISTCC_VERBOSE=\"1\"\nDISTCC_LOG=\"/var/log/distcc.log\"\n"
    );
}

#[test]
fn update_masquerade_links_every_compiler_and_drops_stale_links_only() {
    let work = Work::new();
    let dir = work.root().join("masq");
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(distfarm_bin(), dir.join("gcc-99")).unwrap();
    std::fs::write(dir.join("notes.txt"), "mine").unwrap();
    let out = work
        .distfarm(None)
        .args(["config", "--update-masquerade", "--masquerade-dir"])
        .arg(&dir)
        .run();
    assert!(text(&out.stdout).contains("removed"), "{out:?}");
    assert!(!dir.join("gcc-99").exists(), "the link of a gone compiler");
    assert!(dir.join("notes.txt").exists(), "other files are left alone");
    assert_eq!(
        std::fs::read_link(dir.join("gcc")).unwrap(),
        distfarm_bin().canonicalize().unwrap()
    );
}

#[test]
fn install_links_with_distcc_config_makes_a_link_that_answers_as_distcc_config() {
    let work = Work::new();
    let dir = work.root().join("links");
    let out = work
        .distfarm(None)
        .env("PATH", "/usr/bin:/bin")
        .args(["install-links", "--distcc-config"])
        .arg(&dir)
        .run();
    let link = dir.join("distcc-config");
    assert!(
        link.symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink()),
        "{} is not a link: {out:?}",
        link.display()
    );
    assert_eq!(
        link.canonicalize().unwrap(),
        distfarm_bin().canonicalize().unwrap()
    );
    assert!(
        text(&out.stdout).contains(&link.display().to_string()),
        "install-links lists {}: {out:?}",
        link.display()
    );

    // Run by that name, it is Gentoo's distcc-config on the files distcc reads.
    let list = "@a/8 b:3700/4,lzo";
    std::fs::create_dir_all(work.distcc_dir()).unwrap();
    std::fs::write(work.distcc_dir().join("hosts"), format!("{list}\n")).unwrap();
    let got = work.env(Cmd::new(&link), None).arg("--get-hosts").run();
    assert_eq!(text(&got.stdout).trim(), list, "{got:?}");
}
