//! `distfarm mon --server HOST[:PORT]`: a server's per-client counters, once or every
//! SECONDS, as text or JSON.

use std::io::Write;
use std::time::Duration;

use crate::exit_code::ExitCode;
use crate::monitor::server_view;

pub async fn main(target: &str, json: bool, interval: Option<Duration>) -> i32 {
    let (host, port) = server_view::parse_target(target);
    loop {
        let shown = match server_view::fetch(&host, port).await {
            Ok(clients) if json => {
                serde_json::to_string(&clients).expect("plain data serializes") + "\n"
            }
            Ok(clients) => server_view::render(&format!("{host}:{port}"), &clients),
            Err(e) => {
                eprintln!("distfarm mon --server: {e}");
                return ExitCode::ConnectFailed.code();
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
