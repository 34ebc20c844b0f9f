//! `distfarm install-links DIR`: masquerade links for every compiler on `PATH`.

use std::path::Path;

use crate::admin::install_links;
use crate::exit_code::ExitCode;

/// Makes the links (the compilers', and `distcc-config` when asked) and says where they are
/// and what to do with them.
pub fn main(dir: &Path, distcc_config: bool) -> i32 {
    let me = match std::env::current_exe() {
        Ok(me) => me,
        Err(e) => {
            eprintln!("distfarm install-links: cannot find my own path: {e}");
            return ExitCode::DistccFailed.code();
        }
    };
    let path = crate::config::search_path();
    let mut names = install_links::compilers_on_path(&path);
    if names.is_empty() {
        eprintln!("distfarm install-links: no gcc or clang compilers found on PATH");
        return ExitCode::CompilerMissing.code();
    }
    if distcc_config {
        names.push("distcc-config".into());
    }
    match install_links::install(dir, &me, &names) {
        Ok(links) => {
            for link in links {
                println!("{}", link.display());
            }
            println!(
                "put {} first on PATH to compile through distfarm",
                dir.display()
            );
            0
        }
        Err(e) => {
            eprintln!("distfarm install-links: {e}");
            ExitCode::DistccFailed.code()
        }
    }
}
