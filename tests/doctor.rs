//! `distfarm doctor` against four SSH hosts on the real OpenSSH sshd: a good one, one whose
//! `gcc` (a wrapper script first on sshd's PATH) reports another version, one where nothing
//! listens, and one whose host key is pinned nowhere. One line per host, each problem with
//! its next step, a non-zero exit, and the same facts as JSON. And the native CPU flags a
//! build picks up (`CFLAGS`, `CXXFLAGS`, /etc/portage/make.conf), each named with where it
//! came from and the explicit flags it stands for on this machine.

use std::path::Path;
use std::time::Duration;

use crate::support::namespace::with_private_mounts;
use crate::support::{Cmd, Sshd, distfarm_bin, free_port, text, write_script};

/// The four hosts in one ssh config, as the invoking user would have them.
fn ssh_config(good: &Sshd, odd: &Sshd, dir: &Path) -> std::path::PathBuf {
    let empty = dir.join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let host = |alias: &str, sshd: &Sshd, port: u16, known_hosts: &Path| {
        format!(
            "Host {alias}\n    HostName 127.0.0.1\n    Port {port}\n    User {}\n    \
             IdentityFile {}\n    IdentitiesOnly yes\n    UserKnownHostsFile {}\n    \
             GlobalKnownHostsFile /dev/null\n    StrictHostKeyChecking yes\n    BatchMode yes\n    \
             ConnectTimeout 5\n",
            sshd.user(),
            sshd.client_key().display(),
            known_hosts.display()
        )
    };
    let config = [
        host("good", good, good.port(), &good.known_hosts()),
        host("oddgcc", odd, odd.port(), &odd.known_hosts()),
        host("nowhere", good, free_port(), &good.known_hosts()),
        host("newkey", good, good.port(), &empty),
    ]
    .concat();
    let file = dir.join("ssh_config");
    std::fs::write(&file, config).unwrap();
    file
}

#[test]
fn doctor_reports_each_host_and_the_next_step_for_each_problem() {
    let wrappers = crate::support::files::readable_temp_dir("doctor-bin");
    write_script(
        &wrappers.path().join("gcc"),
        "case \"$1\" in -dumpfullversion|-dumpversion) echo 9.9.9;; *) exec /usr/bin/gcc \"$@\";; esac",
    );
    let good = Sshd::start();
    let odd = Sshd::builder()
        .config_line(format!(
            "SetEnv PATH={}:/usr/local/bin:/usr/bin:/bin",
            wrappers.path().display()
        ))
        .start();
    let work = crate::support::temp_dir("doctor");
    let config = ssh_config(&good, &odd, work.path());
    let doctor = || {
        Cmd::new(distfarm_bin())
            .arg("doctor")
            .env("DISTFARM_SSH_CONFIG", &config)
            .env("DISTCC_HOSTS", "@good @oddgcc @nowhere @newkey")
            .env("DISTCC_DIR", work.path().join("distcc"))
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("CFLAGS")
            .env_remove("CXXFLAGS")
            .timeout(Duration::from_secs(120))
    };

    let out = doctor().run_expect_failure();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let report = text(&out.stdout);
    let line = |host: &str| {
        report
            .lines()
            .find(|l| l.starts_with(&format!("{host}: ")))
            .unwrap_or_else(|| panic!("no line for {host}:\n{report}"))
            .to_string()
    };
    // The good host: everything, and distcc's own server recognised.
    let good_line = line("@good");
    assert!(
        good_line.starts_with("@good: reachable, logged in, host key pinned, distccd 3.4"),
        "{report}"
    );
    assert!(good_line.contains("compilers: all"), "{report}");
    // Another gcc: named, with both versions and what to do.
    let odd_line = line("@oddgcc");
    assert!(odd_line.contains("gcc not"), "{report}");
    let here = text(&Cmd::new("gcc").arg("-dumpfullversion").run().stdout);
    let here = here.trim();
    assert!(
        report.contains(&format!(
            "gcc is 9.9.9 for x86_64-linux-gnu on oddgcc but {here}"
        )),
        "{report}"
    );
    assert!(
        report.contains(&format!("next: install gcc {here}")),
        "{report}"
    );
    // Nothing listening.
    assert!(
        line("@nowhere").starts_with("@nowhere: UNREACHABLE"),
        "{report}"
    );
    // A host key pinned nowhere: not logged in, and the way to pin it.
    assert!(
        line("@newkey").starts_with("@newkey: reachable, HOST KEY NOT PINNED"),
        "{report}"
    );
    assert!(report.contains("--accept-new newkey"), "{report}");
    assert_eq!(
        report.matches("  problem: ").count(),
        report.matches("     next: ").count(),
        "every problem has its next step:\n{report}"
    );

    let out = doctor().arg("--json").run_expect_failure();
    let json = text(&out.stdout);
    assert!(json.contains("\"ok\": false"), "{json}");
    for expected in [
        "{\"host\": \"@good\", \"kind\": \"ssh\", \"reachable\": true, \"authenticated\": true, \
         \"host_key_pinned\": true, \"server\": \"distccd 3.4",
        "{\"host\": \"@nowhere\", \"kind\": \"ssh\", \"reachable\": false",
        "{\"host\": \"@newkey\", \"kind\": \"ssh\", \"reachable\": true, \"authenticated\": null, \
         \"host_key_pinned\": false",
        "\"there\": {\"version\": \"9.9.9\"",
    ] {
        assert!(json.contains(expected), "{expected} in\n{json}");
    }
}

