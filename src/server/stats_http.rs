//! `--stats` / `--stats-port`: distccd's statistics page over HTTP (`stats.c
//! dcc_stats_server`). Any request from an allowed address gets the page, whatever it asked
//! (distccd ignores the request); other addresses are closed without an answer. The
//! machine's figures are read from `/proc` at each request, as distccd reads them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

use super::access::AccessList;
use super::client_stats::ClientStats;
use super::stats::{JobStats, MachineState};
use crate::protocol::client_counters;

/// distccd's `--stats-port` default.
pub const DEFAULT_PORT: u16 = 3633;

/// What the page needs besides the counters.
pub struct StatsServer {
    pub stats: Arc<JobStats>,
    /// Per-client counters, answered as JSON to `GET /clients`.
    pub clients: Arc<ClientStats>,
    pub access: AccessList,
    pub max_kids: usize,
    /// Where job directories go: its free space is on the page.
    pub tmpdir: PathBuf,
}

impl StatsServer {
    /// Serves the page on `listener` until the task is dropped; updates the running-jobs
    /// averages once a minute meanwhile.
    pub async fn serve(self, listener: TcpListener) {
        let server = Arc::new(self);
        let ticker = server.clone();
        tokio::spawn(async move {
            let mut minute = tokio::time::interval(Duration::from_secs(60));
            loop {
                minute.tick().await;
                ticker.stats.minute_passed(Instant::now());
            }
        });
        let io = Arc::new(std::sync::Mutex::new(IoRate::default()));
        loop {
            let (stream, addr) = match listener.accept().await {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!("stats: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            if !server.access.allows(addr.ip()) {
                tracing::warn!("stats: {addr} denied by access list");
                continue;
            }
            let server = server.clone();
            let io = io.clone();
            tokio::spawn(async move {
                let page = |request: &[u8]| {
                    if request.starts_with(client_counters::REQUEST_PREFIX) {
                        return client_counters::answer(&server.clients.snapshot());
                    }
                    let machine = MachineState {
                        max_kids: server.max_kids,
                        io_rate: io.lock().unwrap().sample(),
                        ..read_machine(&server.tmpdir)
                    };
                    server.stats.page(&machine, Instant::now())
                };
                if let Err(e) = answer(stream, page).await {
                    tracing::debug!("stats: {addr}: {e}");
                }
            });
        }
    }
}

/// Reads what the client sent (distccd empties the receive queue so that closing does not
/// reset the connection), sends the page it asked for and closes. `GET /clients` (the
/// per-client counters as JSON, distfarm's addition) is answered the same way here and on a
/// session server's counters socket.
pub(super) async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    page: impl FnOnce(&[u8]) -> String,
) -> std::io::Result<()> {
    let mut request = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut request))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or(0);
    stream.write_all(page(&request[..n]).as_bytes()).await?;
    stream.shutdown().await?;
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut request)).await;
    Ok(())
}

/// Everything on the page that comes from the machine, except the I/O rate (which needs the
/// previous sample).
fn read_machine(tmpdir: &Path) -> MachineState {
    let (load, current_load) = load_average();
    let (procs_in_d_state, max_rss_kb, max_rss_name) = process_table();
    MachineState {
        max_kids: 0,
        current_load,
        load,
        procs_in_d_state,
        max_rss_kb,
        max_rss_name,
        io_rate: -1,
        free_space_mb: free_space_mb(tmpdir),
    }
}

/// `/proc/loadavg`: the three averages and the number of running processes (-1 each when
/// unreadable, as distccd).
fn load_average() -> ([f64; 3], i64) {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let fields: Vec<&str> = text.split_whitespace().collect();
    let avg = |i: usize| fields.get(i).and_then(|f| f.parse().ok()).unwrap_or(-1.0);
    let running = fields
        .get(3)
        .and_then(|f| f.split('/').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(-1);
    ([avg(0), avg(1), avg(2)], running)
}

/// `/proc/*/stat`: processes in uninterruptible sleep (`D`), and the largest resident set in
/// KB with its process name in parentheses, as distccd prints it. (distccd means to leave
/// out compilers here, but its check looks at a name that always ends in `)`, so it never
/// does; neither do we.)
fn process_table() -> (i64, i64, String) {
    let page_kb = page_size() / 1024;
    let (mut in_d, mut max_rss, mut max_name) = (0i64, 0i64, String::new());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return (-1, -1, "none".into());
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        // After the name: state is field 3, the resident set (pages) field 24.
        let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let (Some(state), Some(rss)) = (rest.first(), rest.get(21)) else {
            continue;
        };
        if *state == "D" {
            in_d += 1;
        }
        let rss_kb = rss.parse::<i64>().unwrap_or(0) * page_kb;
        if rss_kb > max_rss {
            max_rss = rss_kb;
            max_name = stat[open..=close].to_string();
        }
    }
    (in_d, max_rss, max_name)
}

fn page_size() -> i64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE) {
        Ok(Some(size)) if size > 0 => size,
        _ => 4096,
    }
}

/// Free space for unprivileged users where job directories go, in MB (-1 when unknown).
fn free_space_mb(tmpdir: &Path) -> i64 {
    match nix::sys::statvfs::statvfs(tmpdir) {
        Ok(fs) => {
            let (avail, bsize) = (fs.blocks_available() as i64, fs.block_size() as i64);
            if bsize >= 1024 {
                avail * (bsize / 1024) / 1024
            } else {
                avail * bsize / (1024 * 1024)
            }
        }
        Err(_) => -1,
    }
}

/// distccd's `dcc_io_rate`: sectors read and written per second on the whole disks (`hdX`,
/// `sdX` with a minor number that is a multiple of 64), measured over at least 50 seconds;
/// -1 until there are two samples.
#[derive(Debug, Default)]
struct IoRate {
    last: Option<(Instant, i64)>,
    rate: Option<i64>,
}

impl IoRate {
    fn sample(&mut self) -> i64 {
        let now = Instant::now();
        match self.last {
            Some((then, _)) if now.duration_since(then) <= Duration::from_secs(50) => {}
            previous => {
                let sectors = disk_sectors();
                if let Some((then, before)) = previous {
                    let secs = now.duration_since(then).as_secs().max(1) as i64;
                    self.rate = Some((sectors - before) / secs);
                }
                self.last = Some((now, sectors));
            }
        }
        self.rate.unwrap_or(-1)
    }
}

fn disk_sectors() -> i64 {
    let text = std::fs::read_to_string("/proc/diskstats").unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let minor: i64 = f.get(1)?.parse().ok()?;
            let dev = f.get(2)?;
            let whole_disk = minor % 64 == 0 && (dev.starts_with("hda") || dev.starts_with("sda"));
            if !whole_disk {
                return None;
            }
            let read: i64 = f.get(5)?.parse().ok()?;
            let written: i64 = f.get(9)?.parse().ok()?;
            Some(read + written)
        })
        .sum()
}
