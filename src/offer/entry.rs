//! What an offer leaves on the client: one entry file per live offer in
//! `$DISTCC_DIR/offers/`, and optionally a marked block in the distcc hosts file. Both are
//! written by the holder (`distfarm offers hold`, run there over the offer's SSH connection)
//! and read by every distfarm job there (`config::load_hosts`). The text formats are pure
//! functions here; [`is_live`] is the cheap check that tells a live offer from a dead one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::transport::tcp;

/// The subdirectory of `$DISTCC_DIR` holding one file per offer.
pub const OFFERS_DIR: &str = "offers";
/// Entry files end with this; anything else in the directory is ignored.
pub const EXTENSION: &str = "entry";
/// `--socket` offers' sockets (beside their entry files) end with this.
pub const SOCKET_EXTENSION: &str = "sock";
/// The longest path a Unix socket address holds (`sun_path` is 108 bytes with its NUL).
pub const SOCKET_PATH_MAX: usize = 107;
/// How long a liveness check waits for the offered port to accept a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(300);

/// One offer as its entry file records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The host-list entry: `127.0.0.1:PORT/N[,lzo]`, or `unix:PATH/N[,lzo]` for `--socket`.
    pub host: String,
    /// The holder's pid on the client (its command line names [`id`](Self::id)).
    pub pid: i32,
    /// Random, unique per registration.
    pub id: String,
}

impl Entry {
    /// The file's text.
    pub fn to_text(&self) -> String {
        format!(
            "# distfarm offer: removed when the offer stops (`distfarm offer` on the build machine)\n\
             host {}\npid {}\nid {}\n",
            self.host, self.pid, self.id
        )
    }

    /// Reads [`to_text`](Self::to_text)'s format; `None` if anything is missing.
    pub fn parse(text: &str) -> Option<Entry> {
        let field = |name: &str| {
            text.lines()
                .filter_map(|l| l.split_once(' '))
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.trim().to_string())
        };
        let entry = Entry {
            host: field("host")?,
            pid: field("pid")?.parse().ok()?,
            id: field("id")?,
        };
        valid_id(&entry.id).then_some(entry)
    }

    /// Where the offered jobs arrive on the client.
    pub fn address(&self) -> Option<Address> {
        if let Some(rest) = self.host.strip_prefix("unix:") {
            // `unix:/dir/sock/4,lzo`: options after the comma, the limit after the last `/`.
            let rest = rest.split(',').next()?;
            let path = match rest.rsplit_once('/') {
                Some((path, n)) if n.parse::<u32>().is_ok() => path,
                _ => rest,
            };
            return Some(Address::Unix(PathBuf::from(path)));
        }
        let spec = self.host.split(['/', ',']).next()?;
        let (host, port) = spec.rsplit_once(':')?;
        (host == "127.0.0.1").then_some(())?;
        Some(Address::Tcp(port.parse().ok()?))
    }
}

/// Where an offer's jobs arrive on the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// `127.0.0.1:PORT`.
    Tcp(u16),
    /// A Unix socket (`--socket`).
    Unix(PathBuf),
}

/// Ids are what file names and hosts-file markers are made of: ASCII letters and digits.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `$DISTCC_DIR/offers/ID.entry`.
pub fn path(distcc_dir: &Path, id: &str) -> PathBuf {
    distcc_dir
        .join(OFFERS_DIR)
        .join(format!("{id}.{EXTENSION}"))
}

/// `$DISTCC_DIR/offers/ID.sock`: where a `--socket` offer's jobs arrive. A fresh id per
/// registration gives a fresh path, which sshd needs (it does not replace a file).
pub fn socket_path(distcc_dir: &Path, id: &str) -> PathBuf {
    distcc_dir
        .join(OFFERS_DIR)
        .join(format!("{id}.{SOCKET_EXTENSION}"))
}

/// The first line of an offer's block in the hosts file.
fn begin_marker(id: &str) -> String {
    format!("# BEGIN distfarm offer {id} (kept by `distfarm offer`; do not edit)")
}

