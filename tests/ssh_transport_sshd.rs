//! The built-in SSH transport against the real OpenSSH sshd (`tests/support/sshd.rs`): the
//! same `ssh_config` the `ssh` client uses, exec, both tunnel kinds, host-key refusals, a
//! hashed known_hosts made by `ssh-keygen -H`, RSA with SHA-2, and ProxyJump through a second
//! sshd.

use std::path::Path;
use std::time::Duration;

use crate::support::russh_server::{
    KeyKind, plain_known_hosts_line, random_public_key, write_client_key,
};
use crate::support::{Cmd, Sshd, require};
use distfarm::forward::RemoteForward;
use distfarm::transport::ssh::{self, SshConnection, SshError, SshSettings};
use russh::keys::Algorithm;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const WAIT: Duration = Duration::from_secs(30);

fn settings(config: &Path, home: &Path, user: &str) -> SshSettings {
    SshSettings {
        config_file: Some(config.to_path_buf()),
        home: home.to_path_buf(),
        agent_socket: None,
        user: user.to_string(),
    }
}

async fn connect(alias: &str, s: &SshSettings) -> Result<SshConnection, SshError> {
    let host = ssh::resolve(alias, None, None, s)?;
    tokio::time::timeout(WAIT, ssh::connect(&host, s))
        .await
        .expect("connect finishes in time")
}

async fn connect_farmhost(sshd: &Sshd) -> Result<SshConnection, SshError> {
    let s = settings(&sshd.ssh_config(), sshd.dir(), sshd.user());
    connect(sshd.alias(), &s).await
}

#[tokio::test]
async fn openssh_exec_streamlocal_and_tcpip_over_one_connection() {
    let sshd = Sshd::start();
    let conn = connect_farmhost(&sshd)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", sshd.log()));

    // exec: stdout, stderr, exit status.
    let (out, exit) = tokio::time::timeout(WAIT, conn.run("echo hi; echo err >&2; exit 7", b""))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out, b"hi\n");
    assert_eq!(exit.stderr, b"err\n");
    assert_eq!(exit.status, Some(7));

    // exec: 1 MiB through `cat`.
    let data: Vec<u8> = (0..1u32 << 20).map(|i| (i * 7 % 253) as u8).collect();
    let (out, exit) = tokio::time::timeout(WAIT, conn.run("cat", &data))
        .await
        .unwrap()
        .unwrap();
    assert!(
        out == data && exit.success(),
        "cat returned {} bytes, {exit:?}",
        out.len()
    );

    // direct-streamlocal to a unix socket on the "remote" side.
    let socket = sshd.dir().join("svc.sock");
    let unix = tokio::net::UnixListener::bind(&socket).unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = unix.accept().await {
            tokio::spawn(crate::support::echo_service(s));
        }
    });
    let mut tunnel = conn
        .direct_streamlocal(socket.to_str().unwrap())
        .await
        .unwrap();
    crate::support::assert_echoed(&mut tunnel, b"to the socket", WAIT).await;

    // direct-tcpip to a TCP port on the "remote" side.
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = tcp.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = tcp.accept().await {
            tokio::spawn(crate::support::echo_service(s));
        }
    });
    let mut tunnel = conn.direct_tcpip("127.0.0.1", port).await.unwrap();
    crate::support::assert_echoed(&mut tunnel, b"to the port", WAIT).await;

    // Many jobs at once on the same connection.
    let jobs: Vec<_> = (0..12)
        .map(|i| {
            let conn = conn.clone();
            tokio::spawn(async move { conn.run(&format!("echo {i}"), b"").await })
        })
        .collect();
    for (i, job) in jobs.into_iter().enumerate() {
        let (out, exit) = job.await.unwrap().unwrap();
        assert_eq!(out, format!("{i}\n").as_bytes());
        assert!(exit.success());
    }
    let logins = sshd.log().matches("Accepted publickey").count();
    // `Sshd::start` logs in once with `ssh` to check the server; we add exactly one.
    assert_eq!(logins, 2, "one connection for everything:\n{}", sshd.log());
}

