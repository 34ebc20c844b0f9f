//! The distfarm compiler wrapper building a [`CProject`] the way a build does: one
//! `distfarm <compiler> …` per unit, a few at a time, remote or fail.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::build::{build, object_name};
use super::cproject::CProject;
use super::files::read;
use super::process::Cmd;
use super::wrapper::Work;

/// Wrapper processes compiling at once (the machine has two cores).
pub const CLIENTS: usize = 3;

/// A work area for `distfarm` runs (see [`Work`]).
pub struct WrapperClient {
    pub work: Work,
    /// Runs every command through this (`ip netns exec NS`), when set.
    around: Option<(PathBuf, Vec<String>)>,
    /// `DISTFARM_HOSTS` (the distfarm-only list, `grpc://` entries), when set.
    distfarm_hosts: Option<String>,
}

impl WrapperClient {
    pub fn new() -> WrapperClient {
        WrapperClient {
            work: Work::new(),
            around: None,
            distfarm_hosts: None,
        }
    }

    /// Every command with `DISTFARM_HOSTS=list` (after the `hosts` given to each call).
    pub fn distfarm_hosts(mut self, list: &str) -> WrapperClient {
        self.distfarm_hosts = Some(list.to_string());
        self
    }

    /// Every command through `program prefix…` (e.g. `ip netns exec NS`).
    pub fn around(mut self, program: PathBuf, prefix: &[&str]) -> WrapperClient {
        self.around = Some((program, prefix.iter().map(|a| a.to_string()).collect()));
        self
    }

    pub fn out_dir(&self) -> PathBuf {
        self.work.path("out")
    }

    /// `distfarm <compiler> <args…>` in `cwd`, remote or fail: no fallback, no local retry,
    /// and an environment given in full.
    pub fn cmd(&self, hosts: &str, compiler: &str, args: &[String], cwd: &Path) -> Cmd {
        let cmd = self
            .work
            .distfarm(Some(hosts))
            .arg(compiler)
            .args(args)
            .current_dir(cwd)
            .env("DISTCC_FALLBACK", "0")
            .env("DISTCC_SKIP_LOCAL_RETRY", "1")
            .timeout(Duration::from_secs(180));
        let cmd = match &self.distfarm_hosts {
            Some(list) => cmd.env("DISTFARM_HOSTS", list),
            None => cmd,
        };
        match &self.around {
            Some((program, prefix)) => cmd.wrapped(program, prefix),
            None => cmd,
        }
    }

    /// Compiles one unit of `project` through `hosts`; returns its object.
    pub fn compile_unit(
        &self,
        hosts: &str,
        project: &CProject,
        source: &str,
        extra: &[&str],
    ) -> Vec<u8> {
        let unit = project.unit(source);
        let object = self.out_dir().join(object_name(unit));
        let args = project.compile_args(unit, extra, &object);
        self.cmd(hosts, project.compiler, &args, project.root())
            .run();
        read(&object)
    }

    /// Compiles every unit of `project` through `hosts`, `CLIENTS` at a time; returns the
    /// objects in unit order. A wrapper that prints anything of its own fails the build: a
    /// distributed compile of clean code is as quiet as a local one.
    pub fn build(&self, hosts: &str, project: &CProject, extra: &[&str]) -> Vec<Vec<u8>> {
        build(project, extra, &self.out_dir(), CLIENTS, |unit, args| {
            let out = self
                .cmd(hosts, project.compiler, args, project.root())
                .output()
                .unwrap_or_else(|e| panic!("distfarm failed on {}: {e}", unit.source.display()));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                !stderr.contains("distfarm"),
                "distfarm printed something of its own for {} via {hosts}:\n{stderr}",
                unit.source.display()
            );
        })
    }
}
