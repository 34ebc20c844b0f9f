//! A private PostgreSQL cluster for one test: `initdb` into a temp dir (a fresh database
//! every time), the server on a socket dir of its own and a free 127.0.0.1 port, run as the
//! `postgres` account when the tests run as root (PostgreSQL refuses to run as root).
//! Stopped (immediate shutdown, then its process group killed) and removed on drop.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::files::{read_text, set_mode};
use super::ports::{free_port, port_accepts};
use super::process::ChildGuard;
use super::wait::wait_for;

/// What installs the server: Debian's `postgresql` (any major version).
pub const INSTALL: &str = "apt-get install -y postgresql";

pub struct Postgres {
    server: Option<ChildGuard>,
    port: u16,
    dir: PathBuf,
}

impl Postgres {
    /// Starts a new cluster under `parent/pg` (which the server account must be able to
    /// reach: `parent` is made 0755) and waits until it accepts connections.
    #[track_caller]
    pub fn start(parent: &Path) -> Postgres {
        let bin = bin_dir();
        let dir = parent.join("pg");
        std::fs::create_dir_all(dir.join("socket")).expect("pg dirs");
        set_mode(parent, 0o755);
        let account = account();
        if let Some((uid, gid)) = account {
            for path in [dir.clone(), dir.join("socket")] {
                nix::unistd::chown(&path, Some(uid.into()), Some(gid.into()))
                    .unwrap_or_else(|e| panic!("chown {} to postgres: {e}", path.display()));
            }
        }
        let data = dir.join("data");
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(&data);
        let initdb_log = dir.join("initdb.log");
        let log_file = std::fs::File::create(&initdb_log).expect("initdb log");
        initdb
            .stdout(Stdio::from(log_file.try_clone().expect("dup")))
            .stderr(Stdio::from(log_file));
        let mut initdb = ChildGuard::spawn(as_account(initdb, account), "initdb");
        let status = initdb.wait_timeout(Duration::from_secs(120));
        assert!(
            status.is_some_and(|s| s.success()),
            "initdb -D {} failed ({status:?}):\n{}",
            data.display(),
            read_text(&initdb_log)
        );
        let log = dir.join("server.log");
        let port = free_port();
        let mut server = Command::new(bin.join("postgres"));
        server
            .arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(dir.join("socket"))
            .args(["-p", &port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            // A test's database is thrown away: nothing needs to reach the disk.
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off"]);
        let log_file = std::fs::File::create(&log).expect("pg log");
        server
            .stdout(Stdio::from(log_file.try_clone().expect("dup")))
            .stderr(Stdio::from(log_file));
        let server = ChildGuard::spawn(as_account(server, account), "postgres");
        let mut pg = Postgres {
            server: Some(server),
            port,
            dir,
        };
        wait_for(
            "PostgreSQL to accept connections",
            Duration::from_secs(30),
            || {
                let running = pg.server.as_mut().is_some_and(|s| s.try_wait().is_none());
                assert!(running, "postgres exited:\n{}", read_text(&log));
                port_accepts(port).then_some(())
            },
            || read_text(&log),
        );
        pg
    }

    /// The SQLAlchemy URL BuildGrid's `[database]` extra reads (psycopg2, over TCP).
    pub fn url(&self) -> String {
        format!(
            "postgresql+psycopg2://postgres@127.0.0.1:{}/postgres",
            self.port
        )
    }

    /// The server's log, for failure messages.
    pub fn log(&self) -> String {
        read_text(&self.dir.join("server.log"))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            // SIGQUIT: immediate shutdown, which also releases its shared memory.
            if server.try_wait().is_none() {
                server.signal(nix::sys::signal::Signal::SIGQUIT);
                let _ = server.wait_timeout(Duration::from_secs(10));
            }
        }
    }
}

/// The newest installed server's programs (`/usr/lib/postgresql/N/bin`), or a panic with
/// the install command.
#[track_caller]
fn bin_dir() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!(
            "this test needs the PostgreSQL server (initdb, postgres under \
             /usr/lib/postgresql/N/bin), which is not installed.\n\
             Install it with:  {INSTALL}   (scripts/test does)"
        )
    })
}

/// The `postgres` account's uid and gid when we are root; `None` (run as ourselves) else.
#[track_caller]
fn account() -> Option<(u32, u32)> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    let user = nix::unistd::User::from_name("postgres")
        .ok()
        .flatten()
        .unwrap_or_else(|| {
            panic!(
                "the tests run as root and PostgreSQL refuses root: they need the `postgres` \
                 account, which its package creates.\nInstall it with:  {INSTALL}"
            )
        });
    Some((user.uid.as_raw(), user.gid.as_raw()))
}

fn as_account(mut command: Command, account: Option<(u32, u32)>) -> Command {
    if let Some((uid, gid)) = account {
        command.uid(uid).gid(gid).env("HOME", "/tmp");
    }
    command
}
