//! `distfarm dist-files DIR` (hidden; `scripts/gen-dist` runs it): completions, man pages
//! and service files written from the command-line definitions.

use std::path::Path;

pub fn main(dir: &Path) -> i32 {
    match crate::admin::dist_files::write_all(dir) {
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
