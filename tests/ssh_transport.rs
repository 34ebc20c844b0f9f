//! The built-in SSH transport against an in-process russh server: configuration, host keys,
//! authentication, channels, ProxyJump and dead links. Fast: no sshd, one process.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::russh_server::{
    self, ClientKey, FreezableProxy, KeyKind, SshAgent, TestSshServer, hashed_known_hosts_line,
    plain_known_hosts_line, random_public_key, write_client_key,
};
use distfarm::transport::ssh::{
    self, ResolvedHost, SshConnection, SshError, SshSettings, StrictHostKeyChecking,
};
use russh::keys::{Algorithm, EcdsaCurve, HashAlg, PrivateKey};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const USER: &str = "builder";
const WAIT: Duration = Duration::from_secs(20);

/// A temp dir with a fake home, a client key, a server that accepts it, and a known_hosts
/// file that pins the server.
struct Farm {
    dir: tempfile::TempDir,
    key: ClientKey,
    server: TestSshServer,
}

impl Farm {
    async fn new(label: &str) -> Farm {
        let dir = crate::support::temp_dir(label);
        std::fs::create_dir_all(dir.path().join("home/.ssh")).unwrap();
        let key = write_client_key(dir.path(), "id_ed25519", KeyKind::Ed25519);
        let server = TestSshServer::start(vec![key.public.clone()]).await;
        let farm = Farm { dir, key, server };
        farm.write_known_hosts(&farm.server.known_hosts_line("127.0.0.1"));
        farm
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn home(&self) -> PathBuf {
        self.path("home")
    }

    fn known_hosts(&self) -> PathBuf {
        self.path("known_hosts")
    }

    fn write_known_hosts(&self, text: &str) {
        std::fs::write(self.known_hosts(), format!("{text}\n")).unwrap();
    }

    /// A `Host` block reaching `server` with our key and known_hosts, plus `extra` lines.
    fn host_block(&self, alias: &str, server: &TestSshServer, extra: &str) -> String {
        format!(
            "Host {alias}\n  HostName 127.0.0.1\n  Port {}\n  User {USER}\n  IdentityFile {}\n  \
             UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n{extra}",
            server.port(),
            self.key.path.display(),
            self.known_hosts().display(),
        )
    }

    /// Writes `config` as the explicit configuration file (`DISTFARM_SSH_CONFIG`).
    fn settings(&self, config: &str) -> SshSettings {
        let file = self.path("ssh_config");
        std::fs::write(&file, config).unwrap();
        SshSettings {
            config_file: Some(file),
            home: self.home(),
            agent_socket: None,
            user: "localuser".into(),
        }
    }

    async fn connect_with(
        &self,
        alias: &str,
        settings: &SshSettings,
    ) -> Result<SshConnection, SshError> {
        let host = ssh::resolve(alias, None, None, settings)?;
        tokio::time::timeout(WAIT, ssh::connect(&host, settings))
            .await
            .expect("connect finishes in time")
    }

    /// Connects to the farm's server as `alias` with `extra` config lines.
    async fn connect(&self, extra: &str) -> Result<SshConnection, SshError> {
        let settings = self.settings(&self.host_block("farm", &self.server, extra));
        self.connect_with("farm", &settings).await
    }
}

async fn run(conn: &SshConnection, command: &str, stdin: &[u8]) -> (String, ssh::RemoteExit) {
    let (out, exit) = tokio::time::timeout(WAIT, conn.run(command, stdin))
        .await
        .expect("command finishes in time")
        .expect("command runs");
    (String::from_utf8_lossy(&out).into_owned(), exit)
}

fn settings_for(dir: &Path, config: &str) -> SshSettings {
    let file = dir.join("ssh_config");
    std::fs::write(&file, config).unwrap();
    SshSettings {
        config_file: Some(file),
        home: dir.join("home"),
        agent_socket: None,
        user: "localuser".into(),
    }
}

// ------------------------------------------------------------------------- configuration

#[test]
fn resolve_reads_alias_hostname_port_user_identity_files_and_host_star_defaults() {
    let dir = crate::support::temp_dir("resolve");
    let config = "\
Host build1 build1.lan
    HostName 10.0.0.7
    Port 2222
    User distcc
    IdentityFile ~/.ssh/farm_ed25519
    IdentityFile /etc/distfarm/key
    IdentitiesOnly yes

Host *
    IdentityFile ~/.ssh/common
    ConnectTimeout 3
    ServerAliveInterval 5
    ServerAliveCountMax 2
    Compression yes
    StrictHostKeyChecking accept-new
    UserKnownHostsFile ~/.ssh/farm_hosts /var/lib/kh
    HashKnownHosts yes
    User nobody
";
    let s = settings_for(dir.path(), config);
    let h = ssh::resolve("build1", None, None, &s).unwrap();
    let home = dir.path().join("home");
    assert_eq!(h.alias, "build1");
    assert_eq!(h.host_name, "10.0.0.7");
    assert_eq!(h.port, 2222);
    assert_eq!(h.user, "distcc", "the first value wins, Host * comes last");
    assert_eq!(
        h.identity_files,
        vec![
            home.join(".ssh/farm_ed25519"),
            PathBuf::from("/etc/distfarm/key"),
            home.join(".ssh/common")
        ],
        "IdentityFile accumulates across matching blocks"
    );
    assert!(!h.identity_files_default);
    assert!(h.identities_only);
    assert_eq!(
        h.known_hosts,
        vec![home.join(".ssh/farm_hosts"), PathBuf::from("/var/lib/kh")]
    );
    assert_eq!(h.strict, StrictHostKeyChecking::AcceptNew);
    assert!(h.hash_known_hosts);
    assert_eq!(h.connect_timeout, Duration::from_secs(3));
    assert_eq!(h.keepalive_interval, Some(Duration::from_secs(5)));
    assert_eq!(h.keepalive_max, 2);
    assert!(h.compression);
    assert!(h.proxy_jump.is_empty());
    assert_eq!(h.description(), "distcc@10.0.0.7:2222");

    // Another alias of the same block; overrides win over the file, like ssh -l / -p.
    let h = ssh::resolve("build1.lan", Some("root"), Some(22), &s).unwrap();
    assert_eq!(
        (h.user.as_str(), h.port, h.host_name.as_str()),
        ("root", 22, "10.0.0.7")
    );

    // A host only `Host *` matches: the alias is the host name, the local user the user.
    let h = ssh::resolve("other", None, None, &s).unwrap();
    assert_eq!(
        (h.host_name.as_str(), h.port, h.user.as_str()),
        ("other", 22, "nobody")
    );
}

#[test]
fn resolve_matches_host_names_case_insensitively() {
    let dir = crate::support::temp_dir("resolve-case");
    let s = settings_for(dir.path(), "Host build-*\n  Port 2200\n");
    let h = ssh::resolve("Build-7", None, None, &s).unwrap();
    assert_eq!(h.port, 2200);
    assert_eq!(h.host_name, "build-7");
}

#[test]
fn resolve_expands_tilde_to_the_given_home_not_home_env() {
    let dir = crate::support::temp_dir("resolve-home");
    let s = settings_for(
        dir.path(),
        "Host h\n  IdentityFile ~/.ssh/key_%h_%r\n  UserKnownHostsFile ~/kh_%u\n  User r\n",
    );
    let h = ssh::resolve("h", None, None, &s).unwrap();
    let home = dir.path().join("home");
    assert_eq!(h.identity_files, vec![home.join(".ssh/key_h_r")]);
    assert_eq!(h.known_hosts, vec![home.join("kh_localuser")]);
    if let Some(env_home) = std::env::var_os("HOME") {
        assert!(
            !h.identity_files[0].starts_with(env_home),
            "~ must not come from $HOME"
        );
    }
}

#[test]
fn resolve_without_a_config_file_uses_openssh_defaults_under_the_given_home() {
    let dir = crate::support::temp_dir("resolve-defaults");
    let home = dir.path().join("home");
    let s = SshSettings {
        config_file: None,
        home: home.clone(),
        agent_socket: Some("/tmp/agent.sock".into()),
        user: "localuser".into(),
    };
    let h = ssh::resolve("plainhost", None, None, &s).unwrap();
    assert_eq!(
        (h.host_name.as_str(), h.port, h.user.as_str()),
        ("plainhost", 22, "localuser")
    );
    assert_eq!(
        h.identity_files,
        ["id_ed25519", "id_ecdsa", "id_rsa"]
            .map(|f| home.join(".ssh").join(f))
            .to_vec()
    );
    assert!(h.identity_files_default);
    assert_eq!(h.known_hosts[0], home.join(".ssh/known_hosts"));
    assert!(
        h.global_known_hosts
            .contains(&PathBuf::from("/etc/ssh/ssh_known_hosts"))
    );
    assert_eq!(h.strict, StrictHostKeyChecking::Yes);
    assert_eq!(h.connect_timeout, ssh::DEFAULT_CONNECT_TIMEOUT);
    assert_eq!(h.keepalive_interval, Some(ssh::DEFAULT_KEEPALIVE_INTERVAL));
    assert_eq!(h.keepalive_max, ssh::DEFAULT_KEEPALIVE_MAX);
    assert_eq!(h.agent_socket, Some(PathBuf::from("/tmp/agent.sock")));
}

#[test]
fn resolve_reads_only_the_explicit_config_file() {
    let dir = crate::support::temp_dir("resolve-explicit");
    std::fs::create_dir_all(dir.path().join("home/.ssh")).unwrap();
    std::fs::write(
        dir.path().join("home/.ssh/config"),
        "Host h\n  User from_home\n",
    )
    .unwrap();
    let s = settings_for(dir.path(), "Host h\n  Port 2022\n");
    let h = ssh::resolve("h", None, None, &s).unwrap();
    assert_eq!((h.user.as_str(), h.port), ("localuser", 2022));
    assert_eq!(h.config_file, dir.path().join("ssh_config"));

    // Without an explicit file, ~/.ssh/config (under the given home) is read.
    let s = SshSettings {
        config_file: None,
        ..s
    };
    assert_eq!(ssh::resolve("h", None, None, &s).unwrap().user, "from_home");
}

#[test]
fn resolve_reports_a_missing_explicit_config_file() {
    let dir = crate::support::temp_dir("resolve-missing");
    let s = SshSettings {
        config_file: Some(dir.path().join("nope")),
        home: dir.path().into(),
        agent_socket: None,
        user: "u".into(),
    };
    let e = ssh::resolve("h", None, None, &s).unwrap_err();
    assert!(matches!(e, SshError::Config { .. }), "{e}");
    assert!(e.to_string().contains("nope"), "{e}");
}

#[test]
fn resolve_flattens_proxy_jump_chains() {
    let dir = crate::support::temp_dir("resolve-jump");
    let config = "\
Host target
    HostName 10.1.0.5
    ProxyJump j1,admin@j2:2200
Host j1
    HostName bastion.example
    User jumper
    ProxyJump j0
Host j2
    ProxyJump ignored-for-a-later-hop
Host direct
    ProxyJump none
";
    let s = settings_for(dir.path(), config);
    let h = ssh::resolve("target", None, None, &s).unwrap();
    let hops: Vec<(String, u16, String)> = h
        .proxy_jump
        .iter()
        .map(|j| (j.host_name.clone(), j.port, j.user.clone()))
        .collect();
    assert_eq!(
        hops,
        vec![
            ("j0".into(), 22, "localuser".into()),
            ("bastion.example".into(), 22, "jumper".into()),
            ("j2".into(), 2200, "admin".into()),
        ]
    );
    assert!(
        h.proxy_jump.iter().all(|j| j.proxy_jump.is_empty()),
        "hops are flat"
    );
    assert!(
        ssh::resolve("direct", None, None, &s)
            .unwrap()
            .proxy_jump
            .is_empty()
    );
}

#[test]
fn resolve_skips_match_blocks_with_a_warning_and_translates_match_all() {
    let dir = crate::support::temp_dir("resolve-match");
    let config = "\
Host a
    Port 2001
Match exec \"true\" host a
    User evil
Match all
    User everyone
";
    let s = settings_for(dir.path(), config);
    let h = ssh::resolve("a", None, None, &s).unwrap();
    assert_eq!(h.port, 2001);
    assert_eq!(
        h.user, "everyone",
        "the unsupported Match body must not leak into Host a"
    );
    assert_eq!(h.warnings.len(), 1, "{:?}", h.warnings);
    assert!(
        h.warnings[0].contains(":3:") && h.warnings[0].contains("Match exec"),
        "{:?}",
        h.warnings
    );
}

#[test]
fn resolve_refuses_proxy_command() {
    let dir = crate::support::temp_dir("resolve-proxycommand");
    let s = settings_for(dir.path(), "Host p\n  ProxyCommand nc %h %p\n");
    let e = ssh::resolve("p", None, None, &s).unwrap_err();
    assert!(
        e.to_string().contains("ProxyCommand") && e.to_string().contains("ProxyJump"),
        "{e}"
    );
}

#[test]
fn resolve_reads_every_strict_host_key_checking_value() {
    let dir = crate::support::temp_dir("resolve-strict");
    for (value, expected) in [
        ("yes", StrictHostKeyChecking::Yes),
        ("ask", StrictHostKeyChecking::Yes),
        ("accept-new", StrictHostKeyChecking::AcceptNew),
        ("no", StrictHostKeyChecking::No),
        ("off", StrictHostKeyChecking::No),
    ] {
        let s = settings_for(
            dir.path(),
            &format!("Host h\n  StrictHostKeyChecking {value}\n"),
        );
        assert_eq!(
            ssh::resolve("h", None, None, &s).unwrap().strict,
            expected,
            "{value}"
        );
    }
    let s = settings_for(dir.path(), "Host h\n  StrictHostKeyChecking maybe\n");
    assert!(ssh::resolve("h", None, None, &s).is_err());
}

// --------------------------------------------------------------------------------- channels

#[tokio::test]
async fn exec_echo_round_trip() {
    let farm = Farm::new("exec-echo").await;
    let conn = farm.connect("").await.unwrap();
    let (out, exit) = run(&conn, "echo hello from the farm", b"").await;
    assert_eq!(out, "hello from the farm\n");
    assert_eq!(exit.status, Some(0));
    assert!(!conn.is_closed());
    assert_eq!(
        conn.description(),
        format!("{USER}@127.0.0.1:{}", farm.server.port())
    );
    assert_eq!(farm.server.stats().users(), vec![USER.to_string()]);
}

#[tokio::test]
async fn exec_streams_stdin_and_reports_exit_status_and_stderr() {
    let farm = Farm::new("exec-stdin").await;
    let conn = farm.connect("").await.unwrap();
    let mut stream = conn.exec("cat; echo oops >&2; exit 3").await.unwrap();
    let mut exit = stream.exit();
    let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    stream.write_all(&payload).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut echoed = Vec::new();
    stream.read_to_end(&mut echoed).await.unwrap();
    assert_eq!(echoed, payload);
    let exit = tokio::time::timeout(WAIT, exit.wait()).await.unwrap();
    assert_eq!(exit.status, Some(3));
    assert_eq!(exit.stderr, b"oops\n");
    assert!(!exit.connection_lost);
}

#[tokio::test]
async fn many_channels_share_one_connection() {
    let farm = Farm::new("many-channels").await;
    let conn = farm.connect("").await.unwrap();
    let jobs: Vec<_> = (0..24)
        .map(|i| {
            let conn = conn.clone();
            tokio::spawn(async move { run(&conn, &format!("echo job{i}"), b"").await })
        })
        .collect();
    for (i, job) in jobs.into_iter().enumerate() {
        let (out, exit) = job.await.unwrap();
        assert_eq!(out, format!("job{i}\n"));
        assert!(exit.success());
    }
    assert_eq!(farm.server.stats().connections(), 1);
    assert_eq!(farm.server.stats().sessions(), 24);
}

#[tokio::test]
async fn an_unread_channel_does_not_stall_the_others() {
    let farm = Farm::new("unread").await;
    let conn = farm.connect("").await.unwrap();
    // 8 MiB nobody reads: far beyond russh's 100-message channel queue.
    let _flood = conn.exec("head -c 8388608 /dev/zero").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (out, _) = run(&conn, "echo still alive", b"").await;
    assert_eq!(out, "still alive\n");
}

#[tokio::test]
async fn direct_tcpip_reaches_a_tcp_service_behind_the_server() {
    let farm = Farm::new("direct-tcpip").await;
    let echo = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let echo_port = echo.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut s, _) = echo.accept().await.unwrap();
        let (mut r, mut w) = s.split();
        let _ = tokio::io::copy(&mut r, &mut w).await;
    });
    let conn = farm.connect("").await.unwrap();
    let mut tunnel = conn.direct_tcpip("127.0.0.1", echo_port).await.unwrap();
    crate::support::assert_echoed(&mut tunnel, b"through the tunnel", WAIT).await;
    assert_eq!(
        farm.server
            .stats()
            .direct_tcpip
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );

    let refused = conn
        .direct_tcpip("127.0.0.1", crate::support::free_port())
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            SshError::Channel {
                kind: "direct-tcpip",
                ..
            }
        ),
        "{refused}"
    );
}

