//! The service account's own files for `distfarm keys`: `~/.ssh` (0700), the key pair
//! (`id_ed25519` 0600, `.pub` 0644), the `Host` blocks in `~/.ssh/config` and the pins in
//! `~/.ssh/known_hosts` — each owned by the account, each written only when it differs.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use russh::keys::{HashAlg, PrivateKey, PublicKey};

/// The account the files are for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Its home (from the password database, or `--home`).
    pub home: PathBuf,
}

impl Target {
    pub fn ssh_dir(&self) -> PathBuf {
        self.home.join(".ssh")
    }
    pub fn key_file(&self) -> PathBuf {
        self.ssh_dir().join("id_ed25519")
    }
    pub fn config_file(&self) -> PathBuf {
        self.ssh_dir().join("config")
    }
    pub fn known_hosts(&self) -> PathBuf {
        self.ssh_dir().join("known_hosts")
    }
}

/// Something went wrong with a file; the message names it.
#[derive(Debug, thiserror::Error)]
#[error("{}: {detail}", path.display())]
pub struct FileError {
    pub path: PathBuf,
    pub detail: String,
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> FileError + '_ {
    move |e| FileError {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

/// The account's key, if it has a usable one: `Ok(None)` when there is none yet.
pub fn existing_key(target: &Target) -> Result<Option<PublicKey>, FileError> {
    let path = target.key_file();
    if !path.exists() {
        return Ok(None);
    }
    match russh::keys::load_secret_key(&path, None) {
        Ok(key) => Ok(Some(key.public_key().clone())),
        Err(russh::keys::Error::KeyIsEncrypted) => Err(FileError {
            path,
            detail: "has a passphrase, and a service account cannot type one; move it away \
                     (distfarm then makes a key without one) or name another account"
                .into(),
        }),
        Err(e) => Err(FileError {
            path,
            detail: format!("is not a key distfarm can read ({e}); move it away"),
        }),
    }
}

/// `~/.ssh` exists, is 0700 and belongs to the account. Returns what it changed.
pub fn ensure_ssh_dir(target: &Target) -> Result<Vec<String>, FileError> {
    let dir = target.ssh_dir();
    let mut done = Vec::new();
    if !dir.exists() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io_error(&dir))?;
        done.push(format!("created {}", dir.display()));
    }
    done.extend(ensure_owner_and_mode(&dir, target, 0o700)?);
    Ok(done)
}

/// A new ed25519 key pair without a passphrase, OpenSSH format: the private half created
/// 0600 (never readable by anyone else, not even for a moment), the public half 0644.
pub fn create_key(target: &Target, comment: &str) -> Result<PublicKey, FileError> {
    let path = target.key_file();
    let mut rng = russh::keys::key::safe_rng();
    let mut key =
        PrivateKey::random(&mut rng, russh::keys::Algorithm::Ed25519).map_err(|e| FileError {
            path: path.clone(),
            detail: format!("cannot generate an ed25519 key: {e}"),
        })?;
    key.set_comment(comment);
    let text = key
        .to_openssh(russh::keys::ssh_key::LineEnding::LF)
        .map_err(|e| FileError {
            path: path.clone(),
            detail: format!("cannot encode the key: {e}"),
        })?;
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(io_error(&path))?;
        file.write_all(text.as_bytes()).map_err(io_error(&path))?;
    }
    ensure_owner_and_mode(&path, target, 0o600)?;
    let public = key.public_key().clone();
    write_public_key(target, &public)?;
    Ok(public)
}

/// `id_ed25519.pub` beside the private key, when it is missing. Returns whether it wrote it.
pub fn write_public_key(target: &Target, key: &PublicKey) -> Result<bool, FileError> {
    let path = public_key_file(target);
    if path.exists() {
        return Ok(false);
    }
    let text = key.to_openssh().map_err(|e| FileError {
        path: path.clone(),
        detail: e.to_string(),
    })?;
    crate::user_files::write(&path, format!("{text}\n").as_bytes()).map_err(io_error(&path))?;
    ensure_owner_and_mode(&path, target, 0o644)?;
    Ok(true)
}

pub fn public_key_file(target: &Target) -> PathBuf {
    target.ssh_dir().join("id_ed25519.pub")
}

/// The private key file belongs to the account and nobody else may read it.
pub fn fix_key_file(target: &Target) -> Result<Vec<String>, FileError> {
    ensure_owner_and_mode(&target.key_file(), target, 0o600)
}

/// `ssh-ed25519 SHA256:…`, for messages.
pub fn describe_key(key: &PublicKey) -> String {
    format!(
        "{} {}",
        key.algorithm().as_str(),
        key.fingerprint(HashAlg::Sha256)
    )
}

