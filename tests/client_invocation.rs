//! The ways the wrapper is called, as distcc 3.4 is: explicit (`distfarm gcc …`), implicit
//! (`distfarm -c x.c` means `cc`), masquerade (a `gcc` link first on PATH, which must reach
//! the real compiler and never itself), `install-links`, the informational options, the host
//! list's sources and errors, `DISTCC_DIR` creation, and link steps that stay local.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use crate::support::wrapper::assert_distcc_exit_code;
use crate::support::{
    Cmd, RealDistccd, Work, distfarm_bin, free_port, local_object, read_text, test_path, text,
    write_script,
};

/// A host list using every token form both distcc and distfarm accept.
const SHOWN_HOSTS: &str =
    "127.0.0.1:3632/4,lzo  @box/2\tlocalhost/3 --localslots=2 box2:4000,down user@sshbox";
const SHOWN_TOKENS: [&str; 5] = [
    "127.0.0.1:3632/4,lzo",
    "@box/2",
    "localhost/3",
    "box2:4000,down",
    "user@sshbox",
];

// ---------------------------------------------------------------------------------------
// Implicit and masquerade forms
// ---------------------------------------------------------------------------------------

#[test]
fn implicit_form_compiles_remotely_with_cc() {
    let mut distccd = RealDistccd::start();
    let work = Work::new();
    work.distfarm(Some(&distccd.host_spec()))
        .env("DISTCC_FALLBACK", "0")
        .env("DISTCC_SKIP_LOCAL_RETRY", "1")
        .args(["-O2", "-c", "hello.c", "-o", "out/hello.o"])
        .run();
    // distcc sends `cc` under the name of the compiler it links to (see
    // compiler_names_are_rewritten_for_the_farm_exactly_as_distcc_does).
    work.distcc(&distccd.host_spec())
        .env("DISTCC_FALLBACK", "0")
        .args(["-O2", "-c", "hello.c", "-o", "out/distcc.o"])
        .run();
    let lines = distccd.wait_for_log_lines(" COMPILE_OK ", 2);
    let name = |line: &str| line.rsplit(' ').nth(1).unwrap().to_string();
    assert_eq!(name(&lines[0]), name(&lines[1]), "{lines:?}");
    assert!(name(&lines[0]).ends_with("gcc"), "{lines:?}");
    assert_eq!(
        work.read("out/hello.o"),
        local_object("cc", ["-O2"], Path::new("hello.c"), &work.src())
    );
}

/// The compiler name on the wire is the one the real distcc 3.4 client sends from the same
/// machine: `cc` → `gcc` (Debian's alternatives link) → `x86_64-linux-gnu-gcc`, and so on, so
/// that a build box of another architecture runs a compiler for ours; with
/// `DISTCC_NO_REWRITE_CROSS` the name is sent as given.
#[test]
fn compiler_names_are_rewritten_for_the_farm_exactly_as_distcc_does() {
    let mut distccd = RealDistccd::start();
    let work = Work::new();
    let versioned = std::fs::read_dir("/usr/bin")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| {
            n.strip_prefix("gcc-")
                .is_some_and(|v| v.chars().all(|c| c.is_ascii_digit()))
        })
        .expect("a versioned gcc (gcc-12) in /usr/bin");
    let cases: Vec<(String, Option<&str>)> = ["cc", "c++", "gcc", "g++", &versioned]
        .iter()
        .map(|c| (c.to_string(), None))
        .chain([("gcc".to_string(), Some("DISTCC_NO_REWRITE_CROSS"))])
        .collect();
    let mut seen = 0;
    for (compiler, no_rewrite) in &cases {
        let mut sent = Vec::new();
        for client in ["distcc", "distfarm"] {
            let cmd = if client == "distcc" {
                work.distcc(&distccd.host_spec())
            } else {
                work.distfarm(Some(&distccd.host_spec()))
            };
            let cmd = match no_rewrite {
                Some(var) => cmd.env(var, "1"),
                None => cmd,
            };
            cmd.env("DISTCC_FALLBACK", "0")
                .args([compiler.as_str(), "-O2", "-c", "hello.c", "-o", "out/x.o"])
                .run();
            seen += 1;
            let line = distccd.wait_for_log_lines(" COMPILE_OK ", seen)[seen - 1].clone();
            let name = line.rsplit(' ').nth(1).unwrap().to_string();
            sent.push(name);
        }
        assert_eq!(
            sent[0], sent[1],
            "{compiler} (no rewrite: {no_rewrite:?}): distcc sent {}, distfarm {}",
            sent[0], sent[1]
        );
    }
}

