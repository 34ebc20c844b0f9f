//! Zeroconf between namespaces joined by a veth pair (root; see support/netns.rs):
//! `distfarm serve --zeroconf` in one, clients with `+zeroconf` in the other.

use std::time::Duration;

use crate::support::build::{assert_identical, lua_references};
use crate::support::netns::{Announce, AnnouncedServer, NetPair, SERVER_IP, SUBNET, with_avahi};
use crate::support::procs::{agent_pids, fcntl_lock_holder, kill, processes};
use crate::support::wrapper_client::WrapperClient;
use crate::support::{CProject, ChildGuard, Cmd, Work, wait_for};

/// How long a change on the network may take to reach a client's list: the browser's first
/// list (1.5 s at most), a query answered at its second round (a second later), a little
/// slack for a loaded machine.
const SEEN_WITHIN: Duration = Duration::from_secs(15);

fn show_hosts(net: &NetPair, work: &Work, hosts: &str) -> String {
    let out = net
        .in_client(work.distfarm(Some(hosts)).arg("--show-hosts"))
        .run();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits until `--show-hosts` in the client namespace satisfies `wanted`; returns it.
#[track_caller]
fn wait_for_list(
    net: &NetPair,
    work: &Work,
    hosts: &str,
    what: &str,
    wanted: impl Fn(&str) -> bool,
    server_logs: impl Fn() -> String,
) -> String {
    wait_for(
        what,
        SEEN_WITHIN,
        || {
            let list = show_hosts(net, work, hosts);
            wanted(&list).then_some(list)
        },
        || {
            format!(
                "last list: {:?}\n{}\nserver logs:\n{}",
                show_hosts(net, work, hosts),
                browser_logs(work),
                server_logs()
            )
        },
    )
}

/// What the browser said: the agent's log, or the browser process's when the agent is off.
fn browser_logs(work: &Work) -> String {
    let agent_log =
        distfarm::config::agent_socket_path(&work.distcc_dir()).with_file_name("agent.log");
    let process_log = work.distcc_dir().join("zeroconf/browser.log");
    format!(
        "agent log:\n{}\nbrowser process log:\n{}",
        std::fs::read_to_string(agent_log).unwrap_or_default(),
        std::fs::read_to_string(process_log).unwrap_or_default()
    )
}

#[test]
fn announced_server_is_found_through_plus_zeroconf_and_builds_lua() {
    let net = NetPair::new();
    let server = AnnouncedServer::start(
        &net,
        Announce {
            hostname: "zc-build",
            port: 3632,
            jobs: 3,
            cc_version: None,
        },
    );
    let client = WrapperClient::new().around(net.ip_path(), &["netns", "exec", &net.client]);
    // Its slot count comes with it; the entry is distcc's plain TCP form.
    let entry = format!("{SERVER_IP}:3632/3");
    let list = wait_for_list(
        &net,
        &client.work,
        "localhost/1 +zeroconf",
        "the announced server in the client's list",
        |list| list.lines().any(|l| l == entry),
        || server.log(),
    );
    assert_eq!(list, format!("localhost/1\n{entry}\n"));

    // Remote or fail: no fallback, no local retry (`WrapperClient::cmd`).
    let project = CProject::lua();
    let built = client.build("+zeroconf", &project, &["-O2"]);
    assert_identical(&project, &built, lua_references(), "Lua through +zeroconf");
    let compiled = server.log().matches(" COMPILE_OK ").count();
    assert!(
        compiled >= project.units().len(),
        "the server compiled {compiled} of {} units:\n{}",
        project.units().len(),
        server.log()
    );
}

#[test]
fn server_announcing_another_compiler_version_is_left_out() {
    let net = NetPair::new();
    let same = AnnouncedServer::start(
        &net,
        Announce {
            hostname: "zc-same",
            port: 3632,
            jobs: 2,
            cc_version: None,
        },
    );
    let other = AnnouncedServer::start(
        &net,
        Announce {
            hostname: "zc-other",
            port: 3633,
            jobs: 5,
            cc_version: Some("99.1"),
        },
    );
    let work = Work::new();
    let logs = || format!("{}\n{}", same.log(), other.log());
    let list = wait_for_list(
        &net,
        &work,
        "+zeroconf",
        "the matching server in the list",
        |list| list.contains(":3632/2"),
        logs,
    );
    // Both answer the same queries; by now the other one has been seen too.
    std::thread::sleep(Duration::from_secs(2));
    let list = format!("{list}{}", show_hosts(&net, &work, "+zeroconf"));
    assert!(
        !list.contains(":3633"),
        "the server with cc 99.1 is listed:\n{list}\n{}",
        logs()
    );

    // The doctor says what it saw and why the other one is not used.
    let out = net
        .in_client(work.distfarm(Some("+zeroconf")).arg("doctor"))
        .output_unchecked()
        .expect("doctor ran");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("distcc@zc-same") && report.contains("distcc@zc-other"),
        "the doctor lists both announced servers:\n{report}"
    );
    let other_line = report
        .lines()
        .find(|l| l.contains("distcc@zc-other"))
        .unwrap_or_default();
    assert!(
        other_line.contains("not used") && other_line.contains("99.1"),
        "the doctor says why zc-other is not used: {other_line:?}\n{report}"
    );
}

