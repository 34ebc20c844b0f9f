//! Whole builds over SSH against the real OpenSSH sshd: `distfarm gcc …` with `@farmhost`
//! hosts, remote or fail (`DISTCC_FALLBACK=0`, `DISTCC_SKIP_LOCAL_RETRY=1`), every object
//! byte-identical to a local gcc. The sshd log (LogLevel VERBOSE) is the witness of what
//! crossed the wire: one `Accepted publickey` line per SSH login and one
//! `Starting session: command` line per remote command (exec channel). `direct-streamlocal`
//! channels (distfarm's per-job channels to a `--ssh-session` server) start no session and
//! log nothing.
//!
//! The remote is either distfarm (a world-readable temp dir with a `distccd` symlink to the
//! binary under test, named in the host entry) or the real distccd 3.4.
//!
//! Every test has its own `DISTCC_DIR`; the agent a wrapper starts there (its own process
//! group, so no `Cmd` timeout reaches it) is killed by pid when the test's [`SshClient`] drops.

use std::process::Output;
use std::time::Duration;

use crate::support::build::{assert_identical, lua_references, references};
use crate::support::compile::hello_reference;
use crate::support::fake_ssh::FakeSsh;
use crate::support::files::read;
use crate::support::procs::kill;
use crate::support::ssh_client::{RemoteDistfarm, SshClient};
use crate::support::sshd_log::{LOGIN, LogMark, SESSION, count};
use crate::support::{CProject, RealDistccd, SshAgent, Sshd, require, temp_dir, text, wait_for};

/// Lua's own makefile optimisation (at -O0 a few Lua files compile differently from their
/// preprocessed text, so -O0 has no byte reference; see tests/client_interop.rs).
const LUA_EXTRA: [&str; 1] = ["-O2"];
/// zstd once, lightly optimised: the largest preprocessed sources of the suite.
const ZSTD_EXTRA: [&str; 1] = ["-O1"];
/// Wrappers compiling at once in a build (`make -j4`).
const JOBS: usize = 4;

// ---------------------------------------------------------------------------------------
// The fast path: one login, one remote process, one channel per job
// ---------------------------------------------------------------------------------------

#[test]
fn zstd_over_sshd_uses_one_login_and_one_remote_session_for_the_whole_build() {
    let sshd = Sshd::start();
    let remote = RemoteDistfarm::new();
    let client = SshClient::new(&sshd.ssh_config());
    let zstd = CProject::zstd();
    let mark = LogMark::new(&sshd);

    let objects = client.build(&remote.host("8"), &zstd, &ZSTD_EXTRA, JOBS);

    let references = references(&zstd, &ZSTD_EXTRA, 2);
    assert_identical(
        &zstd,
        &objects,
        &references,
        "sshd → distfarm --ssh-session",
    );
    assert_one_login_and_one_session(&sshd, &mark, zstd.units().len(), &client);
}

#[test]
fn lua_over_sshd_uses_one_login_and_one_remote_session_for_the_whole_build() {
    let sshd = Sshd::start();
    let remote = RemoteDistfarm::new();
    let client = SshClient::new(&sshd.ssh_config());
    let lua = CProject::lua();
    let mark = LogMark::new(&sshd);

    let objects = client.build(&remote.host("8"), &lua, &LUA_EXTRA, JOBS);

    assert_identical(
        &lua,
        &objects,
        lua_references(),
        "sshd → distfarm --ssh-session",
    );
    assert_one_login_and_one_session(&sshd, &mark, lua.units().len(), &client);
}

/// A list that mixes `@host` with `localhost` (the usual Portage set-up) takes distcc's slot
/// locks in the wrapper, and still reaches the host through the agent's one connection.
#[test]
fn mixed_list_with_localhost_still_uses_the_agents_one_connection() {
    let sshd = Sshd::start();
    let remote = RemoteDistfarm::new();
    let client = SshClient::new(&sshd.ssh_config());
    let lua = CProject::lua().first(8);
    let mark = LogMark::new(&sshd);

    let hosts = format!("{} localhost/1", remote.host("4"));
    let objects = client.build(&hosts, &lua, &LUA_EXTRA, 2);

    assert_identical(&lua, &objects, &lua_references()[..8], "mixed list → agent");
    let log = mark.since(&sshd);
    assert_eq!(
        count(&log, LOGIN),
        1,
        "one login for the build:\n{log}\n--- agent log\n{}",
        client.agent_log()
    );
    assert_eq!(
        count(&log, SESSION),
        1,
        "one remote session for the build:\n{log}"
    );
}

