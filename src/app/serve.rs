//! `distfarm serve` (and the `distccd` link): from parsed options and the environment to
//! settings, logging, the process set-up distccd does (priority, dropping root, detaching,
//! the pid file), a runtime, and the mode asked for — a daemon, one `--inetd` job, or an SSH
//! session server; then the exit code.

use std::sync::Arc;
use std::time::Duration;

use crate::cli::{ConfinementArg, ConfinementArgs, JobLimitArgs, ServeArgs};
use crate::config::ServerEnv;
use crate::exit_code::ExitCode;
use crate::logging::{self, Sink};
use crate::protocol::ssh_launch;
use crate::server::access::{AccessList, Cidr};
use crate::server::assembly_check::WrapperGuard;
use crate::server::cache::{CacheSettings, ResultCache};
use crate::server::client_counters_here;
use crate::server::command_list::CommandList;
use crate::server::compilers::CompilerPolicy;
use crate::server::confinement;
use crate::server::connection::{ResultClass, ServerContext};
use crate::server::job_limits::JobLimits;
use crate::server::process::{self, PidFile};
use crate::server::settings::ServerSettings;
use crate::server::stats_http::StatsServer;
use crate::zeroconf::announce::{AnnounceSettings, Announcement};
use crate::zeroconf::identity::CompilerIdentity;

/// Inetd mode when asked, or when stdin is a socket and daemon mode was not asked for.
fn inetd_mode(args: &ServeArgs) -> bool {
    args.inetd || args.ssh_session || (!args.daemon && crate::server::stdio::stdin_peer().is_some())
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
    let compiling = Compiling {
        jobs: args.jobs,
        job_limits: &args.job_limits,
        compilers: &args.compilers,
        insecure: args.enable_tcp_insecure,
        // A one-job process (`--inetd`) would ask gcc for its plan on every job.
        long_lived: !inetd || args.ssh_session,
    };
    // Absolute: the daemon changes to `/` when it detaches.
    let cache = args
        .cache
        .as_deref()
        .map(|dir| {
            std::path::absolute(dir)
                .map(|dir| CacheSettings {
                    dir,
                    max_bytes: args.cache_size,
                })
                .map_err(|e| format!("--cache {}: {e}", dir.display()))
        })
        .transpose()?;
    Ok(ServerSettings {
        access: AccessList::new(entries),
        cache,
        max_connections: args.max_connections.max(1),
        max_per_address: args.max_per_address.max(1),
        stop_timeout: Duration::from_secs(args.stop_timeout),
        ..compile_settings(env, &compiling)?
    })
}

/// The compile options every server of this machine takes (`serve` and `offer`).
pub struct Compiling<'a> {
    /// `--jobs`/`--slots`; none or 0: the machine's default.
    pub jobs: Option<usize>,
    /// `--job-lifetime` and the `--limit-*` options.
    pub job_limits: &'a JobLimitArgs,
    /// `--compiler` entries.
    pub compilers: &'a [String],
    /// `--enable-tcp-insecure`.
    pub insecure: bool,
    /// The server lives for many jobs, so gcc's plans are worth keeping.
    pub long_lived: bool,
}

/// A compile server's settings from the environment and the compile options; who may
/// connect is the caller's to set.
pub fn compile_settings(env: &ServerEnv, compiling: &Compiling) -> Result<ServerSettings, String> {
    let command_list = env
        .command_list
        .as_deref()
        .map(|path| CommandList::load(path, env.command_list_words))
        .transpose()
        .map_err(|e| e.to_string())?;
    let defaults = ServerSettings::local_defaults(env);
    let limits = compiling.job_limits;
    let nonzero = |n: u64| (n > 0).then_some(n);
    Ok(ServerSettings {
        jobs: compiling.jobs.filter(|j| *j > 0).unwrap_or(defaults.jobs),
        job_lifetime: limits.job_lifetime.map(Duration::from_secs),
        job_limits: JobLimits {
            memory: nonzero(limits.limit_memory),
            cpu_secs: nonzero(limits.limit_cpu),
            output: nonzero(limits.limit_output),
        },
        compilers: CompilerPolicy {
            extra: compiling.compilers.to_vec(),
            insecure: compiling.insecure,
            command_list: command_list.map(Arc::new),
            ..defaults.compilers
        },
        limits: crate::protocol::Limits {
            io_timeout: env.io_timeout,
            ..Default::default()
        },
        header_timeout: defaults.header_timeout.min(env.io_timeout),
        save_temps: env.save_temps,
        pass_plans: compiling.long_lived.then(Default::default),
        assembler_guard: std::env::current_exe()
            .ok()
            .map(|exe| Arc::new(WrapperGuard { exe })),
        ..defaults
    })
}

