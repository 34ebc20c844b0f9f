//! The compiler wrapper's command: the environment read once, logging as distcc logs, the
//! informational options (`--help`, `--version`, `--show-hosts`, `-j`), and a compile handed
//! to the client.

use crate::client::invocation::{Invocation, invocation, wrapper_options};
use crate::client::run;
use crate::config::{ClientEnv, SshEnv, load_hosts};
use crate::exit_code::ExitCode;
use crate::hosts::HostList;

/// The wrapper: `distfarm gcc …`, `distfarm --show-hosts`, or a `gcc` masquerade link.
pub fn main(argv: Vec<String>) -> i32 {
    let mut env = match ClientEnv::from_env() {
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
    let (options, rest) = wrapper_options(&argv0, &argv[1.min(argv.len())..]);
    // `--summary` asks what DISTFARM_SUMMARY=1 asks.
    env.summary |= options.summary;
    let how = invocation(&argv0, rest);
    match how {
        Invocation::Help => {
            print!("{}", HELP);
            0
        }
        Invocation::Version => {
            println!("{}", super::version_line());
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
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            runtime.block_on(run::compile(
                &env,
                SshEnv::from_env(),
                &argv0,
                &how,
                command,
            ))
        }
    }
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
  distfarm --summary COMPILER [ARGS...]   the same, and one line per build when it ends
  distfarm [--help|--version|--show-hosts|-j]
  distfarm serve [OPTIONS]        the compile server (see distfarm serve --help)
  distfarm offer [USER@]CLIENT    lend this machine's CPUs to CLIENT over SSH (see offer --help)

Options (as the first argument):
  --help          this text
  --version       version and protocols
  --show-hosts    the host list in use, one entry per line
  -j              the number of jobs the host list can run at once
  --summary       before the compiler: when the build ends, one line of its numbers on its
                  standard error (as DISTFARM_SUMMARY=1), e.g. make CC='distfarm --summary gcc'

Subcommands:
  distfarm serve  the distccd-compatible server (also as a `distccd` link); see serve --help
  distfarm mon    the farm: hosts, queue, running jobs (--json, --live; `distfarm top`)

Hosts come from DISTCC_HOSTS, else $DISTCC_DIR/hosts (~/.distcc/hosts), else
/etc/distcc/hosts, in distcc's syntax: localhost/2 box:3632/8,lzo @user@sshbox/4
(+zeroconf: the servers announced on the LAN with this machine's compiler),
followed by DISTFARM_HOSTS, else $DISTCC_DIR/distfarm-hosts: entries plain distcc cannot
read, such as Remote Execution API engines (grpc://HOST:PORT/N,instance=NAME, grpcs://…),
then the live offers of build machines (`distfarm offer`; DISTFARM_OFFERS=0: none).
Environment: DISTCC_HOSTS DISTCC_DIR DISTCC_VERBOSE DISTCC_LOG DISTCC_FALLBACK
DISTCC_BACKOFF_PERIOD DISTCC_IO_TIMEOUT DISTCC_PAUSE_TIME_MSEC DISTCC_SAVE_TEMPS
DISTCC_SKIP_LOCAL_RETRY DISTCC_SSH DISTCC_NO_REWRITE_CROSS DISTFARM_HOSTS DISTFARM_OFFERS TMPDIR
DISTFARM_SUMMARY=1 (one line per build when it ends) DISTFARM_BUILD_ID
DISTFARM_CPP_PLANS=0 (preprocess through gcc's driver every time, not cc1 -E from a plan)
";
