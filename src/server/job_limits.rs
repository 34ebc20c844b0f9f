//! Resource limits every program of a job runs under (`setrlimit` between fork and exec):
//! its address space, its CPU time and the size of any file it writes. A compiler that
//! reaches one is stopped by the kernel, and the answer says which limit it was, so that a
//! runaway or hostile compile (a template bomb, `#include "/dev/zero"` piped to a file, an
//! endless loop in `constexpr`) costs the server a bounded share of its machine.

use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::sys::signal::Signal;

/// Limits per program; `None` leaves the server's own limit in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobLimits {
    /// `RLIMIT_AS`, bytes (`--limit-memory`).
    pub memory: Option<u64>,
    /// `RLIMIT_CPU`, seconds (`--limit-cpu`): the kernel sends `SIGXCPU`, then `SIGKILL`.
    pub cpu_secs: Option<u64>,
    /// `RLIMIT_FSIZE`, bytes (`--limit-output`): object, assembly, captured stdout and
    /// stderr; a larger write fails and the kernel sends `SIGXFSZ`.
    pub output: Option<u64>,
}

/// `--limit-memory`'s default: more than gcc or clang need for any real translation unit
/// (their address space, shared libraries included, stays well under 1 GiB for most).
pub const DEFAULT_MEMORY: u64 = 4 << 30;
/// `--limit-cpu`'s default, seconds.
pub const DEFAULT_CPU_SECS: u64 = 1200;
/// `--limit-output`'s default.
pub const DEFAULT_OUTPUT: u64 = 1 << 30;
/// Seconds between SIGXCPU and SIGKILL for a program at its CPU limit.
const CPU_GRACE_SECS: u64 = 5;

impl Default for JobLimits {
    fn default() -> Self {
        JobLimits {
            memory: Some(DEFAULT_MEMORY),
            cpu_secs: Some(DEFAULT_CPU_SECS),
            output: Some(DEFAULT_OUTPUT),
        }
    }
}

impl JobLimits {
    /// No limit of our own: what the server itself may use.
    pub fn none() -> Self {
        JobLimits {
            memory: None,
            cpu_secs: None,
            output: None,
        }
    }

    /// The hook a child runs before exec. `setrlimit` is one system call: nothing here
    /// allocates or locks, as a hook after fork must not.
    pub fn in_child(self) -> impl FnMut() -> std::io::Result<()> + Send + Sync + 'static {
        move || {
            // The CPU limit's hard value is a little higher: at the soft one the kernel
            // sends SIGXCPU (which the answer can name), at the hard one SIGKILL.
            let limits = [
                (Resource::RLIMIT_AS, self.memory, 0),
                (Resource::RLIMIT_CPU, self.cpu_secs, CPU_GRACE_SECS),
                (Resource::RLIMIT_FSIZE, self.output, 0),
            ];
            for (resource, limit, grace) in limits {
                if let Some(limit) = limit {
                    // Never above what the server itself may have (that would be EPERM).
                    let (_, hard_now) = getrlimit(resource)?;
                    let hard = limit.saturating_add(grace).min(hard_now);
                    setrlimit(resource, limit.min(hard), hard)?;
                }
            }
            Ok(())
        }
    }

    /// What a program killed by `signal` ran into, as the line the client is shown.
    pub fn explain(&self, program: &str, signal: i32) -> String {
        let name = Signal::try_from(signal)
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|_| format!("signal {signal}"));
        let limit = match Signal::try_from(signal) {
            Ok(Signal::SIGXCPU) => self.cpu_secs.map(|s| {
                format!(
                    ": it reached the server's CPU time limit of {s} s per program (--limit-cpu)"
                )
            }),
            Ok(Signal::SIGXFSZ) => self.output.map(|b| {
                format!(
                    ": it reached the server's limit of {} on any file it writes \
                     (--limit-output)",
                    size(b)
                )
            }),
            _ => None,
        };
        format!(
            "distfarm server: {program} was killed by signal {signal} ({name}){}\n",
            limit.unwrap_or_default()
        )
    }

    /// When a failed compiler's messages say it ran out of memory, the line that names the
    /// server's limit (gcc: "out of memory allocating", "virtual memory exhausted"; clang:
    /// "LLVM ERROR: out of memory"; both: "Cannot allocate memory").
    pub fn explain_memory(&self, stderr: &[u8]) -> Option<String> {
        let limit = self.memory?;
        let text = String::from_utf8_lossy(stderr).to_ascii_lowercase();
        let out_of_memory = [
            "out of memory",
            "memory exhausted",
            "cannot allocate memory",
        ]
        .iter()
        .any(|needle| text.contains(needle));
        out_of_memory.then(|| {
            format!(
                "distfarm server: the compiler ran out of memory under the server's limit of {} \
                 of address space per program (--limit-memory)\n",
                size(limit)
            )
        })
    }
}

/// `4 GiB`, `512 MiB`, `1000 bytes`.
fn size(bytes: u64) -> String {
    if bytes >= 1 << 30 && bytes.is_multiple_of(1 << 30) {
        format!("{} GiB", bytes >> 30)
    } else if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_signals_name_the_limit_and_its_option() {
        let limits = JobLimits::default();
        let cpu = limits.explain("cc1", Signal::SIGXCPU as i32);
        assert!(
            cpu.contains("SIGXCPU") && cpu.contains("--limit-cpu"),
            "{cpu}"
        );
        let file = limits.explain("as", Signal::SIGXFSZ as i32);
        assert!(
            file.contains("1 GiB") && file.contains("--limit-output"),
            "{file}"
        );
        let kill = limits.explain("gcc", 9);
        assert!(
            kill.contains("signal 9 (SIGKILL)") && !kill.contains("limit"),
            "{kill}"
        );
    }

    #[test]
    fn out_of_memory_messages_name_the_memory_limit() {
        let limits = JobLimits::default();
        let said = limits
            .explain_memory(b"cc1: out of memory allocating 65536 bytes after a total of 0 bytes")
            .unwrap();
        assert!(
            said.contains("4 GiB") && said.contains("--limit-memory"),
            "{said}"
        );
        assert!(
            limits
                .explain_memory(b"foo.c:1: error: expected ';'")
                .is_none()
        );
        assert!(JobLimits::none().explain_memory(b"out of memory").is_none());
    }
}
