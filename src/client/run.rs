//! A compile from the wrapper's command line: the recursion guard, the real compiler found
//! past our own masquerade links, distcc's cross-compiler rewrite, and the hand-over to a
//! local or distributed compile.

use std::ffi::OsString;
use std::path::PathBuf;

use super::cross_rewrite;
use super::distribute::Wrapper;
use super::invocation::Invocation;
use super::masquerade;
use crate::config::{ClientEnv, SshEnv};
use crate::exit_code::ExitCode;
use crate::native_flags;

/// Compiles `command` (the compiler and its arguments) here or on the farm, as the
/// invocation `how` asks; returns the exit code.
pub async fn compile(
    env: &ClientEnv,
    ssh: SshEnv,
    argv0: &str,
    how: &Invocation,
    mut command: Vec<String>,
) -> i32 {
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
    // A compile for this CPU distributes as the options that name it here.
    let compiles = command.iter().any(|a| a == "-c" || a == "-S");
    if compiles && env.safeguard == 0 {
        let cache = env.distcc_dir.join("native");
        native_flags::expand(
            &mut command,
            &compiler,
            path.as_ref(),
            env.safeguard,
            &cache,
        );
    }
    let hosts = crate::config::load_hosts(env);
    let wrapper = Wrapper {
        env,
        path,
        compiler,
        hosts,
        nested: env.safeguard > 0,
        reporter: super::report::Reporter::new(env, &ssh),
        ssh,
    };
    wrapper.run(command).await
}

/// A name with a slash is used as given; a bare name is looked up, skipping our own links.
fn resolve(name: &str, path: Option<&OsString>) -> Option<PathBuf> {
    if name.contains('/') {
        return Some(PathBuf::from(name));
    }
    masquerade::find_compiler(name, path?)
}
