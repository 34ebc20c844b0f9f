//! An in-process SSH server (russh) for fast tests, and the client-side files to reach it.
//!
//! | item | job |
//! |---|---|
//! | [`TestSshServer`] | 127.0.0.1:port, random host key, public-key auth, exec (`sh -c`, stdin/stdout/stderr, exit status), `direct-tcpip`, `direct-streamlocal`, `tcpip-forward`, an optional session limit, counters |
//! | [`ServerStats`] | connections, sessions, forwarded channels, users and signature algorithms seen |
//! | [`ClientKey`] / [`write_client_key`] | key files (ed25519, ecdsa, rsa, passphrase-protected) with `.pub` beside |
//! | [`plain_known_hosts_line`] / [`hashed_known_hosts_line`] | known_hosts lines written independently of distfarm's parser |
//! | [`FreezableProxy`] | a TCP relay that can go silent (a dead link without a RST) |
//! | [`SshAgent`] | a real `ssh-agent -D -a SOCK`, killed on drop |

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use russh::keys::ssh_key::LineEnding;
use russh::keys::ssh_key::known_hosts::HostPatterns;
use russh::keys::{Algorithm, EcdsaCurve, PrivateKey, PublicKey};
use russh::server::{self, Auth, Msg, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, ChannelMsg};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::process::{ChildGuard, Cmd};
use super::programs::require;

// ------------------------------------------------------------------------------------ server

/// What the server saw; tests prove "one connection, many channels" with it.
#[derive(Debug, Default)]
pub struct ServerStats {
    pub connections: AtomicUsize,
    pub sessions: AtomicUsize,
    pub direct_tcpip: AtomicUsize,
    pub direct_streamlocal: AtomicUsize,
    /// Session channels refused because of the `start_limited` limit.
    pub refused_sessions: AtomicUsize,
    /// `user` of every accepted login.
    pub users: Mutex<Vec<String>>,
    /// Signature algorithm of every accepted public-key login (`rsa-sha2-512`, `ssh-ed25519`…).
    pub algorithms: Mutex<Vec<String>>,
}

impl ServerStats {
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
    pub fn sessions(&self) -> usize {
        self.sessions.load(Ordering::SeqCst)
    }
    pub fn users(&self) -> Vec<String> {
        self.users.lock().unwrap().clone()
    }
    pub fn algorithms(&self) -> Vec<String> {
        self.algorithms.lock().unwrap().clone()
    }
}

/// A russh server on 127.0.0.1:port until dropped (every session ends with it).
pub struct TestSshServer {
    addr: SocketAddr,
    host_key: PrivateKey,
    stats: Arc<ServerStats>,
    authorized: Arc<Mutex<Vec<PublicKey>>>,
    stop: CancellationToken,
}

impl TestSshServer {
    /// An ed25519 host key; `authorized` may log in as any user.
    pub async fn start(authorized: Vec<PublicKey>) -> TestSshServer {
        let host_key = PrivateKey::random(&mut russh::keys::key::safe_rng(), Algorithm::Ed25519)
            .expect("host key");
        Self::start_with_host_keys(vec![host_key], authorized).await
    }

    /// Several host keys (the client picks the type); [`host_key`](Self::host_key) is the first.
    pub async fn start_with_host_keys(
        host_keys: Vec<PrivateKey>,
        authorized: Vec<PublicKey>,
    ) -> TestSshServer {
        Self::start_inner(host_keys, authorized, None).await
    }

    /// Refuses a session channel (ConnectFailed, like sshd's `MaxSessions`) while
    /// `max_sessions` of the connection's exec channels are still running.
    pub async fn start_limited(authorized: Vec<PublicKey>, max_sessions: usize) -> TestSshServer {
        let host_key = PrivateKey::random(&mut russh::keys::key::safe_rng(), Algorithm::Ed25519)
            .expect("host key");
        Self::start_inner(vec![host_key], authorized, Some(max_sessions)).await
    }