fn end_marker(id: &str) -> String {
    format!("# END distfarm offer {id}")
}

/// `text` (a distcc hosts file) with the block of offer `id` holding `host`, at the end;
/// a block of the same id already there is replaced. Nothing else changes.
pub fn with_block(text: &str, id: &str, host: &str) -> String {
    let mut out = without_block(text, id);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!(
        "{}\n{host}\n{}\n",
        begin_marker(id),
        end_marker(id)
    ));
    out
}

/// `text` without the block of offer `id` (every line from its begin to its end marker).
/// Every other line stays as it was, byte for byte.
pub fn without_block(text: &str, id: &str) -> String {
    let (begin, end) = (begin_marker(id), end_marker(id));
    let mut out = String::with_capacity(text.len());
    let mut inside = false;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if !inside && bare == begin {
            inside = true;
        } else if inside {
            if bare == end {
                inside = false;
            }
        } else {
            out.push_str(line);
        }
    }
    out
}

/// The ids of every offer block in `text`.
pub fn block_ids(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# BEGIN distfarm offer "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(String::from)
        .collect()
}

/// Whether the offer behind `entry` is still there: its holder runs (the process with that
/// pid names the entry's id on its command line, so a recycled pid does not count) and its
/// address accepts a connection within [`CONNECT_TIMEOUT`]. A dead link closes the holder
/// (its SSH session ends) and the listening port with it; a `kill -9` of the holder, or a
/// machine that lost power, leaves a file whose pid or port no longer answers.
pub fn is_live(entry: &Entry) -> bool {
    holder_runs(entry) && address_answers(entry)
}

fn holder_runs(entry: &Entry) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{}/cmdline", entry.pid)) else {
        return false;
    };
    cmdline
        .split(|b| *b == 0)
        .any(|word| word == entry.id.as_bytes())
}

fn address_answers(entry: &Entry) -> bool {
    match entry.address() {
        Some(Address::Tcp(port)) => {
            tcp::connect_within_blocking("127.0.0.1", port, CONNECT_TIMEOUT).is_ok()
        }
        Some(Address::Unix(path)) => std::os::unix::net::UnixStream::connect(path).is_ok(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_text_round_trips() {
        let entry = Entry {
            host: "127.0.0.1:3640/4,lzo".into(),
            pid: 42,
            id: "ab12".into(),
        };
        assert_eq!(Entry::parse(&entry.to_text()), Some(entry.clone()));
        assert_eq!(entry.address(), Some(Address::Tcp(3640)));
    }

    #[test]
    fn entries_with_bad_ids_or_missing_fields_are_refused() {
        assert_eq!(Entry::parse("host 127.0.0.1:1/1\npid 1\nid ../x\n"), None);
        assert_eq!(Entry::parse("host 127.0.0.1:1/1\nid ab\n"), None);
    }

    #[test]
    fn socket_entries_name_their_path() {
        let entry = Entry {
            host: "unix:/run/user/1/distfarm/offer-x.sock/4,lzo".into(),
            pid: 1,
            id: "x".into(),
        };
        assert_eq!(
            entry.address(),
            Some(Address::Unix("/run/user/1/distfarm/offer-x.sock".into()))
        );
    }

    #[test]
    fn blocks_are_added_and_removed_without_touching_other_lines() {
        let user = "# my farm\nbox1/8 \t @box2/4\n  localhost/2";
        let one = with_block(user, "aa", "127.0.0.1:3640/4");
        let two = with_block(&one, "bb", "127.0.0.1:3641/2,lzo");
        assert!(two.starts_with("# my farm\nbox1/8 \t @box2/4\n  localhost/2\n# BEGIN"));
        assert_eq!(block_ids(&two), ["aa", "bb"]);
        let back = without_block(&without_block(&two, "aa"), "bb");
        assert_eq!(back, format!("{user}\n"));
        assert_eq!(without_block(user, "aa"), user);
        // Re-registering the same id replaces its block.
        assert_eq!(with_block(&one, "aa", "127.0.0.1:3640/4"), one);
    }
}
