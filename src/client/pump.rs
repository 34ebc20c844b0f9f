//! Pump mode on the client (hosts with `,cpp,lzo`, protocol 3): instead of preprocessing,
//! find the files the compile may open (the include scanner) and send them with the
//! command, for the server to preprocess. What goes on the wire is what distcc 3.4's pump
//! client sends — real paths as `FILE`s, the links met on the way as `LINK`s to canonical
//! absolute targets, an empty `forcing_technique_271828` file in each directory that must
//! exist although nothing is shipped below it, and one `../…/DIR` link per system include
//! directory — so the real `distccd` and `distfarm serve` both take it.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::job::CompileJob;
use crate::include_scan::{Closure, GiveUp};
use crate::protocol::packed_tree::{OutgoingEntry, PackedFile};

/// distcc's name for the empty file that makes a directory exist on the server.
const FORCING_FILE: &str = "forcing_technique_271828";

/// distccd 3.4 roots a job at most this deep (`MAX_COMPONENTS_IN_SERVER_ROOT`): a system
/// link climbs this many levels more than its own depth, to be sure to reach `/`.
const MAX_SERVER_ROOT_DEPTH: usize = 20;

/// A pump-mode request's body: the working directory, the command, the files.
#[derive(Debug)]
pub struct PumpTree {
    pub cwd: PathBuf,
    pub argv: Vec<String>,
    pub entries: Vec<OutgoingEntry>,
    /// What the scan found, for an engine's input root (`engine_pump`), which mirrors the
    /// same files in its own way.
    pub closure: Closure,
    /// Each of `closure.files` packed, in the same order.
    pub packed: Vec<Arc<PackedFile>>,
}

/// Why this job is preprocessed here after all (one warning names the file and this).
#[derive(Debug, Clone, thiserror::Error)]
pub enum NotPumped {
    #[error("its input is already preprocessed")]
    Preprocessed,
    #[error("{0}")]
    Scan(#[from] GiveUp),
    #[error("the working directory is unknown: {0}")]
    NoCwd(String),
    /// An engine's input root cannot hold this job as scanned (`engine_pump`).
    #[error("{0}")]
    NotForEngine(String),
}

/// The argv a pump-mode server gets: the whole compile command (it preprocesses, so nothing
/// is stripped), with `-MT OUTPUT` when a `.d` file is wanted and no target was named, so the
/// server's `.d` names the client's object (distcc's `dcc_get_dotd_info`).
pub fn pump_argv(job: &CompileJob) -> Vec<String> {
    let mut argv = job.argv.clone();
    if let Some(deps) = &job.dependencies
        && !deps.target_given
    {
        argv.extend(["-MT".to_string(), job.output.clone()]);
    }
    argv
}

/// Why `job` cannot be pumped whatever its includes are.
pub fn unpumpable(job: &CompileJob) -> Option<NotPumped> {
    job.preprocessed.then_some(NotPumped::Preprocessed)
}

/// The request body for `argv` (from [`pump_argv`]) in `cwd`: the closure's files (`packed`
/// in the same order) and what the server needs to mirror their paths.
pub fn tree(
    cwd: PathBuf,
    argv: Vec<String>,
    closure: Closure,
    packed: Vec<Arc<PackedFile>>,
) -> PumpTree {
    PumpTree {
        entries: entries(&closure, &packed),
        cwd,
        argv,
        closure,
        packed,
    }
}

/// The tree entries for a closure, in distcc's order: files, system links, mirror links,
/// forcing files.
pub fn entries(closure: &Closure, packed: &[Arc<PackedFile>]) -> Vec<OutgoingEntry> {
    let mut out = Vec::with_capacity(closure.files.len() + closure.links.len() + 8);
    for (path, packed) in closure.files.iter().zip(packed) {
        out.push(OutgoingEntry::File {
            name: bytes(path),
            packed: packed.clone(),
        });
    }
    for dir in outermost(&closure.system_dirs) {
        out.push(OutgoingEntry::Link {
            name: bytes(dir),
            target: system_link_target(dir),
        });
    }
    for (link, target) in &closure.links {
        out.push(OutgoingEntry::Link {
            name: bytes(link),
            target: bytes(target),
        });
    }
    let empty = Arc::new(PackedFile::of(b""));
    for dir in &closure.dirs {
        out.push(OutgoingEntry::File {
            name: bytes(&dir.join(FORCING_FILE)),
            packed: empty.clone(),
        });
    }
    out
}

/// `../` enough times to climb from `<server root><dir>` to `/`, then `dir` again: on the
/// server the link is its own system directory.
fn system_link_target(dir: &Path) -> Vec<u8> {
    let text = dir.as_os_str().as_bytes();
    let depth = text.iter().filter(|&&b| b == b'/').count();
    let mut target = b"../".repeat(MAX_SERVER_ROOT_DEPTH + depth);
    target.extend_from_slice(text.strip_prefix(b"/").unwrap_or(text));
    target
}

/// System directories not inside another one: a link inside a link would be created
/// through the first on the server (`/usr/include/x86_64-linux-gnu` inside `/usr/include`).
fn outermost(dirs: &[PathBuf]) -> Vec<&Path> {
    dirs.iter()
        .filter(|d| !dirs.iter().any(|o| o != *d && d.starts_with(o)))
        .map(PathBuf::as_path)
        .collect()
}

fn bytes(path: &Path) -> Vec<u8> {
    path.as_os_str().as_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_links_climb_past_any_server_root_and_name_their_own_directory() {
        let target = system_link_target(Path::new("/usr/include"));
        assert_eq!(
            String::from_utf8(target).unwrap(),
            format!("{}usr/include", "../".repeat(22))
        );
    }

    #[test]
    fn nested_system_directories_get_no_link_of_their_own() {
        let dirs: Vec<PathBuf> = [
            "/usr/lib/gcc/x86_64-linux-gnu/12/include",
            "/usr/local/include",
            "/usr/include/x86_64-linux-gnu",
            "/usr/include",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        let kept: Vec<&str> = outermost(&dirs)
            .iter()
            .map(|d| d.to_str().unwrap())
            .collect();
        assert_eq!(
            kept,
            [
                "/usr/lib/gcc/x86_64-linux-gnu/12/include",
                "/usr/local/include",
                "/usr/include"
            ]
        );
    }

    #[test]
    fn directories_that_must_exist_get_an_empty_forcing_file() {
        let closure = Closure {
            dirs: vec![PathBuf::from("/p/inc/sub")],
            links: vec![("/p/inc/l".into(), "/p/inc/real".into())],
            ..Closure::default()
        };
        let entries = entries(&closure, &[]);
        assert_eq!(
            entries,
            [
                OutgoingEntry::Link {
                    name: b"/p/inc/l".to_vec(),
                    target: b"/p/inc/real".to_vec()
                },
                OutgoingEntry::File {
                    name: b"/p/inc/sub/forcing_technique_271828".to_vec(),
                    packed: Arc::new(PackedFile::of(b""))
                }
            ]
        );
    }
}