// ---------------------------------------------------------------------------------------
// Other remotes
// ---------------------------------------------------------------------------------------

/// The real distccd does not know `--ssh-session` (it exits): every job then runs
/// `distccd --inetd --enable-tcp-insecure` on its own channel of the one connection.
#[test]
fn real_distccd_remote_runs_one_inetd_command_per_job_and_objects_match() {
    let distccd = require("distccd", "distcc");
    let sshd = Sshd::start();
    let client = SshClient::new(&sshd.ssh_config());
    let lua = CProject::lua().first(6);
    let mark = LogMark::new(&sshd);

    let hosts = format!("@farmhost/4:{}", distccd.display());
    let objects = client.build(&hosts, &lua, &LUA_EXTRA, 3);

    assert_identical(
        &lua,
        &objects,
        &lua_references()[..6],
        "sshd → real distccd --inetd",
    );
    let log = mark.since(&sshd);
    assert_eq!(
        count(&log, LOGIN),
        1,
        "the agent logs in once for every job:\n{log}\n--- agent log\n{}",
        client.agent_log()
    );
    // One `distccd --ssh-session` probe (refused by the real distccd), one `distccd --inetd`
    // for the compile that asks which compiler runs there, then one per job.
    assert_eq!(
        count(&log, SESSION),
        2 + lua.units().len(),
        "two probes plus one `distccd --inetd` per job:\n{log}\n--- agent log\n{}",
        client.agent_log()
    );
}

/// `@farmhost:tcp:PORT`: a distccd daemon listening on the remote's loopback, reached through
/// `direct-tcpip` channels like `ssh -L` — no remote command at all.
#[test]
fn tcp_command_reaches_a_distccd_daemon_on_the_remote_loopback() {
    let mut distccd = RealDistccd::start();
    let sshd = Sshd::start();
    let client = SshClient::new(&sshd.ssh_config());
    let lua = CProject::lua().first(4);
    let mark = LogMark::new(&sshd);

    let hosts = format!("@farmhost/2:tcp:{},lzo", distccd.port());
    let objects = client.build(&hosts, &lua, &LUA_EXTRA, 2);

    assert_identical(
        &lua,
        &objects,
        &lua_references()[..4],
        "sshd direct-tcpip → distccd",
    );
    assert!(distccd.is_running(), "distccd died:\n{}", distccd.log());
    wait_for(
        "distccd's COMPILE_OK line for every unit",
        Duration::from_secs(15),
        || {
            let log = distccd.log();
            lua.units()
                .iter()
                .all(|u| {
                    log.lines().any(|l| {
                        l.contains(" COMPILE_OK ")
                            && l.ends_with(&format!(" {}", u.source.display()))
                    })
                })
                .then_some(())
        },
        || distccd.log(),
    );
    let log = mark.since(&sshd);
    assert_eq!(count(&log, LOGIN), 1, "{log}");
    assert_eq!(
        count(&log, SESSION),
        0,
        "a tunnel needs no remote command:\n{log}"
    );
}

