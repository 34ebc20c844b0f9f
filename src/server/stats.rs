//! distccd's job statistics (`stats.c`): counters per result class, the longest job, how many
//! compiles ran lately and how many at once. Kept by every server; served over HTTP with
//! `--stats` (`stats_http`). The page is distccd's, field for field, plus the result
//! cache's counters (`dcc_cache_*`) when the server has one.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::cache::CacheCounters;
use super::connection::ResultClass;

/// distccd's `stats_e` order: the counters as the page lists them.
const TCP_ACCEPT: usize = 0;
const REJ_BAD_REQ: usize = 1;
const REJ_OVERLOAD: usize = 2;
const COMPILE_OK: usize = 3;
const COMPILE_ERROR: usize = 4;
const COMPILE_TIMEOUT: usize = 5;
const CLI_DISCONN: usize = 6;
const OTHER: usize = 7;

#[derive(Debug, Default)]
pub struct JobStats {
    state: Mutex<State>,
    /// The result cache's counters, when there is a cache.
    cache: std::sync::OnceLock<std::sync::Arc<CacheCounters>>,
}

#[derive(Debug)]
struct State {
    counters: [u64; 8],
    /// Milliseconds, file and compiler of the longest successful job; -1 before any.
    longest_ms: i64,
    longest_file: String,
    longest_compiler: String,
    /// Start and end of the successful jobs of the last two minutes (for the averages of
    /// jobs running at once).
    recent_ok: VecDeque<(Instant, Instant)>,
    /// When each job that used the CPU (ok, error, timeout, disconnect) ended, last 15 min.
    finished: VecDeque<Instant>,
    /// Jobs running at once, averaged over 1, 5 and 15 minutes.
    kids_avg: [i64; 3],
    last_5: [i64; 5],
    last_15: [i64; 15],
    minutes: usize,
}

impl Default for State {
    fn default() -> Self {
        State {
            counters: [0; 8],
            longest_ms: -1,
            longest_file: String::new(),
            longest_compiler: String::new(),
            recent_ok: VecDeque::new(),
            finished: VecDeque::new(),
            kids_avg: [0; 3],
            last_5: [0; 5],
            last_15: [0; 15],
            minutes: 0,
        }
    }
}

/// What the page shows besides the job counters: the machine's state at the request.
#[derive(Debug, Clone, PartialEq)]
pub struct MachineState {
    pub max_kids: usize,
    pub current_load: i64,
    pub load: [f64; 3],
    pub procs_in_d_state: i64,
    pub max_rss_kb: i64,
    pub max_rss_name: String,
    pub io_rate: i64,
    pub free_space_mb: i64,
}

impl JobStats {
    /// Shows the result cache's counters on the page too.
    pub fn show_cache(&self, counters: std::sync::Arc<CacheCounters>) {
        let _ = self.cache.set(counters);
    }

    /// A connection was accepted (counted before the allow-list check, as distccd does).
    pub fn accepted(&self) {
        self.state.lock().unwrap().counters[TCP_ACCEPT] += 1;
    }

    /// A connection ended in `class`; `job` is its compiler and source file when the request
    /// got that far.
    pub fn record(
        &self,
        class: ResultClass,
        job: Option<(&str, &str)>,
        started: Instant,
        ended: Instant,
    ) {
        let mut state = self.state.lock().unwrap();
        let index = match class {
            ResultClass::CompileOk => COMPILE_OK,
            ResultClass::CompileError => COMPILE_ERROR,
            ResultClass::CompileTimeout => COMPILE_TIMEOUT,
            ResultClass::ClientDisconnect => CLI_DISCONN,
            ResultClass::BadRequest => REJ_BAD_REQ,
            ResultClass::Refused | ResultClass::Other => OTHER,
        };
        state.counters[index] += 1;
        if class == ResultClass::CompileOk {
            let ms = ended.duration_since(started).as_millis() as i64;
            if ms > state.longest_ms {
                let (compiler, file) = job.unwrap_or(("", ""));
                state.longest_ms = ms;
                state.longest_file = file.to_string();
                state.longest_compiler = compiler.to_string();
            }
            state.recent_ok.push_front((started, ended));
            while state
                .recent_ok
                .back()
                .is_some_and(|(_, stop)| ended.duration_since(*stop) > Duration::from_secs(120))
            {
                state.recent_ok.pop_back();
            }
        }
        // distccd counts these in its compile totals: they all taxed the CPU.
        if matches!(
            index,
            COMPILE_OK | COMPILE_ERROR | COMPILE_TIMEOUT | CLI_DISCONN
        ) {
            state.finished.push_back(ended);
        }
    }

