//! Hostile requests against a `distfarm serve` under test: a [`Case`] is an attack whose
//! command line is built for a canary directory, sent over TCP and checked to be refused
//! (STAT 113, stderr naming what was refused, a log line naming the client) with its canary
//! left empty; with `control`, the same command run locally must write its control canary.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use super::canary::{Traps, canary_files};
use super::distfarm_server::{DistfarmServer, assert_no_job_directories};
use super::process::Cmd;
use super::wire::{
    HONEST_ARGV, assert_compiled, compile, exchange, request_bytes, stderr_text, try_parse_response,
};
use distfarm::protocol::{Response, Version};

/// `W_EXITCODE(113, 0)`: distcc's EXIT_ACCESS_DENIED, what a refusal carries in STAT.
pub const REFUSED_STATUS: u32 = 113 << 8;

/// A small C source, preprocessed, that any honest compile accepts.
pub const HELLO: &[u8] = b"# 0 \"foo.c\"\nint printf(const char *, ...);\n\
    int main(void) { for (int i = 0; i < 3; i++) printf(\"%d\\n\", i); return 0; }\n";

/// What every test ends with: the server is alive, an honest job still compiles, and no
/// `distfarm_*` job directory was left behind in its TMPDIR.
#[track_caller]
pub fn assert_still_serves_and_left_nothing(server: &mut DistfarmServer) {
    assert!(server.is_running(), "the server died:\n{}", server.log());
    for version in [Version::V1, Version::V2] {
        let (response, _) = compile(server.port(), version, &HONEST_ARGV, HELLO);
        assert_compiled(&response, "an honest job after the hostile ones");
    }
    assert_no_job_directories(server.tmpdir());
}

/// A server whose compilers run unconfined, so that what these tests see is the refusal
/// rules alone: a canary a hostile program writes is not stopped by Landlock first. (The
/// confinement has its own test in `server_hostile`.)
pub fn unconfined(args: &[&str]) -> DistfarmServer {
    DistfarmServer::builder()
        .args(args)
        .env("DISTFARM_CONFINE", "0")
        .start()
}

pub fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// Whether /etc/passwd (its first line, or the assembler quoting its lines) is in the answer.
pub fn leaks_passwd(response: &Response) -> bool {
    let needles: [&[u8]; 2] = [b"root:x:0:0", b"/etc/passwd:"];
    [&response.object, &response.stderr, &response.stdout]
        .iter()
        .any(|body| {
            needles
                .iter()
                .any(|n| body.windows(n.len()).any(|w| w == *n))
        })
}

/// A failed job whose stderr says what was refused, no object, and a log line that names the
/// client's address.
#[track_caller]
pub fn assert_refused(
    server: &DistfarmServer,
    response: &Response,
    addr: SocketAddr,
    needle: &str,
    case: &str,
) {
    if let Err(e) = check_refused(server, response, addr, needle, case) {
        panic!("{e}");
    }
}

fn check_refused(
    server: &DistfarmServer,
    response: &Response,
    addr: SocketAddr,
    needle: &str,
    case: &str,
) -> Result<(), String> {
    let stderr = stderr_text(response);
    if response.status != REFUSED_STATUS {
        return Err(format!(
            "{case}: expected a refusal (STAT {REFUSED_STATUS:#x}, exit 113), got STAT {:#x}; \
             stderr: {stderr}",
            response.status
        ));
    }
    if !(stderr.starts_with("distfarm server refused") && stderr.contains(needle)) {
        return Err(format!(
            "{case}: the refusal should name {needle:?}: {stderr}"
        ));
    }
    if !response.object.is_empty() {
        return Err(format!("{case}: a refusal carries no object"));
    }
    let logged = format!("client: {addr} distfarm server refused");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !server.log().contains(&logged) {
        if Instant::now() >= deadline {
            return Err(format!("{case}: the log never said {logged:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Builds an attack's command line for a given canary directory.
pub type ArgvFor = Box<dyn Fn(&Path) -> Vec<String>>;

/// One hostile request: `argv` is built for a given canary directory, so that the same
/// attack can be aimed at the server's canary and at the local control's.
pub struct Case {
    name: &'static str,
    argv: ArgvFor,
    source: Vec<u8>,
    /// What the refusal must name.
    refused: String,
    /// Run the same command locally (as root, with gcc) and expect the control canary to be
    /// written: proof that the request is a real attack.
    control: bool,
}

impl Case {
    pub fn new(
        name: &'static str,
        refused: &str,
        control: bool,
        argv: impl Fn(&Path) -> Vec<String> + 'static,
    ) -> Case {
        Case {
            name,
            argv: Box::new(argv),
            source: HELLO.to_vec(),
            refused: refused.to_string(),
            control,
        }
    }

    pub fn with_source(mut self, source: &[u8]) -> Case {
        self.source = source.to_vec();
        self
    }
}

/// `gcc <words…> -c foo.c -o foo.o` with `{}` in each word replaced by the canary directory.
pub fn gcc_with(words: &[&str], canary: &Path) -> Vec<String> {
    let mut argv = vec!["gcc".to_string()];
    argv.extend(
        words
            .iter()
            .map(|w| w.replace("{}", &canary.display().to_string())),
    );
    argv.extend(strings(&["-c", "foo.c", "-o", "foo.o"]));
    argv
}

/// Sends every case to the server over TCP and checks it was refused with nothing written,
/// then runs the controls. Failures are gathered so that one report shows all of them.
pub fn run_cases(server: &DistfarmServer, traps: &Traps, cases: &[Case]) -> Vec<String> {
    let mut failures = Vec::new();
    for case in cases {
        let canary = traps.canary(case.name);
        let argv = (case.argv)(&canary);
        let bytes = request_bytes(Version::V1, &argv, &case.source);
        let reply = exchange(server.port(), &bytes, false);
        let result = try_parse_response(&reply.bytes, Version::V1).and_then(|response| {
            if leaks_passwd(&response) {
                return Err(format!(
                    "/etc/passwd in the answer: {}",
                    stderr_text(&response)
                ));
            }
            check_refused(server, &response, reply.addr, &case.refused, case.name)
        });
        if let Err(e) = result {
            failures.push(format!("{} {argv:?}: {e}", case.name));
        }
        let written = canary_files(&canary);
        if !written.is_empty() {
            failures.push(format!(
                "{} {argv:?}: the attack ran on the server, canary written: {written:?}",
                case.name
            ));
        }
        if case.control {
            let control = traps.canary(&format!("{}-control", case.name));
            run_locally(&(case.argv)(&control), &case.source);
            let written = canary_files(&control);
            assert!(
                !written.is_empty(),
                "{}: the control (the same command run locally) wrote nothing into {}: the \
                 case does not test what it claims",
                case.name,
                control.display()
            );
        }
    }
    failures
}

/// The command a request asks for, run here in a scratch directory with the source as `.i`
/// (what the server compiles). Its exit status does not matter, only what it wrote.
fn run_locally(argv: &[String], source: &[u8]) {
    let scratch = tempfile::tempdir().unwrap();
    std::fs::write(scratch.path().join("foo.i"), source).unwrap();
    let args: Vec<String> = argv[1..]
        .iter()
        .map(|a| {
            if a == "foo.c" {
                "foo.i".to_string()
            } else {
                a.clone()
            }
        })
        .collect();
    let _ = Cmd::new(&argv[0])
        .args(&args)
        .current_dir(scratch.path())
        .timeout(Duration::from_secs(60))
        .output_unchecked();
}

#[track_caller]
pub fn assert_no_failures(failures: Vec<String>, what: &str) {
    assert!(
        failures.is_empty(),
        "{what}: {} case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
