//! A work area for running the compiler wrapper (`distfarm`, or the real `distcc` beside it)
//! the way a build does, with nothing from the test's own environment but `PATH`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use super::compile::local_object;
use super::files::{list, read, read_text};
use super::process::{ChildGuard, Cmd, text};
use super::programs::{distfarm_bin, fixture_path, require, test_path};

/// A temp dir holding `src/` (hello.c, hello.h and hello-error.c from the fixtures; every
/// compile runs here) with `src/out/`, `distcc_dir/` (`DISTCC_DIR`), `tmp/` (`TMPDIR`) and
/// `logs/`; `HOME` is the temp dir itself.
pub struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    pub fn new() -> Work {
        let dir = super::temp_dir("work");
        for sub in ["src/out", "distcc_dir", "tmp", "logs"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("work dirs");
        }
        for name in ["hello.c", "hello.h", "hello-error.c"] {
            std::fs::copy(fixture_path(name), dir.path().join("src").join(name))
                .unwrap_or_else(|e| panic!("copying fixture {name}: {e}"));
        }
        Work { dir }
    }

    /// The temp dir (`HOME`).
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn src(&self) -> PathBuf {
        self.dir.path().join("src")
    }

    /// A path under `src/`.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.src().join(rel)
    }

    #[track_caller]
    pub fn read(&self, rel: &str) -> Vec<u8> {
        super::files::read(&self.path(rel))
    }

    /// The files in `src/out/`.
    pub fn out_files(&self) -> Vec<String> {
        list(&self.path("out"))
    }

    pub fn distcc_dir(&self) -> PathBuf {
        self.dir.path().join("distcc_dir")
    }

    pub fn lock_dir(&self) -> PathBuf {
        self.distcc_dir().join("lock")
    }

    /// The slot locks and backoff marks in `DISTCC_DIR/lock`.
    pub fn lock_files(&self) -> Vec<String> {
        list(&self.lock_dir())
    }

    /// The `backoff_*` marks of hosts that failed.
    pub fn backoff_files(&self) -> Vec<String> {
        self.lock_files()
            .into_iter()
            .filter(|f| f.starts_with("backoff_"))
            .collect()
    }

    /// `cmd` in the background, its stdout and stderr in `logs/<label>.log`.
    pub fn spawn(&self, cmd: Cmd, label: &str) -> ChildGuard {
        let log = self.logs_dir().join(format!("{label}.log"));
        let log = File::create(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        let description = format!("{cmd} ({label})");
        let mut cmd = cmd.to_command();
        cmd.stdout(Stdio::from(log.try_clone().expect("dup log")))
            .stderr(Stdio::from(log));
        ChildGuard::spawn(cmd, description)
    }

    /// The output of every [`spawn`](Self::spawn)ed run, for failure messages.
    pub fn logs(&self) -> String {
        list(&self.logs_dir())
            .into_iter()
            .map(|name| {
                let text = read_text(&self.logs_dir().join(&name));
                format!("--- {name}\n{text}")
            })
            .collect()
    }

    fn logs_dir(&self) -> PathBuf {
        self.dir.path().join("logs")
    }

    /// What a local `gcc -O2 -c hello.c` makes in `src/`.
    pub fn hello_reference(&self) -> Vec<u8> {
        local_object("gcc", ["-O2"], Path::new("hello.c"), &self.src())
    }

    /// `gcc SPLIT_DWARF -E hello.c` in `src/`, then the text compiled to `out/hello.o` from a
    /// directory of its own: the object and the `.dwo` of [`split_dwarf_args`] made distcc's
    /// way (the `.i` carries the working directory; the object names the `.dwo` by the `-o`
    /// path).
    pub fn split_dwarf_reference(&self) -> (Vec<u8>, Vec<u8>) {
        let args = SPLIT_DWARF;
        let reference = self.path("reference");
        std::fs::create_dir_all(reference.join("out")).unwrap();
        let text = reference.join("hello.i");
        self.gcc()
            .args(args)
            .args(["-E", "hello.c", "-o"])
            .arg(&text)
            .run();
        self.gcc()
            .args(args)
            .arg("-c")
            .arg(&text)
            .args(["-o", "out/hello.o"])
            .current_dir(&reference)
            .run();
        (
            read(&reference.join("out/hello.o")),
            read(&reference.join("out/hello.dwo")),
        )
    }

    /// `cmd` in `src/` with an environment given in full: the test's `PATH`, `HOME`,
    /// `LC_ALL=C`, `TMPDIR`, `DISTCC_DIR`, 50 ms between lock attempts, `DISTCC_HOSTS` only if
    /// given; 60 s to finish.
    pub fn env(&self, cmd: Cmd, hosts: Option<&str>) -> Cmd {
        let cmd = cmd
            .current_dir(self.src())
            .env_clear()
            .env("PATH", test_path())
            .env("HOME", self.dir.path())
            .env("LC_ALL", "C")
            .env("TMPDIR", self.dir.path().join("tmp"))
            .env("DISTCC_DIR", self.distcc_dir())
            .env("DISTCC_PAUSE_TIME_MSEC", "50")
            .timeout(Duration::from_secs(60));
        match hosts {
            Some(hosts) => cmd.env("DISTCC_HOSTS", hosts),
            None => cmd,
        }
    }

    /// The wrapper under test.
    pub fn distfarm(&self, hosts: Option<&str>) -> Cmd {
        self.env(Cmd::new(distfarm_bin()), hosts)
    }

    /// The real distcc 3.4 client.
    pub fn distcc(&self, hosts: &str) -> Cmd {
        self.env(Cmd::new(require("distcc", "distcc")), Some(hosts))
    }

    /// The real gcc, for the local reference of a command.
    pub fn gcc(&self) -> Cmd {
        self.env(Cmd::new("gcc"), None)
    }
}

/// A wrapper with a pump-mode job starts the agent (its include scanner) for this
/// `DISTCC_DIR`: it goes with the work area.
impl Drop for Work {
    fn drop(&mut self) {
        // Every agent a wrapper started here, also for a test's own DISTCC_DIR inside the root.
        for pid in super::procs::agent_pids_under(self.root()) {
            super::procs::kill(pid);
        }
    }
}

/// The options of the `-gsplit-dwarf` compile of hello.c ([`split_dwarf_args`]).
pub const SPLIT_DWARF: [&str; 3] = ["-O2", "-g", "-gsplit-dwarf"];

/// `gcc -O2 -g -gsplit-dwarf -c hello.c -o out/hello.o`, after the wrapper's name: it writes
/// `out/hello.dwo` too.
pub fn split_dwarf_args() -> Vec<String> {
    std::iter::once("gcc")
        .chain(SPLIT_DWARF)
        .chain(["-c", "hello.c", "-o", "out/hello.o"])
        .map(String::from)
        .collect()
}

/// `gcc -O2 -c hello.c -o OUTPUT`, after the wrapper's name.
pub fn hello_args(output: &str) -> Vec<String> {
    ["gcc", "-O2", "-c", "hello.c", "-o", output]
        .map(String::from)
        .to_vec()
}

/// distcc's own exit codes for its failures are 100 to 120.
#[track_caller]
pub fn assert_distcc_exit_code(out: &Output) {
    assert!(
        out.status.code().is_some_and(|c| (100..=120).contains(&c)),
        "expected a distcc exit code (100-120), got {:?}; stderr:\n{}",
        out.status,
        text(&out.stderr)
    );
}
