//! `distfarm mon --server TARGET`: a server's per-client counters, once or every SECONDS,
//! as text or JSON; TARGET an SSH host entry (`@host`, `user@host`), reached as its jobs
//! are, or a statistics port (`HOST[:PORT]`).

use std::io::Write;
use std::time::Duration;

use crate::config::SshEnv;
use crate::exit_code::ExitCode;
use crate::monitor::server_view::{self, ServerViewError, Target};

/// What `mon --server` was asked.
pub struct Asked<'a> {
    pub target: &'a str,
    /// `--stats-port`.
    pub stats_port: Option<u16>,
    pub json: bool,
    pub interval: Option<Duration>,
}

pub async fn main(asked: &Asked<'_>) -> i32 {
    let (json, interval) = (asked.json, asked.interval);
    let target = match Target::parse(asked.target, asked.stats_port) {
        Ok(target) => target,
        Err(e) => {
            eprintln!("distfarm mon --server: {e}");
            return ExitCode::BadHostSpec.code();
        }
    };
    let ssh = SshEnv::from_env().settings();
    loop {
        let shown = match server_view::fetch(&target, &ssh).await {
            Ok(clients) if json => {
                serde_json::to_string(&clients).expect("plain data serializes") + "\n"
            }
            Ok(clients) => server_view::render(&target.describe(), &clients),
            Err(e) => {
                eprintln!("distfarm mon --server: {e}");
                return exit_code(&e).code();
            }
        };
        let mut stdout = std::io::stdout().lock();
        if stdout.write_all(shown.as_bytes()).is_err() {
            return 0;
        }
        let Some(every) = interval else { return 0 };
        if (!json && stdout.write_all(b"\n").is_err()) || stdout.flush().is_err() {
            return 0;
        }
        drop(stdout);
        tokio::time::sleep(every).await;
    }
}

fn exit_code(e: &ServerViewError) -> ExitCode {
    match e {
        ServerViewError::BadEntry { .. } => ExitCode::BadHostSpec,
        ServerViewError::Unreadable { .. } => ExitCode::ProtocolError,
        _ => ExitCode::ConnectFailed,
    }
}