/// Without the agent (`DISTFARM_AGENT=0`) each wrapper makes its own russh connection, and
/// the far end is decided by the same code: a real distccd remote gets one `--inetd` command
/// per job (after the session probe it refuses), a `tcp:PORT` remote a `direct-tcpip`
/// channel and no command. One login per job either way.
#[test]
fn without_the_agent_each_wrapper_reaches_inetd_and_tcp_remotes_the_same_way() {
    let distccd_program = require("distccd", "distcc");
    let distccd = RealDistccd::start();
    let sshd = Sshd::start();
    let client = SshClient::new(&sshd.ssh_config()).with_env("DISTFARM_AGENT", "0");
    let lua = CProject::lua().first(3);
    for (hosts, sessions_per_job, how) in [
        (
            format!("@farmhost/2:{}", distccd_program.display()),
            2,
            "own connection → real distccd --inetd",
        ),
        (
            format!("@farmhost/2:tcp:{},lzo", distccd.port()),
            0,
            "own connection → direct-tcpip → distccd",
        ),
    ] {
        let mark = LogMark::new(&sshd);
        let objects = client.build(&hosts, &lua, &LUA_EXTRA, 1);
        assert_identical(&lua, &objects, &lua_references()[..3], how);
        let log = mark.since(&sshd);
        // And one connection before the first job, to ask which compiler runs there.
        let connections = lua.units().len() + 1;
        assert_eq!(
            count(&log, LOGIN),
            connections,
            "{how}: one login per job:\n{log}"
        );
        assert_eq!(
            count(&log, SESSION),
            sessions_per_job * connections,
            "{how}: remote commands:\n{log}"
        );
        assert!(
            client.agent_pids().is_empty(),
            "{how}: an agent was started"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Host keys
// ---------------------------------------------------------------------------------------

#[test]
fn changed_host_key_is_refused_and_without_fallback_the_error_names_the_host() {
    let sshd = Sshd::start();
    let remote = RemoteDistfarm::new();
    sshd.pin_a_wrong_host_key();
    let client = SshClient::new(&sshd.ssh_config());
    let mark = LogMark::new(&sshd);
    let hosts = remote.host("8");

    // Twice: the second job meets a host the agent has just backed off, and the user must
    // still be told which host it is.
    let mut errors = Vec::new();
    for attempt in ["first", "second"] {
        let out = client.hello(&hosts, "hello.o").output_unchecked().unwrap();
        let stderr = text(&out.stderr);
        assert_distcc_failure(&out, &format!("{attempt} job, changed host key"));
        assert!(
            stderr.contains("farmhost"),
            "{attempt} job: the error does not name the host:\n{stderr}\n--- agent log\n{}",
            client.agent_log()
        );
        assert!(
            !client.out("hello.o").exists(),
            "no object may be written when the host is refused"
        );
        errors.push(stderr);
    }
    assert!(
        errors[0].contains("HOST KEY") && errors[0].contains("CHANGED"),
        "the error says the host key changed:\n{}",
        errors[0]
    );
    let log = mark.since(&sshd);
    assert_eq!(
        count(&log, LOGIN),
        0,
        "nobody may log in to a host with a changed key:\n{log}"
    );
    assert_eq!(count(&log, SESSION), 0, "nothing ran remotely:\n{log}");
}

#[test]
fn changed_host_key_with_fallback_compiles_locally_with_one_warning_naming_the_host() {
    let sshd = Sshd::start();
    let remote = RemoteDistfarm::new();
    sshd.pin_a_wrong_host_key();
    let client = SshClient::new(&sshd.ssh_config());
    let mark = LogMark::new(&sshd);

    let out = client
        .hello(&remote.host("8"), "hello.o")
        .env("DISTCC_FALLBACK", "1")
        .env_remove("DISTCC_SKIP_LOCAL_RETRY")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));

    assert_eq!(
        read(&client.out("hello.o")),
        *hello_reference(),
        "the local fallback compiles the same object"
    );
    let stderr = text(&out.stderr);
    let ours: Vec<&str> = stderr.lines().filter(|l| l.contains("distfarm")).collect();
    assert_eq!(
        ours.len(),
        1,
        "exactly one line of distfarm's own on stderr:\n{stderr}"
    );
    assert!(
        ours[0].contains("Warning") && ours[0].contains("farmhost") && ours[0].contains("hello.c"),
        "the warning names the file and the host: {}",
        ours[0]
    );
    let log = mark.since(&sshd);
    assert_eq!(count(&log, LOGIN), 0, "{log}");
    assert_eq!(count(&log, SESSION), 0, "{log}");
}

#[test]
fn unknown_host_is_refused_with_how_to_pin_it() {
    let sshd = Sshd::start();
    let remote = RemoteDistfarm::new();
    std::fs::write(sshd.known_hosts(), "").unwrap();
    let client = SshClient::new(&sshd.ssh_config());
    let mark = LogMark::new(&sshd);

    let out = client
        .hello(&remote.host("8"), "hello.o")
        .output_unchecked()
        .unwrap();

    assert_distcc_failure(&out, "unknown host key");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("farmhost") && stderr.contains("not known"),
        "the error names the host and says its key is unknown:\n{stderr}"
    );
    assert!(
        stderr.contains(&format!("ssh-keyscan -p {} 127.0.0.1", sshd.port())),
        "the error tells how to pin the key:\n{stderr}"
    );
    assert!(!client.out("hello.o").exists());
    assert_eq!(
        std::fs::read_to_string(sshd.known_hosts()).unwrap(),
        "",
        "an unknown key is never learnt silently"
    );
    let log = mark.since(&sshd);
    assert_eq!(count(&log, LOGIN), 0, "{log}");
}