    /// Once a minute (distccd's `dcc_stats_calc_kid_avg`): how many successful jobs ran at
    /// once, second by second, between two minutes and one minute ago (jobs are only known
    /// once they end), and the 5- and 15-minute averages of that.
    pub fn minute_passed(&self, now: Instant) {
        let mut state = self.state.lock().unwrap();
        let mut total = 0i64;
        for t in 60..120 {
            let Some(moment) = now.checked_sub(Duration::from_secs(t)) else {
                continue;
            };
            total += state
                .recent_ok
                .iter()
                .filter(|(start, stop)| *start <= moment && *stop >= moment)
                .count() as i64;
        }
        let avg = total / 60;
        let minute = state.minutes;
        state.kids_avg[0] = avg;
        state.last_5[minute % 5] = avg;
        state.last_15[minute % 15] = avg;
        state.kids_avg[1] = state.last_5.iter().sum::<i64>() / 5;
        state.kids_avg[2] = state.last_15.iter().sum::<i64>() / 15;
        state.minutes += 1;
    }

    /// The page as distccd 3.4 sends it: an HTTP/1.0 header and `key value` lines, `\n`
    /// line ends.
    pub fn page(&self, machine: &MachineState, now: Instant) -> String {
        let mut state = self.state.lock().unwrap();
        while state
            .finished
            .front()
            .is_some_and(|t| now.duration_since(*t) > Duration::from_secs(900))
        {
            state.finished.pop_front();
        }
        let compiles_within = |secs: u64| {
            state
                .finished
                .iter()
                .filter(|t| now.duration_since(**t) <= Duration::from_secs(secs))
                .count()
        };
        let or_none = |s: &str| {
            if s.is_empty() {
                "none".to_string()
            } else {
                s.to_string()
            }
        };
        let c = &state.counters;
        let page = format!(
            "HTTP/1.0 200 OK\n\
             Content-Type: text/plain\n\
             Connection: close\n\n\
             argv /distccd\n\
             <distccstats>\n\
             dcc_tcp_accept {}\n\
             dcc_rej_bad_req {}\n\
             dcc_rej_overload {}\n\
             dcc_compile_ok {}\n\
             dcc_compile_error {}\n\
             dcc_compile_timeout {}\n\
             dcc_cli_disconnect {}\n\
             dcc_other {}\n\
             dcc_longest_job {}\n\
             dcc_longest_job_compiler {}\n\
             dcc_longest_job_time_msecs {}\n\
             dcc_max_kids {}\n\
             dcc_avg_kids1 {}\n\
             dcc_avg_kids2 {}\n\
             dcc_avg_kids3 {}\n\
             dcc_current_load {}\n\
             dcc_load1 {:.2}\n\
             dcc_load2 {:.2}\n\
             dcc_load3 {:.2}\n\
             dcc_num_compiles1 {}\n\
             dcc_num_compiles2 {}\n\
             dcc_num_compiles3 {}\n\
             dcc_num_procstate_D {}\n\
             dcc_max_RSS {}\n\
             dcc_max_RSS_name {}\n\
             dcc_io_rate {}\n\
             dcc_free_space {} MB\n",
            c[TCP_ACCEPT],
            c[REJ_BAD_REQ],
            c[REJ_OVERLOAD],
            c[COMPILE_OK],
            c[COMPILE_ERROR],
            c[COMPILE_TIMEOUT],
            c[CLI_DISCONN],
            c[OTHER],
            or_none(&state.longest_file),
            or_none(&state.longest_compiler),
            state.longest_ms,
            machine.max_kids,
            state.kids_avg[0],
            state.kids_avg[1],
            state.kids_avg[2],
            machine.current_load,
            machine.load[0],
            machine.load[1],
            machine.load[2],
            compiles_within(60),
            compiles_within(300),
            compiles_within(900),
            machine.procs_in_d_state,
            machine.max_rss_kb,
            machine.max_rss_name,
            machine.io_rate,
            machine.free_space_mb,
        );
        page + &self.cache_lines() + "</distccstats>\n"
    }