#[test]
fn server_that_exits_leaves_the_list() {
    let net = NetPair::new();
    let mut server = AnnouncedServer::start(
        &net,
        Announce {
            hostname: "zc-leaving",
            port: 3632,
            jobs: 2,
            cc_version: None,
        },
    );
    let work = Work::new();
    wait_for_list(
        &net,
        &work,
        "+zeroconf",
        "the server in the list",
        |list| list.contains(":3632/2"),
        || server.log(),
    );
    server.stop();
    assert!(
        server.log().contains("zeroconf: withdrew"),
        "the server did not withdraw its announcement:\n{}",
        server.log()
    );
    // The goodbye removes it at once; the browser rewrites the file it keeps.
    let list = wait_for_list(
        &net,
        &work,
        "+zeroconf",
        "the stopped server to leave the list",
        |list| !list.contains(":3632"),
        || server.log(),
    );
    assert_eq!(list, "");
}

#[test]
fn serve_without_zeroconf_is_not_announced() {
    let net = NetPair::new();
    // A plain daemon in the server namespace, next to an announced one.
    let plain = net.in_server(
        Cmd::new(crate::support::distfarm_bin())
            .args(["serve", "--no-detach", "--log-stderr", "-p", "3640"])
            .args(["--allow", crate::support::netns::SUBNET, "--lifetime", "60"]),
    );
    let mut plain = plain.to_command();
    plain
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let _plain = ChildGuard::spawn(plain, "plain distfarm serve");
    let announced = AnnouncedServer::start(
        &net,
        Announce {
            hostname: "zc-announced",
            port: 3632,
            jobs: 2,
            cc_version: None,
        },
    );
    let work = Work::new();
    let list = wait_for_list(
        &net,
        &work,
        "+zeroconf",
        "the announced server in the list",
        |list| list.contains(":3632/2"),
        || announced.log(),
    );
    std::thread::sleep(Duration::from_secs(1));
    let list = format!("{list}{}", show_hosts(&net, &work, "+zeroconf"));
    assert!(
        !list.contains(":3640"),
        "a server without --zeroconf is listed:\n{list}"
    );
}

