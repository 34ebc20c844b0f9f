//! A real OpenSSH sshd on 127.0.0.1 with throw-away keys, and a client `ssh_config` that
//! reaches it as `farmhost` with strict host key checking.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::distccd::set_mode;
use super::ports::{free_port, port_accepts};
use super::process::{ChildGuard, Cmd, describe};
use super::procs::processes;
use super::programs::require;
use super::russh_server::{plain_known_hosts_line, random_public_key};
use russh::keys::Algorithm;

const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The `Host` alias written in [`Sshd::ssh_config`].
pub const ALIAS: &str = "farmhost";

/// A running `sshd -D -e -f CONFIG`, killed on drop. Every file lives in one temp dir:
///
/// | file | what |
/// |---|---|
/// | `sshd_config` | the server configuration |
/// | `host_ed25519_key{,.pub}` | the server's host key |
/// | `client_ed25519{,.pub}` | the client key, no passphrase |
/// | `authorized_keys` | the client public key |
/// | `known_hosts` | `[127.0.0.1]:PORT ssh-ed25519 …` |
/// | `ssh_config` | `Host farmhost` → 127.0.0.1:PORT as the current user, that key only |
/// | `sshd.log` | sshd's stderr (`-e`) |
pub struct Sshd {
    // Field order is drop order: sshd dies before its directory is removed.
    _child: ChildGuard,
    port: u16,
    user: String,
    dir: tempfile::TempDir,
}

/// Options for an [`Sshd`] beyond the defaults.
#[derive(Debug, Clone, Default)]
pub struct SshdBuilder {
    home_authorized_keys: bool,
    extra_config: Vec<String>,
}

impl SshdBuilder {
    /// Also read each user's own `~/.ssh/authorized_keys` (after the shared file), and make
    /// the shared file readable by every account: sshd reads it with the user's rights, so
    /// another local account can log in too.
    pub fn home_authorized_keys(mut self) -> SshdBuilder {
        self.home_authorized_keys = true;
        self
    }

    /// A line added to sshd_config (e.g. `SetEnv PATH=/some/dir:/usr/bin:/bin`).
    pub fn config_line(mut self, line: impl Into<String>) -> SshdBuilder {
        self.extra_config.push(line.into());
        self
    }

    #[track_caller]
    pub fn start(self) -> Sshd {
        Sshd::start_with(&self)
    }
}

impl Sshd {
    /// Generates keys, writes the configurations, starts sshd and waits until
    /// `ssh -F ssh_config farmhost true` succeeds.
    #[track_caller]
    pub fn start() -> Sshd {
        Sshd::start_with(&SshdBuilder::default())
    }

    /// An sshd with options: `Sshd::builder().home_authorized_keys().start()`.
    pub fn builder() -> SshdBuilder {
        SshdBuilder::default()
    }