#[tokio::test]
async fn direct_streamlocal_reaches_a_unix_socket_behind_the_server() {
    let farm = Farm::new("direct-streamlocal").await;
    let socket = farm.path("service.sock");
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let (mut r, mut w) = s.split();
        let _ = tokio::io::copy(&mut r, &mut w).await;
    });
    let conn = farm.connect("").await.unwrap();
    let mut tunnel = conn
        .direct_streamlocal(socket.to_str().unwrap())
        .await
        .unwrap();
    crate::support::assert_echoed(&mut tunnel, b"unix hello", WAIT).await;
    let missing = conn
        .direct_streamlocal("/nonexistent/x.sock")
        .await
        .unwrap_err();
    assert!(
        missing.to_string().contains("direct-streamlocal"),
        "{missing}"
    );
}

#[tokio::test]
async fn compression_yes_still_carries_data() {
    let farm = Farm::new("compression").await;
    let conn = farm.connect("  Compression yes\n").await.unwrap();
    let text = "compressible ".repeat(10_000);
    let (out, exit) = run(&conn, "cat", text.as_bytes()).await;
    assert_eq!(out, text);
    assert!(exit.success());
}

// -------------------------------------------------------------------------------- host keys

#[tokio::test]
async fn unknown_host_is_refused_with_a_pin_hint() {
    let farm = Farm::new("unknown-host").await;
    farm.write_known_hosts("# empty");
    let e = farm.connect("").await.unwrap_err();
    let fingerprint = farm
        .server
        .host_key()
        .fingerprint(HashAlg::Sha256)
        .to_string();
    let port = farm.server.port();
    match &e {
        SshError::UnknownHostKey {
            host,
            port: p,
            fingerprint: f,
            ..
        } => {
            assert_eq!((host.as_str(), *p), ("127.0.0.1", port));
            assert_eq!(f, &fingerprint);
        }
        other => panic!("expected UnknownHostKey, got {other}"),
    }
    let message = e.to_string();
    assert!(
        message.contains(&format!("ssh-keyscan -p {port} 127.0.0.1 >> ")),
        "{message}"
    );
    assert!(message.contains(&fingerprint), "{message}");
    assert_eq!(
        std::fs::read_to_string(farm.known_hosts()).unwrap(),
        "# empty\n",
        "nothing learned"
    );
}