#[test]
fn real_distccd_announced_through_avahi_is_found_and_compiles() {
    let distccd = crate::support::require("distccd", "distcc");
    let net = NetPair::new();
    let logs = crate::support::temp_dir("zeroconf-distccd");
    let log = logs.path().join("distccd.log");
    let cmd = net.in_server(with_avahi(
        "zc-distccd",
        Cmd::new(distccd)
            .args(["--daemon", "--no-detach", "--zeroconf", "--log-stderr"])
            .args(["--log-level", "info", "--allow", SUBNET, "-p", "3632"])
            .args(["--jobs", "3"])
            .env("PATH", crate::support::test_path()),
    ));
    let mut command = cmd.to_command();
    let file = std::fs::File::create(&log).expect("distccd log");
    command.stdout(file.try_clone().expect("dup")).stderr(file);
    let _distccd = ChildGuard::spawn(command, "distccd --zeroconf with avahi-daemon");
    let server_log = || std::fs::read_to_string(&log).unwrap_or_default();

    let work = Work::new();
    wait_for_list(
        &net,
        &work,
        "+zeroconf",
        "the real distccd in the list",
        |list| list == format!("{SERVER_IP}:3632/3\n"),
        server_log,
    );
    let out = net
        .in_client(
            work.distfarm(Some("+zeroconf"))
                .args(["gcc", "-O2", "-c", "hello.c", "-o", "out/hello.o"])
                .env("DISTCC_FALLBACK", "0")
                .env("DISTCC_SKIP_LOCAL_RETRY", "1"),
        )
        .output()
        .unwrap_or_else(|e| panic!("{e}\ndistccd log:\n{}", server_log()));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(work.read("out/hello.o"), work.hello_reference());
}

#[test]
fn distfarm_announcement_is_seen_by_avahi_browse_and_the_real_distcc_client() {
    let distcc = crate::support::require("distcc", "distcc");
    let avahi_browse = crate::support::require("avahi-browse", "avahi-utils");
    let net = NetPair::new();
    let same = AnnouncedServer::start(
        &net,
        Announce {
            hostname: "zc-farm",
            port: 3632,
            jobs: 3,
            cc_version: None,
        },
    );
    let other = AnnouncedServer::start(
        &net,
        Announce {
            hostname: "zc-farm-other",
            port: 3633,
            jobs: 5,
            cc_version: Some("99.1"),
        },
    );
    let work = Work::new();
    // One Avahi machine: avahi-browse resolves everything announced, then distcc's own
    // browser (it browses our compiler's subtype) fills its hosts file.
    let script = format!(
        "{} -rtp _distcc._tcp; echo ---; {} --show-hosts; sleep 2; {} --show-hosts",
        avahi_browse.display(),
        distcc.display(),
        distcc.display()
    );
    let seen = wait_for(
        "Avahi and distcc to see the distfarm servers",
        Duration::from_secs(60),
        || {
            let out = net
                .in_client(with_avahi(
                    "zc-client",
                    work.env(Cmd::new("sh"), Some("+zeroconf"))
                        .args(["-c", &script]),
                ))
                .output_unchecked()
                .expect("avahi-browse and distcc ran");
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            (text.contains("distcc\\064zc-farm-other;") && text.contains(":3632/3")).then_some(text)
        },
        || format!("{}\n{}", same.log(), other.log()),
    );
    let (browsed, listed) = seen.split_once("---").expect("the separator");
    let farm = browsed
        .lines()
        .find(|l| l.starts_with("=;") && l.contains("IPv4;distcc\\064zc-farm;"))
        .unwrap_or_else(|| panic!("avahi-browse did not resolve distcc@zc-farm:\n{browsed}"));
    for field in [
        ";10.77.0.1;3632;",
        "\"txtvers=1\"",
        "\"jobs=3\"",
        "\"distcc=3.4\"",
        "\"cc_machine=",
        "\"cc_version=",
    ] {
        assert!(farm.contains(field), "{field} missing in {farm}");
    }
    // distcc lists the matching server with its slots, and leaves out cc 99.1.
    assert!(
        listed.contains(&format!("{SERVER_IP}:3632/3")),
        "distcc --show-hosts:\n{listed}"
    );
    assert!(!listed.contains(":3633"), "distcc --show-hosts:\n{listed}");
}

