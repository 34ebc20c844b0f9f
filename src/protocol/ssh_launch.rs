//! The words a client and a server agree on when a server is started over SSH: the flags
//! distcc appends for a per-job server, the greeting of a distfarm session server, and the
//! question for a remote's counters. Both ends read them from here, so they cannot drift
//! apart.

/// What distcc appends to the remote command: serve one job on stdin/stdout, and run the
/// SSH-authenticated user's compiler by whatever name it has.
pub const INETD_FLAGS: [&str; 2] = ["--inetd", "--enable-tcp-insecure"];

/// The flag that asks a distfarm remote for one session server per connection.
pub const SESSION_FLAG: &str = "--ssh-session";

/// The flag that asks a distfarm remote for the per-client counters of its servers (the
/// session servers of the SSH user, the daemon on its statistics port), as one
/// `ServerClients` JSON document on stdout: `distfarm mon --server @host`.
pub const COUNTERS_FLAG: &str = "--client-counters";

/// How a distfarm remote asked for counters exits when it has none to give (no session
/// server of this user runs there, and no daemon answers on the statistics port): distcc's
/// "no hosts" status, so that it is told apart from a missing program (127) and a distccd
/// that refuses the flag. A line on stderr says what was looked at.
pub const NO_COUNTERS_STATUS: u32 = 116;

/// The first line a session server prints: this word, a space, its socket path. A remote
/// that prints anything else (a real distccd refuses the flag) is not distfarm.
pub const SESSION_GREETING: &str = "DISTFARM-SESSION 1";

/// A session server's second socket, beside its job socket: its per-client counters
/// (`GET /clients`). Whoever reaches it knows the server is alive without sending it a job.
pub const COUNTERS_SOCKET: &str = "counters";

/// The counters socket of the session server whose job socket is `socket`.
pub fn counters_socket_beside(socket: &str) -> String {
    std::path::Path::new(socket)
        .with_file_name(COUNTERS_SOCKET)
        .display()
        .to_string()
}

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
        assert_eq!(
            counters_socket_beside("/tmp/distfarm-session-x/sock"),
            "/tmp/distfarm-session-x/counters"
        );
    }
}