#[tokio::test]
async fn changed_host_key_is_refused_even_with_strict_checking_off() {
    let farm = Farm::new("changed-key").await;
    let name = format!("[127.0.0.1]:{}", farm.server.port());
    let old = plain_known_hosts_line(&name, &random_public_key(Algorithm::Ed25519));
    farm.write_known_hosts(&format!("# pinned long ago\n{old}"));
    for strict in ["yes", "accept-new", "no"] {
        let e = farm
            .connect(&format!("  StrictHostKeyChecking {strict}\n"))
            .await
            .unwrap_err();
        match &e {
            SshError::ChangedHostKey {
                line, known_hosts, ..
            } => {
                assert_eq!(*line, 2);
                assert_eq!(known_hosts, &farm.known_hosts());
            }
            other => panic!("{strict}: expected ChangedHostKey, got {other}"),
        }
        assert!(e.to_string().contains("ssh-keygen -R"), "{e}");
    }
    assert_eq!(
        std::fs::read_to_string(farm.known_hosts()).unwrap(),
        format!("# pinned long ago\n{old}\n")
    );
}

#[tokio::test]
async fn hashed_known_hosts_entry_is_accepted() {
    let farm = Farm::new("hashed").await;
    let name = format!("[127.0.0.1]:{}", farm.server.port());
    farm.write_known_hosts(&hashed_known_hosts_line(&name, &farm.server.host_key()));
    let conn = farm.connect("").await.unwrap();
    assert_eq!(run(&conn, "echo ok", b"").await.0, "ok\n");
}

