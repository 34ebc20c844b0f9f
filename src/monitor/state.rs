//! `$DISTCC_DIR/state/binstate_<pid>`: distcc's monitor record, byte for byte, so that the
//! real `distccmon-text` and `distccmon-gnome` show distfarm's jobs.
//!
//! Layout (`struct dcc_task_state`, LP64): struct_size u64 = 296, magic u64 = 0x44494800,
//! cpid u64, file [u8; 128], host [u8; 128], slot i32, curr_phase i32, next pointer (0).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub const RECORD_LEN: usize = 296;
pub const MAGIC: u64 = 0x4449_4800;
const NAME_LEN: usize = 128;

/// `enum dcc_phase`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum Phase {
    Startup = 0,
    Blocked = 1,
    Connect = 2,
    Preprocess = 3,
    Send = 4,
    Compile = 5,
    Receive = 6,
    Done = 7,
}

impl Phase {
    fn from_wire(n: i32) -> Phase {
        match n {
            0 => Phase::Startup,
            1 => Phase::Blocked,
            2 => Phase::Connect,
            3 => Phase::Preprocess,
            4 => Phase::Send,
            6 => Phase::Receive,
            7 => Phase::Done,
            // distccmon shows anything past Done as Compile.
            _ => Phase::Compile,
        }
    }

    /// The monitor's lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Startup => "startup",
            Phase::Blocked => "blocked",
            Phase::Connect => "connect",
            Phase::Preprocess => "preprocess",
            Phase::Send => "send",
            Phase::Compile => "compile",
            Phase::Receive => "receive",
            Phase::Done => "done",
        }
    }
}

/// One record read back from `binstate_<pid>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub pid: u32,
    pub file: String,
    pub host: String,
    pub slot: i32,
    pub phase: Phase,
    /// How long ago the file was last written.
    pub age: std::time::Duration,
}

/// Decodes one record; `None` for a short file, a wrong size or magic (distccmon skips
/// those too).
pub fn decode(bytes: &[u8]) -> Option<(u32, String, String, i32, Phase)> {
    if bytes.len() < RECORD_LEN {
        return None;
    }
    let word = |at: usize| u64::from_ne_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let int = |at: usize| i32::from_ne_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    if word(0) != RECORD_LEN as u64 || word(8) != MAGIC {
        return None;
    }
    let name = |at: usize| {
        let field = &bytes[at..at + NAME_LEN];
        let end = field.iter().position(|&b| b == 0).unwrap_or(NAME_LEN);
        String::from_utf8_lossy(&field[..end]).into_owned()
    };
    Some((
        word(16) as u32,
        name(24),
        name(152),
        int(280),
        Phase::from_wire(int(284)),
    ))
}

/// distccmon's rule: a record older than this is a leftover.
pub const STALE: std::time::Duration = std::time::Duration::from_secs(60);

/// The running jobs of every client sharing `distcc_dir` (distcc's and distfarm's), as
/// `distccmon-text` reads them: stale and undecodable files are skipped, and so are jobs
/// whose process is gone and jobs already `Done`. Read only: unlike distccmon, a monitor
/// that merely looks removes nothing. Sorted by host, then slot.
pub fn read_all(distcc_dir: &Path) -> Vec<Record> {
    let Ok(entries) = fs::read_dir(distcc_dir.join("state")) else {
        return Vec::new();
    };
    let mut records: Vec<Record> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("binstate_"))
        .filter_map(|e| {
            let age = e
                .metadata()
                .ok()?
                .modified()
                .ok()?
                .elapsed()
                .unwrap_or_default();
            if age > STALE {
                return None;
            }
            let (pid, file, host, slot, phase) = decode(&fs::read(e.path()).ok()?)?;
            let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None)
                != Err(nix::errno::Errno::ESRCH);
            (phase != Phase::Done && alive).then_some(Record {
                pid,
                file,
                host,
                slot,
                phase,
                age,
            })
        })
        .collect();
    records.sort_by(|a, b| a.host.cmp(&b.host).then(a.slot.cmp(&b.slot)));
    records
}

/// Encodes one record in the native LP64 layout.
pub fn encode(pid: u32, file: &str, host: &str, slot: i32, phase: Phase) -> [u8; RECORD_LEN] {
    let mut out = [0u8; RECORD_LEN];
    out[0..8].copy_from_slice(&(RECORD_LEN as u64).to_ne_bytes());
    out[8..16].copy_from_slice(&MAGIC.to_ne_bytes());
    out[16..24].copy_from_slice(&u64::from(pid).to_ne_bytes());
    put_name(&mut out[24..24 + NAME_LEN], file);
    put_name(&mut out[152..152 + NAME_LEN], host);
    out[280..284].copy_from_slice(&slot.to_ne_bytes());
    out[284..288].copy_from_slice(&(phase as i32).to_ne_bytes());
    out
}