#[tokio::test]
async fn openssh_host_with_a_wrong_or_missing_key_is_refused() {
    let sshd = Sshd::start();
    let name = format!("[127.0.0.1]:{}", sshd.port());
    let pinned = std::fs::read_to_string(sshd.known_hosts()).unwrap();

    std::fs::write(
        sshd.known_hosts(),
        plain_known_hosts_line(&name, &random_public_key(Algorithm::Ed25519)) + "\n",
    )
    .unwrap();
    let e = connect_farmhost(&sshd).await.unwrap_err();
    assert!(matches!(e, SshError::ChangedHostKey { .. }), "{e}");

    std::fs::write(sshd.known_hosts(), "").unwrap();
    let e = connect_farmhost(&sshd).await.unwrap_err();
    assert!(matches!(e, SshError::UnknownHostKey { .. }), "{e}");
    assert!(
        e.to_string()
            .contains(&format!("ssh-keyscan -p {} 127.0.0.1", sshd.port())),
        "{e}"
    );

    std::fs::write(sshd.known_hosts(), pinned).unwrap();
    connect_farmhost(&sshd).await.unwrap();
}

#[tokio::test]
async fn openssh_hashed_known_hosts_from_ssh_keygen_is_accepted() {
    let sshd = Sshd::start();
    Cmd::new(require("ssh-keygen", "openssh-client"))
        .arg("-H")
        .arg("-f")
        .arg(sshd.known_hosts())
        .timeout(WAIT)
        .run();
    let hashed = std::fs::read_to_string(sshd.known_hosts()).unwrap();
    assert!(hashed.starts_with("|1|"), "{hashed}");
    let conn = connect_farmhost(&sshd).await.unwrap();
    let (out, _) = conn.run("echo hashed", b"").await.unwrap();
    assert_eq!(out, b"hashed\n");
}

#[tokio::test]
async fn openssh_accepts_an_rsa_key_signed_with_sha2() {
    let sshd = Sshd::start();
    let keys = crate::support::temp_dir("sshd-rsa");
    let rsa = write_client_key(keys.path(), "id_rsa", KeyKind::Rsa);
    let mut authorized = std::fs::read_to_string(sshd.authorized_keys()).unwrap();
    authorized.push_str(&std::fs::read_to_string(rsa.pub_path()).unwrap());
    std::fs::write(sshd.authorized_keys(), authorized).unwrap();
    let config = std::fs::read_to_string(sshd.ssh_config()).unwrap().replace(
        &sshd.client_key().display().to_string(),
        &rsa.path.display().to_string(),
    );
    let file = keys.path().join("ssh_config");
    std::fs::write(&file, config).unwrap();
    let conn = connect(sshd.alias(), &settings(&file, keys.path(), sshd.user()))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", sshd.log()));
    let (out, _) = conn.run("echo rsa", b"").await.unwrap();
    assert_eq!(out, b"rsa\n");
    assert!(
        sshd.log().contains("Accepted publickey") && sshd.log().contains("RSA"),
        "{}",
        sshd.log()
    );
}

#[tokio::test]
async fn openssh_proxy_jump_through_a_second_sshd() {
    let bastion = Sshd::start();
    let target = Sshd::start();
    let dir = crate::support::temp_dir("sshd-jump");
    let file = crate::support::sshd::proxy_jump_config(&target, &bastion, "target", dir.path());
    let s = settings(&file, dir.path(), target.user());
    let conn = connect("target", &s).await.unwrap_or_else(|e| {
        panic!(
            "{e}\n--- bastion\n{}\n--- target\n{}",
            bastion.log(),
            target.log()
        )
    });
    let (out, exit) = conn.run("echo through the bastion", b"").await.unwrap();
    assert_eq!(out, b"through the bastion\n");
    assert!(exit.success());
    assert_eq!(
        bastion.log().matches("Accepted publickey").count(),
        2,
        "{}",
        bastion.log()
    );
    assert_eq!(
        target.log().matches("Accepted publickey").count(),
        2,
        "{}",
        target.log()
    );
    conn.disconnect().await;
}

#[tokio::test]
async fn openssh_remote_forward_brings_connections_back() {
    let sshd = Sshd::start();
    let conn = connect_farmhost(&sshd).await.unwrap();
    let mut forward = RemoteForward::request(&conn, "127.0.0.1", 0).await.unwrap();
    let port = forward.port();
    assert_ne!(port, 0);
    let peer = tokio::spawn(async move {
        let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        tcp.write_all(b"ping").await.unwrap();
        tcp.shutdown().await.unwrap();
        let mut back = Vec::new();
        tcp.read_to_end(&mut back).await.unwrap();
        back
    });
    let incoming = tokio::time::timeout(WAIT, forward.accept())
        .await
        .unwrap()
        .unwrap();
    tokio::spawn(crate::support::echo_service(incoming.stream));
    assert_eq!(
        tokio::time::timeout(WAIT, peer).await.unwrap().unwrap(),
        b"ping"
    );
    forward.cancel().await.unwrap();
}
