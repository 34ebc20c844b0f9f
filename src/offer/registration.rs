//! The offer's side of registration: `distfarm offers hold …` run on the client over the
//! offer's own SSH connection (so the client needs nothing but sshd and distfarm), kept open
//! with a heartbeat line now and then, and closed to withdraw.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

use super::hold::REGISTERED;
use crate::transport::ssh::{ExecStream, ExitWatch, SshConnection};

/// How long the holder may take to answer (a login shell's rc files run first).
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a withdrawal waits for the holder to remove the entry.
const WITHDRAW_TIMEOUT: Duration = Duration::from_secs(5);

/// What registration asks the holder for.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// How distfarm is run on the client (`distfarm`, a path, or `env VAR=… path`).
    pub command: &'a str,
    pub host: &'a str,
    pub id: &'a str,
    pub hosts_file: bool,
    /// The holder withdraws when no heartbeat came for this long.
    pub heartbeat_timeout: Duration,
}

impl Request<'_> {
    /// The remote command line.
    pub fn command_line(&self) -> String {
        let mut words = vec![
            "offers".to_string(),
            "hold".into(),
            "--id".into(),
            self.id.to_string(),
            "--entry".into(),
            self.host.to_string(),
            "--heartbeat-timeout".into(),
            self.heartbeat_timeout.as_secs().max(1).to_string(),
        ];
        if self.hosts_file {
            words.push("--hosts-file".into());
        }
        let quoted = shlex::try_join(words.iter().map(String::as_str)).expect("no NUL bytes");
        format!("{} {quoted}", self.command)
    }
}

/// The running holder on the client.
pub struct Holder {
    stream: ExecStream,
    exit: ExitWatch,
}

/// How registration went.
pub enum Registration {
    Held(Holder),
    /// The holder could not run or refused: the offer still serves; the entry must be
    /// added by hand. The text says why (the remote's own words).
    NotHeld(String),
}

/// Starts the holder and waits for its first line.
pub async fn register(conn: &SshConnection, request: &Request<'_>) -> Registration {
    let stream = match conn.exec(&request.command_line()).await {
        Ok(stream) => stream,
        Err(e) => return Registration::NotHeld(e.to_string()),
    };
    let mut exit = stream.exit();
    let mut reader = tokio::io::BufReader::new(stream);
    let mut line = String::new();
    let answered = tokio::time::timeout(ANSWER_TIMEOUT, reader.read_line(&mut line)).await;
    match answered {
        Ok(Ok(_)) if line.starts_with(REGISTERED) => Registration::Held(Holder {
            stream: reader.into_inner(),
            exit,
        }),
        Ok(_) => {
            drop(reader);
            let ended = tokio::time::timeout(ANSWER_TIMEOUT, exit.wait()).await;
            let why = match ended {
                Ok(end) => {
                    let stderr = String::from_utf8_lossy(&end.stderr).trim().to_string();
                    match end.status {
                        Some(127) => format!("`{}` was not found there", request.command),
                        Some(status) => format!("the holder exited with status {status}: {stderr}"),
                        None => format!("the holder ended: {stderr}"),
                    }
                }
                Err(_) => "the holder said nothing".into(),
            };
            Registration::NotHeld(why)
        }
        Err(_) => Registration::NotHeld(format!(
            "the holder did not answer within {} s",
            ANSWER_TIMEOUT.as_secs()
        )),
    }
}

impl Holder {
    /// One heartbeat; false once the holder is gone.
    pub async fn beat(&mut self) -> bool {
        self.exit.get().is_none() && self.stream.write_all(b"\n").await.is_ok()
    }

    /// Closes the holder's stdin, which withdraws the entry, and waits (bounded) for it.
    pub async fn withdraw(self) {
        let mut exit = self.exit.clone();
        let finish = async move {
            let mut stream = self.stream;
            let _ = stream.shutdown().await;
            exit.wait().await
        };
        let _ = tokio::time::timeout(WITHDRAW_TIMEOUT, finish).await;
    }
}