pub fn main(args: ServeArgs) -> i32 {
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
    if args.client_counters {
        return client_counters(&env, &args);
    }
    let settings = match settings(&args, &env, inetd) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::BadArguments.code();
        }
    };
    let mut settings = settings;
    say_which_compilers_run(&settings.compilers);
    process::lower_priority(args.nice);
    if let Err(e) = process::drop_root(args.user.as_deref()) {
        tracing::error!("{e}");
        return ExitCode::SetuidFailed.code();
    }
    // Every job's directory is made there, and the confinement probes use it too: a server
    // that cannot write it could run nothing, so it says why now rather than at each job.
    if let Err(e) = tempfile::tempdir_in(&settings.tmpdir) {
        let why = format!(
            "cannot write in TMPDIR {} as the user this server runs as: {e}; no job could \
             run. Point TMPDIR at a directory that user may write (or choose the user with \
             --user)",
            settings.tmpdir.display()
        );
        tracing::error!("{why}");
        if inetd && args.log_file.is_none() && !args.log_stderr {
            eprintln!("distfarm serve: {why}");
        }
        return ExitCode::DistccFailed.code();
    }
    // As the user that serves: what root may confine with, another user may not.
    let wanted = wanted_confinement(&args.confinement, env.confine);
    settings.confinement = match confinement::choose(wanted, &settings.tmpdir) {
        Ok(mode) => mode,
        Err(why) => {
            tracing::error!("{why}");
            if inetd && args.log_file.is_none() && !args.log_stderr {
                // Nothing is logged here: say it where the client sees it.
                eprintln!("distfarm serve: {why}");
            }
            return ExitCode::DistccFailed.code();
        }
    };
    if args.stats && (inetd || args.ssh_session) {
        tracing::info!("--stats: only a daemon serves statistics; ignored here");
    }
    // Opened as the user that serves, so that its files are that user's.
    let cache = match settings.cache.as_ref().map(ResultCache::open).transpose() {
        Ok(cache) => cache,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::BadArguments.code();
        }
    };
    if let Some(cache) = &cache {
        tracing::info!(
            "result cache in {} (at most {} MB)",
            cache.dir().display(),
            args.cache_size >> 20
        );
    }
    if !inetd || args.ssh_session {
        // A long-lived server, as its own user: what servers killed earlier left is removed.
        crate::server::leftovers::remove(&settings.tmpdir);
    }
    let ctx = ServerContext::new(settings).with_cache(cache);
    if args.ssh_session {
        run_ssh_session(ctx, env.session_linger)
    } else if inetd {
        run_inetd(ctx)
    } else {
        let announce = args
            .zeroconf
            .then(|| announce_settings(&args, &env, ctx.settings.jobs));
        run_daemon(&args, ctx, announce)
    }
}

/// `--client-counters`: this machine's servers' counters on stdout as one JSON document, or
/// why there are none on stderr with [`ssh_launch::NO_COUNTERS_STATUS`]. As the user the
/// servers run as: started as root, a session server has become `--user` (or distcc,
/// nobody), and its private directory is that user's.
fn client_counters(env: &ServerEnv, args: &ServeArgs) -> i32 {
    if let Err(e) = process::drop_root(args.user.as_deref()) {
        eprintln!("distfarm: {e}");
        return ExitCode::SetuidFailed.code();
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("distfarm: cannot start: {e}");
            return ExitCode::IoError.code();
        }
    };
    match runtime.block_on(client_counters_here::collect(&env.tmpdir, args.stats_port)) {
        Ok(counters) => {
            println!(
                "{}",
                serde_json::to_string(&counters).expect("plain data serializes")
            );
            0
        }
        Err(e) => {
            eprintln!("distfarm: {e}");
            ssh_launch::NO_COUNTERS_STATUS as i32
        }
    }
}