#[test]
fn doctor_exits_0_when_every_host_is_right() {
    let good = Sshd::start();
    let out = Cmd::new(distfarm_bin())
        .arg("doctor")
        .env("DISTFARM_SSH_CONFIG", good.ssh_config())
        .env("DISTCC_HOSTS", good.distcc_host())
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("CFLAGS")
        .env_remove("CXXFLAGS")
        .timeout(Duration::from_secs(120))
        .run();
    let report = text(&out.stdout);
    assert!(report.ends_with("everything looks right\n"), "{report}");
}

/// What this machine's gcc says `flag` (`-march` or `-mtune`) resolves to with `=native`:
/// `gcc -march=native -Q --help=target` prints `  -march=   znver3`.
fn resolved_here(flag: &str) -> String {
    let out = Cmd::new("gcc")
        .args([&format!("{flag}=native"), "-Q", "--help=target"])
        .run();
    let help = text(&out.stdout);
    let value = help
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{flag}=")))
        .unwrap_or_else(|| panic!("gcc -Q --help=target names no {flag}:\n{help}"))
        .trim()
        .to_string();
    format!("{flag}={value}")
}

/// The explicit flags a report line gives for a native flag: `… means FLAGS here…`.
fn meaning_in(line: &str) -> Vec<String> {
    let (_, rest) = line
        .split_once(" means ")
        .unwrap_or_else(|| panic!("no meaning in {line:?}"));
    let (flags, _) = rest
        .split_once(" here")
        .unwrap_or_else(|| panic!("no meaning in {line:?}"));
    flags.split_whitespace().map(String::from).collect()
}

/// `gcc -O3 FLAGS -S` of vector code: where the CPU's features show.
fn vector_assembly(dir: &Path, flags: &[String]) -> String {
    let source = dir.join("vec.c");
    std::fs::write(
        &source,
        "float dot(const float *a, const float *b, int n) {\n\
         float s = 0; for (int i = 0; i < n; i++) s += a[i] * b[i]; return s; }\n",
    )
    .unwrap();
    let out = dir.join("vec.s");
    Cmd::new("gcc")
        .arg("-O3")
        .args(flags)
        .args(["-S", "-o"])
        .arg(&out)
        .arg(&source)
        .run();
    crate::support::read_text(&out)
}

