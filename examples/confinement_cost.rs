//! What each confinement adds to starting a program, the way a server starts a job's
//! compiler: `/bin/true` run N times unconfined, with Landlock (where the kernel has it) and
//! in the mount namespace (as this user: run it as root and as another user, who also
//! needs a user namespace). Prints a table of the median and the ratio to unconfined.
//!
//!     cargo run --release --example confinement_cost [N]

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::{Duration, Instant};

use distfarm::config::CcacheEnv;
use distfarm::server::mount_jail::Jail;
use distfarm::server::sandbox::{self, Confinement};

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn run(n: usize, job: &Path, hook: &dyn Fn(&mut std::process::Command)) -> Duration {
    let times = (0..n)
        .map(|_| {
            let mut command = std::process::Command::new("/bin/true");
            command.current_dir(job);
            hook(&mut command);
            let start = Instant::now();
            let status = command.status().expect("/bin/true starts");
            assert!(status.success(), "/bin/true failed: {status}");
            start.elapsed()
        })
        .collect();
    median(times)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200);
    let job = tempfile::tempdir().expect("a job directory");
    let ccache = CcacheEnv::default();
    let plain = run(n, job.path(), &|_| {});
    let mut rows = vec![("unconfined", plain)];
    if sandbox::abi_version() > 0 {
        let landlock = run(n, job.path(), &|command| {
            let confinement =
                Confinement::for_job(job.path(), Path::new("/bin/true"), &[], &ccache)
                    .expect("Landlock rules");
            let enter = confinement.enter_in_child().expect("a ruleset descriptor");
            // SAFETY: the hook neither allocates nor locks (see server/sandbox.rs).
            unsafe {
                command.pre_exec(enter);
            }
        });
        rows.push(("Landlock", landlock));
    }
    let jail = run(n, job.path(), &|command| {
        let jail = Jail::for_job(job.path(), Path::new("/bin/true"), &[], &ccache)
            .expect("a mount namespace jail");
        // SAFETY: `enter` neither allocates nor locks (see server/mount_jail.rs).
        unsafe {
            command.pre_exec(move || jail.enter().map_err(Into::into));
        }
    });
    rows.push(("mount namespace", jail));
    println!(
        "starting /bin/true, median of {n} (uid {}):",
        nix::unistd::Uid::effective()
    );
    println!("{:<18} {:>10} {:>8}", "confinement", "median", "ratio");
    for (name, time) in rows {
        println!(
            "{name:<18} {:>8.3}ms {:>7.2}x",
            time.as_secs_f64() * 1e3,
            time.as_secs_f64() / plain.as_secs_f64()
        );
    }
}
