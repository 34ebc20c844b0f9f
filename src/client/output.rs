//! Results where the caller expects them: the object written as the compiler would have
//! written it (`user_files::write`: atomically for a regular file, in place for `/dev/null`
//! or a FIFO), and the compiler's stdout and stderr replayed as a local compile prints them.

use std::io::{self, Write};

pub use crate::user_files::write as write_output;

pub fn replay(stdout: &[u8], stderr: &[u8]) {
    let _ = io::stdout().write_all(stdout);
    let _ = io::stdout().flush();
    let _ = io::stderr().write_all(stderr);
}

/// A process exit code for a wait status, as a shell would report it: the exit code, or
/// 128 + signal.
pub fn exit_code_of_wait_status(status: u32) -> i32 {
    let signal = status & 0x7f;
    if signal != 0 {
        128 + signal as i32
    } else {
        ((status >> 8) & 0xff) as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_status_becomes_a_shell_exit_code() {
        assert_eq!(exit_code_of_wait_status(0), 0);
        assert_eq!(exit_code_of_wait_status(1 << 8), 1);
        assert_eq!(exit_code_of_wait_status(9), 137);
    }
}
