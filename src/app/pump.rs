//! `distfarm pump COMMAND…` (also a `pump` or `distcc-pump` link): distcc-pump's drop-in.
//! distcc needs `pump` to start its Python include server; distfarm scans includes in its
//! agent and gives `,cpp,lzo` hosts pump-mode jobs without it. What is left to do here is
//! what a script calling `pump` relies on: the same check of the host list (no `,cpp` host
//! is an error), the same progress lines, `PATH` with distfarm's directory first, the
//! command's exit status — and the agent started ahead, so the first jobs find its caches.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::cli::PumpArgs;
use crate::config::{ClientEnv, SshEnv};
use crate::exit_code::ExitCode;

/// distcc-pump prefixes its own lines with ten underscores, to stand out in a build log.
const MARK: &str = "__________";

pub fn main(args: &PumpArgs) -> i32 {
    if args.shutdown {
        return 0;
    }
    let env = match ClientEnv::from_env() {
        Ok(env) => env,
        Err(e) => {
            eprintln!("distfarm pump: {e}");
            return ExitCode::BadArguments.code();
        }
    };
    let hosts = match crate::config::load_hosts(&env) {
        Ok(list) => list,
        Err(e) => {
            eprintln!("distfarm pump: {e}");
            return 1;
        }
    };
    let remote = hosts.hosts.iter().filter(|h| !h.is_local()).count();
    let pumped = hosts
        .hosts
        .iter()
        .filter(|h| !h.is_local() && h.pumps())
        .count();
    if pumped == 0 {
        eprintln!(
            "{MARK}pump mode requested, but distcc hosts list does not contain any hosts \
             with ',cpp' option"
        );
        return 1;
    }
    let own_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."));
    let path = path_with_first(&own_dir, env.path.as_deref());
    if args.startup {
        print_exports(env.hosts.as_deref(), &path);
        return 0;
    }
    let Some((program, program_args)) = args.command.split_first() else {
        eprintln!("distfarm pump: no COMMAND given (distfarm pump --help)");
        return ExitCode::BadArguments.code();
    };
    start_agent(&env);
    println!("{MARK}Using distfarm pump from {}", own_dir.display());
    if pumped == remote {
        println!("{MARK}Using {pumped} distcc server(s) in pump mode");
    } else {
        println!(
            "{MARK}Using {remote} distcc server(s), of which only {pumped} support(s) pump mode"
        );
    }
    run(program, program_args, &path)
}

/// `dir` first on `PATH`, as distcc-pump puts distcc's directory first.
fn path_with_first(dir: &Path, path: Option<&std::ffi::OsStr>) -> OsString {
    let mut joined = OsString::from(dir);
    if let Some(path) = path.filter(|p| !p.is_empty()) {
        joined.push(":");
        joined.push(path);
    }
    joined
}

/// `--startup`'s lines, quoted for `eval` in any POSIX shell.
fn print_exports(hosts: Option<&str>, path: &std::ffi::OsStr) {
    if let Some(hosts) = hosts {
        println!("export DISTCC_HOSTS={}", shell_quote(hosts));
    }
    println!("export PATH={}", shell_quote(&path.to_string_lossy()));
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The agent holds the include scanner's caches; starting it now spares the first jobs the
/// wait. Not being able to is no reason to stop the build (jobs scan by themselves then).
fn start_agent(env: &ClientEnv) {
    let ssh = SshEnv::from_env();
    if !ssh.agent_enabled {
        return;
    }
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let started = runtime.block_on(crate::client::agent_link::reach(env, &ssh));
    if started.is_none() {
        tracing::warn!("the agent did not start; every job scans its own includes");
    }
}

/// Runs the build; its exit status is ours (128 + N for a signal, as a shell reports it).
fn run(program: &OsString, args: &[OsString], path: &OsString) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match std::process::Command::new(program)
        .args(args)
        .env("PATH", path)
        .status()
    {
        Ok(status) => status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
        Err(e) => {
            eprintln!(
                "distfarm pump: cannot run {}: {e}",
                Path::new(program).display()
            );
            if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn startup_lines_survive_quotes_in_the_host_list() {
        assert_eq!(shell_quote("a'b c"), r"'a'\''b c'");
    }

    #[test]
    fn distfarm_directory_goes_first_on_path() {
        let path = path_with_first(Path::new("/opt/df/bin"), Some("/usr/bin:/bin".as_ref()));
        assert_eq!(path, "/opt/df/bin:/usr/bin:/bin");
        assert_eq!(path_with_first(Path::new("/x"), None), "/x");
    }
}