    async fn start_inner(
        host_keys: Vec<PrivateKey>,
        authorized: Vec<PublicKey>,
        max_sessions: Option<usize>,
    ) -> TestSshServer {
        let host_key = host_keys[0].clone();
        let config = Arc::new(server::Config {
            keys: host_keys,
            methods: russh::MethodSet::from(&[russh::MethodKind::PublicKey][..]),
            // Defaults pad every refusal (and OpenSSH's initial `none` probe) to 1 s.
            auth_rejection_time: Duration::ZERO,
            auth_rejection_time_initial: Some(Duration::ZERO),
            inactivity_timeout: None,
            nodelay: true,
            ..Default::default()
        });
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let stats = Arc::new(ServerStats::default());
        let authorized = Arc::new(Mutex::new(authorized));
        let stop = CancellationToken::new();
        tokio::spawn(accept_loop(
            listener,
            config,
            stats.clone(),
            authorized.clone(),
            max_sessions,
            stop.clone(),
        ));
        TestSshServer {
            addr,
            host_key,
            stats,
            authorized,
            stop,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn host_key(&self) -> PublicKey {
        let mut key = self.host_key.public_key().clone();
        key.set_comment("");
        key
    }

    pub fn stats(&self) -> &ServerStats {
        &self.stats
    }

    pub fn authorize(&self, key: PublicKey) {
        self.authorized.lock().unwrap().push(key);
    }

    /// `[127.0.0.1]:PORT ssh-ed25519 AAAA…` (with `host` instead of 127.0.0.1 if given).
    pub fn known_hosts_line(&self, host: &str) -> String {
        plain_known_hosts_line(&format!("[{host}]:{}", self.port()), &self.host_key())
    }

    /// Ends the listener and every session at once (the client sees the TCP connection close).
    pub fn stop(&self) {
        self.stop.cancel();
    }
}

impl Drop for TestSshServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn accept_loop(
    listener: TcpListener,
    config: Arc<server::Config>,
    stats: Arc<ServerStats>,
    authorized: Arc<Mutex<Vec<PublicKey>>>,
    max_sessions: Option<usize>,
    stop: CancellationToken,
) {
    loop {
        let (tcp, _peer) = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => return,
            },
        };
        let _ = tcp.set_nodelay(true);
        stats.connections.fetch_add(1, Ordering::SeqCst);
        let handler = ConnHandler {
            stats: stats.clone(),
            authorized: authorized.clone(),
            pending: HashMap::new(),
            stop: stop.clone(),
            max_sessions,
            running: Arc::new(AtomicUsize::new(0)),
            forwards: HashMap::new(),
        };
        // The session runs on one end of an in-memory pipe and a relay task owns the TCP
        // socket: `stop` ends the relay, so the client sees the socket close at once (russh
        // spawns its session loop, so dropping its future would not close anything).
        let (ours, theirs) = tokio::io::duplex(256 * 1024);
        let (config, stop) = (config.clone(), stop.clone());
        tokio::spawn(async move {
            if let Ok(running) = server::run_stream(config, theirs, handler).await {
                let _ = running.await;
            }
        });
        tokio::spawn(async move {
            let (mut tcp, mut ours) = (tcp, ours);
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = tokio::io::copy_bidirectional(&mut tcp, &mut ours) => {}
            }
        });
    }
}

struct ConnHandler {
    stats: Arc<ServerStats>,
    authorized: Arc<Mutex<Vec<PublicKey>>>,
    /// Session channels opened but not yet exec'd.
    pending: HashMap<ChannelId, Channel<Msg>>,
    stop: CancellationToken,
    max_sessions: Option<usize>,
    /// Session channels of this connection not yet finished.
    running: Arc<AtomicUsize>,
    /// `tcpip-forward` listeners by (address, port).
    forwards: HashMap<(String, u32), tokio::task::JoinHandle<()>>,
}

impl Drop for ConnHandler {
    fn drop(&mut self) {
        for (_, task) in self.forwards.drain() {
            task.abort();
        }
    }
}

