//! The offer's side of registration: `distfarm offers hold …` run on the client over the
//! offer's own SSH connection (so the client needs nothing but sshd and distfarm), kept open
//! with a heartbeat line now and then, and closed to withdraw. For `--socket` the holder
//! speaks first (the socket's path), the offer forwards it and confirms, then the holder
//! records the entry.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::hold::{REGISTERED, SOCKET};
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
    /// The entry; with `socket`, what follows the socket's path (`/N[,lzo]`).
    pub host: &'a str,
    /// `--socket`: the holder places a socket and names it first.
    pub socket: bool,
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
        if self.socket {
            words.push("--socket".into());
        } else if self.hosts_file {
            words.push("--hosts-file".into());
        }
        let quoted = shlex::try_join(words.iter().map(String::as_str)).expect("no NUL bytes");
        format!("{} {quoted}", self.command)
    }
}

/// The running holder on the client.
pub struct Holder {
    stream: BufReader<ExecStream>,
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
    let mut holder = match start(conn, request).await {
        Ok(holder) => holder,
        Err(why) => return Registration::NotHeld(why),
    };
    match holder.answer(REGISTERED, request.command).await {
        Ok(_) => Registration::Held(holder),
        Err(why) => Registration::NotHeld(why),
    }
}

/// `--socket`: starts the holder, which places the socket in its private directory and
/// names its path (returned). The entry is recorded by [`Holder::confirm_socket`], once the
/// forward listens there.
pub async fn start_socket(
    conn: &SshConnection,
    request: &Request<'_>,
) -> Result<(Holder, String), String> {
    let mut holder = start(conn, request).await?;
    let path = holder.answer(SOCKET, request.command).await?;
    Ok((holder, path))
}

async fn start(conn: &SshConnection, request: &Request<'_>) -> Result<Holder, String> {
    let stream = conn
        .exec(&request.command_line())
        .await
        .map_err(|e| e.to_string())?;
    let exit = stream.exit();
    Ok(Holder {
        stream: BufReader::new(stream),
        exit,
    })
}

impl Holder {
    /// The holder's next line, which must start with `expected`: what follows it. Otherwise
    /// why not, in the remote's own words.
    async fn answer(&mut self, expected: &str, command: &str) -> Result<String, String> {
        let mut line = String::new();
        let answered = tokio::time::timeout(ANSWER_TIMEOUT, self.stream.read_line(&mut line)).await;
        match answered {
            Ok(Ok(_)) if line.starts_with(expected) => {
                Ok(line[expected.len()..].trim().to_string())
            }
            Ok(_) => {
                let _ = self.stream.shutdown().await;
                let ended = tokio::time::timeout(ANSWER_TIMEOUT, self.exit.wait()).await;
                Err(match ended {
                    Ok(end) => {
                        let stderr = String::from_utf8_lossy(&end.stderr).trim().to_string();
                        match end.status {
                            Some(127) => format!("`{command}` was not found there"),
                            Some(status) => {
                                format!("the holder exited with status {status}: {stderr}")
                            }
                            None => format!("the holder ended: {stderr}"),
                        }
                    }
                    Err(_) => "the holder said nothing".into(),
                })
            }
            Err(_) => Err(format!(
                "the holder did not answer within {} s",
                ANSWER_TIMEOUT.as_secs()
            )),
        }
    }

    /// `--socket`: says that sshd listens on the socket; the holder records the entry.
    /// Returns the entry, as recorded.
    pub async fn confirm_socket(&mut self, command: &str) -> Result<String, String> {
        let sent = self.stream.write_all(b"forwarded\n").await;
        if let Err(e) = sent {
            return Err(format!("the holder went away: {e}"));
        }
        self.answer(REGISTERED, command).await
    }

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
