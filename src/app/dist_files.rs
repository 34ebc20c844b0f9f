//! `distfarm dist-files DIR` (hidden; `scripts/gen-dist` runs it): completions, man pages
//! and service files written from the command-line definitions.

use std::path::{Path, PathBuf};

use clap::CommandFactory;

use crate::admin::dist_files;
use crate::cli::Cli;

/// Every file `dist-files` writes, as (path under the output directory, contents): what
/// `dist/` must hold.
pub fn files() -> Vec<(PathBuf, Vec<u8>)> {
    dist_files::files(&Cli::command())
}

pub fn main(dir: &Path) -> i32 {
    match dist_files::write_all(dir, &Cli::command()) {
        Ok(written) => {
            for path in written {
                println!("{}", path.display());
            }
            0
        }
        Err(e) => {
            eprintln!("distfarm dist-files: {}: {e}", dir.display());
            crate::exit_code::ExitCode::IoError.code()
        }
    }
}
