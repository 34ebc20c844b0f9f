//! A private mount namespace for one command (root only): what it mounts there — a tmpfs
//! over `/etc/distcc`, a tmpfs holding a device node — is seen by nothing else on the machine
//! and goes away with it.

use super::process::Cmd;

/// `sh -c SCRIPT sh ARGS…` in a mount namespace of its own; add the arguments with
/// `.arg`/`.args` (the script sees them as `$1`, `$2` … and `"$@"`).
pub fn with_private_mounts(script: &str) -> Cmd {
    Cmd::new("unshare").args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        "sh",
    ])
}
