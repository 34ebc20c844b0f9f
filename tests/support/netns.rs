//! Two network namespaces joined by a veth pair (root only): a small LAN of its own where
//! mDNS multicast works and nothing reaches the machine's own network. `server` is
//! 10.77.0.1, `client` 10.77.0.2. Dropping it kills every process still in either namespace
//! (servers, and the zeroconf browsers the clients started) and removes both.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::files::{readable_temp_dir, set_mode, write_script};
use super::process::{ChildGuard, Cmd};
use super::programs::{distfarm_bin, require, test_path};
use super::wait::wait_for;

pub const SERVER_IP: &str = "10.77.0.1";
pub const CLIENT_IP: &str = "10.77.0.2";
pub const SUBNET: &str = "10.77.0.0/24";

pub struct NetPair {
    pub server: String,
    pub client: String,
    /// The server's end of the veth pair.
    server_link: String,
    ip: PathBuf,
}

/// Panics with the reason unless this runs as root (namespaces, veth pairs).
#[track_caller]
pub fn require_root(what: &str) {
    assert!(
        nix::unistd::Uid::effective().is_root(),
        "{what} needs root (network namespaces joined by a veth pair); run the tests as root, \
         as CI does"
    );
}

impl NetPair {
    #[track_caller]
    pub fn new() -> NetPair {
        Self::new_for("a zeroconf test")
    }

    /// The pair, for `what` (named in the message when not root).
    #[track_caller]
    pub fn new_for(what: &str) -> NetPair {
        require_root(what);
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        // Short: interface names have 15 bytes.
        let tag = format!("dz{}x{n}", std::process::id() % 100_000);
        let (s_if, c_if) = (format!("{tag}s0"), format!("{tag}c0"));
        let pair = NetPair {
            server: format!("{tag}s"),
            client: format!("{tag}c"),
            server_link: s_if.clone(),
            ip: require("ip", "iproute2"),
        };
        pair.ip(&["netns", "add", &pair.server]);
        pair.ip(&["netns", "add", &pair.client]);
        pair.ip(&["link", "add", &s_if, "type", "veth", "peer", "name", &c_if]);
        for (ns, dev, addr) in [
            (&pair.server, &s_if, SERVER_IP),
            (&pair.client, &c_if, CLIENT_IP),
        ] {
            pair.ip(&["link", "set", dev, "netns", ns]);
            pair.ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev]);
            pair.ip(&["-n", ns, "link", "set", dev, "multicast", "on", "up"]);
            pair.ip(&["-n", ns, "link", "set", "lo", "multicast", "on", "up"]);
        }
        pair
    }

    /// `ip`, whose `netns exec NS` runs a command inside.
    pub fn ip_path(&self) -> PathBuf {
        self.ip.clone()
    }

    /// `cmd` run inside the client's namespace.
    pub fn in_client(&self, cmd: Cmd) -> Cmd {
        cmd.wrapped(&self.ip, ["netns", "exec", &self.client])
    }

    /// `cmd` run inside the server's namespace.
    pub fn in_server(&self, cmd: Cmd) -> Cmd {
        cmd.wrapped(&self.ip, ["netns", "exec", &self.server])
    }

    /// Takes the server's end of the link down: from then on every packet either way is
    /// dropped (a veth drops what it cannot deliver), and nothing tells either side: no
    /// reset, no FIN, no ICMP. A cable pulled, or a router gone silent.
    #[track_caller]
    pub fn drop_every_packet(&self) {
        self.ip(&[
            "-n",
            &self.server,
            "link",
            "set",
            "dev",
            &self.server_link,
            "down",
        ]);
    }

    #[track_caller]
    fn ip(&self, args: &[&str]) {
        Cmd::new(&self.ip)
            .args(args)
            .timeout(Duration::from_secs(20))
            .run();
    }

    fn kill_everything_in(&self, ns: &str) {
        let Ok(out) = Command::new(&self.ip)
            .args(["netns", "pids", ns])
            .stderr(Stdio::null())
            .output()
        else {
            return;
        };
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            if let Ok(pid) = pid.parse::<i32>() {
                super::procs::kill(pid);
            }
        }
    }
}

