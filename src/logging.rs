//! tracing set-up shared by every role.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use tracing::Level;

/// distccd's `--log-level` names mapped onto tracing levels.
pub fn parse_level(name: &str) -> Option<Level> {
    Some(match name {
        "emerg" | "emergency" | "alert" | "crit" | "critical" | "err" | "error" => Level::ERROR,
        "warn" | "warning" => Level::WARN,
        "notice" | "info" => Level::INFO,
        "debug" => Level::DEBUG,
        _ => return None,
    })
}

pub enum Sink<'a> {
    Stderr,
    File(&'a Path),
}

/// Installs the global subscriber. A log file that cannot be opened falls back to stderr
/// with an error, like distcc.
pub fn init(level: Level, sink: Sink<'_>) {
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .with_ansi(false);
    let file = match sink {
        Sink::Stderr => None,
        Sink::File(path) => open_log(path).map(|file| {
            let log = LogFile {
                path: path.to_path_buf(),
                file: Arc::new(Mutex::new(file)),
            };
            let _ = LOG_FILE.set(log.clone());
            log
        }),
    };
    // try_init: a second initialisation (tests, or a role calling another) is harmless.
    let _ = match file {
        Some(log) => builder.with_writer(log).try_init(),
        None => builder.with_writer(std::io::stderr).try_init(),
    };
}

/// The `--log-file` in use, which `reopen` can replace.
static LOG_FILE: OnceLock<LogFile> = OnceLock::new();

/// A log file that can be opened again by name: after logrotate has moved it away, SIGHUP
/// makes the server write to a new file of the same name.
#[derive(Clone)]
struct LogFile {
    path: PathBuf,
    file: Arc<Mutex<std::fs::File>>,
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogFile {
    type Writer = LogWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LogWriter(self.file.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

struct LogWriter<'a>(std::sync::MutexGuard<'a, std::fs::File>);

impl std::io::Write for LogWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Opens the log file again by its name (SIGHUP), when logging goes to one. If it cannot be
/// opened, logging goes on to the old file and says why there.
pub fn reopen() {
    let Some(log) = LOG_FILE.get() else {
        return;
    };
    let opened = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log.path);
    match opened {
        Ok(file) => {
            *log.file.lock().unwrap_or_else(|e| e.into_inner()) = file;
            tracing::info!("log file {} opened again", log.path.display());
        }
        Err(e) => tracing::error!(
            "cannot open the log file {} again: {e}; still logging to the old one",
            log.path.display()
        ),
    }
}

/// Opens a log file for appending; if it cannot be, says so and logs to stderr instead,
/// like distcc.
fn open_log(path: &Path) -> Option<std::fs::File> {
    match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        Ok(file) => Some(file),
        Err(e) => {
            eprintln!(
                "distfarm[{}] ERROR: failed to open logfile {}: {e}; logging to stderr",
                std::process::id(),
                path.display()
            );
            None
        }
    }
}

/// The wrapper's messages land in a build log between compiler messages, so they look like
/// distcc's: `distfarm[PID] Warning: text`, no timestamps.
pub fn init_wrapper(level: Level, log_file: Option<&Path>) {
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .event_format(WrapperFormat);
    let file = log_file.and_then(open_log);
    let _ = match file {
        Some(file) => builder.with_writer(std::sync::Mutex::new(file)).try_init(),
        None => builder.with_writer(std::io::stderr).try_init(),
    };
}

struct WrapperFormat;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for WrapperFormat
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let severity = match *event.metadata().level() {
            Level::ERROR => "ERROR: ",
            Level::WARN => "Warning: ",
            _ => "",
        };
        write!(writer, "distfarm[{}] {severity}", std::process::id())?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}
