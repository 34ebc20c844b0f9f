//! Pump mode between distfarm ends over SSH (`@host` reaching a `--ssh-session` server on
//! the real OpenSSH sshd): the session server keeps the headers it is sent, so a build sends
//! each header once per connection (by content hash; the server names the missing ones), and
//! a `-g` job goes as a tree even to a host without `,cpp`, so its object is the one a direct
//! local `gcc -g -c` makes.

use std::path::Path;

use crate::support::build::{assert_identical, references};
use crate::support::ssh_client::{RemoteDistfarm, SshClient};
use crate::support::{CProject, Sshd, temp_dir, text};

/// Wrappers compiling at once in a build (`make -j4`).
const JOBS: usize = 4;

/// The wrappers' `pump tree: N files, K contents sent, B bytes` lines in a DISTCC_LOG file:
/// (jobs, contents sent, bytes sent).
fn pump_traffic(log: &Path) -> (usize, usize, u64) {
    let log = text(&std::fs::read(log).unwrap_or_default());
    let mut totals = (0, 0, 0);
    for line in log.lines() {
        let Some(rest) = line.split("pump tree: ").nth(1) else {
            continue;
        };
        let words: Vec<&str> = rest.split_whitespace().collect();
        // "N files, K contents sent, B bytes"
        totals.0 += 1;
        totals.1 += words[2].parse::<usize>().expect("contents count");
        totals.2 += words[5].parse::<u64>().expect("bytes");
    }
    totals
}

#[test]
fn a_second_zstd_build_over_one_connection_sends_under_5_percent_of_the_first_ones_bytes() {
    let sshd = Sshd::start();
    let remote = RemoteDistfarm::new();
    let logs = temp_dir("pump-logs");
    let log = logs.path().join("distcc.log");
    let client = SshClient::new(&sshd.ssh_config()).with_env("DISTCC_LOG", &log);
    let hosts = format!("{},cpp,lzo", remote.host("8"));
    let zstd = CProject::zstd();
    let local = references(&zstd, &["-O1"], 2);

    let first = client.build(&hosts, &zstd, &["-O1"], JOBS);
    assert_identical(&zstd, &first, &local, "first pumped build over ssh");
    let first_log = logs.path().join("first.log");
    std::fs::rename(&log, &first_log).unwrap();
    let second = client.build(&hosts, &zstd, &["-O1"], JOBS);
    assert_identical(&zstd, &second, &local, "second pumped build over ssh");

    let units = zstd.units().len();
    let (jobs1, contents1, bytes1) = pump_traffic(&first_log);
    let (jobs2, contents2, bytes2) = pump_traffic(&log);
    assert_eq!((jobs1, jobs2), (units, units), "every job in pump mode");
    assert_eq!(contents2, 0, "the second build sent no content again");
    assert!(
        bytes2 * 20 < bytes1,
        "second build sent {bytes2} bytes, the first {bytes1} ({contents1} contents)"
    );
    eprintln!(
        "zstd over one connection: first build {bytes1} bytes ({contents1} contents), \
         second {bytes2} bytes ({:.1} %)",
        bytes2 as f64 * 100.0 / bytes1 as f64
    );
}

#[test]
fn lua_with_debug_info_over_ssh_without_cpp_is_identical_to_a_direct_local_compile() {
    let sshd = Sshd::start();
    let remote = RemoteDistfarm::new();
    let logs = temp_dir("pump-logs");
    let log = logs.path().join("distcc.log");
    let client = SshClient::new(&sshd.ssh_config()).with_env("DISTCC_LOG", &log);
    let lua = CProject::lua();
    let extra = ["-O2", "-g"];
    let objects = client.build(&remote.host("8"), &lua, &extra, JOBS);
    let direct = references(&lua, &extra, 2);
    assert_identical(&lua, &objects, &direct, "distfarm -g → distfarm over ssh");
    let (jobs, _, _) = pump_traffic(&log);
    assert_eq!(jobs, lua.units().len(), "every -g job went as a tree");
}
