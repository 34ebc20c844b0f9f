//! The client side of a build over SSH: a `distfarm gcc …` environment of its own
//! (`DISTCC_DIR`, `TMPDIR`, an output directory, an ssh_config), remote or fail
//! (`DISTCC_FALLBACK=0`, `DISTCC_SKIP_LOCAL_RETRY=1`), and the remote it reaches — the
//! distfarm binary under test as a `distccd` symlink in a world-readable directory.
//!
//! The agent a wrapper starts for the client's `DISTCC_DIR` lives in its own process group,
//! so no `Cmd` timeout reaches it: it is killed by pid when the [`SshClient`] drops.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::build::{object_name, parallel_map};
use super::cproject::CProject;
use super::files::{read, read_text, readable_temp_dir};
use super::process::{Cmd, text};
use super::procs::{agent_pids, kill};
use super::programs::{distfarm_bin, fixture_path, test_path};
use super::temp_dir;

/// A world-readable directory with `distccd` → the distfarm binary under test (the remote
/// drops root to `nobody` and must still reach it).
pub struct RemoteDistfarm {
    dir: tempfile::TempDir,
}

impl RemoteDistfarm {
    pub fn new() -> RemoteDistfarm {
        let dir = readable_temp_dir("remote");
        std::os::unix::fs::symlink(distfarm_bin(), dir.path().join("distccd")).unwrap();
        RemoteDistfarm { dir }
    }

    /// A remote whose session servers linger `seconds` after their connection closed
    /// (the test sshd says 0): `distccd` is a script that sets `DISTFARM_SESSION_LINGER`.
    pub fn lingering(seconds: u32) -> RemoteDistfarm {
        Self::lingering_with(seconds, |program| {
            std::os::unix::fs::symlink(distfarm_bin(), program).unwrap()
        })
    }

    /// Like [`lingering`](Self::lingering), with a copy of distfarm of its own as the
    /// program, which [`upgrade`](Self::upgrade) replaces.
    pub fn lingering_copy(seconds: u32) -> RemoteDistfarm {
        Self::lingering_with(seconds, |program| {
            std::fs::copy(distfarm_bin(), program).unwrap();
        })
    }

    /// Replaces the copy's program as an upgrade does: a new file renamed over the name.
    pub fn upgrade(&self) {
        let program = self.dir.path().join("real").join("distccd");
        let new = program.with_extension("new");
        std::fs::copy(distfarm_bin(), &new).unwrap();
        std::fs::rename(&new, &program).unwrap();
    }

    fn lingering_with(
        seconds: u32,
        place_program: impl FnOnce(&std::path::Path),
    ) -> RemoteDistfarm {
        let dir = readable_temp_dir("remote");
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        super::files::set_mode(&real, 0o755);
        place_program(&real.join("distccd"));
        super::files::write_script(
            &dir.path().join("distccd"),
            &format!(
                "DISTFARM_SESSION_LINGER={seconds} exec {} \"$@\"",
                real.join("distccd").display()
            ),
        );
        RemoteDistfarm { dir }
    }

    /// Running session servers of this remote (`distccd --ssh-session`).
    pub fn session_servers(&self) -> Vec<i32> {
        let dir = self.dir.path().display().to_string();
        super::procs::processes()
            .into_iter()
            .filter(|p| {
                p.args.iter().any(|a| a == "--ssh-session")
                    && p.args.first().is_some_and(|a| a.starts_with(&dir))
            })
            .map(|p| p.pid)
            .collect()
    }

    pub fn command(&self) -> String {
        self.dir.path().join("distccd").display().to_string()
    }

    /// `@farmhost/LIMIT:/tmp/…/distccd` (the limit goes before the command: after it, it
    /// would be part of the command).
    pub fn host(&self, limit: &str) -> String {
        format!("@farmhost/{limit}:{}", self.command())
    }
}

/// Session servers still running when the test ends (a lingering one) go with it.
impl Drop for RemoteDistfarm {
    fn drop(&mut self) {
        for pid in self.session_servers() {
            kill(pid);
        }
    }
}

/// A `DISTCC_DIR`, a `TMPDIR`, an output directory and the environment of `distfarm` runs.
/// Dropping it kills the agent started for its `DISTCC_DIR`.
pub struct SshClient {
    dir: tempfile::TempDir,
    ssh_config: PathBuf,
    env: Vec<(OsString, OsString)>,
    path: OsString,
}

