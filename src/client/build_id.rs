//! Which build a job belongs to, for `DISTFARM_SUMMARY`: the nearest build tool (make,
//! ninja …, see `farm_view::is_build_tool`) above the wrapper, named by its pid and start
//! time. `make -j` runs every compile as its own child (sometimes through `sh -c`), ninja
//! likewise, so all the jobs of one `make` share it, recursive makes included up to the
//! first one met going up: a sub-make is its own build. With no build tool above, the
//! wrapper's parent is the build, and `DISTFARM_BUILD_ID=TEXT` names the build outright
//! (jobs with the same text, from anywhere, are one build).

use crate::protocol::farm_view::{BuildId, is_build_tool};

/// How far up the process tree a build tool is looked for (ccache, sh -c, libtool …).
const MAX_DEPTH: usize = 8;

/// The build, and the process whose standard error gets its summary.
pub fn find(explicit: Option<&str>) -> (BuildId, u32) {
    let parent = nix::unistd::getppid().as_raw() as u32;
    let mut pid = parent;
    let mut first = None;
    for _ in 0..MAX_DEPTH {
        let Some(stat) = crate::proc_stat::read(pid) else {
            break;
        };
        if first.is_none() {
            first = Some(BuildId {
                pid,
                start: stat.start,
                name: stat.name.clone(),
            });
        }
        if is_build_tool(&stat.name) && explicit.is_none() {
            let stderr_of = pid;
            return (
                BuildId {
                    pid,
                    start: stat.start,
                    name: stat.name,
                },
                stderr_of,
            );
        }
        if stat.parent <= 1 {
            break;
        }
        pid = stat.parent;
    }
    if let Some(text) = explicit {
        let id = BuildId {
            pid: 0,
            start: 0,
            name: text.to_string(),
        };
        return (id, parent);
    }
    let id = first.unwrap_or(BuildId {
        pid: parent,
        start: 0,
        name: "unknown".into(),
    });
    (id, parent)
}