#[tokio::test]
async fn host_keys_are_looked_up_as_bracketed_host_and_port() {
    let farm = Farm::new("bracketed").await;
    let key = farm.server.host_key();
    // Without the port, the entry is for port 22 only.
    farm.write_known_hosts(&plain_known_hosts_line("127.0.0.1", &key));
    assert!(matches!(
        farm.connect("").await.unwrap_err(),
        SshError::UnknownHostKey { .. }
    ));
    // Comma lists, tabs and wildcards, as OpenSSH reads them.
    let port = farm.server.port();
    farm.write_known_hosts(
        &plain_known_hosts_line(&format!("other,[127.0.0.1]:{port}"), &key).replace(' ', "\t"),
    );
    farm.connect("").await.unwrap();
    farm.write_known_hosts(&plain_known_hosts_line("[127.0.0.*]:*", &key));
    farm.connect("").await.unwrap();
    farm.write_known_hosts(&plain_known_hosts_line(
        "[127.0.0.*]:*,![127.0.0.1]:*",
        &key,
    ));
    assert!(
        farm.connect("").await.is_err(),
        "a negated pattern rejects the line"
    );
}

#[tokio::test]
async fn revoked_host_key_is_refused() {
    let farm = Farm::new("revoked").await;
    let key = farm.server.host_key();
    let name = format!("[127.0.0.1]:{}", farm.server.port());
    farm.write_known_hosts(&format!(
        "{}\n@revoked * {}",
        plain_known_hosts_line(&name, &key),
        plain_known_hosts_line("", &key).trim_start()
    ));
    let e = farm
        .connect("  StrictHostKeyChecking no\n")
        .await
        .unwrap_err();
    match &e {
        SshError::RevokedHostKey { line, .. } => assert_eq!(*line, 2),
        other => panic!("expected RevokedHostKey, got {other}"),
    }
}