/// `gcc` found on PATH is our link: the job goes remote, and the local preprocessor is the
/// next `gcc` on PATH (a spy script that records its calls), run once, by us directly.
#[test]
fn masquerade_link_compiles_remotely_and_preprocesses_with_the_next_gcc_on_path() {
    let mut distccd = RealDistccd::start();
    let work = Work::new();
    let links = Masquerade::new(&work);
    for (argv0, name) in [(PathBuf::from("gcc"), "gcc"), (links.link("cc"), "cc")] {
        links.clear_spy_log();
        let out = links
            .cmd(&work, &argv0, Some(&distccd.host_spec()))
            .env("DISTCC_FALLBACK", "0")
            .env("DISTCC_SKIP_LOCAL_RETRY", "1")
            .args(["-O2", "-c", "hello.c", "-o", &format!("out/{name}.o")])
            .run();
        assert_eq!(
            text(&out.stderr),
            "",
            "{argv0:?}: a remote compile should be quiet"
        );
        // The first job of a command shape also asks the real compiler for its plan
        // (`-###`, see client/cpp_plans.rs): the same program, as the same child.
        let (questions, calls): (Vec<String>, Vec<String>) = links
            .spy_calls()
            .into_iter()
            .partition(|c| c.contains(" -### "));
        assert_eq!(
            calls.len(),
            1,
            "{argv0:?}: the real {name} should run exactly once (to preprocess): {calls:?}"
        );
        assert!(
            calls[0].starts_with(&format!("{name} safeguard=1 ")) && calls[0].contains(" -E "),
            "{calls:?}"
        );
        assert!(
            questions
                .iter()
                .all(|q| q.starts_with(&format!("{name} safeguard=1 "))),
            "{questions:?}"
        );
        assert_eq!(
            work.read(&format!("out/{name}.o")),
            local_object(name, ["-O2"], Path::new("hello.c"), &work.src())
        );
    }
    // The test distccd logs the full path its command list maps a name to.
    let lines = distccd.wait_for_log_lines(" COMPILE_OK ", 2);
    let named = |name: &str| {
        lines.iter().any(|l| {
            l.ends_with(&format!(" {name} hello.c")) || l.ends_with(&format!("/{name} hello.c"))
        })
    };
    assert!(named("gcc"), "{lines:?}");
    assert!(named("cc"), "{lines:?}");
}

/// With a dead host, the link falls back to the real gcc — exactly one compile, started by us
/// (`_DISTCC_SAFEGUARD=1`), not by a second distfarm.
#[test]
fn masquerade_with_a_dead_host_falls_back_to_the_real_gcc_without_recursing() {
    let work = Work::new();
    let links = Masquerade::new(&work);
    let dead = format!("127.0.0.1:{}", free_port());
    let out = links
        .cmd(&work, Path::new("gcc"), Some(&dead))
        .args(["-O2", "-c", "hello.c", "-o", "out/hello.o"])
        .timeout(Duration::from_secs(30))
        .run();
    let warnings: Vec<String> = text(&out.stderr).lines().map(String::from).collect();
    assert_eq!(
        warnings.len(),
        1,
        "one fallback warning expected: {warnings:?}"
    );
    assert!(
        warnings[0].contains(&dead) && warnings[0].contains("hello.c"),
        "{warnings:?}"
    );

    let calls = links.spy_calls();
    let compiles: Vec<&String> = calls.iter().filter(|c| c.contains(" -c ")).collect();
    assert_eq!(
        compiles.len(),
        1,
        "the real gcc should compile exactly once: {calls:?}"
    );
    assert!(
        calls.iter().all(|c| c.starts_with("gcc safeguard=1 ")),
        "every real gcc call should come straight from the first distfarm: {calls:?}"
    );
    assert_eq!(work.read("out/hello.o"), work.hello_reference());
}

