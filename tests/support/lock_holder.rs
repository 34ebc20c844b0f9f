//! distcc's slot locks held by another process: fcntl locks of the test's own process would
//! not conflict with the locks the code under test takes in it, so a `python3` child holds
//! the lock instead.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Takes an exclusive fcntl lock on `file` in a child process that holds it for `secs`, and
/// returns once the lock is held. Kill or wait for the child to release it.
pub fn hold_lock(file: &Path, secs: f64) -> Child {
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import fcntl, sys, time\nf = open(sys.argv[1], 'w')\nfcntl.lockf(f, fcntl.LOCK_EX)\nprint('held', flush=True)\ntime.sleep(float(sys.argv[2]))",
        ])
        .arg(file)
        .arg(secs.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "held");
    child
}
