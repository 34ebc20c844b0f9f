//! `distfarm offers hold` (hidden): what an offer runs on the client to record itself for
//! this user while its stdin stays open.

use std::time::Duration;

use crate::cli::OffersCommand;
use crate::config::ClientEnv;
use crate::exit_code::ExitCode;
use crate::offer::hold::{HoldSettings, hold};

pub fn main(command: OffersCommand) -> i32 {
    crate::logging::init(tracing::Level::WARN, crate::logging::Sink::Stderr);
    let OffersCommand::Hold {
        id,
        entry,
        socket,
        hosts_file,
        heartbeat_timeout,
    } = command;
    let env = match ClientEnv::from_env() {
        Ok(env) => env,
        Err(e) => {
            eprintln!("distfarm offers hold: {e}");
            return ExitCode::BadArguments.code();
        }
    };
    let settings = HoldSettings {
        distcc_dir: env.distcc_dir,
        host: entry,
        socket,
        id,
        hosts_file,
        heartbeat_timeout: Duration::from_secs(heartbeat_timeout.max(1)),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(hold(
        &settings,
        tokio::io::stdin(),
        tokio::io::stdout(),
        signals(),
    ));
    // The stdin reader is a blocking thread that may never return: do not wait for it.
    runtime.shutdown_background();
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("distfarm offers hold: {e}");
            ExitCode::DistccFailed.code()
        }
    }
}

async fn signals() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut hup = signal(SignalKind::hangup()).expect("SIGHUP handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = hup.recv() => {}
        _ = int.recv() => {}
    }
}
