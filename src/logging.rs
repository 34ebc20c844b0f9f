//! tracing set-up shared by every role.

use std::path::Path;

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
        Sink::File(path) => open_log(path),
    };
    // try_init: a second initialisation (tests, or a role calling another) is harmless.
    let _ = match file {
        Some(file) => builder.with_writer(std::sync::Mutex::new(file)).try_init(),
        None => builder.with_writer(std::io::stderr).try_init(),
    };
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