    #[track_caller]
    fn start_with(options: &SshdBuilder) -> Sshd {
        let sshd = require("sshd", "openssh-server");
        require("ssh", "openssh-client");
        let keygen = require("ssh-keygen", "openssh-client");
        ensure_privsep_dir();
        let dir = tempfile::Builder::new()
            .prefix("distfarm-sshd-")
            .tempdir()
            .expect("temp dir");
        set_mode(dir.path(), 0o700);
        let user = current_user();
        for key in ["host_ed25519_key", "client_ed25519"] {
            Cmd::new(&keygen)
                .args(["-q", "-t", "ed25519", "-N", "", "-C", key, "-f"])
                .arg(dir.path().join(key))
                .timeout(Duration::from_secs(30))
                .run();
        }
        let client_pub = read(&dir.path().join("client_ed25519.pub"));
        write(&dir.path().join("authorized_keys"), &client_pub);
        if options.home_authorized_keys {
            set_mode(dir.path(), 0o711);
            set_mode(&dir.path().join("authorized_keys"), 0o644);
        }

        let mut last_log = String::new();
        for _attempt in 0..5 {
            let port = free_port();
            let paths = Paths(dir.path());
            let mut config = sshd_config(&paths, port);
            if options.home_authorized_keys {
                config = config.replace(
                    "/authorized_keys\n",
                    "/authorized_keys .ssh/authorized_keys\n",
                );
            }
            // Session servers end with their connection (a test that wants them to linger
            // says so in its remote command). sshd takes the first SetEnv line only, so the
            // variable joins a test's own.
            let mut set_env = false;
            for line in &options.extra_config {
                config.push_str(line);
                if line.starts_with("SetEnv ") {
                    config.push_str(" DISTFARM_SESSION_LINGER=0");
                    set_env = true;
                }
                config.push('\n');
            }
            if !set_env {
                config.push_str("SetEnv DISTFARM_SESSION_LINGER=0\n");
            }
            write(&paths.sshd_config(), &config);
            write(&paths.ssh_config(), &ssh_config(&paths, port, &user));
            let host_pub = read(&paths.host_public_key());
            write(
                &paths.known_hosts(),
                &format!("[127.0.0.1]:{port} {}", key_type_and_blob(&host_pub)),
            );

            let log = File::create(paths.log()).expect("sshd log file");
            let mut cmd = Command::new(&sshd);
            cmd.arg("-D")
                .arg("-e")
                .arg("-f")
                .arg(paths.sshd_config())
                .stdout(Stdio::from(log.try_clone().expect("dup log")))
                .stderr(Stdio::from(log));
            let mut child = ChildGuard::spawn(cmd, format!("sshd on 127.0.0.1:{port}"));
            let deadline = Instant::now() + START_TIMEOUT;
            let started = loop {
                if port_accepts(port) {
                    break true;
                }
                if let Some(status) = child.try_wait() {
                    last_log = read(&paths.log());
                    if last_log.contains("Address already in use") {
                        break false;
                    }
                    panic!(
                        "sshd exited at start-up ({}):\n{last_log}",
                        describe(status)
                    );
                }
                if Instant::now() >= deadline {
                    panic!(
                        "sshd did not listen on port {port} within {START_TIMEOUT:?}:\n{}",
                        read(&paths.log())
                    );
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            if !started {
                continue;
            }
            let server = Sshd {
                _child: child,
                port,
                user,
                dir,
            };
            server.check_login();
            return server;
        }
        panic!("sshd could not bind a free port in 5 attempts:\n{last_log}");
    }

    #[track_caller]
    fn check_login(&self) {
        let out = self
            .ssh()
            .arg("true")
            .timeout(Duration::from_secs(30))
            .output();
        if let Err(e) = out {
            panic!(
                "cannot log in to the test sshd: {e}\n--- sshd.log\n{}",
                self.log()
            );
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `Host` alias in [`ssh_config`](Self::ssh_config): `farmhost`.
    pub fn alias(&self) -> &'static str {
        ALIAS
    }

    /// The user the client logs in as (the current user).
    pub fn user(&self) -> &str {
        &self.user
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The client configuration to pass with `ssh -F`.
    pub fn ssh_config(&self) -> PathBuf {
        Paths(self.dir.path()).ssh_config()
    }

    /// `[127.0.0.1]:PORT ssh-ed25519 AAAA…`.
    pub fn known_hosts(&self) -> PathBuf {
        Paths(self.dir.path()).known_hosts()
    }

    /// The client's private key (ed25519, no passphrase); `.pub` beside it.
    pub fn client_key(&self) -> PathBuf {
        Paths(self.dir.path()).client_key()
    }

    /// The `authorized_keys` file sshd reads (tests may append restricted keys).
    pub fn authorized_keys(&self) -> PathBuf {
        self.dir.path().join("authorized_keys")
    }

    /// A `DISTCC_SSH` value: `ssh -F <ssh_config>`. (distcc 3.4 splits it on single spaces,
    /// and only the first word survives a second connection in the same client process.)
    pub fn distcc_ssh(&self) -> String {
        format!("ssh -F {}", self.ssh_config().display())
    }

    /// `@farmhost`, the host list entry for this sshd.
    pub fn distcc_host(&self) -> String {
        format!("@{ALIAS}")
    }

    /// The host's public key file (`ssh-ed25519 AAAA… comment`).
    pub fn host_public_key(&self) -> PathBuf {
        Paths(self.dir.path()).host_public_key()
    }

    /// The host's public key as `ssh-ed25519 AAAA…` (no comment), for known_hosts lines.
    pub fn host_key_line(&self) -> String {
        key_type_and_blob(&super::files::read_text(&self.host_public_key()))
    }

    /// `@farmhost:COMMAND`, e.g. the absolute path of `distfarm` as the remote server.
    pub fn distcc_host_with_command(&self, command: &str) -> String {
        format!("@{ALIAS}:{command}")
    }

    /// `ssh -F <ssh_config> farmhost` ready for the remote command's words.
    pub fn ssh(&self) -> Cmd {
        Cmd::new(require("ssh", "openssh-client"))
            .arg("-F")
            .arg(self.ssh_config())
            .arg(ALIAS)
    }

    /// What sshd logged so far.
    pub fn log(&self) -> String {
        read(&Paths(self.dir.path()).log())
    }

    /// The listening sshd's descendants that are sshd themselves: the processes serving the
    /// open connections (the privileged monitor and the session process of each).
    pub fn session_processes(&self) -> Vec<i32> {
        let listener: i32 = std::fs::read_to_string(self.dir().join("sshd.pid"))
            .expect("sshd.pid")
            .trim()
            .parse()
            .expect("pid");
        let all = processes();
        let mut found = Vec::new();
        let mut parents = vec![listener];
        while let Some(parent) = parents.pop() {
            for p in all.iter().filter(|p| p.ppid == parent && p.comm == "sshd") {
                found.push(p.pid);
                parents.push(p.pid);
            }
        }
        found
    }

    /// Replaces the pinned host key with a random one of the same type.
    pub fn pin_a_wrong_host_key(&self) {
        let name = format!("[127.0.0.1]:{}", self.port());
        let line = plain_known_hosts_line(&name, &random_public_key(Algorithm::Ed25519));
        std::fs::write(self.known_hosts(), line + "\n").unwrap();
    }
}

struct Paths<'a>(&'a Path);

impl Paths<'_> {
    fn sshd_config(&self) -> PathBuf {
        self.0.join("sshd_config")
    }
    fn ssh_config(&self) -> PathBuf {
        self.0.join("ssh_config")
    }
    fn known_hosts(&self) -> PathBuf {
        self.0.join("known_hosts")
    }
    fn client_key(&self) -> PathBuf {
        self.0.join("client_ed25519")
    }
    fn host_key(&self) -> PathBuf {
        self.0.join("host_ed25519_key")
    }
    fn host_public_key(&self) -> PathBuf {
        self.0.join("host_ed25519_key.pub")
    }
    fn log(&self) -> PathBuf {
        self.0.join("sshd.log")
    }
}

fn sshd_config(p: &Paths, port: u16) -> String {
    format!(
        "# Written by tests/support/sshd.rs\n\
         Port {port}\n\
         ListenAddress 127.0.0.1\n\
         HostKey {host_key}\n\
         AuthorizedKeysFile {dir}/authorized_keys\n\
         PubkeyAuthentication yes\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         PermitRootLogin prohibit-password\n\
         StrictModes no\n\
         UsePAM no\n\
         PidFile {dir}/sshd.pid\n\
         AllowTcpForwarding yes\n\
         X11Forwarding no\n\
         PrintMotd no\n\
         PrintLastLog no\n\
         # One connection carries a channel per job: allow many, and many handshakes at once.\n\
         MaxSessions 64\n\
         MaxStartups 64\n\
         LogLevel VERBOSE\n",
        host_key = p.host_key().display(),
        dir = p.0.display(),
    )
}

fn ssh_config(p: &Paths, port: u16, user: &str) -> String {
    format!(
        "# Written by tests/support/sshd.rs\n\
         Host {ALIAS}\n\
         \x20   HostName 127.0.0.1\n\
         \x20   Port {port}\n\
         \x20   User {user}\n\
         \x20   IdentityFile {key}\n\
         \x20   IdentitiesOnly yes\n\
         \x20   UserKnownHostsFile {known_hosts}\n\
         \x20   GlobalKnownHostsFile /dev/null\n\
         \x20   StrictHostKeyChecking yes\n\
         \x20   BatchMode yes\n\
         \x20   ConnectTimeout 10\n\
         \x20   LogLevel ERROR\n",
        key = p.client_key().display(),
        known_hosts = p.known_hosts().display(),
    )
}

/// `ssh-ed25519 AAAA… comment\n` → `ssh-ed25519 AAAA…`.
fn key_type_and_blob(public_key: &str) -> String {
    public_key
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

/// sshd refuses to start without its privilege separation directory.
fn ensure_privsep_dir() {
    let dir = Path::new("/run/sshd");
    if !dir.is_dir() {
        if let Err(e) = std::fs::create_dir_all(dir) {
            panic!(
                "sshd needs {} and it cannot be created ({e}); run: mkdir -p -m 0755 /run/sshd",
                dir.display()
            );
        }
        set_mode(dir, 0o755);
    }
}

fn current_user() -> String {
    let uid = nix::unistd::getuid();
    nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| panic!("uid {uid} has no passwd entry; sshd cannot log it in"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// An ssh_config where `alias` is `target`, reached through `bastion` with `ProxyJump`; each
/// hop keeps its own key and known_hosts. Written into `dir`; returns its path.
pub fn proxy_jump_config(target: &Sshd, bastion: &Sshd, alias: &str, dir: &Path) -> PathBuf {
    let config = format!(
        "Host {alias}\n  HostName 127.0.0.1\n  Port {tp}\n  IdentityFile {tk}\n  ProxyJump bastion\n\
         Host bastion\n  HostName 127.0.0.1\n  Port {bp}\n  IdentityFile {bk}\n\
         Host *\n  User {user}\n  IdentitiesOnly yes\n  UserKnownHostsFile {bkh} {tkh}\n  \
         GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  BatchMode yes\n",
        tp = target.port(),
        tk = target.client_key().display(),
        bp = bastion.port(),
        bk = bastion.client_key().display(),
        user = target.user(),
        bkh = bastion.known_hosts().display(),
        tkh = target.known_hosts().display(),
    );
    let file = dir.join("ssh_config");
    std::fs::write(&file, config).expect("write the ProxyJump ssh_config");
    file
}