impl server::Handler for ConnHandler {
    type Error = russh::Error;

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        // Compare key material: PublicKey's equality includes the comment.
        let ok = self
            .authorized
            .lock()
            .unwrap()
            .iter()
            .any(|k| k.key_data() == key.public_key.key_data());
        if !ok {
            return Ok(Auth::reject());
        }
        self.stats.users.lock().unwrap().push(user.to_string());
        self.stats
            .algorithms
            .lock()
            .unwrap()
            .push(key.algorithm.as_str().to_string());
        Ok(Auth::Accept)
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self
            .max_sessions
            .is_some_and(|max| self.running.load(Ordering::SeqCst) >= max)
        {
            self.stats.refused_sessions.fetch_add(1, Ordering::SeqCst);
            reply.reject(russh::ChannelOpenFailure::ConnectFailed).await;
            return Ok(());
        }
        self.running.fetch_add(1, Ordering::SeqCst);
        self.stats.sessions.fetch_add(1, Ordering::SeqCst);
        self.pending.insert(channel.id(), channel);
        reply.accept().await; // dropping `reply` would reject
        Ok(())
    }

    async fn exec_request(
        &mut self,
        id: ChannelId,
        data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let Some(channel) = self.pending.remove(&id) else {
            return session.channel_failure(id);
        };
        session.channel_success(id)?; // the default never answers
        let command = String::from_utf8_lossy(data).into_owned();
        let (stop, running) = (self.stop.clone(), self.running.clone());
        tokio::spawn(async move {
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = run_exec(channel, command) => {}
            }
            running.fetch_sub(1, Ordering::SeqCst); // like sshd: free once the command ended
        });
        Ok(())
    }

    /// `ssh -R`: listen, and open a `forwarded-tcpip` channel back for every connection.
    async fn tcpip_forward(
        &mut self,
        address: &str,
        port: &mut u32,
        session: &mut Session,
    ) -> Result<bool, Self::Error> {
        let Ok(listener) = TcpListener::bind((address, *port as u16)).await else {
            return Ok(false); // REQUEST_FAILURE: the client sees RequestDenied
        };
        let bound = listener.local_addr()?.port() as u32;
        *port = bound; // reported back when the client asked for 0
        let (handle, address, stop) = (session.handle(), address.to_string(), self.stop.clone());
        let key = (address.clone(), bound);
        let task = tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = stop.cancelled() => return,
                    a = listener.accept() => a,
                };
                let Ok((mut tcp, peer)) = accepted else {
                    return;
                };
                let (handle, address, stop) = (handle.clone(), address.clone(), stop.clone());
                tokio::spawn(async move {
                    let opened = handle
                        .channel_open_forwarded_tcpip(
                            address,
                            bound,
                            peer.ip().to_string(),
                            peer.port() as u32,
                        )
                        .await;
                    if let Ok(channel) = opened {
                        let mut ch = channel.into_stream();
                        tokio::select! {
                            _ = stop.cancelled() => {}
                            _ = tokio::io::copy_bidirectional(&mut tcp, &mut ch) => {}
                        }
                    }
                });
            }
        });
        self.forwards.insert(key, task);
        Ok(true)
    }

    async fn cancel_tcpip_forward(
        &mut self,
        address: &str,
        port: u32,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        Ok(match self.forwards.remove(&(address.to_string(), port)) {
            Some(task) => {
                task.abort();
                true
            }
            None => false,
        })
    }

    async fn channel_open_direct_tcpip(
        &mut self,
        channel: Channel<Msg>,
        host_to_connect: &str,
        port_to_connect: u32,
        _originator_address: &str,
        _originator_port: u32,
        reply: server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.stats.direct_tcpip.fetch_add(1, Ordering::SeqCst);
        match tokio::net::TcpStream::connect((host_to_connect, port_to_connect as u16)).await {
            Ok(tcp) => {
                reply.accept().await;
                tokio::spawn(splice(channel, tcp, self.stop.clone()));
            }
            Err(_) => reply.reject(russh::ChannelOpenFailure::ConnectFailed).await,
        }
        Ok(())
    }

    async fn channel_open_direct_streamlocal(
        &mut self,
        channel: Channel<Msg>,
        socket_path: &str,
        reply: server::ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        self.stats.direct_streamlocal.fetch_add(1, Ordering::SeqCst);
        match tokio::net::UnixStream::connect(socket_path).await {
            Ok(unix) => {
                reply.accept().await;
                tokio::spawn(splice(channel, unix, self.stop.clone()));
            }
            Err(_) => reply.reject(russh::ChannelOpenFailure::ConnectFailed).await,
        }
        Ok(())
    }
}