#[tokio::test]
async fn accept_new_learns_an_unknown_host() {
    let farm = Farm::new("accept-new").await;
    let learned = farm.path("new/dir/known_hosts");
    let config = |strict: &str| {
        farm.host_block(
            "farm",
            &farm.server,
            &format!("  StrictHostKeyChecking {strict}\n"),
        )
        .replace(
            &farm.known_hosts().display().to_string(),
            &learned.display().to_string(),
        )
    };
    let conn = farm
        .connect_with("farm", &farm.settings(&config("accept-new")))
        .await
        .unwrap();
    assert_eq!(run(&conn, "echo learned", b"").await.0, "learned\n");
    let text = std::fs::read_to_string(&learned).unwrap();
    assert!(
        text.starts_with(&format!("[127.0.0.1]:{} ssh-ed25519 ", farm.server.port())),
        "{text}"
    );
    // Now pinned: strict checking accepts it.
    farm.connect_with("farm", &farm.settings(&config("yes")))
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&learned).unwrap(),
        text,
        "learned once"
    );
}

#[tokio::test]
async fn accept_new_writes_hashed_lines_when_hash_known_hosts_is_set() {
    let farm = Farm::new("accept-new-hashed").await;
    farm.write_known_hosts("");
    farm.connect("  StrictHostKeyChecking accept-new\n  HashKnownHosts yes\n")
        .await
        .unwrap();
    let text = std::fs::read_to_string(farm.known_hosts()).unwrap();
    assert!(
        text.trim_start().starts_with("|1|") && !text.contains("127.0.0.1"),
        "{text}"
    );
    farm.connect("  StrictHostKeyChecking yes\n").await.unwrap();
}

