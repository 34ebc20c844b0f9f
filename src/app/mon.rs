//! `distfarm mon` (and `distfarm top`): where to look, from the environment a build would
//! have, then the picture once, every SECONDS, or on the live screen.

use std::io::Write;
use std::time::Duration;

use crate::cli::MonArgs;
use crate::config::ClientEnv;
use crate::exit_code::ExitCode;
use crate::monitor::farm::{self, Sources};
use crate::monitor::{live, text};

pub fn main(args: &MonArgs) -> i32 {
    crate::logging::init(tracing::Level::ERROR, crate::logging::Sink::Stderr);
    let env = match ClientEnv::from_env() {
        Ok(env) => env,
        Err(e) => {
            eprintln!("distfarm mon: {e}");
            return ExitCode::BadArguments.code();
        }
    };
    let interval = match args.interval {
        None => None,
        Some(s) if s.is_finite() && s > 0.0 => Some(Duration::from_secs_f64(s)),
        Some(s) => {
            eprintln!("distfarm mon: the interval must be a number of seconds above 0, not {s}");
            return ExitCode::BadArguments.code();
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("distfarm mon: cannot start: {e}");
            return ExitCode::IoError.code();
        }
    };
    if let Some(target) = &args.server {
        let asked = super::mon_server::Asked {
            target,
            stats_port: args.stats_port,
            json: args.json,
            interval,
        };
        return runtime.block_on(super::mon_server::main(&asked));
    }
    let sources = sources(&env);
    if args.live {
        let refresh = interval.unwrap_or(live::DEFAULT_REFRESH);
        return runtime.block_on(live::run(&sources, refresh));
    }
    runtime.block_on(async {
        loop {
            let view = farm::look(&sources).await;
            let shown = if args.json {
                serde_json::to_string(&view).expect("plain data serializes") + "\n"
            } else {
                text::render(&view)
            };
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`distfarm mon 1 | head`) ends the monitor quietly.
            if stdout.write_all(shown.as_bytes()).is_err() {
                return 0;
            }
            let Some(every) = interval else { return 0 };
            // One empty line between pictures, as distccmon-text does.
            if (!args.json && stdout.write_all(b"\n").is_err()) || stdout.flush().is_err() {
                return 0;
            }
            drop(stdout);
            tokio::time::sleep(every).await;
        }
    })
}

/// Where a build run here would keep its state: `DISTCC_DIR`, its agent and its host list.
fn sources(env: &ClientEnv) -> Sources {
    let hosts = crate::config::load_hosts(env)
        .map(|list| list.hosts)
        .unwrap_or_default();
    let offers = crate::offer::registry::live_entries(&env.distcc_dir)
        .into_iter()
        .map(|entry| entry.host)
        .collect();
    Sources {
        distcc_dir: env.distcc_dir.clone(),
        agent_socket: crate::config::agent_socket_path(&env.distcc_dir),
        hosts,
        backoff_period: env.backoff_period,
        offers,
    }
}
