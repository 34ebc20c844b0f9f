//! `scripts/demo`, the first five minutes of a new user, on a tiny project so that a broken
//! demo fails here without CI paying for Lua four times: the debug binary (`DEMO_DISTFARM`),
//! a few C files (`DEMO_PROJECT`), two small compiles per way (`DEMO_SMALL_JOBS`). The demo's
//! work dir is the only thing in a test's own `TMPDIR`, so "nothing left behind" is "that
//! directory is empty", and every process the demo starts carries the work dir's path in its
//! environment or command line, so "nothing left running" is "no process names it".

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::programs::manifest_dir;
use crate::support::{ChildGuard, Cmd, distfarm_bin, require, set_mode, temp_dir, text, wait_for};

/// The peers the whole demo runs (it skips distcc where it is missing; the test does not).
fn require_peers() {
    require("sshd", "openssh-server");
    require("ssh", "openssh-client");
    require("distcc", "distcc");
    require("distccd", "distcc");
}

/// A project of `files` C files of `functions` functions each.
fn c_project(dir: &Path, files: usize, functions: usize) {
    for f in 0..files {
        let mut source = String::from("#include <stdio.h>\n");
        for i in 0..functions {
            source.push_str(&format!(
                "int f{f}_{i}(int *a, int n) {{ int s = 0; for (int k = 0; k < n; k++) \
                 s += a[k] * {i} ^ (s >> 3); printf(\"%d\", s); return s; }}\n"
            ));
        }
        std::fs::write(dir.join(format!("part{f}.c")), source).expect("write a C file");
    }
}

/// A test's project and its private `TMPDIR` (where the demo makes its work dir). Traversable
/// by all: run as root, distccd compiles as an unprivileged user inside the work dir.
struct Setup {
    root: tempfile::TempDir,
    project: PathBuf,
    tmp: PathBuf,
}

fn setup(label: &str, files: usize, functions: usize) -> Setup {
    let root = temp_dir(label);
    set_mode(root.path(), 0o755);
    let project = root.path().join("tiny");
    let tmp = root.path().join("tmp");
    for dir in [&project, &tmp] {
        std::fs::create_dir(dir).expect("mkdir");
        set_mode(dir, 0o755);
    }
    c_project(&project, files, functions);
    Setup { root, project, tmp }
}

fn demo(setup: &Setup) -> Cmd {
    Cmd::new(manifest_dir().join("scripts/demo"))
        .env("DEMO_DISTFARM", distfarm_bin())
        .env("DEMO_PROJECT", &setup.project)
        .env("DEMO_SMALL_JOBS", "2")
        .env("DEMO_NO_INSTALL", "1")
        .env("TMPDIR", &setup.tmp)
}

/// Every process whose command line or environment names `marker`, as `pid: command line`.
fn processes_naming(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let read = |file| std::fs::read(entry.path().join(file)).unwrap_or_default();
        let cmdline = read("cmdline");
        let environ = read("environ");
        let names = |bytes: &[u8]| bytes.windows(marker.len()).any(|w| w == marker.as_bytes());
        if names(&cmdline) || names(&environ) {
            found.push(format!("{pid}: {}", text(&cmdline).replace('\0', " ")));
        }
    }
    found
}

fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read the test's TMPDIR")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// `==> working in /…/distfarm-demo.XXXXXX (…)` → the work dir.
fn work_dir(line: &str) -> Option<String> {
    let rest = line.strip_prefix("==> working in ")?;
    Some(rest.split_whitespace().next()?.to_string())
}

#[test]
fn tiny_project_demo_runs_every_way_and_every_object_is_identical() {
    require_peers();
    let setup = setup("demo-tiny", 3, 2);
    let out = demo(&setup).timeout(Duration::from_secs(240)).run();
    let stdout = text(&out.stdout);
    let report = || format!("--- stdout\n{stdout}\n--- stderr\n{}", text(&out.stderr));

    // distfarm over SSH, distcc over TCP and distcc over SSH, each checked against local.
    assert_eq!(
        stdout
            .matches("3 of 3 objects are byte-identical to local gcc -c")
            .count(),
        3,
        "{}",
        report()
    );
    assert!(
        stdout.contains("distfarm over SSH: DISTCC_HOSTS=\"@demo-host/4\""),
        "{}",
        report()
    );
    assert!(
        stdout.contains("the agent kept one SSH connection to demo-host"),
        "{}",
        report()
    );
    for row in [
        "local gcc ",
        "distfarm over SSH ",
        "distcc over TCP ",
        "distcc over SSH ",
    ] {
        let rows = stdout.lines().filter(|l| l.trim_start().starts_with(row));
        // One table row and one bar in each of the two charts.
        assert_eq!(rows.count(), 3, "{row:?}\n{}", report());
    }
    assert!(stdout.contains('█'), "no bar chart\n{}", report());

    let work = stdout
        .lines()
        .find_map(work_dir)
        .expect("the work dir line");
    assert_eq!(
        processes_naming(&work),
        Vec::<String>::new(),
        "{}",
        report()
    );
    assert_eq!(entries(&setup.tmp), Vec::<String>::new(), "{}", report());
}

