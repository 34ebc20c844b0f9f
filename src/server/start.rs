//! `distfarm serve` from parsed options to a running server, and its exit code.

use std::sync::Arc;
use std::time::Duration;

use super::access::{AccessList, Cidr};
use super::assembly_check::WrapperGuard;
use super::command_list::CommandList;
use super::compilers::CompilerPolicy;
use super::connection::{ResultClass, ServerContext};
use super::process::{self, PidFile};
use super::settings::ServerSettings;
use super::stats_http::StatsServer;
use crate::cli::ServeArgs;
use crate::config::ServerEnv;
use crate::exit_code::ExitCode;
use crate::logging::{self, Sink};

/// Inetd mode when asked, or when stdin is a socket and daemon mode was not asked for.
fn inetd_mode(args: &ServeArgs) -> bool {
    args.inetd || args.ssh_session || (!args.daemon && super::stdio::stdin_peer().is_some())
}

/// Builds the settings. For the daemon, no `--allow` means loopback only.
pub fn settings(args: &ServeArgs, env: &ServerEnv, inetd: bool) -> Result<ServerSettings, String> {
    let mut entries = args
        .allow
        .iter()
        .map(|a| Cidr::parse(a))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if args.allow_private {
        entries.extend(AccessList::private_networks());
    }
    if entries.is_empty() && !inetd {
        entries = AccessList::loopback();
    }
    let limits = crate::protocol::Limits {
        io_timeout: env.io_timeout,
        ..Default::default()
    };
    let command_list = env
        .command_list
        .as_deref()
        .map(|path| CommandList::load(path, env.command_list_words))
        .transpose()
        .map_err(|e| e.to_string())?;
    let defaults = ServerSettings::local_defaults();
    Ok(ServerSettings {
        access: AccessList::new(entries),
        jobs: args.jobs.filter(|j| *j > 0).unwrap_or(defaults.jobs),
        job_lifetime: args.job_lifetime.map(Duration::from_secs),
        compilers: CompilerPolicy {
            extra: args.compilers.clone(),
            search_path: env.compiler_path.clone(),
            insecure: args.enable_tcp_insecure,
            command_list: command_list.map(Arc::new),
            ..CompilerPolicy::default()
        },
        limits,
        header_timeout: defaults.header_timeout.min(env.io_timeout),
        tmpdir: env.tmpdir.clone(),
        save_temps: env.save_temps,
        child_path: env.compiler_path.clone(),
        confine: env.confine,
        // A one-job process (`--inetd`) would ask gcc for its plan on every job.
        pass_plans: (!inetd || args.ssh_session).then(Default::default),
        assembler_guard: std::env::current_exe()
            .ok()
            .map(|exe| Arc::new(WrapperGuard { exe })),
        ..defaults
    })
}

pub fn run(args: ServeArgs) -> i32 {
    let inetd = inetd_mode(&args);
    let level = if args.verbose {
        Some(tracing::Level::DEBUG)
    } else {
        logging::parse_level(&args.log_level)
    };
    let Some(level) = level else {
        eprintln!(
            "distfarm serve: unknown --log-level {:?} (use emerg, alert, crit, err, warning, notice, info or debug)",
            args.log_level
        );
        return ExitCode::BadArguments.code();
    };
    match (&args.log_file, args.log_stderr) {
        (Some(path), false) => logging::init(level, Sink::File(path)),
        (_, true) => logging::init(level, Sink::Stderr),
        // Started by sshd, our stderr is the user's terminal: only a compiler's own messages
        // belong there (distccd logs to syslog in this case). Ask with --log-file.
        (None, false) if inetd => {}
        (None, false) => logging::init(level, Sink::Stderr),
    }

    let env = match ServerEnv::from_env() {
        Ok(env) => env,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::BadArguments.code();
        }
    };
    let settings = match settings(&args, &env, inetd) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::BadArguments.code();
        }
    };
    let mut settings = settings;
    say_which_compilers_run(&settings.compilers);
    settings.confine = confinement_works(settings.confine, &settings.tmpdir);
    process::lower_priority(args.nice);
    if let Err(e) = process::drop_root(args.user.as_deref()) {
        tracing::error!("{e}");
        return ExitCode::SetuidFailed.code();
    }
    if args.stats && (inetd || args.ssh_session) {
        tracing::info!("--stats: only a daemon serves statistics; ignored here");
    }
    if args.ssh_session {
        run_ssh_session(settings)
    } else if inetd {
        run_inetd(settings)
    } else {
        run_daemon(&args, settings)
    }
}

/// The settings that replace the compiler whitelist, said once at start: an operator who
/// turned it off should see that in every log.
pub fn say_which_compilers_run(policy: &CompilerPolicy) {
    if let Some(list) = &policy.command_list {
        tracing::info!(
            "DISTCC_CMDLIST {}: only its {} commands run (matched on their last words)",
            list.source().display(),
            list.len()
        );
    } else if policy.insecure {
        tracing::warn!(
            "--enable-tcp-insecure: the compiler whitelist is OFF: a client may run any program \
             on this server's DISTCCD_PATH/PATH, or any absolute path, as its compiler (the \
             argument rules and the confinement still apply)"
        );
    }
}