/// A "compiler" after our links that calls the link again is a loop; it must end with
/// distcc's recursion error (111), not run forever.
#[test]
fn masquerade_loop_through_a_compiler_script_ends_with_the_recursion_error() {
    let work = Work::new();
    let links = Masquerade::new(&work);
    write_script(
        &links.spy_dir().join("gcc"),
        &format!("exec {} \"$@\"", links.link("gcc").display()),
    );
    let out = links
        .cmd(&work, Path::new("gcc"), Some(""))
        .args(["-c", "hello.c", "-o", "out/hello.o"])
        .timeout(Duration::from_secs(30))
        .run_expect_failure();
    assert_eq!(
        out.status.code(),
        Some(111),
        "stderr:\n{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("recursively"),
        "{}",
        text(&out.stderr)
    );
    assert!(!work.path("out/hello.o").exists());
}

#[test]
fn install_links_creates_working_compiler_links() {
    let work = Work::new();
    let dir = work.root().join("links");
    let install = || {
        work.distfarm(None)
            .env("PATH", "/usr/bin:/bin")
            .args(["install-links"])
            .arg(&dir)
            .run()
    };
    let out = install();
    let me = distfarm_bin().canonicalize().unwrap();
    for name in ["gcc", "cc", "g++"] {
        let link = dir.join(name);
        assert!(
            link.symlink_metadata()
                .is_ok_and(|m| m.file_type().is_symlink()),
            "{} is not a link",
            link.display()
        );
        assert_eq!(
            link.canonicalize().unwrap(),
            me,
            "{} points elsewhere",
            link.display()
        );
        assert!(
            text(&out.stdout).contains(&link.display().to_string()),
            "install-links should list {}:\n{}",
            link.display(),
            text(&out.stdout)
        );
    }
    install(); // again: nothing to do, still success

    // A link in front of PATH answers as the real gcc does through distcc's own link (both
    // run it under its triple name: see compiler_names_are_rewritten_for_the_farm…).
    let distcc_links = crate::support::temp_dir("distcc-links");
    std::os::unix::fs::symlink(
        crate::support::require("distcc", "distcc"),
        distcc_links.path().join("gcc"),
    )
    .unwrap();
    let version_through = |dir: &Path| {
        let out = Cmd::new("gcc")
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", dir.display()))
            .env("DISTCC_DIR", work.distcc_dir())
            .env("DISTCC_HOSTS", "")
            .arg("--version")
            .run();
        text(&out.stdout)
    };
    let ours = version_through(&dir);
    assert_eq!(ours, version_through(distcc_links.path()));
    assert!(ours.contains("Free Software Foundation"), "{ours}");
}

// ---------------------------------------------------------------------------------------
// Informational options
// ---------------------------------------------------------------------------------------

/// `distfarm OPTION` with `SHOWN_HOSTS` prints `expected`, and so does distcc 3.4.
#[track_caller]
fn assert_prints_like_distcc(option: &str, expected: &str) {
    let work = Work::new();
    let ours = work.distfarm(Some(SHOWN_HOSTS)).arg(option).run();
    assert_eq!(text(&ours.stdout), expected);
    let theirs = work.distcc(SHOWN_HOSTS).arg(option).run();
    assert_eq!(
        text(&ours.stdout),
        text(&theirs.stdout),
        "distcc 3.4 prints otherwise"
    );
}

#[test]
fn show_hosts_prints_each_token_verbatim_like_distcc() {
    let expected: String = SHOWN_TOKENS.iter().map(|t| format!("{t}\n")).collect();
    assert_prints_like_distcc("--show-hosts", &expected);
}