impl Drop for NetPair {
    fn drop(&mut self) {
        for ns in [self.server.clone(), self.client.clone()] {
            self.kill_everything_in(&ns);
            // Deleting a namespace also deletes its end of the veth pair.
            let _ = Command::new(&self.ip)
                .args(["netns", "del", &ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Starts a private D-Bus system bus and avahi-daemon, then runs the command: a machine
/// with Avahi, as distcc built with zeroconf needs one. `$0` is the host name.
const WITH_AVAHI: &str = r#"set -e
PATH="$PATH:/usr/sbin:/usr/bin:/sbin:/bin"
hostname "$0"
mount -t tmpfs run /run
mkdir /run/dbus /run/avahi-daemon
dbus-daemon --system --fork
avahi-daemon --no-drop-root --no-chroot --no-rlimits -D
i=0
until avahi-daemon --check 2>/dev/null; do
  i=$((i + 1))
  [ $i -lt 100 ] || { echo "avahi-daemon did not start" >&2; exit 1; }
  sleep 0.1
done
exec "$@"
"#;

/// `cmd` on a machine of its own with Avahi running (a UTS and mount namespace with its own
/// `/run`, a D-Bus system bus and avahi-daemon), named `hostname`. Use inside a [`NetPair`]
/// namespace: its drop ends the daemons with everything else there.
#[track_caller]
pub fn with_avahi(hostname: &str, cmd: Cmd) -> Cmd {
    require("avahi-daemon", "avahi-daemon");
    require("dbus-daemon", "dbus-daemon");
    let unshare = require("unshare", "util-linux");
    cmd.wrapped(
        unshare,
        [
            "--uts",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            WITH_AVAHI,
            hostname,
        ],
    )
}

/// `distfarm serve --zeroconf` in the server namespace, under its own host name (a UTS
/// namespace: two servers are two machines to mDNS), its log in a file.
pub struct AnnouncedServer {
    // Field order is drop order: the process dies before its directory goes.
    child: ChildGuard,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// Options of [`AnnouncedServer::start`].
pub struct Announce<'a> {
    pub hostname: &'a str,
    pub port: u16,
    pub jobs: usize,
    /// What its `cc -dumpversion` says (a `cc` script first on its PATH); `None`: the real.
    pub cc_version: Option<&'a str>,
}

impl AnnouncedServer {
    #[track_caller]
    pub fn start(net: &NetPair, how: Announce) -> AnnouncedServer {
        let dir = readable_temp_dir("zeroconf-serve");
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).expect("mkdir tmp");
        set_mode(&tmp, 0o1777);
        let mut path = OsString::new();
        if let Some(version) = how.cc_version {
            let bin = dir.path().join("bin");
            std::fs::create_dir(&bin).expect("mkdir bin");
            set_mode(&bin, 0o755);
            let real = require("cc", "gcc");
            write_script(
                &bin.join("cc"),
                &format!(
                    "if [ \"$1\" = -dumpversion ]; then echo {version}; exit 0; fi\nexec {} \"$@\"",
                    real.display()
                ),
            );
            path.push(&bin);
            path.push(":");
        }
        path.push(test_path());
        let log = dir.path().join("serve.log");
        let log_file = std::fs::File::create(&log).expect("server log");
        let unshare = require("unshare", "util-linux");
        let cmd = net.in_server(
            Cmd::new(unshare)
                .args(["--uts", "sh", "-c", "hostname \"$0\" && exec \"$@\""])
                .arg(how.hostname)
                .arg(distfarm_bin())
                .args(["serve", "--no-detach", "--zeroconf", "--log-stderr"])
                .args(["--log-level", "info", "--allow", SUBNET])
                .args(["-p", &how.port.to_string(), "--jobs", &how.jobs.to_string()])
                .env_clear()
                .env("PATH", &path)
                .env("TMPDIR", &tmp)
                .env("LC_ALL", "C"),
        );
        let mut command = cmd.to_command();
        command
            .stdout(Stdio::from(log_file.try_clone().expect("dup log")))
            .stderr(Stdio::from(log_file));
        let server = AnnouncedServer {
            child: ChildGuard::spawn(
                command,
                format!("distfarm serve --zeroconf ({})", how.hostname),
            ),
            log,
            _dir: dir,
        };
        wait_for(
            "the server to announce itself",
            Duration::from_secs(20),
            || server.log().contains("zeroconf: announcing").then_some(()),
            || server.log(),
        );
        server
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL: a crash, or a machine unplugged; no goodbye goes out.
    pub fn kill(&mut self) {
        self.child.kill();
    }

    /// SIGTERM, as an init system stops it; waits for it to exit.
    #[track_caller]
    pub fn stop(&mut self) {
        self.child.signal(nix::sys::signal::Signal::SIGTERM);
        assert!(
            self.child.wait_timeout(Duration::from_secs(20)).is_some(),
            "the server did not exit on SIGTERM:\n{}",
            self.log()
        );
    }
}
