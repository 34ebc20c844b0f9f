//! The real sshd's log (LogLevel VERBOSE) as the witness of what crossed the wire: one
//! [`LOGIN`] line per SSH login and one [`SESSION`] line per remote command (exec channel).
//! `direct-streamlocal` and `direct-tcpip` channels start no session and log nothing.

use super::sshd::Sshd;

/// sshd's line for one SSH login.
pub const LOGIN: &str = "Accepted publickey";
/// sshd's line for one remote command.
pub const SESSION: &str = "Starting session: command";

/// Where sshd's log stood when the test's own traffic began (after `Sshd::start`'s own
/// login check).
pub struct LogMark(usize);

impl LogMark {
    pub fn new(sshd: &Sshd) -> LogMark {
        LogMark(sshd.log().len())
    }

    /// What sshd logged since the mark.
    pub fn since(&self, sshd: &Sshd) -> String {
        sshd.log().get(self.0..).unwrap_or_default().to_string()
    }
}

/// How often `needle` occurs in `log`.
pub fn count(log: &str, needle: &str) -> usize {
    log.matches(needle).count()
}
