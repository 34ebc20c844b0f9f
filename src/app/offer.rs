//! `distfarm offer [USER@]CLIENT…`: the arguments and environment turned into settings, one
//! printed line per event, SIGINT/SIGTERM to withdraw, and the offer's runtime.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::serve;
use crate::cli::OfferArgs;
use crate::config::{ServerEnv, SshEnv};
use crate::exit_code::ExitCode;
use crate::offer::{Client, OfferSettings};
use crate::server::{ServerContext, ServerSettings};

pub fn main(args: OfferArgs) -> i32 {
    let level = if args.verbose {
        tracing::Level::INFO
    } else {
        tracing::Level::WARN
    };
    crate::logging::init(level, crate::logging::Sink::Stderr);
    let clients: Option<Vec<Client>> = args.clients.iter().map(|c| Client::parse(c)).collect();
    let Some(clients) = clients else {
        eprintln!("distfarm offer: a client is [USER@]HOST, e.g. me@workstation");
        return ExitCode::BadArguments.code();
    };
    if args.socket && args.hosts_file {
        eprintln!(
            "distfarm offer: --socket and --hosts-file cannot go together: plain distcc, \
             which reads the hosts file, cannot use a Unix socket entry (unix:PATH/N). \
             distfarm clients find a --socket offer by themselves (`distfarm --show-hosts`); \
             for plain distcc, offer a port (drop --socket)."
        );
        return ExitCode::BadArguments.code();
    }
    let server = match server_settings(&args) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("distfarm offer: {e}");
            return ExitCode::BadArguments.code();
        }
    };
    let settings = OfferSettings {
        clients,
        slots: server.jobs,
        port: args.port,
        socket: args.socket,
        lzo: args.lzo,
        hosts_file: args.hosts_file,
        client_command: args.client_command.clone(),
        ssh: SshEnv::from_env().settings(),
        drain: Duration::from_secs(args.drain),
        heartbeat: Duration::from_secs(args.heartbeat.max(1)),
        max_backoff: Duration::from_secs(args.max_backoff.max(1)),
    };
    crate::server::process::lower_priority(args.nice);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let events: crate::offer::Events = Arc::new(|client, event| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "distfarm offer: {client}: {event}");
        let _ = out.flush();
    });
    runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        tokio::spawn(stop_on_signals(shutdown.clone()));
        let server = Arc::new(ServerContext::new(server));
        crate::offer::run(settings, server, events, shutdown).await;
    });
    0
}

/// The compile server's settings, as `distfarm serve` builds them, with `--slots` jobs.
/// `--enable-tcp-insecure` is not among the options: any user of a client machine can reach
/// an offer's port.
fn server_settings(args: &OfferArgs) -> Result<ServerSettings, String> {
    let env = ServerEnv::from_env().map_err(|e| e.to_string())?;
    let compiling = serve::Compiling {
        jobs: args.slots,
        job_limits: &args.job_limits,
        compilers: &args.compilers,
        insecure: false,
        long_lived: true,
    };
    let mut settings = serve::compile_settings(&env, &compiling)?;
    let wanted = serve::wanted_confinement(&args.confinement, env.confine);
    settings.confinement = crate::server::confinement::choose(wanted, &env.tmpdir)?;
    serve::say_which_compilers_run(&settings.compilers);
    Ok(settings)
}

/// The first SIGINT or SIGTERM withdraws; a second one exits at once.
async fn stop_on_signals(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    for round in 0..2 {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        if round == 0 {
            println!("distfarm offer: withdrawing (running jobs may finish; again to stop now)");
            shutdown.cancel();
        }
    }
    std::process::exit(ExitCode::DistccFailed.code());
}