/// Doctor run in a private mount namespace where /etc is an overlay holding `make_conf` as
/// /etc/portage/make.conf (the path doctor reads is fixed); the machine's /etc is untouched.
fn doctor_with_make_conf(make_conf: &str, work: &Path) -> std::process::Output {
    let conf = work.join("make.conf");
    std::fs::write(&conf, make_conf).unwrap();
    let (upper, scratch) = (work.join("etc-upper"), work.join("etc-work"));
    std::fs::create_dir_all(&upper).unwrap();
    std::fs::create_dir_all(&scratch).unwrap();
    let script = r#"conf=$1 upper=$2 scratch=$3; shift 3
mount -t overlay distfarm-test -o "lowerdir=/etc,upperdir=$upper,workdir=$scratch" /etc || exit 90
mkdir -p /etc/portage && cp "$conf" /etc/portage/make.conf || exit 91
exec "$@""#;
    with_private_mounts(script)
        .arg(&conf)
        .arg(&upper)
        .arg(&scratch)
        .arg(distfarm_bin())
        .arg("doctor")
        .env("DISTCC_HOSTS", "localhost")
        .env("DISTCC_DIR", work.join("distcc"))
        .env("CFLAGS", "-O2 -march=native")
        .env("CXXFLAGS", "-O2 -mtune=native -g")
        .timeout(Duration::from_secs(120))
        .output_unchecked()
        .unwrap()
}

#[test]
fn doctor_names_native_flags_where_they_come_from_and_what_they_mean_here() {
    assert!(
        nix::unistd::Uid::effective().is_root(),
        "this test mounts over /etc/portage in a private mount namespace: run the tests as \
         root (scripts/test under sudo; CI runs as root)"
    );
    let work = crate::support::temp_dir("doctor-native");
    let out = doctor_with_make_conf(
        "# by the test\nCOMMON_FLAGS=\"-O2 -pipe -march=native\"\nCFLAGS=\"${COMMON_FLAGS}\"\n\
         MAKEOPTS=\"-j2\"\n",
        work.path(),
    );
    let report = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let line = |origin: &str| {
        report
            .lines()
            .find(|l| l.starts_with(origin))
            .unwrap_or_else(|| panic!("no line for {origin}:\n{report}"))
            .to_string()
    };
    let (march, mtune) = (resolved_here("-march"), resolved_here("-mtune"));

    // Each place is named with its flag; the one variable that is only a reference is not.
    let cflags = line("CFLAGS (environment): -march=native means ");
    let make_conf = line("/etc/portage/make.conf: COMMON_FLAGS: -march=native means ");
    let cxxflags = line("CXXFLAGS (environment): -mtune=native means ");
    assert!(
        !report.contains("make.conf: CFLAGS"),
        "${{COMMON_FLAGS}} itself holds no flag:\n{report}"
    );
    for native in [&cflags, &make_conf] {
        let explicit = meaning_in(native);
        assert!(explicit.contains(&march), "{march} in {native}");
        assert!(explicit.contains(&mtune), "{mtune} in {native}");
        assert!(
            native.ends_with("distfarm sends those flags instead, so the jobs distribute"),
            "{native}"
        );
        // What they stand for is what -march=native does here: the same vector code.
        assert_eq!(
            vector_assembly(work.path(), &explicit),
            vector_assembly(work.path(), &["-march=native".to_string()]),
            "{explicit:?} compile as -march=native does"
        );
    }
    assert_eq!(meaning_in(&cflags), meaning_in(&make_conf));
    let tune = meaning_in(&cxxflags);
    assert!(tune.contains(&mtune), "{mtune} in {cxxflags}");
    assert!(
        !tune.contains(&march),
        "-mtune=native sets no -march: {cxxflags}"
    );

    // With -g the job stays here: a problem, and the flags to write instead.
    assert!(
        report.contains(
            "  problem: CXXFLAGS (environment): -mtune=native with debug info (-g): distfarm \
             compiles such jobs here"
        ),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "     next: replace -mtune=native in CXXFLAGS (environment) with: {}\n",
            tune.join(" ")
        )),
        "{report}"
    );
    assert!(report.ends_with("1 problem\n"), "{report}");
}
