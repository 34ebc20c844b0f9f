//! `distfarm zeroconf-browser --distcc-dir DIR` (hidden; started by a wrapper whose host
//! list has `+zeroconf` when the agent is disabled): keeps `DIR/zeroconf/hosts` current
//! until no job reads it.

use std::path::Path;

pub fn main(distcc_dir: &Path) -> i32 {
    // stderr is `zeroconf/browser.log` (see zeroconf/discovered.rs); the wrapper's
    // DISTCC_VERBOSE=1 (inherited) shows every mDNS event there.
    let verbose = crate::config::ClientEnv::from_env().is_ok_and(|env| env.verbose);
    let level = if verbose {
        tracing::Level::DEBUG
    } else {
        tracing::Level::INFO
    };
    crate::logging::init(level, crate::logging::Sink::Stderr);
    let dir = match crate::zeroconf::cache::dir(distcc_dir) {
        Ok(dir) => dir,
        Err(e) => {
            tracing::error!("{}/zeroconf: {e}", distcc_dir.display());
            return 1;
        }
    };
    let path = crate::config::search_path();
    let identity = crate::zeroconf::identity::CompilerIdentity::of_cc(Some(&path));
    // The line the starting wrapper waits for (see zeroconf/discovered.rs).
    let mut say_ready = || {
        use std::io::Write;
        let mut stdout = std::io::stdout();
        let _ = writeln!(stdout, "{}", crate::zeroconf::discovered::READY_LINE);
        let _ = stdout.flush();
    };
    match crate::zeroconf::keeper::run(&dir, identity, &mut say_ready) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("zeroconf browser: {e}");
            1
        }
    }
}
