//! The words a client and a server agree on when a server is started over SSH: the flags
//! distcc appends for a per-job server, and the greeting of a distfarm session server. Both
//! ends read them from here, so they cannot drift apart.

/// What distcc appends to the remote command: serve one job on stdin/stdout, and run the
/// SSH-authenticated user's compiler by whatever name it has.
pub const INETD_FLAGS: [&str; 2] = ["--inetd", "--enable-tcp-insecure"];

/// The flag that asks a distfarm remote for one session server per connection.
pub const SESSION_FLAG: &str = "--ssh-session";

/// The first line a session server prints: this word, a space, its socket path. A remote
/// that prints anything else (a real distccd refuses the flag) is not distfarm.
pub const SESSION_GREETING: &str = "DISTFARM-SESSION 1";

/// The greeting line for a session server listening on `socket`.
pub fn session_greeting(socket: &str) -> String {
    format!("{SESSION_GREETING} {socket}\n")
}

/// The socket path in a greeting line, if it is one.
pub fn socket_from_greeting(line: &str) -> Option<&str> {
    line.strip_prefix(SESSION_GREETING)?
        .strip_prefix(' ')
        .map(str::trim_end)
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_greeting_gives_back_its_socket_and_anything_else_gives_none() {
        let line = session_greeting("/tmp/distfarm-session-x/sock");
        assert_eq!(
            socket_from_greeting(&line),
            Some("/tmp/distfarm-session-x/sock")
        );
        assert_eq!(socket_from_greeting("distccd: unrecognized option\n"), None);
        assert_eq!(socket_from_greeting("DISTFARM-SESSION 1\n"), None);
    }
}