impl SshClient {
    pub fn new(ssh_config: &Path) -> SshClient {
        let dir = temp_dir("ssh-client");
        for sub in ["distcc_dir", "tmp", "out"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        SshClient {
            dir,
            ssh_config: ssh_config.to_path_buf(),
            env: Vec::new(),
            path: test_path(),
        }
    }

    pub fn with_env(mut self, key: &str, value: impl Into<OsString>) -> SshClient {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn with_path_first(mut self, dir: &Path) -> SshClient {
        let mut path = dir.as_os_str().to_owned();
        path.push(":");
        path.push(&self.path);
        self.path = path;
        self
    }

    pub fn distcc_dir(&self) -> PathBuf {
        self.dir.path().join("distcc_dir")
    }

    pub fn socket(&self) -> PathBuf {
        distfarm::config::agent_socket_path(&self.distcc_dir())
    }

    pub fn out(&self, name: &str) -> PathBuf {
        self.dir.path().join("out").join(name)
    }

    pub fn objects_written(&self) -> usize {
        std::fs::read_dir(self.dir.path().join("out"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".o"))
                    .count()
            })
            .unwrap_or(0)
    }

    pub fn agent_log(&self) -> String {
        read_text(&self.socket().with_file_name("agent.log"))
    }

    /// Running `distfarm agent --socket <our socket>` processes.
    pub fn agent_pids(&self) -> Vec<i32> {
        agent_pids(&self.socket())
    }

    /// `distfarm <compiler> <args…>` in `cwd`: remote or fail, the environment given in full.
    pub fn cmd(&self, hosts: &str, compiler: &str, args: &[String], cwd: &Path) -> Cmd {
        let mut cmd = Cmd::new(distfarm_bin())
            .arg(compiler)
            .args(args)
            .current_dir(cwd)
            .env_clear()
            .env("PATH", &self.path)
            .env("HOME", self.dir.path())
            .env("LC_ALL", "C")
            .env("TMPDIR", self.dir.path().join("tmp"))
            .env("DISTCC_DIR", self.distcc_dir())
            .env("DISTCC_HOSTS", hosts)
            .env("DISTCC_FALLBACK", "0")
            .env("DISTCC_SKIP_LOCAL_RETRY", "1")
            .env("DISTFARM_SSH_CONFIG", &self.ssh_config)
            .env("DISTFARM_AGENT_IDLE", "60")
            .timeout(Duration::from_secs(180));
        for (k, v) in &self.env {
            cmd = cmd.env(k, v);
        }
        cmd
    }

    /// `distfarm gcc -O2 -c hello.c -o out/<output>` in the fixtures directory.
    pub fn hello(&self, hosts: &str, output: &str) -> Cmd {
        let args = ["-O2", "-c", "hello.c", "-o"]
            .map(String::from)
            .into_iter()
            .chain([self.out(output).display().to_string()])
            .collect::<Vec<_>>();
        self.cmd(hosts, "gcc", &args, &fixture_path(""))
    }

    /// Compiles every unit, `workers` wrappers at a time; the objects in unit order. A
    /// wrapper that prints anything of its own fails the build: a clean distributed compile
    /// is as quiet as a local one.
    pub fn build(
        &self,
        hosts: &str,
        project: &CProject,
        extra: &[&str],
        workers: usize,
    ) -> Vec<Vec<u8>> {
        let units = project.units();
        parallel_map(units.len(), workers, |i| {
            let unit = &units[i];
            let object = self.out(&object_name(unit));
            let args = project.compile_args(unit, extra, &object);
            let out = self
                .cmd(hosts, project.compiler, &args, project.root())
                .output()
                .unwrap_or_else(|e| {
                    panic!(
                        "distfarm failed on {}: {e}\n--- agent log\n{}",
                        unit.source.display(),
                        self.agent_log()
                    )
                });
            let stderr = text(&out.stderr);
            assert!(
                !stderr.contains("distfarm"),
                "distfarm printed something of its own for {} via {hosts}:\n{stderr}",
                unit.source.display()
            );
            read(&object)
        })
    }
}

impl Drop for SshClient {
    fn drop(&mut self) {
        for pid in self.agent_pids() {
            kill(pid);
        }
    }
}
