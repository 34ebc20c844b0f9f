//! The real distcc 3.4 client (`distcc gcc …`) in directories of its own, remote or fail
//! (`DISTCC_FALLBACK=0`, `DISTCC_SKIP_LOCAL_RETRY=1`), over TCP or `DISTCC_SSH`.

use std::path::Path;
use std::time::Duration;

use super::build::build;
use super::cproject::CProject;
use super::process::Cmd;
use super::programs::require;
use super::temp_dir;

/// Everything a `distcc` run needs, in directories of its own.
pub struct DistccClient {
    hosts: String,
    ssh: Option<String>,
    env: Vec<(String, String)>,
    dir: tempfile::TempDir,
}

impl DistccClient {
    pub fn new(hosts: impl Into<String>) -> DistccClient {
        require("distcc", "distcc");
        let dir = temp_dir("distcc-client");
        std::fs::create_dir(dir.path().join("distcc_dir")).unwrap();
        std::fs::create_dir(dir.path().join("tmp")).unwrap();
        std::fs::create_dir(dir.path().join("out")).unwrap();
        DistccClient {
            hosts: hosts.into(),
            ssh: None,
            env: Vec::new(),
            dir,
        }
    }

    pub fn with_ssh(mut self, distcc_ssh: String) -> DistccClient {
        self.ssh = Some(distcc_ssh);
        self
    }

    /// Extra environment for every command (a pump include server's, say).
    pub fn with_env(mut self, env: Vec<(String, String)>) -> DistccClient {
        self.env = env;
        self
    }

    /// `distcc <compiler> <args…>` in `cwd`, remote or fail: no fallback, no local retry.
    pub fn cmd(&self, compiler: &str, args: &[String], cwd: &Path) -> Cmd {
        let mut cmd = Cmd::new("distcc")
            .arg(compiler)
            .args(args)
            .current_dir(cwd)
            .env("DISTCC_HOSTS", &self.hosts)
            .env("DISTCC_DIR", self.dir.path().join("distcc_dir"))
            .env("DISTCC_FALLBACK", "0")
            .env("DISTCC_SKIP_LOCAL_RETRY", "1")
            .env("TMPDIR", self.dir.path().join("tmp"))
            .env("LC_ALL", "C")
            .env_remove("DISTCC_VERBOSE")
            .env_remove("DISTCC_LOG")
            .env_remove("DISTCC_SAVE_TEMPS")
            .env_remove("DISTCC_POTENTIAL_HOSTS")
            .timeout(Duration::from_secs(180))
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        cmd = match &self.ssh {
            Some(ssh) => cmd.env("DISTCC_SSH", ssh),
            None => cmd.env_remove("DISTCC_SSH"),
        };
        cmd
    }

    /// Compiles every unit of `project` with `extra` flags, `workers` at a time; returns the
    /// objects in unit order.
    pub fn build(&self, project: &CProject, extra: &[&str], workers: usize) -> Vec<Vec<u8>> {
        let out_dir = self.dir.path().join("out");
        build(project, extra, &out_dir, workers, |unit, args| {
            self.cmd(project.compiler, args, project.root())
                .output()
                .unwrap_or_else(|e| panic!("distcc failed on {}: {e}", unit.source.display()));
        })
    }
}
