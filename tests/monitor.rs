//! `distfarm mon`: a slow compile seen by `mon` (text and JSON) and by the real
//! `distccmon-text` at the same time; the JSON document's shape; the summary a build gets
//! with `DISTFARM_SUMMARY=1`, its numbers checked against the build's; and `mon` with
//! nothing to look at.
//!
//! The farm is the in-process russh server (`TestSshServer`) with distfarm as its
//! `distccd`, reached through the agent the wrappers start. A compile is made slow on the
//! client side: a `gcc` first on `PATH` that sleeps before it preprocesses (`-E`), so the
//! job holds its slot and channel while the monitors look.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::support::known_compiler::gcc_known_on;
use crate::support::procs::{agent_pids, kill};
use crate::support::russh_server::start_farmhost;
use crate::support::{
    ChildGuard, Cmd, TestSshServer, distfarm_bin, fixture_path, free_port, read_text, require,
    set_mode, temp_dir, test_path, text, wait_for, write_script,
};

/// How long the slow preprocessor sleeps.
const SLOW_CPP_SECONDS: u32 = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_compile_is_seen_by_mon_text_json_and_distccmon_text_at_once() {
    let farm = MonFarm::start("mon-slow").await;
    blocking(move || {
        let mut job = farm.spawn_slow_hello();
        let logs = || farm.logs();

        // All three see the job while it runs.
        let line = wait_for(
            "distfarm mon to show hello.c on farmhost",
            Duration::from_secs(20),
            || {
                let out = farm.mon(&[]);
                out.lines()
                    .find(|l| l.contains("hello.c") && l.contains("farmhost"))
                    .map(String::from)
            },
            logs,
        );
        assert!(
            line.trim_start().starts_with(&job.id().to_string()),
            "mon's job line starts with the wrapper's pid {}: {line:?}",
            job.id()
        );
        let json = farm.mon_json();
        let jobs = json["jobs"].as_array().unwrap();
        let running = jobs
            .iter()
            .find(|j| j["file"] == "hello.c")
            .unwrap_or_else(|| panic!("no hello.c job in {json:#}"));
        assert_eq!(running["pid"], job.id());
        assert_eq!(running["host"], "farmhost");
        assert_eq!(running["seen_by"], "agent", "{json:#}");
        assert!(
            ["connect", "send", "preprocess", "compile"]
                .contains(&running["phase"].as_str().unwrap()),
            "{running:#}"
        );
        let host = farm_host(&json);
        assert_eq!(host["busy"], 1, "{host:#}");
        assert_eq!(host["limit"], 8);
        assert_eq!(host["transport"], "ssh");
        assert!(json["agent"]["pid"].as_u64().is_some(), "{json:#}");
        let distccmon = farm.distccmon_text();
        let seen = distccmon
            .lines()
            .find(|l| l.contains("hello.c"))
            .unwrap_or_else(|| panic!("distccmon-text does not show hello.c:\n{distccmon}"));
        assert!(
            seen.contains("farmhost") && seen.trim_start().starts_with(&job.id().to_string()),
            "{seen:?}"
        );

        let status = job
            .wait_timeout(Duration::from_secs(60))
            .unwrap_or_else(|| panic!("the slow compile did not finish\n{}", logs()));
        assert!(status.success(), "{status:?}\n{}", logs());

        // Afterwards: the job is gone, and counted.
        let json = farm.mon_json();
        assert_eq!(json["jobs"], Value::Array(vec![]), "{json:#}");
        let host = farm_host(&json);
        assert_eq!(host["done"], 1, "{host:#}");
        assert_eq!(host["failed"], 0);
        assert_eq!(host["busy"], 0);
        assert_eq!(host["remote_end"], "session server");
        assert!(host["bytes_sent"].as_u64().unwrap() > 200, "{host:#}");
        assert!(host["bytes_received"].as_u64().unwrap() > 100, "{host:#}");
        assert!(host["median_job_ms"].as_u64().is_some(), "{host:#}");
        assert!(
            host["median_channel_open_us"]
                .as_u64()
                .is_some_and(|us| us > 0),
            "the agent times the channel it opened: {host:#}"
        );
        let text = farm.mon(&[]);
        assert!(text.contains("queue: 0"), "{text}");
        assert!(!farm.distccmon_text().contains("hello.c"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_document_has_its_documented_shape() {
    let farm = MonFarm::start("mon-json").await;
    blocking(move || {
        let mut job = farm.spawn_slow_hello();
        wait_for(
            "the agent to carry the job",
            Duration::from_secs(20),
            || {
                let json = farm.mon_json();
                (json["jobs"].as_array().is_some_and(|j| !j.is_empty())).then_some(())
            },
            || farm.logs(),
        );
        let json = farm.mon_json();
        check_document_shape(&json);
        job.wait_timeout(Duration::from_secs(60)).expect("finished");
        check_document_shape(&farm.mon_json());
    })
    .await;
}

/// The keys and types docs/mon-json.md promises.
fn check_document_shape(doc: &Value) {
    use Kind::*;
    expect(doc, "version", Num);
    assert_eq!(doc["version"], 1);
    for (key, kind) in [
        ("at_unix_ms", Num),
        ("distcc_dir", Str),
        ("agent", Obj),
        ("queued", Num),
        ("hosts", Arr),
        ("jobs", Arr),
        ("builds", Arr),
        ("note", Null),
    ] {
        expect(doc, key, kind);
    }
    expect(&doc["agent"], "pid", Num);
    expect(&doc["agent"], "uptime_ms", Num);
    for host in doc["hosts"].as_array().unwrap() {
        for (key, kind) in [
            ("spec", Str),
            ("name", Str),
            ("transport", Str),
            ("limit", Num),
            ("busy", Num),
            ("done", Num),
            ("compile_errors", Num),
            ("failed", Num),
            ("refused", Num),
            ("bytes_sent", Num),
            ("bytes_received", Num),
        ] {
            expect(host, key, kind);
        }
        for key in ["remote_end", "last_problem"] {
            expect_either(host, key, Str);
        }
        for key in ["backoff_left_ms", "median_job_ms", "median_channel_open_us"] {
            expect_either(host, key, Num);
        }
    }
    for job in doc["jobs"].as_array().unwrap() {
        for (key, kind) in [
            ("pid", Num),
            ("phase", Str),
            ("file", Str),
            ("elapsed_ms", Num),
            ("seen_by", Str),
        ] {
            expect(job, key, kind);
        }
        expect_either(job, "host", Str);
        expect_either(job, "slot", Num);
    }
    // And it reads back into the type that wrote it.
    let back: distfarm::monitor::farm::FarmView =
        serde_json::from_value(doc.clone()).expect("the document reads back");
    assert_eq!(back.version, distfarm::monitor::farm::VERSION);
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Num,
    Str,
    Obj,
    Arr,
    Null,
}

#[track_caller]
fn expect(value: &Value, key: &str, kind: Kind) {
    let field = value
        .get(key)
        .unwrap_or_else(|| panic!("no {key:?} in {value:#}"));
    let ok = match kind {
        Kind::Num => field.is_u64(),
        Kind::Str => field.is_string(),
        Kind::Obj => field.is_object(),
        Kind::Arr => field.is_array(),
        Kind::Null => field.is_null(),
    };
    assert!(ok, "{key:?} should be {kind:?}: {field}");
}

/// The value, or null.
#[track_caller]
fn expect_either(value: &Value, key: &str, kind: Kind) {
    if !value.get(key).is_some_and(Value::is_null) {
        expect(value, key, kind);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_build_summary_counts_what_the_build_did() {
    let make = require("make", "make");
    let farm = MonFarm::start("mon-summary").await;
    blocking(move || {
        // Three compiles on the farm, one local from the start (autoconf's conftest.c), one
        // that falls back (its only host refuses connections).
        let dead = format!("127.0.0.1:{}/1", free_port());
        let build = farm.path("build");
        std::fs::create_dir(&build).unwrap();
        for name in ["a", "b", "c", "d", "conftest"] {
            std::fs::copy(fixture_path("hello.c"), build.join(format!("{name}.c"))).unwrap();
        }
        std::fs::copy(fixture_path("hello.h"), build.join("hello.h")).unwrap();
        std::fs::write(
            build.join("Makefile"),
            format!(
                "all: a.o b.o c.o d.o conftest.o\n\
                 a.o b.o c.o conftest.o: %.o: %.c\n\t$(CC) -O2 -c $< -o $@\n\
                 d.o: d.c\n\tDISTCC_HOSTS='{dead}' $(CC) -O2 -c d.c -o d.o\n"
            ),
        )
        .unwrap();
        let cc = format!("{} gcc", distfarm_bin().display());
        let out = farm
            .env(Cmd::new(make))
            .args(["-j3".to_string(), format!("CC={cc}")])
            .current_dir(&build)
            .env("DISTFARM_SUMMARY", "1")
            .env_remove("DISTCC_FALLBACK")
            .env("DISTCC_SKIP_LOCAL_RETRY", "1")
            .output()
            .unwrap_or_else(|e| panic!("{e}\n{}", farm.logs()));
        let make_stderr = text(&out.stderr);
        for name in ["a", "b", "c", "d", "conftest"] {
            assert!(build.join(format!("{name}.o")).exists(), "{make_stderr}");
        }
        // The agent also keeps finished builds for `mon`.
        let summary = wait_for(
            "the agent to finish the build",
            Duration::from_secs(15),
            || {
                let json = farm.mon_json();
                json["builds"]
                    .as_array()
                    .and_then(|b| b.iter().find(|b| b["name"] == "make").cloned())
            },
            || farm.logs(),
        );
        assert_eq!(summary["jobs"], 5, "{summary:#}");
        assert_eq!(summary["remote"], 3, "{summary:#}");
        assert_eq!(summary["local"], 2, "{summary:#}");
        assert_eq!(summary["hosts"], serde_json::json!([["farmhost", 3]]));
        let fallbacks = summary["fallbacks"].as_array().unwrap();
        assert_eq!(fallbacks.len(), 1, "{summary:#}");
        assert_eq!(fallbacks[0][1], 1);
        assert!(
            fallbacks[0][0].as_str().unwrap().starts_with(&dead),
            "the fallback names its host: {summary:#}"
        );
        assert_eq!(
            summary["local_reasons"],
            serde_json::json!([["autoconf test programs are compiled locally", 1]])
        );
        assert!(
            summary["bytes_sent"].as_u64().unwrap() > 3 * 200,
            "{summary:#}"
        );
        let line = summary["line"].as_str().unwrap();
        assert!(
            line.starts_with("distfarm: make[")
                && line.contains("5 jobs, 3 remote (farmhost 3), 2 local"),
            "{line}"
        );
        // The agent opened make's stderr (a pipe here) with the build's first report and
        // kept it open until it wrote the line: make's output ends with it.
        assert!(
            make_stderr.lines().any(|l| l == line),
            "make's stderr should carry the summary line {line:?}:\n{make_stderr}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_line_goes_to_the_builds_stderr() {
    let make = require("make", "make");
    let farm = MonFarm::start("mon-summary-line").await;
    blocking(move || {
        let build = farm.path("build");
        std::fs::create_dir(&build).unwrap();
        for name in ["a", "b"] {
            std::fs::copy(fixture_path("hello.c"), build.join(format!("{name}.c"))).unwrap();
        }
        std::fs::copy(fixture_path("hello.h"), build.join("hello.h")).unwrap();
        std::fs::write(
            build.join("Makefile"),
            "all: a.o b.o\n%.o: %.c\n\t$(CC) -O2 -c $< -o $@\n",
        )
        .unwrap();
        // make's stderr is a file: the agent appends to it after make exited.
        let log = farm.path("make.log");
        let cc = format!("{} gcc", distfarm_bin().display());
        let shell = format!(
            "make -j2 'CC={cc}' 2>>{log}; echo MAKE-EXITED >>{log}",
            log = log.display()
        );
        let _ = make;
        farm.env(Cmd::new("sh"))
            .args(["-c", &shell])
            .current_dir(&build)
            .env("DISTFARM_SUMMARY", "1")
            .run();
        let line = wait_for(
            "the summary line in make's stderr",
            Duration::from_secs(15),
            || {
                read_text(&log)
                    .lines()
                    .find(|l| l.starts_with("distfarm: make["))
                    .map(String::from)
            },
            || format!("--- make.log\n{}\n{}", read_text(&log), farm.logs()),
        );
        assert!(
            line.contains(": 2 jobs, 2 remote (farmhost 2), 0 local; fallbacks: 0;"),
            "{line}"
        );
        let all = read_text(&log);
        assert!(
            all.contains("MAKE-EXITED"),
            "appended, not written over: {all}"
        );
    })
    .await;
}

/// `distfarm --summary gcc` (a wrapper option before the compiler, as distcc's own) asks for
/// the line without DISTFARM_SUMMARY: the build's numbers, matching what the agent counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_option_prints_the_builds_line_with_its_real_numbers() {
    let make = require("make", "make");
    let farm = MonFarm::start("mon-summary-option").await;
    blocking(move || {
        let build = farm.path("build");
        std::fs::create_dir(&build).unwrap();
        for name in ["a", "b", "c", "conftest"] {
            std::fs::copy(fixture_path("hello.c"), build.join(format!("{name}.c"))).unwrap();
        }
        std::fs::copy(fixture_path("hello.h"), build.join("hello.h")).unwrap();
        std::fs::write(
            build.join("Makefile"),
            "all: a.o b.o c.o conftest.o\n%.o: %.c\n\t$(CC) -O2 -c $< -o $@\n",
        )
        .unwrap();
        // No DISTFARM_SUMMARY in the farm's environment: the option alone asks for the line.
        let cc = format!("{} --summary gcc", distfarm_bin().display());
        let out = farm
            .env(Cmd::new(make))
            .args(["-j2".to_string(), format!("CC={cc}")])
            .current_dir(&build)
            .output()
            .unwrap_or_else(|e| panic!("{e}\n{}", farm.logs()));
        let make_stderr = text(&out.stderr);
        for name in ["a", "b", "c", "conftest"] {
            let object = build.join(format!("{name}.o"));
            assert_eq!(
                std::fs::read(&object).unwrap_or_default(),
                crate::support::local_object(
                    "gcc",
                    ["-O2"],
                    Path::new(&format!("{name}.c")),
                    &build
                ),
                "{name}.o is gcc's: the option did not reach the compiler\n{make_stderr}"
            );
        }
        let json = farm.mon_json();
        let summary = json["builds"]
            .as_array()
            .and_then(|b| b.iter().find(|b| b["name"] == "make").cloned())
            .unwrap_or_else(|| panic!("no make build in {json:#}\n{make_stderr}"));
        let line = summary["line"].as_str().unwrap();
        assert!(
            make_stderr.lines().any(|l| l == line),
            "make's stderr should carry the summary line {line:?}:\n{make_stderr}"
        );
        assert!(
            line.contains(
                ": 4 jobs, 3 remote (farmhost 3), 1 local (autoconf test programs are compiled \
                 locally 1); fallbacks: 0;"
            ),
            "{line}"
        );
        // The bytes in the line are the host's: every remote job of the build went there.
        let host = farm_host(&json);
        assert_eq!(host["done"], 3, "{host:#}");
        assert_eq!(
            summary["bytes_sent"], host["bytes_sent"],
            "{summary:#}\n{host:#}"
        );
        assert_eq!(
            summary["bytes_received"], host["bytes_received"],
            "{summary:#}\n{host:#}"
        );
    })
    .await;
}

#[test]
fn mon_with_no_agent_and_no_state_files_says_so_and_exits_0() {
    let dir = temp_dir("mon-nothing");
    let distcc_dir = dir.path().join("distcc");
    let run = |json: bool| {
        let mut cmd = Cmd::new(distfarm_bin())
            .arg("mon")
            .env_clear()
            .env("PATH", test_path())
            .env("HOME", dir.path())
            .env("DISTCC_DIR", &distcc_dir)
            .env("DISTCC_HOSTS", "127.0.0.1:1/2")
            .timeout(Duration::from_secs(20));
        if json {
            cmd = cmd.arg("--json");
        }
        cmd.run()
    };
    let out = run(false);
    assert_eq!(
        text(&out.stdout),
        format!(
            "no agent is running and no job has a state file in {}/state: nothing to show.\n",
            distcc_dir.display()
        )
    );
    let json: Value = serde_json::from_slice(&run(true).stdout).unwrap();
    assert_eq!(json["agent"], Value::Null);
    assert!(
        json["note"]
            .as_str()
            .unwrap()
            .starts_with("no agent is running")
    );
    assert_eq!(json["hosts"][0]["spec"], "127.0.0.1:1/2");
    assert_eq!(json["hosts"][0]["busy"], 0);
    assert!(
        !distcc_dir.join("agent").exists(),
        "mon never starts an agent"
    );
}

// ---------------------------------------------------------------------------------------

/// The in-process SSH server with distfarm as its `distccd`, an ssh_config reaching it as
/// `farmhost`, a slow `gcc` for the client, and a `DISTCC_DIR`; the agent is killed on drop.
struct MonFarm {
    dir: tempfile::TempDir,
    _server: TestSshServer,
}

impl MonFarm {
    async fn start(label: &str) -> MonFarm {
        let dir = temp_dir(label);
        let server = start_farmhost(dir.path()).await;
        let slow = dir.path().join("slow");
        std::fs::create_dir(&slow).unwrap();
        let gcc = which("gcc");
        write_script(
            &slow.join("gcc"),
            &format!(
                "for a in \"$@\"; do [ \"$a\" = -E ] && sleep {SLOW_CPP_SECONDS}; done\n\
                 exec {} \"$@\"",
                gcc.display()
            ),
        );
        set_mode(dir.path(), 0o755);
        set_mode(&dir.path().join("remote"), 0o755);
        for sub in ["distcc_dir", "tmp", "out", "logs"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        MonFarm {
            dir,
            _server: server,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn socket(&self) -> PathBuf {
        distfarm::config::agent_socket_path(&self.path("distcc_dir"))
    }

    /// `cmd` with the farm's environment in full.
    fn env(&self, cmd: Cmd) -> Cmd {
        cmd.env_clear()
            .env("PATH", test_path())
            .env("HOME", self.dir.path())
            .env("LC_ALL", "C")
            .env("TMPDIR", self.path("tmp"))
            .env("DISTCC_DIR", self.path("distcc_dir"))
            .env(
                "DISTCC_HOSTS",
                format!("@farmhost/8:{}", self.path("remote/distccd").display()),
            )
            .env("DISTCC_FALLBACK", "0")
            .env("DISTFARM_SSH_CONFIG", self.path("ssh_config"))
            .env("DISTFARM_AGENT_IDLE", "60")
            .timeout(Duration::from_secs(60))
    }

    /// `distfarm gcc -O2 -c hello.c` with the slow gcc first on PATH, in the background.
    fn spawn_slow_hello(&self) -> ChildGuard {
        let mut path = self.path("slow").into_os_string();
        path.push(":");
        path.push(test_path());
        let cmd = self
            .env(Cmd::new(distfarm_bin()))
            .args(["gcc", "-O2", "-c", "hello.c", "-o"])
            .arg(self.path("out/hello.o"))
            .current_dir(fixture_path(""))
            .env("PATH", path);
        let log = std::fs::File::create(self.path("logs/job.log")).unwrap();
        let mut command = cmd.to_command();
        command.stdout(log.try_clone().unwrap()).stderr(log);
        ChildGuard::spawn(command, "the slow compile")
    }

    fn mon(&self, args: &[&str]) -> String {
        text(
            &self
                .env(Cmd::new(distfarm_bin()))
                .arg("mon")
                .args(args)
                .timeout(Duration::from_secs(20))
                .run()
                .stdout,
        )
    }

    fn mon_json(&self) -> Value {
        let out = self.mon(&["--json"]);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
    }

    fn distccmon_text(&self) -> String {
        let out = self
            .env(Cmd::new(require("distccmon-text", "distcc")))
            .timeout(Duration::from_secs(10))
            .run();
        text(&out.stdout)
    }

    fn logs(&self) -> String {
        format!(
            "--- job\n{}\n--- agent log\n{}",
            read_text(&self.path("logs/job.log")),
            read_text(&self.socket().with_file_name("agent.log"))
        )
    }
}

impl Drop for MonFarm {
    fn drop(&mut self) {
        for pid in agent_pids(&self.socket()) {
            kill(pid);
        }
    }
}

fn farm_host(json: &Value) -> Value {
    json["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "farmhost")
        .cloned()
        .unwrap_or_else(|| panic!("no farmhost in {json:#}"))
}

fn which(program: &str) -> PathBuf {
    std::env::split_paths(&test_path())
        .map(|dir| dir.join(program))
        .find(|p| Path::new(p).is_file())
        .unwrap_or_else(|| panic!("{program} is not on PATH"))
}

/// Runs the blocking body off the async threads (the SSH server runs on them).
async fn blocking(body: impl FnOnce() + Send + 'static) {
    tokio::task::spawn_blocking(body)
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
}

// ---------------------------------------------------------------------------------------
// The live screen, driven in tmux
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_screen_follows_a_build_survives_resizes_and_quits_on_q() {
    let tmux_bin = require("tmux", "tmux");
    let farm = MonFarm::start("mon-live").await;
    blocking(move || {
        let tmux = Tmux::start(&tmux_bin, &farm);
        tmux.wait_for_screen("the screen without an agent", |s| {
            s.contains("no agent running")
        });

        let mut job = farm.spawn_slow_hello();
        let screen = tmux.wait_for_screen("the running job on the screen", |s| {
            s.contains("hello.c") && s.contains("agent ") && s.contains("1/8")
        });
        assert!(screen.contains("farmhost"), "{screen}");
        assert!(screen.contains("jobs: 1 running"), "{screen}");

        tmux.resize(60, 20);
        let small = tmux.wait_for_screen("the screen redrawn at 60x20", |s| {
            s.contains(" hosts ") && s.lines().all(|l| l.chars().count() <= 60)
        });
        assert!(small.contains("hello.c"), "{small}");
        tmux.resize(30, 6);
        tmux.wait_for_screen("the too-small notice", |s| s.contains("terminal too small"));
        tmux.resize(100, 30);

        job.wait_timeout(Duration::from_secs(60))
            .expect("the slow compile finished");
        let done = tmux.wait_for_screen("the job gone and counted", |s| {
            s.contains("jobs: 0 running") && s.contains("0/8")
        });
        assert!(!done.contains("hello.c"), "{done}");

        // Idle: what the screen costs while nothing happens (a measurement, not a test).
        let pid = tmux.pane_pid();
        let before = cpu_ticks(pid);
        std::thread::sleep(Duration::from_secs(3));
        let ticks = cpu_ticks(pid) - before;
        println!(
            "distfarm top, idle at 4 refreshes/s: {ticks} clock ticks of CPU in 3 s \
             (~{:.1} % of a core at 100 ticks/s)",
            ticks as f64 / 3.0
        );

        tmux.keys("s");
        tmux.wait_for_screen("the host order to change", |s| s.contains("hosts by busy"));
        tmux.keys("q");
        crate::support::wait_for(
            "the screen to exit on q",
            Duration::from_secs(10),
            || (!tmux.alive()).then_some(()),
            || tmux.capture(),
        );
    })
    .await;
}

/// A tmux server of its own (`-L`), running `distfarm top` with the farm's environment in a
/// 100x30 window; killed on drop.
struct Tmux {
    bin: PathBuf,
    socket: String,
}

impl Tmux {
    fn start(bin: &Path, farm: &MonFarm) -> Tmux {
        let socket = format!("distfarm-mon-{}", std::process::id());
        let script = farm.path("top.sh");
        let cmd = farm.env(Cmd::new(distfarm_bin()));
        let exports: String = cmd
            .to_command()
            .get_envs()
            .filter_map(|(k, v)| Some(format!("export {}='{}'\n", k.to_str()?, v?.to_str()?)))
            .collect();
        write_script(
            &script,
            &format!(
                "{exports}export TERM=xterm-256color\nexec {} top",
                distfarm_bin().display()
            ),
        );
        let tmux = Tmux {
            bin: bin.to_path_buf(),
            socket,
        };
        tmux.run(&[
            "new-session",
            "-d",
            "-x",
            "100",
            "-y",
            "30",
            "-s",
            "mon",
            &script.display().to_string(),
        ]);
        tmux
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Cmd::new(&self.bin)
            .args(["-L", &self.socket, "-f", "/dev/null"])
            .args(args)
            .timeout(Duration::from_secs(10))
            .output_unchecked()
            .unwrap_or_else(|e| panic!("tmux {args:?}: {e}"))
    }

    fn capture(&self) -> String {
        text(&self.run(&["capture-pane", "-p", "-t", "mon"]).stdout)
    }

    fn keys(&self, keys: &str) {
        self.run(&["send-keys", "-t", "mon", keys]);
    }

    fn resize(&self, width: u16, height: u16) {
        self.run(&[
            "resize-window",
            "-t",
            "mon",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
        ]);
    }

    fn alive(&self) -> bool {
        self.run(&["has-session", "-t", "mon"]).status.success()
    }

    fn pane_pid(&self) -> u32 {
        text(
            &self
                .run(&["list-panes", "-t", "mon", "-F", "#{pane_pid}"])
                .stdout,
        )
        .trim()
        .parse()
        .expect("a pane pid")
    }

    #[track_caller]
    fn wait_for_screen(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        wait_for(
            what,
            Duration::from_secs(20),
            || {
                let screen = self.capture();
                done(&screen).then_some(screen)
            },
            || format!("--- screen\n{}", self.capture()),
        )
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = read_text(Path::new(&format!("/proc/{pid}/stat")));
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

// ---------------------------------------------------------------------------------------
// The servers' side
// ---------------------------------------------------------------------------------------

#[test]
fn mon_server_shows_each_clients_jobs_refusals_and_bytes() {
    const HELLO: &[u8] = b"# 0 \"foo.c\"\nint printf(const char *, ...);\n\
        int main(void) { printf(\"hello\\n\"); return 0; }\n";
    const ARGV: [&str; 5] = ["gcc", "-c", "foo.c", "-o", "foo.o"];
    let stats_port = free_port();
    let server = crate::support::DistfarmServer::builder()
        .env("DISTFARM_CONFINE", "0")
        .args(&["--stats", "--stats-port", &stats_port.to_string()])
        .start();
    assert_eq!(server.compile(&ARGV, HELLO).0.status, 0, "{}", server.log());
    assert_eq!(server.compile(&ARGV, b"int main( {\n").0.status, 1 << 8);
    let refused = server
        .compile(&["sh", "-c", "foo.c", "-o", "foo.o"], HELLO)
        .0;
    assert_eq!(refused.status, 113 << 8, "sh is refused");

    let mon = |json: bool| {
        let mut cmd = Cmd::new(distfarm_bin())
            .args(["mon", "--server", &format!("127.0.0.1:{stats_port}")])
            .timeout(Duration::from_secs(20));
        if json {
            cmd = cmd.arg("--json");
        }
        text(&cmd.run().stdout)
    };
    let doc: Value = wait_for(
        "the server to count three jobs",
        Duration::from_secs(10),
        || {
            let doc: Value = serde_json::from_str(&mon(true)).ok()?;
            (doc["clients"][0]["jobs"] == 3).then_some(doc)
        },
        || format!("{}\n{}", mon(true), server.log()),
    );
    assert_eq!(doc["version"], 1);
    let client = &doc["clients"][0];
    assert_eq!(client["client"], "127.0.0.1", "{doc:#}");
    assert_eq!(client["compiled"], 1, "{doc:#}");
    assert_eq!(client["compile_errors"], 1, "{doc:#}");
    assert_eq!(client["failures"], 0, "{doc:#}");
    let refusals = client["refusals"].as_array().unwrap();
    assert_eq!(refusals.len(), 1, "{doc:#}");
    assert_eq!(refusals[0][1], 1);
    assert!(
        refusals[0][0]
            .as_str()
            .unwrap()
            .starts_with("compiler \"sh\""),
        "{doc:#}"
    );
    assert!(
        client["bytes_received"].as_u64().unwrap() > 3 * 50,
        "{doc:#}"
    );
    assert!(client["bytes_sent"].as_u64().unwrap() > 100, "{doc:#}");
    assert!(client["compile_ms"].as_u64().is_some());

    let table = mon(false);
    let row = table
        .lines()
        .find(|l| l.starts_with("127.0.0.1"))
        .unwrap_or_else(|| panic!("{table}"));
    let numbers: Vec<&str> = row.split_whitespace().take(6).collect();
    assert_eq!(numbers, ["127.0.0.1", "3", "1", "1", "0", "1"], "{table}");
    assert!(table.contains("refused 1×: compiler \"sh\""), "{table}");
    // Nobody on the port: the error says where it looked.
    let out = Cmd::new(distfarm_bin())
        .args(["mon", "--server", &format!("127.0.0.1:{}", free_port())])
        .timeout(Duration::from_secs(20))
        .run_expect_failure();
    assert!(
        text(&out.stderr).contains("cannot reach the statistics port"),
        "{}",
        text(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------
// The servers' side over SSH: `mon --server @host`
// ---------------------------------------------------------------------------------------

/// `DIR/distccd-here`: the distfarm under test as the remote `distccd`, with a `TMPDIR` of
/// its own (`DIR/remote-tmp`), so that its session servers are the only ones
/// `--client-counters` finds (the suite's other tests run theirs, as the same user, in the
/// shared TMPDIR).
fn remote_with_own_tmpdir(dir: &Path) -> String {
    let tmp = dir.join("remote-tmp");
    std::fs::create_dir(&tmp).unwrap();
    // Started as root, the remote server becomes nobody, as distccd does.
    set_mode(&tmp, 0o1777);
    let link = dir.join("distccd");
    if !link.exists() {
        std::os::unix::fs::symlink(distfarm_bin(), &link).unwrap();
    }
    let script = dir.join("distccd-here");
    write_script(
        &script,
        &format!(
            "TMPDIR='{}'; export TMPDIR\nexec '{}' \"$@\"",
            tmp.display(),
            link.display()
        ),
    );
    script.display().to_string()
}

/// What `mon --server` shows must be what went through the session server: the agent's
/// own counters for the host (one job, the bytes it sent and got back) are the witness.
fn check_counters_match_the_agents(doc: &Value, agent_host: &Value, table: &str) {
    assert_eq!(doc["version"], 1, "{doc:#}");
    let servers = doc["servers"].as_array().expect("servers named");
    assert_eq!(servers.len(), 1, "one session server: {doc:#}");
    assert!(
        servers[0].as_str().unwrap().starts_with("session server "),
        "{doc:#}"
    );
    let clients = doc["clients"].as_array().unwrap();
    assert_eq!(clients.len(), 1, "{doc:#}");
    let ssh = &clients[0];
    assert_eq!(ssh["client"], "ssh", "{doc:#}");
    assert_eq!(ssh["jobs"], 1, "{doc:#}");
    assert_eq!(ssh["compiled"], 1, "{doc:#}");
    assert_eq!(
        (&ssh["compile_errors"], &ssh["failures"]),
        (&Value::from(0), &Value::from(0)),
        "{doc:#}"
    );
    assert_eq!(agent_host["done"], 1, "{agent_host:#}");
    assert_eq!(
        ssh["bytes_received"], agent_host["bytes_sent"],
        "the server got what the agent sent: {doc:#}\n{agent_host:#}"
    );
    assert_eq!(
        ssh["bytes_sent"], agent_host["bytes_received"],
        "the agent got what the server sent: {doc:#}\n{agent_host:#}"
    );
    let row = table
        .lines()
        .find(|l| l.starts_with("ssh "))
        .unwrap_or_else(|| panic!("no ssh row:\n{table}"));
    let numbers: Vec<&str> = row.split_whitespace().take(6).collect();
    assert_eq!(numbers, ["ssh", "1", "1", "0", "0", "0"], "{table}");
    assert!(table.contains("session server "), "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mon_server_over_ssh_shows_what_a_build_sent_through_the_session_server() {
    let farm = MonFarm::start("mon-server-ssh").await;
    blocking(move || {
        let remote = remote_with_own_tmpdir(&farm.path("remote"));
        let entry = format!("@farmhost:{remote}");
        let distfarm = || {
            farm.env(Cmd::new(distfarm_bin()))
                .env("DISTCC_HOSTS", format!("@farmhost/8:{remote}"))
        };
        // As after an earlier build: the job is all the server sees.
        gcc_known_on(&farm.path("distcc_dir"), &format!("@farmhost/8:{remote}"));
        distfarm()
            .args(["gcc", "-O2", "-c", "hello.c", "-o"])
            .arg(farm.path("out/hello.o"))
            .current_dir(fixture_path(""))
            .run();
        // The agent keeps the connection, so its session server lives on with its counters.
        let agent_json = text(&distfarm().args(["mon", "--json"]).run().stdout);
        let agent_view = farm_host(&serde_json::from_str(&agent_json).unwrap());
        let mon = |args: &[&str]| {
            distfarm()
                .args(["mon", "--server", &entry])
                .args(args)
                .timeout(Duration::from_secs(30))
                .output()
                .unwrap_or_else(|e| panic!("{e}\n{}", farm.logs()))
        };
        let json = text(&mon(&["--json"]).stdout);
        let doc: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
        let table = text(&mon(&[]).stdout);
        check_counters_match_the_agents(&doc, &agent_view, &table);

        // The remote has no such program, it is not distfarm, or no server runs there.
        let fails = |entry: &str| {
            let out = farm
                .env(Cmd::new(distfarm_bin()))
                .args(["mon", "--server", entry])
                .timeout(Duration::from_secs(30))
                .run_expect_failure();
            text(&out.stderr)
        };
        let missing = fails("@farmhost:/nonexistent/distccd");
        assert!(
            missing.contains("farmhost") && missing.contains("no program \"/nonexistent/distccd\""),
            "{missing}"
        );
        let not_distfarm = fails("@farmhost:/bin/false");
        assert!(not_distfarm.contains("is not distfarm"), "{not_distfarm}");
        let idle = farm.path("idle");
        std::fs::create_dir(&idle).unwrap();
        let empty = remote_with_own_tmpdir(&idle);
        let nothing = fails(&format!("@farmhost:{empty}"));
        assert!(
            nothing.contains("no distfarm server with counters runs here"),
            "{nothing}"
        );
        // Only what the SSH config allows: an unknown alias is an SSH error, not a guess.
        let unknown = fails("@nosuchhost.invalid");
        assert!(unknown.contains("nosuchhost.invalid"), "{unknown}");
    })
    .await;
}

#[test]
fn mon_server_over_openssh_shows_what_a_build_sent_through_the_session_server() {
    use crate::support::Sshd;
    use crate::support::files::readable_temp_dir;
    use crate::support::ssh_client::SshClient;

    let sshd = Sshd::start();
    let remote_dir = readable_temp_dir("mon-remote");
    let remote = remote_with_own_tmpdir(remote_dir.path());
    let client = SshClient::new(&sshd.ssh_config());
    let hosts = format!("@farmhost/4:{remote}");
    // As after an earlier build: the job is all the server sees.
    gcc_known_on(&client.distcc_dir(), &hosts);
    let out = client.hello(&hosts, "hello.o").run();
    assert!(client.out("hello.o").exists(), "{}", text(&out.stderr));

    let mon = |args: &[&str]| {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let out = client
            .cmd(&hosts, "mon", &args, &fixture_path(""))
            .timeout(Duration::from_secs(30))
            .output()
            .unwrap_or_else(|e| panic!("{e}\n--- agent log\n{}", client.agent_log()));
        text(&out.stdout)
    };
    let agent_json: Value = serde_json::from_str(&mon(&["--json"])).unwrap();
    let agent_view = farm_host(&agent_json);
    let entry = format!("@farmhost:{remote}");
    let json = mon(&["--server", &entry, "--json"]);
    let doc: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let table = mon(&["--server", &entry]);
    check_counters_match_the_agents(&doc, &agent_view, &table);
}

/// A daemon on the SSH host is asked too: through the connection for an `@host:tcp:PORT`
/// entry (as its jobs go), and by the remote distfarm for `@host:COMMAND`, on the
/// `--stats-port` given.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mon_server_over_ssh_asks_the_daemon_on_its_stats_port() {
    const HELLO: &[u8] = b"# 0 \"foo.c\"\nint main(void) { return 0; }\n";
    let farm = MonFarm::start("mon-server-daemon").await;
    blocking(move || {
        let stats_port = free_port();
        let server = crate::support::DistfarmServer::builder()
            .env("DISTFARM_CONFINE", "0")
            .args(&["--stats", "--stats-port", &stats_port.to_string()])
            .start();
        let argv = ["gcc", "-c", "foo.c", "-o", "foo.o"];
        assert_eq!(server.compile(&argv, HELLO).0.status, 0, "{}", server.log());
        let mon = |entry: &str| {
            let out = farm
                .env(Cmd::new(distfarm_bin()))
                .args(["mon", "--json", "--stats-port", &stats_port.to_string()])
                .args(["--server", entry])
                .timeout(Duration::from_secs(30))
                .output()
                .unwrap_or_else(|e| panic!("{e}\n{}", server.log()));
            let json = text(&out.stdout);
            serde_json::from_str::<Value>(&json).unwrap_or_else(|e| panic!("{e}: {json}"))
        };
        let daemon_client = |doc: &Value| {
            let clients = doc["clients"].as_array().unwrap();
            assert_eq!(clients.len(), 1, "{doc:#}");
            assert_eq!(clients[0]["client"], "127.0.0.1", "{doc:#}");
            assert_eq!(clients[0]["jobs"], 1, "{doc:#}");
            assert_eq!(clients[0]["compiled"], 1, "{doc:#}");
        };
        let tunnelled = wait_for(
            "the daemon to count the job",
            Duration::from_secs(10),
            || {
                let doc = mon(&format!("@farmhost:tcp:{}", server.port()));
                (doc["clients"][0]["jobs"] == 1).then_some(doc)
            },
            || server.log(),
        );
        daemon_client(&tunnelled);

        let remote = remote_with_own_tmpdir(&farm.path("remote"));
        let gathered = mon(&format!("@farmhost:{remote}"));
        daemon_client(&gathered);
        assert_eq!(
            gathered["servers"],
            serde_json::json!([format!("daemon 127.0.0.1:{stats_port}")]),
            "no session server of ours runs there, the daemon does: {gathered:#}"
        );
    })
    .await;
}