#[tokio::test]
async fn accept_new_does_not_learn_a_host_known_with_another_key_type() {
    let farm = Farm::new("other-type").await;
    let name = format!("[127.0.0.1]:{}", farm.server.port());
    let ecdsa = random_public_key(Algorithm::Ecdsa {
        curve: EcdsaCurve::NistP256,
    });
    let line = plain_known_hosts_line(&name, &ecdsa);
    farm.write_known_hosts(&line);
    let e = farm
        .connect("  StrictHostKeyChecking accept-new\n")
        .await
        .unwrap_err();
    assert!(matches!(e, SshError::UnknownHostKey { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("known only with ecdsa-sha2-nistp256"),
        "{e}"
    );
    assert_eq!(
        std::fs::read_to_string(farm.known_hosts()).unwrap(),
        format!("{line}\n")
    );
}

#[tokio::test]
async fn the_pinned_host_key_type_is_asked_for_first() {
    let dir = crate::support::temp_dir("pinned-type");
    let key = write_client_key(dir.path(), "id", KeyKind::Ed25519);
    let rng = &mut russh::keys::key::safe_rng();
    let ed = PrivateKey::random(rng, Algorithm::Ed25519).unwrap();
    let ecdsa = PrivateKey::random(
        rng,
        Algorithm::Ecdsa {
            curve: EcdsaCurve::NistP256,
        },
    )
    .unwrap();
    let server =
        TestSshServer::start_with_host_keys(vec![ed, ecdsa.clone()], vec![key.public.clone()])
            .await;
    let kh = dir.path().join("known_hosts");
    std::fs::write(
        &kh,
        plain_known_hosts_line(
            &format!("[127.0.0.1]:{}", server.port()),
            ecdsa.public_key(),
        ) + "\n",
    )
    .unwrap();
    let s = settings_for(
        dir.path(),
        &format!(
            "Host s\n  HostName 127.0.0.1\n  Port {}\n  IdentityFile {}\n  UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n",
            server.port(),
            key.path.display(),
            kh.display()
        ),
    );
    let host = ssh::resolve("s", None, None, &s).unwrap();
    let conn = ssh::connect(&host, &s)
        .await
        .expect("the ecdsa key known_hosts pins is negotiated");
    assert_eq!(run(&conn, "echo ecdsa", b"").await.0, "ecdsa\n");
}

#[tokio::test]
async fn strict_checking_off_accepts_an_unknown_host() {
    let farm = Farm::new("strict-no").await;
    farm.write_known_hosts("");
    let conn = farm.connect("  StrictHostKeyChecking no\n").await.unwrap();
    assert_eq!(run(&conn, "echo risky", b"").await.0, "risky\n");
}

// ---------------------------------------------------------------------------- authentication

#[tokio::test]
async fn key_files_log_in_with_ed25519_ecdsa_and_rsa_sha2() {
    let farm = Farm::new("key-kinds").await;
    for (kind, name) in [
        (KeyKind::Ed25519, "k_ed"),
        (KeyKind::Ecdsa, "k_ecdsa"),
        (KeyKind::Rsa, "k_rsa"),
    ] {
        let key = write_client_key(farm.dir.path(), name, kind);
        farm.server.authorize(key.public.clone());
        let config = farm.host_block("farm", &farm.server, "").replace(
            &farm.key.path.display().to_string(),
            &key.path.display().to_string(),
        );
        let conn = farm
            .connect_with("farm", &farm.settings(&config))
            .await
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert_eq!(run(&conn, "echo in", b"").await.0, "in\n");
    }
    let algorithms = farm.server.stats().algorithms();
    assert_eq!(algorithms[0], "ssh-ed25519");
    assert_eq!(algorithms[1], "ecdsa-sha2-nistp256");
    assert!(
        algorithms[2] == "rsa-sha2-512" || algorithms[2] == "rsa-sha2-256",
        "RSA must sign with SHA-2: {algorithms:?}"
    );
}

#[tokio::test]
async fn auth_failure_names_user_host_and_what_was_tried() {
    let farm = Farm::new("auth-fail").await;
    let stranger = write_client_key(farm.dir.path(), "stranger", KeyKind::Ed25519);
    let config = farm
        .host_block(
            "farm",
            &farm.server,
            &format!("  IdentityFile {}\n", farm.path("missing_key").display()),
        )
        .replace(
            &farm.key.path.display().to_string(),
            &stranger.path.display().to_string(),
        );
    let e = farm
        .connect_with("farm", &farm.settings(&config))
        .await
        .unwrap_err();
    let message = e.to_string();
    assert!(matches!(e, SshError::Auth { .. }), "{message}");
    assert!(message.contains(&format!("{USER}@127.0.0.1")), "{message}");
    assert!(message.contains("stranger"), "{message}");
    assert!(message.contains("missing_key (missing)"), "{message}");
}

#[tokio::test]
async fn encrypted_key_without_an_agent_is_a_clear_error() {
    let farm = Farm::new("encrypted").await;
    let encrypted =
        russh_server::write_encrypted_client_key(farm.dir.path(), "id_locked", "secret");
    farm.server.authorize(encrypted.public.clone());
    let config = farm.host_block("farm", &farm.server, "").replace(
        &farm.key.path.display().to_string(),
        &encrypted.path.display().to_string(),
    );
    let e = farm
        .connect_with("farm", &farm.settings(&config))
        .await
        .unwrap_err();
    match &e {
        SshError::EncryptedKey { path, .. } => assert_eq!(path, &encrypted.path),
        other => panic!("expected EncryptedKey, got {other}"),
    }
    assert!(e.to_string().contains("ssh-add"), "{e}");
}

/// Settings whose agent holds `agent_key`, and whose config names `identity` (not the farm key).
fn agent_settings(farm: &Farm, agent: &SshAgent, identity: &Path, extra: &str) -> SshSettings {
    let config = farm.host_block("farm", &farm.server, extra).replace(
        &farm.key.path.display().to_string(),
        &identity.display().to_string(),
    );
    SshSettings {
        agent_socket: Some(agent.socket().to_path_buf()),
        ..farm.settings(&config)
    }
}

#[tokio::test]
async fn ssh_agent_keys_log_in() {
    let farm = Farm::new("agent").await;
    let agent = SshAgent::start(farm.dir.path());
    agent.add(&farm.key.path);
    // The config names a key the server does not know: the agent's key gets us in.
    let stranger = write_client_key(farm.dir.path(), "stranger", KeyKind::Ed25519);
    let s = agent_settings(&farm, &agent, &stranger.path, "");
    let conn = farm.connect_with("farm", &s).await.unwrap();
    assert_eq!(run(&conn, "echo agent", b"").await.0, "agent\n");
}

#[tokio::test]
async fn identities_only_ignores_agent_keys_no_identity_file_names() {
    let farm = Farm::new("identities-only").await;
    let agent = SshAgent::start(farm.dir.path());
    agent.add(&farm.key.path);
    let stranger = write_client_key(farm.dir.path(), "stranger", KeyKind::Ed25519);
    let s = agent_settings(&farm, &agent, &stranger.path, "  IdentitiesOnly yes\n");
    let e = farm.connect_with("farm", &s).await.unwrap_err();
    assert!(matches!(e, SshError::Auth { .. }), "{e}");
    assert!(
        !e.to_string().contains("agent key"),
        "no agent key may be offered: {e}"
    );
}

#[tokio::test]
async fn an_encrypted_key_file_the_agent_holds_logs_in_without_a_prompt() {
    let farm = Farm::new("agent-encrypted").await;
    let agent = SshAgent::start(farm.dir.path());
    agent.add(&farm.key.path);
    let locked = russh_server::encrypted_copy(&farm.key, farm.dir.path(), "id_locked", "secret");
    let s = agent_settings(&farm, &agent, &locked.path, "  IdentitiesOnly yes\n");
    let conn = farm.connect_with("farm", &s).await.unwrap();
    assert_eq!(run(&conn, "echo unlocked", b"").await.0, "unlocked\n");
}

// ------------------------------------------------------------------------- ProxyJump, liveness

#[tokio::test]
async fn proxy_jump_goes_through_a_second_server() {
    let farm = Farm::new("proxy-jump").await;
    let jump = TestSshServer::start(vec![farm.key.public.clone()]).await;
    farm.write_known_hosts(&format!(
        "{}\n{}",
        farm.server.known_hosts_line("127.0.0.1"),
        jump.known_hosts_line("127.0.0.1")
    ));
    let config = format!(
        "{}  ProxyJump bastion\n{}",
        farm.host_block("farm", &farm.server, ""),
        farm.host_block("bastion", &jump, "")
    );
    let conn = farm
        .connect_with("farm", &farm.settings(&config))
        .await
        .unwrap();
    assert_eq!(
        run(&conn, "echo behind the bastion", b"").await.0,
        "behind the bastion\n"
    );
    assert!(
        conn.description().contains("via 127.0.0.1"),
        "{}",
        conn.description()
    );
    assert_eq!(
        jump.stats()
            .direct_tcpip
            .load(std::sync::atomic::Ordering::SeqCst),
        1
    );
    assert_eq!(jump.stats().sessions(), 0);
    assert_eq!(farm.server.stats().connections(), 1);

    // Each hop is checked under its own name: forget the bastion's key.
    farm.write_known_hosts(&farm.server.known_hosts_line("127.0.0.1"));
    match farm
        .connect_with("farm", &farm.settings(&config))
        .await
        .unwrap_err()
    {
        SshError::UnknownHostKey { port, .. } => assert_eq!(port, jump.port()),
        other => panic!("expected the bastion's key to be unknown, got {other}"),
    }
}

#[tokio::test]
async fn keepalive_notices_a_silent_dead_link() {
    let farm = Farm::new("keepalive").await;
    let proxy = FreezableProxy::start(farm.server.addr()).await;
    let config = farm
        .host_block(
            "farm",
            &farm.server,
            "  ServerAliveInterval 1\n  ServerAliveCountMax 1\n",
        )
        .replace(
            &format!("Port {}", farm.server.port()),
            &format!("Port {}", proxy.addr().port()),
        )
        .replace(
            "HostName 127.0.0.1",
            "HostName 127.0.0.1\n  HostKeyAlias 127.0.0.1-farm",
        );
    farm.write_known_hosts(&plain_known_hosts_line(
        &format!("[127.0.0.1-farm]:{}", proxy.addr().port()),
        &farm.server.host_key(),
    ));
    let conn = farm
        .connect_with("farm", &farm.settings(&config))
        .await
        .unwrap();
    assert_eq!(run(&conn, "echo up", b"").await.0, "up\n");
    proxy.freeze();
    let started = std::time::Instant::now();
    while !conn.is_closed() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "a dead link went unnoticed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(matches!(
        conn.exec("true").await,
        Err(SshError::Disconnected { .. })
    ));
}

