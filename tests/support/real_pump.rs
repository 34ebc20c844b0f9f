//! The real distcc 3.4 pump client: Debian's `distcc-pump` script, with its include server
//! started through `real_pump/include_server_launcher.py`, which fixes it for Python ≥ 3.10
//! (without the fix every job silently runs in plain mode; see the launcher). Started in
//! `pump --startup` form: jobs run with [`RealPump::env`], and the include server is shut
//! down when the value is dropped.

use std::path::{Path, PathBuf};

use super::process::Cmd;
use super::programs::require;
use super::temp_dir;

const LAUNCHER: &str = include_str!("real_pump/include_server_launcher.py");
const PUMP_SCRIPT: &str = "/usr/bin/distcc-pump";
const INSTALL: &str = "apt-get install distcc-pump python3-lzo";

pub struct RealPump {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl RealPump {
    /// Starts an include server for jobs going to `hosts` (which must have `,cpp,lzo`).
    #[track_caller]
    pub fn start(hosts: &str) -> RealPump {
        require("distcc", "distcc");
        assert!(
            Path::new(PUMP_SCRIPT).exists(),
            "{PUMP_SCRIPT} is missing: {INSTALL}"
        );
        let lzo = Cmd::new("/usr/bin/python3")
            .args(["-c", "import lzo"])
            .output_unchecked();
        assert!(
            lzo.is_ok_and(|o| o.status.success()),
            "python3-lzo is missing for /usr/bin/python3: {INSTALL}"
        );
        let dir = temp_dir("real-pump");
        std::fs::create_dir(dir.path().join("tmp")).unwrap();
        let launcher = dir.path().join("include_server_launcher.py");
        std::fs::write(&launcher, LAUNCHER).unwrap();
        let script = std::fs::read_to_string(PUMP_SCRIPT).unwrap();
        let script: String = script
            .lines()
            .map(|line| match line.starts_with("include_server=") {
                true => format!("include_server='{}'", launcher.display()),
                false => line.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        let pump = dir.path().join("pump");
        std::fs::write(&pump, script + "\n").unwrap();
        super::files::set_mode(&pump, 0o755);
        let out = Cmd::new(&pump)
            .arg("--startup")
            .env("DISTCC_HOSTS", hosts)
            .env("DISTCC_LOCATION", "/usr/bin")
            .env("TMPDIR", dir.path().join("tmp"))
            .env_remove("DISTCC_POTENTIAL_HOSTS")
            .env_remove("INCLUDE_SERVER_ARGS")
            .run();
        let env = exports(&String::from_utf8_lossy(&out.stdout));
        assert!(
            env.iter().any(|(k, _)| k == "INCLUDE_SERVER_PORT"),
            "pump --startup exported no INCLUDE_SERVER_PORT:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        RealPump { dir, env }
    }

    /// `INCLUDE_SERVER_PORT` and the rest of what `pump --startup` exported (not `PATH`),
    /// and `DISTCC_TESTING_INCLUDE_SERVER=1`, which makes an include-server failure fail the
    /// job instead of demoting it silently to plain mode.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .env
            .iter()
            .filter(|(k, _)| k != "PATH")
            .cloned()
            .collect();
        env.push(("DISTCC_TESTING_INCLUDE_SERVER".into(), "1".into()));
        env
    }

    fn script(&self) -> PathBuf {
        self.dir.path().join("pump")
    }
}

impl Drop for RealPump {
    fn drop(&mut self) {
        let _ = Cmd::new(self.script())
            .arg("--shutdown")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("DISTCC_LOCATION", "/usr/bin")
            .output_unchecked();
    }
}

/// `export NAME='value'` lines.
fn exports(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.strip_prefix("export "))
        .filter_map(|rest| rest.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
        .collect()
}