/// Sets the owner and mode of `path` when they differ. Returns what it changed.
fn ensure_owner_and_mode(
    path: &Path,
    target: &Target,
    mode: u32,
) -> Result<Vec<String>, FileError> {
    let meta = std::fs::metadata(path).map_err(io_error(path))?;
    let mut done = Vec::new();
    if meta.uid() != target.uid || meta.gid() != target.gid {
        nix::unistd::chown(
            path,
            Some(nix::unistd::Uid::from_raw(target.uid)),
            Some(nix::unistd::Gid::from_raw(target.gid)),
        )
        .map_err(|e| FileError {
            path: path.to_path_buf(),
            detail: format!(
                "cannot give it to {} ({e}); run distfarm keys as root",
                target.name
            ),
        })?;
        done.push(format!("{} now belongs to {}", path.display(), target.name));
    }
    if meta.permissions().mode() & 0o7777 != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(io_error(path))?;
        done.push(format!("{} now has mode {mode:04o}", path.display()));
    }
    Ok(done)
}

/// Writes `text` to `path` (atomically), then gives it to the account with `mode`.
pub fn write_owned(path: &Path, text: &str, target: &Target, mode: u32) -> Result<(), FileError> {
    crate::user_files::write(path, text.as_bytes()).map_err(io_error(path))?;
    ensure_owner_and_mode(path, target, mode)?;
    Ok(())
}

/// Appends a known_hosts line for `key` under `name` and gives the file to the account.
pub fn pin(target: &Target, name: &str, key: &PublicKey) -> Result<(), FileError> {
    let path = target.known_hosts();
    crate::transport::ssh::known_hosts::append(&path, name, key, false).map_err(io_error(&path))?;
    ensure_owner_and_mode(&path, target, 0o644)?;
    Ok(())
}

/// The `Host` block distfarm writes for `alias`, between markers so a later run finds it.
pub fn host_block(alias: &str, options: &[(&str, String)]) -> String {
    host_blocks(alias, &[(alias.to_string(), options.to_vec())])
}

/// The `Host` entries distfarm writes for `alias` (the build host's, then one per jump host
/// it goes through), between the markers of `alias`: written and replaced as one.
pub fn host_blocks(alias: &str, entries: &[(String, Vec<(&str, String)>)]) -> String {
    let mut text = format!("{}\n", begin_marker(alias));
    for (host, options) in entries {
        text.push_str(&format!("Host {host}\n"));
        for (name, value) in options {
            text.push_str(&format!("    {name} {value}\n"));
        }
    }
    text.push_str(&end_marker(alias));
    text.push('\n');
    text
}

fn begin_marker(alias: &str) -> String {
    format!("# BEGIN distfarm keys {alias}")
}

fn end_marker(alias: &str) -> String {
    format!("# END distfarm keys {alias}")
}

/// `config` with `block` for `alias` in it: in place of the block a former run wrote, else
/// first in the file (ssh takes the first value it finds, so the block must come before
/// any `Host *`). `None` when the block is there already as it is.
pub fn with_host_block(config: &str, alias: &str, block: &str) -> Option<String> {
    let begin = begin_marker(alias);
    let end = end_marker(alias);
    let lines: Vec<&str> = config.lines().collect();
    let start = lines.iter().position(|l| l.trim_end() == begin);
    let stop = start.and_then(|s| {
        lines[s..]
            .iter()
            .position(|l| l.trim_end() == end)
            .map(|n| s + n)
    });
    match (start, stop) {
        (Some(s), Some(e)) => {
            let old: String = lines[s..=e].iter().map(|l| format!("{l}\n")).collect();
            if old == block {
                return None;
            }
            let mut out: String = lines[..s].iter().map(|l| format!("{l}\n")).collect();
            out.push_str(block);
            for line in &lines[e + 1..] {
                out.push_str(line);
                out.push('\n');
            }
            Some(out)
        }
        _ if config.is_empty() => Some(block.to_string()),
        _ => Some(format!("{block}\n{config}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_block_goes_first_and_is_replaced_in_place() {
        let block = host_block("b1", &[("HostName", "10.0.0.1".into())]);
        assert_eq!(
            block,
            "# BEGIN distfarm keys b1\nHost b1\n    HostName 10.0.0.1\n# END distfarm keys b1\n"
        );
        let config = with_host_block("Host *\n  User x\n", "b1", &block).unwrap();
        assert!(config.starts_with(&block), "{config}");
        assert!(config.ends_with("Host *\n  User x\n"), "{config}");
        assert_eq!(with_host_block(&config, "b1", &block), None);
        let newer = host_block("b1", &[("HostName", "10.0.0.2".into())]);
        let replaced = with_host_block(&config, "b1", &newer).unwrap();
        assert_eq!(replaced, config.replace(&block, &newer));
    }
}