#[test]
fn dash_j_prints_the_sum_of_slot_limits_like_distcc() {
    // 4 + 2 + 3 + 4 (default) + 4 (default); `,down` entries count, as in distcc.
    assert_prints_like_distcc("-j", "17\n");
}

#[test]
fn help_and_version_exit_zero() {
    let work = Work::new();
    let help = work.distfarm(None).arg("--help").run();
    assert!(text(&help.stdout).contains("distfarm") && text(&help.stdout).contains("--show-hosts"));
    let version = work.distfarm(None).arg("--version").run();
    assert!(
        text(&version.stdout).contains(env!("CARGO_PKG_VERSION")),
        "{}",
        text(&version.stdout)
    );
}

// ---------------------------------------------------------------------------------------
// Where the host list comes from
// ---------------------------------------------------------------------------------------

#[test]
fn host_syntax_error_in_distcc_hosts_names_the_token_and_the_variable() {
    let work = Work::new();
    let hosts = "127.0.0.1 box:notaport";
    let out = work
        .distfarm(Some(hosts))
        .arg("--show-hosts")
        .run_expect_failure();
    assert_distcc_exit_code(&out);
    assert_names(&out, &["box:notaport", "$DISTCC_HOSTS"]);

    let out = work
        .distfarm(Some(hosts))
        .env("DISTCC_FALLBACK", "0")
        .args(["gcc", "-c", "hello.c", "-o", "out/hello.o"])
        .run_expect_failure();
    assert_distcc_exit_code(&out);
    assert_names(&out, &["box:notaport", "$DISTCC_HOSTS", "hello.c"]);
    assert!(!work.path("out/hello.o").exists());
}

#[test]
fn host_syntax_error_in_the_hosts_file_names_the_token_and_the_file() {
    let work = Work::new();
    let file = work.distcc_dir().join("hosts");
    std::fs::write(&file, "# build farm\n127.0.0.1\nbox/0\n").unwrap();
    let out = work.distfarm(None).arg("-j").run_expect_failure();
    assert_distcc_exit_code(&out);
    assert_names(&out, &["box/0", &file.display().to_string()]);
}

#[test]
fn hosts_come_from_distcc_dir_hosts_when_distcc_hosts_is_unset() {
    let mut distccd = RealDistccd::start();
    let work = Work::new();
    let token = format!("{}/2,lzo", distccd.host_spec());
    std::fs::write(
        work.distcc_dir().join("hosts"),
        format!("# farm\n{token}\n"),
    )
    .unwrap();

    let shown = work.distfarm(None).arg("--show-hosts").run();
    assert_eq!(text(&shown.stdout), format!("{token}\n"));
    work.distfarm(None)
        .env("DISTCC_FALLBACK", "0")
        .args(["gcc", "-O2", "-c", "hello.c", "-o", "out/hello.o"])
        .run();
    distccd.wait_for_log_lines(" COMPILE_OK ", 1);
    assert_eq!(work.read("out/hello.o"), work.hello_reference());

    // A set DISTCC_HOSTS wins over the file, even when it says something else.
    let dead = format!("127.0.0.1:{}", free_port());
    let shown = work.distfarm(Some(&dead)).arg("--show-hosts").run();
    assert_eq!(text(&shown.stdout), format!("{dead}\n"));
}

#[test]
fn missing_distcc_dir_is_created() {
    let mut distccd = RealDistccd::start();
    let work = Work::new();
    let distcc_dir = work.root().join("not/yet/there");
    work.distfarm(Some(&distccd.host_spec()))
        .env("DISTCC_DIR", &distcc_dir)
        .env("DISTCC_FALLBACK", "0")
        .args(["gcc", "-c", "hello.c", "-o", "out/hello.o"])
        .run();
    distccd.wait_for_log_lines(" COMPILE_OK ", 1);
    let lock = distcc_dir.join(format!("lock/cpu_tcp_127.0.0.1_{}_0", distccd.port()));
    assert!(lock.exists(), "{} was not created", lock.display());
}

// ---------------------------------------------------------------------------------------
// Linking
// ---------------------------------------------------------------------------------------

