//! A fake distcc host on 127.0.0.1: a TCP listener that runs a handler of the test's choosing
//! on each connection (answer garbage, half an object, or nothing at all), counts what it
//! accepted and can hang every connection up.

use std::io::Read;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::wait::wait_for;

type Handler = dyn Fn(&mut TcpStream) -> std::io::Result<()> + Send + Sync;

/// Stopped, and its open connections shut down, when dropped.
pub struct FakeServer {
    port: u16,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeServer {
    /// Runs `handler` on each connection in a thread of its own (reads time out after 60 s),
    /// then closes it.
    pub fn start(
        handler: impl Fn(&mut TcpStream) -> std::io::Result<()> + Send + Sync + 'static,
    ) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let open = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let thread = {
            let (accepted, stop, open) = (accepted.clone(), stop.clone(), open.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(mut stream) = stream else { continue };
                    // Registered before counted: whoever sees the count can hang it up.
                    if let Ok(clone) = stream.try_clone() {
                        open.lock().unwrap().push(clone);
                    }
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let handler = handler.clone();
                    std::thread::spawn(move || {
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
                        let _ = handler(&mut stream);
                    });
                }
            })
        };
        FakeServer {
            port,
            accepted,
            stop,
            open,
            thread: Some(thread),
        }
    }

    /// A host that accepts jobs and never answers: whoever holds its slot keeps it until the
    /// test lets go ([`release_all`](Self::release_all), or killing that client).
    pub fn stalling() -> FakeServer {
        FakeServer::start(|stream| {
            // Swallow the request so the client's writes never block; answer nothing; never
            // give up waiting (the connection stays open until it is hung up).
            stream.set_read_timeout(None)?;
            let mut sink = [0u8; 16384];
            while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
            Ok(())
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`, a DISTCC_HOSTS entry.
    pub fn host_spec(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Waits up to 20 s until `count` connections were accepted; panics with `what` and
    /// `context()`.
    #[track_caller]
    pub fn wait_for_accepted(&self, count: usize, what: &str, context: impl Fn() -> String) {
        wait_for(
            what,
            Duration::from_secs(20),
            || (self.accepted() >= count).then_some(()),
            context,
        );
    }

    /// Hangs up every connection accepted so far.
    pub fn release_all(&self) {
        for stream in self.open.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.release_all();
        let _ = TcpStream::connect(("127.0.0.1", self.port)); // wake the accept loop
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one distcc request (`DIST ARGC ARGV… DOTI`) and returns its protocol version.
pub fn read_request(stream: &mut TcpStream) -> std::io::Result<u32> {
    let version = read_token(stream, "DIST")?;
    let argc = read_token(stream, "ARGC")?;
    for _ in 0..argc {
        let len = read_token(stream, "ARGV")?;
        skip(stream, len)?;
    }
    let len = read_token(stream, "DOTI")?;
    skip(stream, len)?;
    Ok(version)
}

fn read_token(stream: &mut TcpStream, expected: &str) -> std::io::Result<u32> {
    let mut token = [0u8; 12];
    stream.read_exact(&mut token)?;
    let text = String::from_utf8_lossy(&token).into_owned();
    if &text[..4] != expected {
        return Err(std::io::Error::other(format!(
            "expected {expected}, got {text:?}"
        )));
    }
    u32::from_str_radix(&text[4..], 16).map_err(std::io::Error::other)
}

fn skip(stream: &mut TcpStream, len: u32) -> std::io::Result<()> {
    let copied = std::io::copy(&mut stream.take(u64::from(len)), &mut std::io::sink())?;
    if copied < u64::from(len) {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}