#[test]
fn server_that_dies_without_goodbye_leaves_the_list() {
    let net = NetPair::new();
    let mut server = AnnouncedServer::start(
        &net,
        Announce {
            hostname: "zc-crashing",
            port: 3632,
            jobs: 2,
            cc_version: None,
        },
    );
    let work = Work::new();
    wait_for_list(
        &net,
        &work,
        "+zeroconf",
        "the server in the list",
        |list| list.contains(":3632/2"),
        || server.log(),
    );
    server.kill();
    // No goodbye: the browser finds out from its fresh looks (every 10 s; two must miss
    // it), long before the records expire. A build keeps reading the list meanwhile (a
    // browser nobody reads exits).
    let list = wait_for(
        "the killed server to leave the list",
        Duration::from_secs(60),
        || {
            std::thread::sleep(Duration::from_millis(500));
            let list = show_hosts(&net, &work, "+zeroconf");
            (!list.contains(":3632")).then_some(list)
        },
        || browser_logs(&work),
    );
    assert_eq!(list, "");
}

#[test]
fn the_agent_browses_for_plus_zeroconf_and_with_the_agent_off_a_browser_process_does() {
    let net = NetPair::new();
    let server = AnnouncedServer::start(
        &net,
        Announce {
            hostname: "zc-agent",
            port: 3632,
            jobs: 2,
            cc_version: None,
        },
    );
    let browsers = |work: &Work| -> Vec<i32> {
        let dir = work.distcc_dir().to_string_lossy().into_owned();
        processes()
            .into_iter()
            .filter(|p| p.args.iter().any(|a| a == "zeroconf-browser") && p.args.contains(&dir))
            .map(|p| p.pid)
            .collect()
    };
    let lock = |work: &Work| work.distcc_dir().join("zeroconf/lock");

    // With the agent (the default): the agent holds distcc's browser lock, nothing else runs.
    let work = Work::new();
    wait_for_list(
        &net,
        &work,
        "+zeroconf",
        "the server in the list",
        |list| list.contains(":3632/2"),
        || server.log(),
    );
    let agents = agent_pids(&distfarm::config::agent_socket_path(&work.distcc_dir()));
    assert_eq!(agents.len(), 1, "one agent for the DISTCC_DIR");
    assert_eq!(
        fcntl_lock_holder(&lock(&work)),
        Some(agents[0]),
        "the agent holds the browser lock\n{}",
        browser_logs(&work)
    );
    assert_eq!(browsers(&work), Vec::<i32>::new(), "no browser process");

    // DISTFARM_AGENT=0: distcc's way, a browser process of its own.
    let without_agent = Work::new();
    let list = net
        .in_client(
            without_agent
                .distfarm(Some("+zeroconf"))
                .env("DISTFARM_AGENT", "0")
                .arg("--show-hosts"),
        )
        .run();
    let browser = browsers(&without_agent);
    let _stop_browser = KillOnDrop(browser.clone());
    assert_eq!(browser.len(), 1, "one browser process");
    assert_eq!(fcntl_lock_holder(&lock(&without_agent)), Some(browser[0]));
    assert!(
        agent_pids(&distfarm::config::agent_socket_path(
            &without_agent.distcc_dir()
        ))
        .is_empty(),
        "no agent with DISTFARM_AGENT=0"
    );
    // Its first list may come a query later; the file it keeps is the same.
    if !String::from_utf8_lossy(&list.stdout).contains(":3632/2") {
        wait_for_list(
            &net,
            &without_agent,
            "+zeroconf",
            "the server in the browser process's list",
            |list| list.contains(":3632/2"),
            || server.log(),
        );
    }
}

/// Kills the processes when the test ends, however it ends.
struct KillOnDrop(Vec<i32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for pid in &self.0 {
            kill(*pid);
        }
    }
}