/// Whether compilers can run confined (see server/sandbox.rs), said once at start.
pub fn confinement_works(wanted: bool, tmpdir: &std::path::Path) -> bool {
    let abi = super::sandbox::abi_version();
    if !wanted {
        tracing::warn!("DISTFARM_CONFINE=0: compilers run unconfined");
        false
    } else if abi == 0 {
        tracing::warn!(
            "this kernel has no Landlock: compilers run unconfined, and the assembly they \
             generate is only checked as text"
        );
        false
    } else if !super::sandbox::works(tmpdir) {
        tracing::warn!(
            "Landlock (ABI {abi}) is there but a confined program could not start (a \
             container's system-call filter?): compilers run unconfined"
        );
        false
    } else {
        tracing::info!("compilers run confined with Landlock (ABI {abi})");
        true
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("cannot start the tokio runtime")
}

fn run_inetd(settings: ServerSettings) -> i32 {
    let ctx = ServerContext::new(settings);
    match runtime().block_on(super::inetd::serve_one(&ctx)) {
        Ok(ResultClass::CompileOk | ResultClass::CompileError) => 0,
        Ok(ResultClass::ClientDisconnect) => ExitCode::IoError.code(),
        Ok(ResultClass::CompileTimeout) => ExitCode::Timeout.code(),
        Ok(ResultClass::BadRequest) => ExitCode::ProtocolError.code(),
        Ok(ResultClass::Refused | ResultClass::Other) => ExitCode::AccessDenied.code(),
        Err(e) => {
            tracing::error!("cannot use stdin/stdout: {e}");
            ExitCode::IoError.code()
        }
    }
}

fn run_ssh_session(settings: ServerSettings) -> i32 {
    let ctx = Arc::new(ServerContext::new(settings));
    match runtime().block_on(super::session::serve(ctx)) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("ssh session: {e}");
            ExitCode::IoError.code()
        }
    }
}

fn run_daemon(args: &ServeArgs, settings: ServerSettings) -> i32 {
    if args.allow.is_empty() && !args.allow_private {
        tracing::warn!("no --allow given: accepting clients from loopback only (127.0.0.0/8, ::1)");
    }
    let addr = std::net::SocketAddr::new(args.listen, args.port);
    let listener = match std::net::TcpListener::bind(addr) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("cannot listen on {addr}: {e}");
            return ExitCode::BindFailed.code();
        }
    };
    // distccd serves its statistics on the same address as its jobs.
    let stats_addr = std::net::SocketAddr::new(args.listen, args.stats_port);
    let stats_listener = match args.stats.then(|| std::net::TcpListener::bind(stats_addr)) {
        None => None,
        Some(Ok(l)) => Some(l),
        Some(Err(e)) => {
            tracing::error!("cannot listen on {stats_addr} for --stats: {e}");
            return ExitCode::BindFailed.code();
        }
    };
    if !args.no_detach
        && let Err(e) = process::detach()
    {
        tracing::error!("{e}");
        return ExitCode::DistccFailed.code();
    }
    let _pid_file = match args.pid_file.as_deref().map(PidFile::write).transpose() {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::DistccFailed.code();
        }
    };
    let lifetime = args.lifetime.map(Duration::from_secs);
    runtime().block_on(async move {
        listener.set_nonblocking(true).expect("set_nonblocking");
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        let ctx = Arc::new(ServerContext::new(settings));
        if let Some(stats_listener) = stats_listener {
            stats_listener
                .set_nonblocking(true)
                .expect("set_nonblocking");
            let stats_listener =
                tokio::net::TcpListener::from_std(stats_listener).expect("tokio listener");
            tracing::info!("statistics (HTTP) on {stats_addr}");
            let server = StatsServer {
                stats: ctx.stats.clone(),
                access: ctx.settings.access.clone(),
                max_kids: ctx.settings.jobs,
                tmpdir: ctx.settings.tmpdir.clone(),
            };
            tokio::spawn(server.serve(stats_listener));
        }
        super::serve(listener, ctx, shutdown_signal(lifetime)).await;
    });
    0
}

async fn shutdown_signal(lifetime: Option<Duration>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    let mut hup = signal(SignalKind::hangup()).expect("SIGHUP handler");
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: finishing running jobs, then exiting"),
        _ = int.recv() => tracing::info!("SIGINT: finishing running jobs, then exiting"),
        _ = hup.recv() => tracing::info!("SIGHUP: finishing running jobs, then exiting"),
        _ = tokio::time::sleep(lifetime.unwrap_or(Duration::MAX)) => tracing::info!("--lifetime reached"),
    }
}