    /// The cache's lines, in the page's `key value` form; none without a cache.
    fn cache_lines(&self) -> String {
        let Some(counters) = self.cache.get() else {
            return String::new();
        };
        let f = counters.figures();
        format!(
            "dcc_cache_hits {}\n\
             dcc_cache_misses {}\n\
             dcc_cache_stored {}\n\
             dcc_cache_dropped {}\n\
             dcc_cache_evicted {}\n\
             dcc_cache_bytes {}\n",
            f.hits, f.misses, f.stored, f.dropped, f.evicted, f.bytes
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> MachineState {
        MachineState {
            max_kids: 4,
            current_load: 2,
            load: [0.5, 1.0, 1.25],
            procs_in_d_state: 0,
            max_rss_kb: 1024,
            max_rss_name: "(rustc)".into(),
            io_rate: -1,
            free_space_mb: 900,
        }
    }

    #[test]
    fn a_fresh_page_has_distccds_fields_in_order_with_none_and_minus_one() {
        let page = JobStats::default().page(&machine(), Instant::now());
        let (header, body) = page.split_once("\n\n").unwrap();
        assert_eq!(
            header,
            "HTTP/1.0 200 OK\nContent-Type: text/plain\nConnection: close"
        );
        let keys: Vec<&str> = body.lines().map(|l| l.split(' ').next().unwrap()).collect();
        assert_eq!(keys.first(), Some(&"argv"));
        assert_eq!(keys[1], "<distccstats>");
        assert_eq!(keys.last(), Some(&"</distccstats>"));
        assert_eq!(keys.len(), 2 + 27 + 1);
        for line in [
            "dcc_longest_job none",
            "dcc_longest_job_compiler none",
            "dcc_longest_job_time_msecs -1",
            "dcc_max_kids 4",
            "dcc_load2 1.00",
            "dcc_load3 1.25",
            "dcc_max_RSS_name (rustc)",
            "dcc_free_space 900 MB",
        ] {
            assert!(body.lines().any(|l| l == line), "{line} in\n{body}");
        }
    }

    #[test]
    fn jobs_are_counted_by_class_and_the_longest_success_is_kept() {
        let stats = JobStats::default();
        let t0 = Instant::now();
        stats.accepted();
        stats.accepted();
        stats.accepted();
        stats.record(
            ResultClass::CompileOk,
            Some(("gcc", "a.c")),
            t0,
            t0 + Duration::from_millis(40),
        );
        stats.record(
            ResultClass::CompileOk,
            Some(("clang", "b.c")),
            t0,
            t0 + Duration::from_millis(10),
        );
        stats.record(ResultClass::CompileError, None, t0, t0);
        stats.record(ResultClass::Refused, None, t0, t0);
        let page = stats.page(&machine(), t0 + Duration::from_millis(50));
        for line in [
            "dcc_tcp_accept 3",
            "dcc_compile_ok 2",
            "dcc_compile_error 1",
            "dcc_other 1",
            "dcc_longest_job a.c",
            "dcc_longest_job_compiler gcc",
            "dcc_longest_job_time_msecs 40",
            "dcc_num_compiles1 3",
            "dcc_num_compiles3 3",
        ] {
            assert!(page.lines().any(|l| l == line), "{line} in\n{page}");
        }
    }

    #[test]
    fn a_server_with_a_cache_adds_its_counters_at_the_end_of_the_page() {
        let stats = JobStats::default();
        let plain = stats.page(&machine(), Instant::now());
        assert!(!plain.contains("dcc_cache"), "{plain}");
        stats.show_cache(Default::default());
        let page = stats.page(&machine(), Instant::now());
        assert!(
            page.ends_with(
                "dcc_free_space 900 MB\ndcc_cache_hits 0\ndcc_cache_misses 0\n\
                 dcc_cache_stored 0\ndcc_cache_dropped 0\ndcc_cache_evicted 0\n\
                 dcc_cache_bytes 0\n</distccstats>\n"
            ),
            "{page}"
        );
    }

    #[test]
    fn running_jobs_are_averaged_over_the_minute_before_last() {
        let stats = JobStats::default();
        let t0 = Instant::now();
        // Two jobs that each ran through the whole minute-before-last.
        for _ in 0..2 {
            stats.record(
                ResultClass::CompileOk,
                None,
                t0,
                t0 + Duration::from_secs(70),
            );
        }
        stats.minute_passed(t0 + Duration::from_secs(125));
        let page = stats.page(&machine(), t0 + Duration::from_secs(125));
        assert!(page.contains("dcc_avg_kids1 2\n"), "{page}");
    }
}