#[test]
fn demo_interrupted_mid_build_leaves_no_process_and_no_file() {
    require_peers();
    // Files slow enough (~0.5 s each) that the build over SSH is still running when the
    // agent is up, and no slower: the machine may be busy.
    let setup = setup("demo-interrupt", 4, 80);
    let stderr_log = setup.root.path().join("demo.stderr");
    let mut cmd: Command = demo(&setup).to_command();
    let stderr_file = std::fs::File::create(&stderr_log).expect("stderr file");
    cmd.stdout(Stdio::piped()).stderr(stderr_file);
    // A shell gives its foreground job Ctrl-C's default action; a runner that started these
    // tests in the background may have left SIGINT ignored, which bash could not then trap.
    // SAFETY: only signal(2), which is async-signal-safe, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::signal::signal(
                nix::sys::signal::Signal::SIGINT,
                nix::sys::signal::SigHandler::SigDfl,
            )
            .map(drop)
            .map_err(std::io::Error::from)
        });
    }
    // Its own process group (ChildGuard), like a shell's foreground job that Ctrl-C reaches.
    let mut child = ChildGuard::spawn(cmd, "scripts/demo");
    let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
    // Lines as they come; the thread ends when the last holder of the pipe is gone.
    let (lines_tx, lines) = mpsc::channel::<String>();
    let stdout = child.take_stdout();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });

    let mut seen = Vec::new();
    let mut work = None;
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines.recv_timeout(left).unwrap_or_else(|_| {
            panic!(
                "the demo never reached distfarm over SSH:\n{seen:#?}\n--- stderr\n{}",
                std::fs::read_to_string(&stderr_log).unwrap_or_default()
            )
        });
        work = work.or_else(|| work_dir(&line));
        let started = line.starts_with("==> distfarm over SSH: DISTCC_HOSTS");
        seen.push(line);
        if started {
            break;
        }
    }
    let work = work.expect("the work dir line");
    wait_for(
        "distfarm's agent",
        Duration::from_secs(30),
        || {
            processes_naming(&work)
                .iter()
                .any(|p| p.contains(" agent --socket "))
                .then_some(())
        },
        || format!("{seen:#?}"),
    );

    nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGINT).expect("SIGINT the demo");
    let status = child
        .wait_timeout(Duration::from_secs(30))
        .expect("the demo stops within 30 s of Ctrl-C");
    // Whatever it printed while stopping; a process left holding its stdout shows here too.
    while let Ok(line) = lines.recv_timeout(Duration::from_secs(5)) {
        seen.push(line);
    }
    let stderr = std::fs::read_to_string(&stderr_log).unwrap_or_default();
    let report = format!(
        "{status:?}\n--- stdout\n{}\n--- stderr\n{stderr}",
        seen.join("\n")
    );

    assert_eq!(status.code(), Some(130), "{report}");
    assert!(stderr.contains("interrupted (INT)"), "{report}");
    assert_eq!(processes_naming(&work), Vec::<String>::new(), "{report}");
    assert_eq!(entries(&setup.tmp), Vec::<String>::new(), "{report}");
}

/// A user who is not root (a throwaway account with a home of its own) runs the demo: no
/// sudo is needed when the packages are there, every way builds, and the user's `~/.ssh` is
/// neither read nor written. The script and binary are copied where that user can read them.
#[test]
fn tiny_project_demo_runs_as_a_user_other_than_root_and_leaves_its_ssh_dir_alone() {
    require_peers();
    let user = crate::support::system_account::SystemAccount::create();
    let setup = setup("demo-user", 3, 2);
    let shared = setup.root.path().join("shared");
    std::fs::create_dir_all(shared.join("scripts")).expect("mkdir");
    for name in ["demo", "demo-lib.sh"] {
        std::fs::copy(
            manifest_dir().join("scripts").join(name),
            shared.join("scripts").join(name),
        )
        .expect("copy the demo");
    }
    std::fs::copy(distfarm_bin(), shared.join("distfarm")).expect("copy distfarm");
    for dir in [&shared, &shared.join("scripts")] {
        set_mode(dir, 0o755);
    }
    set_mode(&setup.tmp, 0o777);
    let ssh_dir = user.home().join(".ssh");
    std::fs::create_dir(&ssh_dir).expect("mkdir .ssh");
    let known = ssh_dir.join("known_hosts");
    std::fs::write(&known, "# the user's own\n").expect("write known_hosts");
    let owner = Some(nix::unistd::Uid::from_raw(user.uid()));
    for path in [&ssh_dir, &known] {
        nix::unistd::chown(path.as_path(), owner, None).expect("chown");
    }
    let out = user
        .run_as(shared.join("scripts/demo"))
        .env("PATH", crate::support::test_path())
        .env("LC_ALL", "C")
        .env("DEMO_DISTFARM", shared.join("distfarm"))
        .env("DEMO_PROJECT", &setup.project)
        .env("DEMO_SMALL_JOBS", "2")
        .env("DEMO_NO_INSTALL", "1")
        .env("TMPDIR", &setup.tmp)
        .timeout(Duration::from_secs(240))
        .run();
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout
            .matches("3 of 3 objects are byte-identical to local gcc -c")
            .count(),
        3,
        "--- stdout\n{stdout}\n--- stderr\n{}",
        text(&out.stderr)
    );
    let in_ssh_dir: Vec<String> = std::fs::read_dir(&ssh_dir)
        .expect("the user's .ssh")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(in_ssh_dir, ["known_hosts"]);
    assert_eq!(text(&std::fs::read(&known).unwrap()), "# the user's own\n");
    assert_eq!(entries(&setup.tmp), Vec::<String>::new(), "{stdout}");
}
