//! The wrapper's entry: how it was called, the informational options, the recursion guard,
//! and the hand-over to a local or distributed compile.

use std::ffi::OsString;
use std::path::PathBuf;

use super::cross_rewrite;
use super::distribute::Wrapper;
use super::invocation::{Invocation, invocation};
use super::masquerade;
use crate::config::ClientEnv;
use crate::exit_code::ExitCode;
use crate::hosts::{self, HostList, HostsError};

pub fn main(argv: Vec<String>) -> i32 {
    let env = match ClientEnv::from_env() {
        Ok(env) => env,
        Err(e) => {
            eprintln!("distfarm: {e}");
            return ExitCode::BadArguments.code();
        }
    };
    let level = if env.verbose {
        tracing::Level::DEBUG
    } else if env.log_file.is_some() {
        tracing::Level::INFO
    } else {
        tracing::Level::WARN
    };
    crate::logging::init_wrapper(level, env.log_file.as_deref());

    let argv0 = argv.first().cloned().unwrap_or_else(|| "distfarm".into());
    let rest = &argv[1.min(argv.len())..];
    let how = invocation(&argv0, rest);
    match how {
        Invocation::Help => {
            print!("{}", HELP);
            0
        }
        Invocation::Version => {
            println!(
                "distfarm {} (distcc 3.4 compatible; protocols 1 and 2; default port 3632)",
                env!("CARGO_PKG_VERSION")
            );
            0
        }
        Invocation::ShowHosts => with_hosts(&env, |list| {
            list.show_hosts().for_each(|h| println!("{h}"));
        }),
        Invocation::Jobs => with_hosts(&env, |list| println!("{}", list.total_slots())),
        Invocation::ScanIncludes => {
            eprintln!(
                "distfarm: --scan-includes is a pump-mode diagnostic; pump mode is not supported yet"
            );
            ExitCode::BadArguments.code()
        }
        Invocation::MissingOperand => {
            eprintln!("distfarm: missing compiler or option; try `distfarm --help`");
            ExitCode::BadArguments.code()
        }
        Invocation::Explicit { .. } | Invocation::Implicit | Invocation::Masquerade { .. } => {
            let command = how.compiler_argv(rest).expect("a compile form");
            compile(&env, &argv0, &how, command)
        }
    }
}

fn compile(env: &ClientEnv, argv0: &str, how: &Invocation, mut command: Vec<String>) -> i32 {
    // Through a masquerade link, the real compiler is the next one on PATH after our dir.
    let trimmed: Option<OsString> = match how {
        Invocation::Masquerade { .. } => env
            .path
            .as_deref()
            .and_then(|p| masquerade::trim_path(argv0, p)),
        _ => None,
    };
    let level = env.safeguard.saturating_sub(u32::from(trimmed.is_some()));
    if level > 0 {
        eprintln!(
            "distfarm[{}] ERROR: distfarm seems to have invoked itself recursively \
             (_DISTCC_SAFEGUARD={}); check that PATH finds the real compiler after distfarm's links",
            std::process::id(),
            env.safeguard
        );
        return ExitCode::RecursiveCall.code();
    }
    let path = trimmed.or_else(|| env.path.clone());
    // Local runs see the rewritten name too, as with distcc: it is the same compiler.
    if env.rewrite_cross
        && let Some(path) = &path
    {
        cross_rewrite::rewrite(&mut command, path);
    }
    let Some(compiler) = resolve(&command[0], path.as_ref()) else {
        eprintln!(
            "distfarm[{}] ERROR: failed to exec {}: No such file or directory (not found on PATH after distfarm's own directory)",
            std::process::id(),
            command[0]
        );
        return ExitCode::CompilerMissing.code();
    };
    let hosts = load_hosts(env);
    let wrapper = Wrapper {
        env,
        path,
        compiler,
        hosts,
        nested: env.safeguard > 0,
        ssh: crate::config::SshEnv::from_env(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(wrapper.run(command))
}

/// A name with a slash is used as given; a bare name is looked up, skipping our own links.
fn resolve(name: &str, path: Option<&OsString>) -> Option<PathBuf> {
    if name.contains('/') {
        return Some(PathBuf::from(name));
    }
    masquerade::find_compiler(name, path?)
}

/// The host list from `DISTCC_HOSTS`, `$DISTCC_DIR/hosts` or `/etc/distcc/hosts`.
pub fn load_hosts(env: &ClientEnv) -> Result<HostList, HostsError> {
    let files: Vec<(PathBuf, Option<String>)> = [
        env.distcc_dir.join("hosts"),
        PathBuf::from("/etc/distcc/hosts"),
    ]
    .into_iter()
    .map(|p| {
        let text = std::fs::read_to_string(&p).ok();
        (p, text)
    })
    .collect();
    let mut list = hosts::load(env.hosts.as_deref(), &files)?;
    for warning in &list.warnings {
        tracing::warn!("{warning}");
    }
    if list.randomize {
        list.shuffle(u64::from(std::process::id()));
    }
    Ok(list)
}

fn with_hosts(env: &ClientEnv, show: impl FnOnce(&HostList)) -> i32 {
    match load_hosts(env) {
        Ok(list) => {
            show(&list);
            0
        }
        Err(e) => {
            eprintln!("distfarm: {e}");
            ExitCode::BadHostSpec.code()
        }
    }
}

const HELP: &str = "\
distfarm — an SSH-first, distcc-compatible compile farm

Usage:
  distfarm COMPILER [ARGS...]     e.g. distfarm gcc -O2 -c foo.c -o foo.o
  distfarm [ARGS...]              the compiler is cc
  gcc [ARGS...]                   through a masquerade link (distfarm install-links DIR)
  distfarm [--help|--version|--show-hosts|-j]
  distfarm serve [OPTIONS]        the compile server (see distfarm serve --help)

Options (as the first argument):
  --help          this text
  --version       version and protocols
  --show-hosts    the host list in use, one entry per line
  -j              the number of jobs the host list can run at once

Subcommands:
  distfarm serve  the distccd-compatible server (also as a `distccd` link); see serve --help

Hosts come from DISTCC_HOSTS, else $DISTCC_DIR/hosts (~/.distcc/hosts), else
/etc/distcc/hosts, in distcc's syntax: localhost/2 box:3632/8,lzo @user@sshbox/4
Environment: DISTCC_HOSTS DISTCC_DIR DISTCC_VERBOSE DISTCC_LOG DISTCC_FALLBACK
DISTCC_BACKOFF_PERIOD DISTCC_IO_TIMEOUT DISTCC_PAUSE_TIME_MSEC DISTCC_SAVE_TEMPS
DISTCC_SKIP_LOCAL_RETRY DISTCC_SSH DISTCC_NO_REWRITE_CROSS TMPDIR
";
