//! `forward/` against the real OpenSSH sshd: `ssh -L` (every connection accepted here is
//! carried to a port the remote reaches) and `ssh -R` (every connection to a port the remote
//! listens on is spliced to a service here), many connections at once, and both ending
//! cleanly.

use std::time::Duration;

use crate::support::{Sshd, assert_echoed, echo_service};
use distfarm::forward::{LocalTarget, RemoteForward, serve_local};
use distfarm::transport::ssh::{self, SshConnection, SshSettings};

const WAIT: Duration = Duration::from_secs(20);

async fn connect(sshd: &Sshd) -> SshConnection {
    let settings = SshSettings {
        config_file: Some(sshd.ssh_config()),
        home: sshd.dir().to_path_buf(),
        agent_socket: None,
        user: sshd.user().to_string(),
    };
    let host = ssh::resolve(sshd.alias(), None, None, &settings).unwrap();
    ssh::connect(&host, &settings)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", sshd.log()))
}

/// An echo service on 127.0.0.1 serving any number of connections; its port.
async fn echo_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(echo_service(s));
        }
    });
    port
}

#[tokio::test]
async fn local_forward_carries_every_connection_to_a_port_the_remote_reaches() {
    let sshd = Sshd::start();
    let conn = connect(&sshd).await;
    let target = LocalTarget::Tcp {
        host: "127.0.0.1".into(),
        port: echo_port().await,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let local = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let forwarding = tokio::spawn(serve_local(listener, conn, target, async {
        let _ = stopped.await;
    }));

    let mut clients = tokio::task::JoinSet::new();
    for i in 0..4 {
        clients.spawn(async move {
            let mut tcp = tokio::net::TcpStream::connect(local).await.unwrap();
            assert_echoed(&mut tcp, format!("client {i}").as_bytes(), WAIT).await;
        });
    }
    while let Some(client) = clients.join_next().await {
        client.unwrap();
    }

    stop.send(()).unwrap();
    tokio::time::timeout(WAIT, forwarding)
        .await
        .expect("the forward ends when told to")
        .unwrap();
}

#[tokio::test]
async fn remote_forward_splices_every_connection_to_the_local_service() {
    let sshd = Sshd::start();
    let conn = connect(&sshd).await;
    let forward = RemoteForward::request(&conn, "127.0.0.1", 0).await.unwrap();
    let remote_port = forward.port();
    let service = std::net::SocketAddr::from(([127, 0, 0, 1], echo_port().await));
    let forwarding = tokio::spawn(forward.to_local(service));

    let mut clients = tokio::task::JoinSet::new();
    for i in 0..4 {
        clients.spawn(async move {
            let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", remote_port))
                .await
                .unwrap();
            assert_echoed(&mut tcp, format!("through -R {i}").as_bytes(), WAIT).await;
        });
    }
    while let Some(client) = clients.join_next().await {
        client.unwrap();
    }

    conn.disconnect().await;
    tokio::time::timeout(WAIT, forwarding)
        .await
        .expect("the forward ends with its connection")
        .unwrap();
}