// ---------------------------------------------------------------------------------------
// Authentication and routing
// ---------------------------------------------------------------------------------------

/// The key lives only in a real `ssh-agent`; the config names no key file, or one that does
/// not exist. (The account has no `~/.ssh` keys either: only the agent can log in.)
#[test]
fn ssh_agent_keys_log_in_when_the_config_names_no_usable_key_file() {
    let sshd = Sshd::start();
    let remote = RemoteDistfarm::new();
    let dir = temp_dir("ssh-agent");
    let agent = SshAgent::start(dir.path());
    agent.add(&sshd.client_key());
    let original = std::fs::read_to_string(sshd.ssh_config()).unwrap();
    let without_key_lines = |replacement: &str| -> String {
        original
            .lines()
            .filter(|l| !l.trim_start().starts_with("IdentitiesOnly"))
            .map(|l| {
                if l.trim_start().starts_with("IdentityFile") {
                    replacement.to_string()
                } else {
                    l.to_string()
                }
            })
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    };
    let missing_key = dir.path().join("no-such-key");
    let configs = [
        ("no IdentityFile", without_key_lines("")),
        (
            "a missing IdentityFile",
            without_key_lines(&format!("    IdentityFile {}", missing_key.display())),
        ),
    ];
    for (what, config) in configs {
        assert!(!config.contains(&sshd.client_key().display().to_string()));
        let file = dir.path().join("ssh_config");
        std::fs::write(&file, config).unwrap();
        let client = SshClient::new(&file).with_env("SSH_AUTH_SOCK", agent.socket());
        let mark = LogMark::new(&sshd);
        let out = client.hello(&remote.host("8"), "hello.o").output();
        if let Err(e) = out {
            panic!(
                "{what}: {e}\n--- agent log\n{}\n--- sshd log\n{}",
                client.agent_log(),
                mark.since(&sshd)
            );
        }
        assert_eq!(read(&client.out("hello.o")), *hello_reference(), "{what}");
        assert_eq!(count(&mark.since(&sshd), LOGIN), 1, "{what}");
    }
}

#[test]
fn proxy_jump_through_a_second_sshd_builds_with_one_login_on_each() {
    let bastion = Sshd::start();
    let target = Sshd::start();
    let remote = RemoteDistfarm::new();
    let dir = temp_dir("proxy-jump");
    let file = crate::support::sshd::proxy_jump_config(&target, &bastion, "farmhost", dir.path());
    let client = SshClient::new(&file);
    let lua = CProject::lua().first(4);
    let (bastion_mark, target_mark) = (LogMark::new(&bastion), LogMark::new(&target));

    let objects = client.build(&remote.host("4"), &lua, &LUA_EXTRA, 2);

    assert_identical(&lua, &objects, &lua_references()[..4], "a ProxyJump");
    let (bastion_log, target_log) = (bastion_mark.since(&bastion), target_mark.since(&target));
    assert_eq!(count(&bastion_log, LOGIN), 1, "bastion:\n{bastion_log}");
    assert_eq!(
        count(&bastion_log, SESSION),
        0,
        "the bastion only forwards:\n{bastion_log}"
    );
    assert_eq!(count(&target_log, LOGIN), 1, "target:\n{target_log}");
    assert_eq!(count(&target_log, SESSION), 1, "target:\n{target_log}");
}

// ---------------------------------------------------------------------------------------
// Failures in the middle of a build
// ---------------------------------------------------------------------------------------