/// strlcpy: at most 127 bytes and always NUL-terminated.
fn put_name(field: &mut [u8], text: &str) {
    let bytes = text.as_bytes();
    let n = bytes.len().min(field.len() - 1);
    field[..n].copy_from_slice(&bytes[..n]);
}

/// A source's base name, as distcc's monitor shows it.
pub fn base_name(source: &str) -> String {
    Path::new(source)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// This process's state file; removed when dropped (when the job ends, however it ends).
pub struct StateFile {
    path: PathBuf,
    file: String,
    host: String,
    slot: i32,
}

impl StateFile {
    /// `file` is the source's basename, as distcc shows it.
    pub fn new(distcc_dir: &Path, source: &str) -> io::Result<StateFile> {
        let dir = distcc_dir.join("state");
        fs::create_dir_all(&dir)?;
        let file = base_name(source);
        Ok(StateFile {
            path: dir.join(format!("binstate_{}", std::process::id())),
            file,
            host: "localhost".to_string(),
            slot: 0,
        })
    }

    pub fn set_host(&mut self, host: &str, slot: usize) {
        self.host = host.to_string();
        self.slot = slot as i32;
    }

    /// Rewrites the record. Monitoring is best effort: a failure here never fails a build.
    ///
    /// Overwritten in place at offset 0, never truncated: every record has the same length,
    /// so the file is always one whole record, and ext4 starts writing a file back to disk
    /// when it is closed after a truncation (its `auto_da_alloc`), which cost each job a
    /// flush per phase. Opened each time, as distcc does, so that a file a monitor removed
    /// comes back.
    pub fn phase(&self, phase: Phase) {
        let record = encode(std::process::id(), &self.file, &self.host, self.slot, phase);
        if let Err(e) = overwrite(&self.path, &record) {
            tracing::debug!("cannot write monitor state {}: {e}", self.path.display());
        }
    }
}

fn overwrite(path: &Path, record: &[u8; RECORD_LEN]) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?
        .write_all_at(record, 0)
}

impl Drop for StateFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_has_distccs_lp64_layout() {
        let r = encode(4242, "foo.c", "buildbox", 3, Phase::Compile);
        assert_eq!(u64::from_ne_bytes(r[0..8].try_into().unwrap()), 296);
        assert_eq!(u64::from_ne_bytes(r[8..16].try_into().unwrap()), 0x44494800);
        assert_eq!(u64::from_ne_bytes(r[16..24].try_into().unwrap()), 4242);
        assert_eq!(&r[24..30], b"foo.c\0");
        assert_eq!(&r[152..161], b"buildbox\0");
        assert_eq!(i32::from_ne_bytes(r[280..284].try_into().unwrap()), 3);
        assert_eq!(i32::from_ne_bytes(r[284..288].try_into().unwrap()), 5);
    }

    #[test]
    fn records_read_back_and_bad_ones_are_skipped() {
        let r = encode(4242, "foo.c", "buildbox", 3, Phase::Receive);
        assert_eq!(
            decode(&r),
            Some((4242, "foo.c".into(), "buildbox".into(), 3, Phase::Receive))
        );
        assert_eq!(decode(&r[..200]), None);
        let mut bad = r;
        bad[8] ^= 1;
        assert_eq!(decode(&bad), None);
    }

    #[test]
    fn each_phase_leaves_exactly_one_record() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = StateFile::new(dir.path(), "src/foo.c").unwrap();
        state.phase(Phase::Startup);
        state.set_host("a-much-longer-host-name", 2);
        state.phase(Phase::Compile);
        state.set_host("h", 1);
        state.phase(Phase::Receive);
        let bytes = fs::read(&state.path).unwrap();
        assert_eq!(
            bytes,
            encode(std::process::id(), "foo.c", "h", 1, Phase::Receive)
        );
    }

    #[test]
    fn long_names_are_cut_and_terminated() {
        let long = "x".repeat(300);
        let r = encode(1, &long, &long, 0, Phase::Send);
        assert_eq!(r[24 + 127], 0);
        assert_eq!(r[152 + 126], b'x');
    }
}