async fn splice<S>(channel: Channel<Msg>, mut stream: S, stop: CancellationToken)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut ch = channel.into_stream();
    tokio::select! {
        _ = stop.cancelled() => {}
        _ = tokio::io::copy_bidirectional(&mut ch, &mut stream) => {}
    }
}

/// `sh -c COMMAND`: channel data → stdin, stdout → data, stderr → extended data 1, then
/// exit-status, EOF, CLOSE. The reader never blocks on the child (an unread server channel
/// stalls the whole connection): stdin goes through an unbounded queue.
async fn run_exec(channel: Channel<Msg>, command: String) {
    use std::process::Stdio;
    let spawned = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&command)
        // A session server ends with its connection, as under the test sshd.
        .env("DISTFARM_SESSION_LINGER", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(_) => {
            let _ = channel.exit_status(127).await;
            let _ = channel.close().await;
            return;
        }
    };
    let mut stdin = child.stdin.take();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let (mut rx, tx) = channel.split();

    let (queue_tx, mut queue_rx) = tokio::sync::mpsc::unbounded_channel::<Bytes>();
    let reader = tokio::spawn(async move {
        while let Some(msg) = rx.wait().await {
            match msg {
                ChannelMsg::Data { data } => {
                    let _ = queue_tx.send(data);
                }
                ChannelMsg::Eof | ChannelMsg::Close => break,
                _ => {}
            }
        }
        drop(queue_tx); // the child sees EOF
        while rx.wait().await.is_some() {}
    });
    let writer = tokio::spawn(async move {
        while let Some(chunk) = queue_rx.recv().await {
            let Some(pipe) = stdin.as_mut() else { continue };
            if pipe.write_all(&chunk).await.is_err() {
                stdin = None;
            }
        }
        drop(stdin);
    });
    let mut out = tx.make_writer();
    let mut err = tx.make_writer_ext(Some(1));
    let _ = tokio::join!(
        tokio::io::copy(&mut stdout, &mut out),
        tokio::io::copy(&mut stderr, &mut err)
    );
    let status = child
        .wait()
        .await
        .ok()
        .and_then(|s| s.code())
        .unwrap_or(255);
    let _ = tx.exit_status(status as u32).await;
    let _ = tx.eof().await;
    let _ = tx.close().await;
    reader.abort();
    writer.abort();
}

// ------------------------------------------------------------------------------- client keys

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Ed25519,
    Ecdsa,
    /// 2048-bit, made by `ssh-keygen` (RSA generation in a debug build takes too long).
    Rsa,
}

/// A private key file with its `.pub` beside it.
#[derive(Debug, Clone)]
pub struct ClientKey {
    pub path: PathBuf,
    pub public: PublicKey,
}

impl ClientKey {
    pub fn pub_path(&self) -> PathBuf {
        let mut p = self.path.as_os_str().to_owned();
        p.push(".pub");
        PathBuf::from(p)
    }
}