#[tokio::test]
async fn a_server_that_goes_away_closes_the_connection_and_its_streams() {
    let farm = Farm::new("server-gone").await;
    let conn = farm.connect("").await.unwrap();
    let mut stream = conn.exec("sleep 30").await.unwrap();
    let exit = stream.exit();
    farm.server.stop();
    let mut buf = Vec::new();
    let read = tokio::time::timeout(WAIT, stream.read_to_end(&mut buf))
        .await
        .unwrap();
    assert!(
        read.is_err(),
        "a lost connection must not look like a clean EOF"
    );
    assert!(exit.clone().wait().await.connection_lost);
    let started = std::time::Instant::now();
    while !conn.is_closed() {
        assert!(started.elapsed() < WAIT);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_silent_port_times_out_and_a_closed_port_is_a_connect_error() {
    let farm = Farm::new("timeouts").await;
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let _hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let config = farm
        .host_block("farm", &farm.server, "  ConnectTimeout 1\n")
        .replace(
            &format!("Port {}", farm.server.port()),
            &format!("Port {silent_port}"),
        );
    match farm
        .connect_with("farm", &farm.settings(&config))
        .await
        .unwrap_err()
    {
        SshError::Timeout { what, .. } => assert_eq!(what, "the SSH handshake"),
        other => panic!("expected a timeout, got {other}"),
    }
    let closed = crate::support::free_port();
    let config = farm.host_block("farm", &farm.server, "").replace(
        &format!("Port {}", farm.server.port()),
        &format!("Port {closed}"),
    );
    let e = farm
        .connect_with("farm", &farm.settings(&config))
        .await
        .unwrap_err();
    assert!(matches!(e, SshError::Connect { .. }), "{e}");
    assert!(e.is_transient());
}

#[tokio::test]
async fn exec_waits_for_a_free_session_when_the_server_limits_them() {
    let farm = Farm::new("max-sessions").await;
    let limited = TestSshServer::start_limited(vec![farm.key.public.clone()], 3).await;
    farm.write_known_hosts(&limited.known_hosts_line("127.0.0.1"));
    let config = farm.host_block("farm", &limited, "");
    let conn = farm
        .connect_with("farm", &farm.settings(&config))
        .await
        .unwrap();
    let jobs: Vec<_> = (0..8)
        .map(|i| {
            let conn = conn.clone();
            tokio::spawn(async move { run(&conn, &format!("sleep 0.2; echo {i}"), b"").await })
        })
        .collect();
    for (i, job) in jobs.into_iter().enumerate() {
        assert_eq!(job.await.unwrap().0, format!("{i}\n"));
    }
    let refused = limited
        .stats()
        .refused_sessions
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(refused >= 1, "the limit was never hit");
    assert_eq!(conn.session_limit(), Some(3));
    assert_eq!(limited.stats().connections(), 1);
}

#[tokio::test]
async fn remote_forward_brings_connections_back_to_us() {
    let farm = Farm::new("remote-forward").await;
    let conn = farm.connect("").await.unwrap();
    let mut forward = distfarm::forward::RemoteForward::request(&conn, "127.0.0.1", 0)
        .await
        .unwrap();
    assert_ne!(forward.port(), 0, "the allocated port is reported");
    let port = forward.port();
    let server_side = tokio::spawn(async move {
        let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        tcp.write_all(b"ping").await.unwrap();
        tcp.shutdown().await.unwrap();
        let mut back = String::new();
        tcp.read_to_string(&mut back).await.unwrap();
        back
    });
    let mut incoming = tokio::time::timeout(WAIT, forward.accept())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(incoming.originator, "127.0.0.1");
    let mut got = Vec::new();
    incoming.stream.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"ping");
    incoming.stream.write_all(b"pong").await.unwrap();
    incoming.stream.shutdown().await.unwrap();
    assert_eq!(
        tokio::time::timeout(WAIT, server_side)
            .await
            .unwrap()
            .unwrap(),
        "pong"
    );
    forward.cancel().await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err(),
        "cancelled"
    );
}

#[allow(dead_code)]
fn _types_are_shareable(c: SshConnection, h: ResolvedHost) {
    fn send_sync<T: Send + Sync + Clone>(_: T) {}
    send_sync(c);
    send_sync(h);
}