/// What `--zeroconf` announces: this daemon's port and address, its slots, and the compiler
/// `cc` is where it finds compilers — the same questions distccd asks.
fn announce_settings(args: &ServeArgs, env: &ServerEnv, jobs: usize) -> AnnounceSettings {
    let identity = match CompilerIdentity::of_cc(env.compiler_path.as_deref()) {
        Ok(identity) => Some(identity),
        Err(e) => {
            tracing::warn!("zeroconf: {e}");
            None
        }
    };
    AnnounceSettings {
        hostname: nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "localhost".into()),
        port: args.port,
        listen: args.listen,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        jobs,
        identity,
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

/// The confinement asked for by `--confinement`, `--unconfined` and `DISTFARM_CONFINE`
/// (`confine_env`): a confinement named on the command line wins over the environment.
pub fn wanted_confinement(args: &ConfinementArgs, confine_env: bool) -> confinement::Wanted {
    match args.confinement {
        ConfinementArg::Landlock => confinement::Wanted::Landlock,
        ConfinementArg::Namespaces => confinement::Wanted::Namespaces,
        ConfinementArg::Auto if args.unconfined || !confine_env => confinement::Wanted::Unconfined,
        ConfinementArg::Auto => confinement::Wanted::Auto,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("cannot start the tokio runtime")
}

fn run_inetd(ctx: ServerContext) -> i32 {
    match runtime().block_on(crate::server::inetd::serve_one(&ctx)) {
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

fn run_ssh_session(ctx: ServerContext, linger: std::time::Duration) -> i32 {
    // One client's jobs for the whole connection: headers sent once are kept.
    let ctx = Arc::new(ctx.with_header_store(crate::server::header_store::DEFAULT_BYTES));
    match runtime().block_on(crate::server::session::serve(ctx, linger)) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("ssh session: {e}");
            ExitCode::IoError.code()
        }
    }
}

fn run_daemon(args: &ServeArgs, ctx: ServerContext, announce: Option<AnnounceSettings>) -> i32 {
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
        let ctx = Arc::new(ctx);
        if ctx.cache.is_some() {
            // Read the directory now rather than in the first job that stores.
            let ctx = ctx.clone();
            tokio::spawn(async move {
                if let Some(cache) = &ctx.cache {
                    cache.load_index().await;
                }
            });
        }
        if let Some(stats_listener) = stats_listener {
            stats_listener
                .set_nonblocking(true)
                .expect("set_nonblocking");
            let stats_listener =
                tokio::net::TcpListener::from_std(stats_listener).expect("tokio listener");
            tracing::info!("statistics (HTTP) on {stats_addr}");
            let server = StatsServer {
                stats: ctx.stats.clone(),
                clients: ctx.clients.clone(),
                access: ctx.settings.access.clone(),
                max_kids: ctx.settings.jobs,
                tmpdir: ctx.settings.tmpdir.clone(),
            };
            tokio::spawn(server.serve(stats_listener));
        }
        // After detaching (mDNS runs a thread, which a fork would lose) and once the
        // listener is up: a client that finds us can connect.
        let announcement = announce.and_then(|a| match Announcement::start(&a) {
            Ok(announcement) => Some(announcement),
            Err(e) => {
                tracing::error!("{e}; serving without announcing");
                None
            }
        });
        // Withdrawn as soon as we are asked to stop, before the running jobs drain: no new
        // client should pick a server that is going away.
        let shutdown = async move {
            shutdown_signal(lifetime).await;
            if let Some(announcement) = announcement {
                let _ = tokio::task::spawn_blocking(move || announcement.withdraw()).await;
            }
        };
        crate::server::serve(listener, ctx, shutdown).await;
    });
    0
}

/// Resolves at SIGTERM, SIGINT or the end of `--lifetime`. SIGHUP meanwhile opens the
/// `--log-file` again (after logrotate moved it), as daemons do.
async fn shutdown_signal(lifetime: Option<Duration>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    let mut hup = signal(SignalKind::hangup()).expect("SIGHUP handler");
    let lifetime = tokio::time::sleep(lifetime.unwrap_or(Duration::MAX));
    tokio::pin!(lifetime);
    loop {
        tokio::select! {
            _ = term.recv() => {
                tracing::info!("SIGTERM: refusing new clients, finishing running jobs, then exiting");
                return;
            }
            _ = int.recv() => {
                tracing::info!("SIGINT: refusing new clients, finishing running jobs, then exiting");
                return;
            }
            _ = hup.recv() => {
                tracing::info!("SIGHUP: opening the log file again");
                logging::reopen();
            }
            _ = &mut lifetime => {
                tracing::info!("--lifetime reached");
                return;
            }
        }
    }
}