/// Writes `dir/name` (mode 0600) and `dir/name.pub`.
pub fn write_client_key(dir: &Path, name: &str, kind: KeyKind) -> ClientKey {
    let path = dir.join(name);
    match kind {
        KeyKind::Rsa => keygen(&path, "rsa", ""),
        KeyKind::Ed25519 | KeyKind::Ecdsa => {
            let algorithm = if kind == KeyKind::Ed25519 {
                Algorithm::Ed25519
            } else {
                Algorithm::Ecdsa {
                    curve: EcdsaCurve::NistP256,
                }
            };
            let mut key =
                PrivateKey::random(&mut russh::keys::key::safe_rng(), algorithm).expect("key");
            key.set_comment(name);
            key.write_openssh_file(&path, LineEnding::LF)
                .expect("write key");
            let line = key.public_key().to_openssh().expect("public key");
            std::fs::write(pub_path(&path), format!("{line}\n")).expect("write .pub");
        }
    }
    ClientKey {
        public: russh::keys::load_public_key(pub_path(&path)).expect("read .pub"),
        path,
    }
}

/// An ed25519 key protected by `passphrase` (made by `ssh-keygen`), `.pub` beside it.
pub fn write_encrypted_client_key(dir: &Path, name: &str, passphrase: &str) -> ClientKey {
    let path = dir.join(name);
    keygen(&path, "ed25519", passphrase);
    ClientKey {
        public: russh::keys::load_public_key(pub_path(&path)).expect("read .pub"),
        path,
    }
}

/// A passphrase-protected copy of `key` (same key pair) at `dir/name`, `.pub` beside it.
pub fn encrypted_copy(key: &ClientKey, dir: &Path, name: &str, passphrase: &str) -> ClientKey {
    let path = dir.join(name);
    std::fs::copy(&key.path, &path).expect("copy key");
    std::fs::copy(key.pub_path(), pub_path(&path)).expect("copy .pub");
    Cmd::new(require("ssh-keygen", "openssh-client"))
        .args(["-q", "-p", "-P", "", "-N", passphrase, "-f"])
        .arg(&path)
        .timeout(Duration::from_secs(60))
        .run();
    ClientKey {
        public: key.public.clone(),
        path,
    }
}

fn keygen(path: &Path, kind: &str, passphrase: &str) {
    let mut cmd = Cmd::new(require("ssh-keygen", "openssh-client"))
        .args(["-q", "-t", kind, "-N", passphrase, "-C", "test", "-f"])
        .arg(path)
        .timeout(Duration::from_secs(60));
    if kind == "rsa" {
        cmd = cmd.args(["-b", "2048"]);
    }
    cmd.run();
}

fn pub_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".pub");
    PathBuf::from(p)
}

// ------------------------------------------------------------------------------- known_hosts

/// `PATTERNS KEYTYPE BASE64`.
pub fn plain_known_hosts_line(patterns: &str, key: &PublicKey) -> String {
    let mut key = key.clone();
    key.set_comment("");
    format!("{patterns} {}", key.to_openssh().expect("encode key"))
}

/// `|1|base64(salt)|base64(HMAC-SHA1(salt, name)) KEYTYPE BASE64`, OpenSSH's HashKnownHosts
/// form; `name` is `host` or `[host]:port`.
pub fn hashed_known_hosts_line(name: &str, key: &PublicKey) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let salt: Vec<u8> = (0u8..20)
        .map(|i| i.wrapping_mul(37).wrapping_add(11))
        .collect();
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(&salt).unwrap();
    mac.update(name.as_bytes());
    let hash: [u8; 20] = mac.finalize().into_bytes().into();
    let patterns = HostPatterns::HashedName { salt, hash }.to_string();
    plain_known_hosts_line(&patterns, key)
}

/// A random key of `algorithm` (for "changed key" and "other key type" known_hosts lines).
pub fn random_public_key(algorithm: Algorithm) -> PublicKey {
    PrivateKey::random(&mut russh::keys::key::safe_rng(), algorithm)
        .expect("key")
        .public_key()
        .clone()
}

// ---------------------------------------------------------------------------------- proxy