/// Linking is not distributable: it runs here, and no host is contacted (with a dead host
/// and no fallback, any attempt would fail the command).
#[test]
fn linking_runs_locally_without_contacting_a_host() {
    let work = Work::new();
    std::fs::write(
        work.src().join("main.c"),
        "int greet(int times);\nint main(void) { return greet(2) == 2 ? 0 : 1; }\n",
    )
    .unwrap();
    for source in ["main.c", "hello.c"] {
        work.gcc().args(["-c", source]).run();
    }
    let dead = format!("127.0.0.1:{}", free_port());
    for (form, prog) in [(vec!["gcc"], "prog-explicit"), (vec![], "prog-implicit")] {
        work.distfarm(Some(&dead))
            .env("DISTCC_FALLBACK", "0")
            .args(form)
            .args(["main.o", "hello.o", "-o", prog])
            .run();
        let ran = Cmd::new(work.src().join(prog)).run();
        assert_eq!(text(&ran.stdout), "hello, distcc\nhello, distcc\n");
    }
    let touched: Vec<String> = work
        .lock_files()
        .into_iter()
        .filter(|f| f.contains("127.0.0.1"))
        .collect();
    assert_eq!(
        touched,
        Vec::<String>::new(),
        "a link step took a slot of or backed off a host"
    );
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// `links/{gcc,cc} -> distfarm` first on PATH, then `spy/{gcc,cc}`: scripts that append
/// `NAME safeguard=$_DISTCC_SAFEGUARD ARGS` to `spy.log` and exec the real compiler.
struct Masquerade {
    root: PathBuf,
}

impl Masquerade {
    fn new(work: &Work) -> Masquerade {
        let root = work.root().join("masq");
        std::fs::create_dir_all(root.join("links")).unwrap();
        std::fs::create_dir_all(root.join("spy")).unwrap();
        let masq = Masquerade { root };
        for name in ["gcc", "cc"] {
            std::os::unix::fs::symlink(distfarm_bin(), masq.link(name)).unwrap();
            let real = crate::support::programs::find_program(name)
                .unwrap_or_else(|| panic!("{name} is not installed: apt-get install -y gcc"));
            write_script(
                &masq.spy_dir().join(name),
                &format!(
                    "echo \"{name} safeguard=$_DISTCC_SAFEGUARD $*\" >> {log}\nexec {real} \"$@\"",
                    log = masq.spy_log().display(),
                    real = real.display()
                ),
            );
        }
        masq
    }

    fn link(&self, name: &str) -> PathBuf {
        self.root.join("links").join(name)
    }

    fn spy_dir(&self) -> PathBuf {
        self.root.join("spy")
    }

    fn spy_log(&self) -> PathBuf {
        self.root.join("spy.log")
    }

    fn clear_spy_log(&self) {
        let _ = std::fs::remove_file(self.spy_log());
    }

    /// The real compiler's calls, less the one question the wrapper asks it about itself,
    /// once per compiler and cached: `-v` (its driver names its identity), or an empty
    /// `-x cpp-output /dev/null` compile whose object shows it.
    fn spy_calls(&self) -> Vec<String> {
        read_text(&self.spy_log())
            .lines()
            .filter(|call| !call.ends_with(" -v") && !call.contains(" -x cpp-output /dev/null "))
            .map(String::from)
            .collect()
    }

    /// `argv0 …` (a bare name is found on PATH, as a shell would) with PATH = links:spy:PATH.
    fn cmd(&self, work: &Work, argv0: &Path, hosts: Option<&str>) -> Cmd {
        let path = format!(
            "{}:{}:{}",
            self.root.join("links").display(),
            self.spy_dir().display(),
            test_path().to_string_lossy()
        );
        work.env(Cmd::new(argv0), hosts).env("PATH", path)
    }
}

#[track_caller]
fn assert_names(out: &Output, needles: &[&str]) {
    let stderr = text(&out.stderr);
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "the message does not name {needle:?}:\n{stderr}"
        );
    }
}