#[test]
fn agent_killed_mid_build_is_replaced_and_every_object_is_still_right() {
    let sshd = Sshd::start();
    let remote = RemoteDistfarm::new();
    let client = SshClient::new(&sshd.ssh_config());
    let lua = CProject::lua();
    let total = lua.units().len();

    let (objects, (killed, done_at_kill)) = std::thread::scope(|scope| {
        let killer = scope.spawn(|| {
            wait_for(
                "three objects",
                Duration::from_secs(120),
                || (client.objects_written() >= 3).then_some(()),
                || client.agent_log(),
            );
            let done_at_kill = client.objects_written();
            let pids = client.agent_pids();
            assert_eq!(
                pids.len(),
                1,
                "one agent serves the build: {pids:?}\n{}",
                client.agent_log()
            );
            kill(pids[0]);
            (pids[0], done_at_kill)
        });
        let objects = client.build(&remote.host("8"), &lua, &LUA_EXTRA, JOBS);
        (objects, killer.join().unwrap())
    });

    assert!(
        done_at_kill < total,
        "the build finished before the agent was killed: the test proves nothing"
    );
    assert_identical(
        &lua,
        &objects,
        lua_references(),
        "an agent killed mid-build",
    );
    let now = client.agent_pids();
    assert!(
        !now.is_empty() && !now.contains(&killed),
        "a new agent serves the socket (killed {killed}, running {now:?})"
    );
    assert!(
        std::os::unix::net::UnixStream::connect(client.socket()).is_ok(),
        "the new agent listens on {}",
        client.socket().display()
    );
}

/// A session server outlives its connection for `DISTFARM_SESSION_LINGER` seconds: the next
/// agent (the first one killed, as after its idle time) logs in and reaches the same server
/// through its remembered socket, with no remote command at all; once no job has come for
/// that long, the server exits by itself.
#[test]
fn a_new_agent_reaches_the_lingering_session_server_without_a_remote_command() {
    let sshd = Sshd::start();
    let remote = RemoteDistfarm::lingering(4);
    let client = SshClient::new(&sshd.ssh_config());
    let host = remote.host("4");
    let hello = |output: &str| {
        let out = client.hello(&host, output).run();
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(&read(&client.out(output)), hello_reference());
    };

    hello("first.o");
    let servers = remote.session_servers();
    assert_eq!(servers.len(), 1, "one session server: {servers:?}");
    for pid in client.agent_pids() {
        kill(pid);
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        remote.session_servers(),
        servers,
        "the session server lingers after its connection closed"
    );

    let mark = LogMark::new(&sshd);
    hello("second.o");
    let log = mark.since(&sshd);
    assert_eq!(count(&log, LOGIN), 1, "{log}");
    assert_eq!(
        count(&log, SESSION),
        0,
        "no remote command: the remembered session server served the job\n{log}\n--- agent log\n{}",
        client.agent_log()
    );
    assert!(
        client.agent_log().contains("still serves"),
        "{}",
        client.agent_log()
    );
    assert_eq!(remote.session_servers(), servers, "the same server");

    for pid in client.agent_pids() {
        kill(pid);
    }
    wait_for(
        "the lingering session server to exit after 4 s without a job",
        Duration::from_secs(30),
        || remote.session_servers().is_empty().then_some(()),
        || client.agent_log(),
    );
}