/// A TCP relay to `target`. [`freeze`](Self::freeze) stops moving bytes without closing
/// anything: to the client the server has gone silent, as over a dead link.
pub struct FreezableProxy {
    addr: SocketAddr,
    frozen: Arc<AtomicBool>,
    stop: CancellationToken,
}

impl FreezableProxy {
    pub async fn start(target: SocketAddr) -> FreezableProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let frozen = Arc::new(AtomicBool::new(false));
        let stop = CancellationToken::new();
        let (f, s) = (frozen.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = s.cancelled() => return,
                    a = listener.accept() => a,
                };
                let Ok((client, _)) = accepted else { return };
                let Ok(server) = tokio::net::TcpStream::connect(target).await else {
                    continue;
                };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                for (r, w) in [
                    (
                        Box::new(cr) as Box<dyn tokio::io::AsyncRead + Send + Unpin>,
                        Box::new(sw) as Box<dyn tokio::io::AsyncWrite + Send + Unpin>,
                    ),
                    (Box::new(sr), Box::new(cw)),
                ] {
                    tokio::spawn(relay(r, w, f.clone(), s.clone()));
                }
            }
        });
        FreezableProxy { addr, frozen, stop }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn freeze(&self) {
        self.frozen.store(true, Ordering::SeqCst);
    }
}

impl Drop for FreezableProxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn relay(
    mut r: Box<dyn tokio::io::AsyncRead + Send + Unpin>,
    mut w: Box<dyn tokio::io::AsyncWrite + Send + Unpin>,
    frozen: Arc<AtomicBool>,
    stop: CancellationToken,
) {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 64 * 1024];
    let work = async {
        loop {
            let n = match r.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            while frozen.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if w.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = w.shutdown().await;
    };
    tokio::select! {
        _ = stop.cancelled() => {}
        _ = work => {}
    }
}

// ---------------------------------------------------------------------------------- agent

/// A real `ssh-agent -D -a SOCK`, killed (with its process group) on drop.
pub struct SshAgent {
    _child: ChildGuard,
    socket: PathBuf,
}

impl SshAgent {
    pub fn start(dir: &Path) -> SshAgent {
        let program = require("ssh-agent", "openssh-client");
        let socket = dir.join("agent.sock");
        let mut cmd = std::process::Command::new(program);
        cmd.arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdout(std::process::Stdio::null());
        let child = ChildGuard::spawn(cmd, format!("ssh-agent -a {}", socket.display()));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "ssh-agent did not create {}",
                socket.display()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        SshAgent {
            _child: child,
            socket,
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// `ssh-add FILE` (an unencrypted key).
    pub fn add(&self, key_file: &Path) {
        Cmd::new(require("ssh-add", "openssh-client"))
            .arg(key_file)
            .env("SSH_AUTH_SOCK", &self.socket)
            .timeout(Duration::from_secs(20))
            .run();
    }
}

/// The in-process SSH server as a build host: it accepts a fresh ed25519 key written in
/// `dir`, `dir/ssh_config` reaches it as `farmhost` (user `builder`, strict host key
/// checking against `dir/known_hosts`), and `dir/remote/distccd` links to distfarm.
pub async fn start_farmhost(dir: &Path) -> TestSshServer {
    let key = write_client_key(dir, "id_ed25519", KeyKind::Ed25519);
    let server = TestSshServer::start(vec![key.public.clone()]).await;
    let known_hosts = dir.join("known_hosts");
    std::fs::write(
        &known_hosts,
        format!("{}\n", server.known_hosts_line("127.0.0.1")),
    )
    .unwrap();
    std::fs::write(
        dir.join("ssh_config"),
        format!(
            "Host farmhost\n  HostName 127.0.0.1\n  Port {}\n  User builder\n  \
             IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  \
             GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n",
            server.port(),
            key.path.display(),
            known_hosts.display()
        ),
    )
    .unwrap();
    let remote = dir.join("remote");
    std::fs::create_dir(&remote).unwrap();
    std::os::unix::fs::symlink(super::distfarm_bin(), remote.join("distccd")).unwrap();
    server
}
