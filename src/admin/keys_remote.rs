//! The build hosts' side of `distfarm keys`: the public key appended to a remote
//! `~/.ssh/authorized_keys` over a connection made with the invoking user's own credentials
//! (what `ssh-copy-id` does), and the check that the account itself logs in.

use russh::keys::PublicKey;

use crate::transport::ssh::{self, ResolvedHost, SshSettings};

/// What the remote said about the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Installed {
    AlreadyThere,
    Added,
}

/// The script run by the remote user's `sh` (read from stdin, so the login shell may be
/// anything): the key is looked for by type and blob, and appended only when missing, after
/// a newline if the file's last line has none. As `ssh-copy-id`: `umask 077`, `~/.ssh`
/// created when missing.
pub fn install_script(key_line: &str) -> String {
    let blob: String = key_line
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "umask 077\n\
         mkdir -p \"$HOME/.ssh\" || exit 1\n\
         f=\"$HOME/.ssh/authorized_keys\"\n\
         if [ -f \"$f\" ] && grep -qF '{blob}' \"$f\"; then echo present; exit 0; fi\n\
         if [ -s \"$f\" ] && [ -n \"$(tail -c1 \"$f\")\" ]; then echo >> \"$f\" || exit 1; fi\n\
         echo '{key_line}' >> \"$f\" || exit 1\n\
         echo added\n"
    )
}

/// A key line safe inside the script's single quotes: the comment loses any quote.
pub fn key_line(key: &PublicKey) -> String {
    let text = key.to_openssh().unwrap_or_default();
    text.replace('\'', "")
}

/// Connects to `host` (its hops through `hops`) as the invoking user and installs `key`.
pub async fn install(
    host: &ResolvedHost,
    settings: &SshSettings,
    key: &PublicKey,
) -> Result<Installed, String> {
    let conn = ssh::connect(host, settings)
        .await
        .map_err(|e| e.to_string())?;
    let result = conn
        .run("sh", install_script(&key_line(key)).as_bytes())
        .await;
    conn.disconnect().await;
    let (stdout, exit) = result.map_err(|e| e.to_string())?;
    let said = String::from_utf8_lossy(&stdout);
    match said.trim() {
        "present" => Ok(Installed::AlreadyThere),
        "added" => Ok(Installed::Added),
        other => Err(format!(
            "{}: appending to ~/.ssh/authorized_keys failed ({}; it said {other:?}{}); \
             check that the remote user's home is writable and its shell runs `sh`",
            host.description(),
            describe_exit(&exit),
            if exit.stderr.is_empty() {
                String::new()
            } else {
                format!(
                    ", stderr {:?}",
                    String::from_utf8_lossy(&exit.stderr).trim()
                )
            }
        )),
    }
}

fn describe_exit(exit: &ssh::RemoteExit) -> String {
    match (&exit.status, &exit.signal) {
        (Some(status), _) => format!("exit status {status}"),
        (None, Some(signal)) => format!("killed by SIG{signal}"),
        (None, None) => "the connection ended before it did".into(),
    }
}

/// Logs in to each `[USER@]HOST` with `settings` (the account's own files, no agent) and
/// runs `true`. One result per host.
pub async fn check_logins(
    specs: &[String],
    settings: &SshSettings,
) -> Vec<(String, Result<(), String>)> {
    let mut results = Vec::new();
    for spec in specs {
        let (user, alias) = super::keys::split_spec(spec);
        let result = async {
            let host = ssh::resolve(alias, user, None, settings).map_err(|e| e.to_string())?;
            let conn = ssh::connect(&host, settings)
                .await
                .map_err(|e| e.to_string())?;
            let ran = conn.run("true", b"").await;
            conn.disconnect().await;
            ran.map(|_| ()).map_err(|e| e.to_string())
        }
        .await;
        results.push((spec.clone(), result));
    }
    results
}