/// A lingering session server whose program is replaced on disk (an upgrade) retires at
/// once, so the next agent starts the new program rather than reaching the old code.
#[test]
fn a_lingering_session_server_retires_when_its_program_is_upgraded() {
    let sshd = Sshd::start();
    let remote = RemoteDistfarm::lingering_copy(600);
    let client = SshClient::new(&sshd.ssh_config());
    let host = remote.host("4");
    let hello = |output: &str| {
        let out = client.hello(&host, output).run();
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(&read(&client.out(output)), hello_reference());
    };

    hello("first.o");
    let old = remote.session_servers();
    assert_eq!(old.len(), 1, "one session server: {old:?}");
    for pid in client.agent_pids() {
        kill(pid);
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(remote.session_servers(), old, "it lingers (600 s)");

    remote.upgrade();
    wait_for(
        "the lingering session server to retire after its program was replaced",
        Duration::from_secs(20),
        || remote.session_servers().is_empty().then_some(()),
        || client.agent_log(),
    );

    let mark = LogMark::new(&sshd);
    hello("second.o");
    let log = mark.since(&sshd);
    assert_eq!(
        count(&log, SESSION),
        1,
        "the next agent starts the new program with a remote command\n{log}\n--- agent log\n{}",
        client.agent_log()
    );
    let new = remote.session_servers();
    assert_eq!(new.len(), 1, "{new:?}");
    assert_ne!(new, old, "a new server");
}

/// Without the agent each job logs in by itself; with session servers that linger, they
/// share the one the first job started (remembered in `DISTCC_DIR`) instead of each leaving
/// its own behind.
#[test]
fn without_the_agent_jobs_share_one_lingering_session_server() {
    let sshd = Sshd::start();
    let remote = RemoteDistfarm::lingering(30);
    let client = SshClient::new(&sshd.ssh_config()).with_env("DISTFARM_AGENT", "0");
    let mark = LogMark::new(&sshd);
    for i in 0..3 {
        let output = format!("hello{i}.o");
        let out = client.hello(&remote.host("4"), &output).run();
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(&read(&client.out(&output)), hello_reference());
    }
    let log = mark.since(&sshd);
    // One login per job, and one before them for the host's compiler identity.
    assert_eq!(count(&log, LOGIN), 4, "one login per connection:\n{log}");
    assert_eq!(
        count(&log, SESSION),
        1,
        "one remote command, for the first job; the others reach its server:\n{log}"
    );
    assert_eq!(remote.session_servers().len(), 1);
    assert!(client.agent_pids().is_empty(), "no agent was started");
}

/// The sshd processes serving the agent's connection are killed while jobs run on it: the
/// jobs in flight are retried, the agent logs in again, and the build never notices.
#[test]
fn connection_cut_mid_build_is_reconnected_and_every_object_is_still_right() {
    let sshd = Sshd::start();
    let remote = RemoteDistfarm::new();
    let client = SshClient::new(&sshd.ssh_config());
    let lua = CProject::lua().first(20);
    let total = lua.units().len();
    let mark = LogMark::new(&sshd);

    let (objects, (agent, done_at_cut)) = std::thread::scope(|scope| {
        let cutter = scope.spawn(|| {
            wait_for(
                "three objects",
                Duration::from_secs(120),
                || (client.objects_written() >= 3).then_some(()),
                || client.agent_log(),
            );
            let done_at_cut = client.objects_written();
            let agent = client.agent_pids();
            let serving = sshd.session_processes();
            assert!(
                !serving.is_empty(),
                "no sshd process serves the agent's connection"
            );
            for pid in serving {
                kill(pid);
            }
            (agent, done_at_cut)
        });
        let objects = client.build(&remote.host("8"), &lua, &LUA_EXTRA, JOBS);
        (objects, cutter.join().unwrap())
    });

    assert!(
        done_at_cut < total,
        "the build finished before the connection was cut: the test proves nothing"
    );
    assert_identical(
        &lua,
        &objects,
        &lua_references()[..total],
        "a connection cut mid-build",
    );
    let log = mark.since(&sshd);
    assert_eq!(
        count(&log, LOGIN),
        2,
        "the agent logs in once, and once more after the cut:\n{log}\n--- agent log\n{}",
        client.agent_log()
    );
    assert_eq!(
        client.agent_pids(),
        agent,
        "the same agent reconnected (it was not restarted)"
    );
}

// ---------------------------------------------------------------------------------------
// DISTCC_SSH: distcc's way, only when asked for
// ---------------------------------------------------------------------------------------

#[test]
fn distcc_ssh_runs_one_ssh_process_per_job_against_real_sshd() {
    let sshd = Sshd::start();
    let remote = RemoteDistfarm::new();
    let fake = FakeSsh::new();
    let client = SshClient::new(&sshd.ssh_config())
        .with_path_first(&fake.bin())
        .with_env("DISTCC_SSH", sshd.distcc_ssh());
    let lua = CProject::lua().first(5);
    let mark = LogMark::new(&sshd);

    let objects = client.build(&remote.host("4"), &lua, &LUA_EXTRA, 2);

    assert_identical(&lua, &objects, &lua_references()[..5], "DISTCC_SSH");
    let runs = fake.runs();
    // And one before the first job, to ask which compiler runs there.
    assert_eq!(
        runs.len(),
        lua.units().len() + 1,
        "one ssh per job: {runs:#?}"
    );
    for run in &runs {
        assert!(
            run.ends_with(&format!(
                "farmhost {} --inetd --enable-tcp-insecure",
                remote.command()
            )),
            "distcc's command line: {run}"
        );
    }
    let log = mark.since(&sshd);
    assert_eq!(count(&log, LOGIN), runs.len(), "{log}");
    assert_eq!(count(&log, SESSION), runs.len(), "{log}");
    assert!(
        !client.socket().exists() && client.agent_pids().is_empty(),
        "DISTCC_SSH builds start no agent"
    );
}

/// `@farmhost:tcp:PORT` through `DISTCC_SSH` reaches the same daemon the agent reaches:
/// `ssh -W` (a stdio forward) per job, never `tcp:PORT` run as a remote command.
#[test]
fn distcc_ssh_with_a_tcp_host_forwards_each_job_to_the_remote_daemon() {
    let mut distccd = RealDistccd::start();
    let sshd = Sshd::start();
    let fake = FakeSsh::new();
    let client = SshClient::new(&sshd.ssh_config())
        .with_path_first(&fake.bin())
        .with_env("DISTCC_SSH", sshd.distcc_ssh());
    let lua = CProject::lua().first(3);
    let mark = LogMark::new(&sshd);

    let hosts = format!("@farmhost/2:tcp:{},lzo", distccd.port());
    let objects = client.build(&hosts, &lua, &LUA_EXTRA, 2);

    assert_identical(
        &lua,
        &objects,
        &lua_references()[..3],
        "DISTCC_SSH -W → distccd",
    );
    let runs = fake.runs();
    // And one before the first job, to ask which compiler runs there.
    assert_eq!(
        runs.len(),
        lua.units().len() + 1,
        "one ssh per job: {runs:#?}"
    );
    for run in &runs {
        assert!(
            run.ends_with(&format!("-W 127.0.0.1:{} farmhost", distccd.port())),
            "a stdio forward to the daemon: {run}"
        );
    }
    assert_eq!(
        distccd
            .wait_for_log_lines(" COMPILE_OK ", lua.units().len())
            .len(),
        lua.units().len()
    );
    let log = mark.since(&sshd);
    assert_eq!(count(&log, SESSION), 0, "no remote command runs:\n{log}");
}

#[test]
fn without_distcc_ssh_no_ssh_program_is_started() {
    let sshd = Sshd::start();
    let remote = RemoteDistfarm::new();
    let fake = FakeSsh::new();
    let client = SshClient::new(&sshd.ssh_config()).with_path_first(&fake.bin());
    let lua = CProject::lua().first(3);

    let through_agent = client.build(&remote.host("4"), &lua, &LUA_EXTRA, 2);
    assert_identical(&lua, &through_agent, &lua_references()[..3], "the agent");
    assert!(
        !client.agent_pids().is_empty(),
        "the agent served the build"
    );

    let direct = SshClient::new(&sshd.ssh_config())
        .with_path_first(&fake.bin())
        .with_env("DISTFARM_AGENT", "0");
    let objects = direct.build(&remote.host("4"), &lua, &LUA_EXTRA, 2);
    assert_identical(&lua, &objects, &lua_references()[..3], "DISTFARM_AGENT=0");

    assert_eq!(
        fake.runs(),
        Vec::<String>::new(),
        "an `ssh` program was started without DISTCC_SSH"
    );
    // The fake is on the PATH the wrapper sees: with DISTCC_SSH=ssh it is what runs.
    let control = SshClient::new(&sshd.ssh_config())
        .with_path_first(&fake.bin())
        .with_env("DISTCC_SSH", sshd.distcc_ssh());
    control
        .hello(&remote.host("4"), "hello.o")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        fake.runs().len(),
        2,
        "the fake ssh is found on PATH (asking which compiler runs there, then the job)"
    );
}

// ---------------------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------------------

#[track_caller]
fn assert_one_login_and_one_session(sshd: &Sshd, mark: &LogMark, jobs: usize, client: &SshClient) {
    let log = mark.since(sshd);
    assert_eq!(
        count(&log, LOGIN),
        1,
        "{jobs} jobs, one SSH login:\n{log}\n--- agent log\n{}",
        client.agent_log()
    );
    assert_eq!(
        count(&log, SESSION),
        1,
        "{jobs} jobs, one remote command (`distccd --ssh-session`):\n{log}\n--- agent log\n{}",
        client.agent_log()
    );
}

fn assert_distcc_failure(out: &Output, what: &str) {
    let code = out.status.code();
    assert!(
        code.is_some_and(|c| (100..=120).contains(&c)),
        "{what}: expected a distcc exit code (100–120), got {:?}\n{}",
        out.status,
        text(&out.stderr)
    );
}
