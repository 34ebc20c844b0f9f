//! `distfarm offer`: a build machine that dials out to a client's sshd (the real OpenSSH
//! sshd plays the client machine, on loopback) and lends its CPUs through a reverse forward.
//! The client's side is a work area (`Work`: its own `DISTCC_DIR`); the offer registers there
//! by running the binary under test over its SSH connection (`--client-command`).
//!
//! Builds run remote-or-fail (`DISTCC_FALLBACK=0`) and every object is compared with a local
//! gcc's. The offer runs with `--verbose`, so its log has one `COMPILE_OK` line per job it
//! served: the witness that jobs went through it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use distfarm::protocol::Version;
use nix::sys::signal::Signal;

use crate::support::build::{assert_identical, build, lua_references};
use crate::support::files::read_text;
use crate::support::procs::{descendants, kill, processes};
use crate::support::system_account::SystemAccount;
use crate::support::wire;
use crate::support::{
    CProject, ChildGuard, Cmd, Sshd, Work, distfarm_bin, free_port, is_identity_probe, require,
    temp_dir, test_path, text, wait_for, write_script,
};

const LUA_EXTRA: [&str; 1] = ["-O2"];
/// How long an offer may take to come up and register.
const UP: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------
// Registration and builds
// ---------------------------------------------------------------------------------------

/// One offer with `--hosts-file`: plain distcc finds it in the marked block of the hosts
/// file (the user's own lines untouched), distfarm in `--show-hosts` after the user's own
/// hosts; both compile all of Lua through it, byte-identical to local.
#[test]
fn lua_compiles_through_an_offer_with_plain_distcc_and_with_distfarm() {
    let sshd = Sshd::start();
    let client = Work::new();
    let own = "# my own hosts (none)\n";
    std::fs::write(client.distcc_dir().join("hosts"), own).unwrap();
    let port = free_port();
    let offer = Offer::start(&sshd, &client, &["--slots", "4", "--hosts-file"], port);
    let entry = format!("127.0.0.1:{port}/4");
    offer.wait_offered(&entry, 1);

    let hosts_file = read_text(&client.distcc_dir().join("hosts"));
    assert!(
        hosts_file.starts_with(own)
            && hosts_file.contains("# BEGIN distfarm offer")
            && hosts_file.contains(&format!("\n{entry}\n")),
        "the hosts file keeps the user's lines and gains a marked block:\n{hosts_file}"
    );
    assert_eq!(
        show_hosts(&client, Some("localhost/1")),
        ["localhost/1", &entry]
    );
    assert_eq!(show_hosts(&client, None), [entry.as_str()], "no duplicate");
    let without = client
        .distfarm(Some("localhost/1"))
        .env("DISTFARM_OFFERS", "0")
        .arg("--show-hosts")
        .run();
    assert_eq!(
        text(&without.stdout).trim(),
        "localhost/1",
        "DISTFARM_OFFERS=0"
    );

    let lua = CProject::lua();
    let out = temp_dir("offer-out");
    let distcc = require("distcc", "distcc");
    let objects = build(&lua, &LUA_EXTRA, out.path(), 4, |unit, args| {
        let cmd = client
            .env(Cmd::new(&distcc), None)
            .current_dir(lua.root())
            .env("DISTCC_FALLBACK", "0")
            .arg("gcc")
            .args(args);
        if let Err(e) = cmd.output() {
            panic!("distcc on {}: {e}\n{}", unit.source.display(), offer.log());
        }
    });
    assert_identical(
        &lua,
        &objects,
        lua_references(),
        "distcc → hosts-file block → offer",
    );
    let served = offer.jobs_served();
    assert!(
        served >= lua.units().len(),
        "the offer served {served} jobs:\n{}",
        offer.log()
    );

    let objects = distfarm_build(&client, &lua, out.path(), &offer);
    assert_identical(&lua, &objects, lua_references(), "distfarm → offer");
    assert!(offer.jobs_served() >= served + lua.units().len());
}

/// An offer is a host like any other for distfarm's jobs: they wait for it in the agent's
/// queue. With one slot lent and two slow jobs, `mon` shows the agent placing one on the
/// offer and keeping the other queued; both then compile there, identical to local.
#[test]
fn jobs_wait_for_an_offer_in_the_agents_queue() {
    let sshd = Sshd::start();
    let client = client_without_hosts();
    let port = free_port();
    let offer = Offer::start(&sshd, &client, &["--slots", "1"], port);
    offer.wait_offered(&format!("127.0.0.1:{port}/1"), 1);

    // A preprocessor that takes its time keeps the first job in its slot.
    let slow = client.root().join("slow");
    std::fs::create_dir(&slow).unwrap();
    write_script(
        &slow.join("gcc"),
        "for a in \"$@\"; do [ \"$a\" = -E ] && sleep 4; done\nexec /usr/bin/gcc \"$@\"",
    );
    let mut path = slow.into_os_string();
    path.push(":");
    path.push(test_path());
    let mut jobs: Vec<ChildGuard> = (0..2)
        .map(|i| {
            let cmd = client
                .distfarm(None)
                .env("PATH", &path)
                .env("DISTCC_FALLBACK", "0")
                .env("DISTCC_SKIP_LOCAL_RETRY", "1")
                .args(["gcc", "-O2", "-c", "hello.c", "-o"])
                .arg(format!("out/hello{i}.o"));
            client.spawn(cmd, &format!("slow{i}"))
        })
        .collect();

    let mon_json = || -> serde_json::Value {
        let out = client.distfarm(None).args(["mon", "--json"]).run();
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)))
    };
    let placed = wait_for(
        "mon to show one job on the offer and one queued",
        Duration::from_secs(30),
        || {
            let json = mon_json();
            let on_offer = json["jobs"]
                .as_array()?
                .iter()
                .find(|j| j["host"] == "127.0.0.1")?
                .clone();
            (json["queued"] == 1).then_some(on_offer)
        },
        || format!("{}\n{}", client.logs(), offer.log()),
    );
    assert_eq!(placed["seen_by"], "agent", "{placed:#}\n{}", client.logs());
    assert_eq!(placed["slot"], 0, "{placed:#}");

    for job in &mut jobs {
        let status = job
            .wait_timeout(Duration::from_secs(60))
            .unwrap_or_else(|| panic!("a slow job did not finish\n{}", client.logs()));
        assert!(
            status.success(),
            "{status:?}\n{}\n{}",
            client.logs(),
            offer.log()
        );
    }
    for i in 0..2 {
        assert_eq!(
            client.read(&format!("out/hello{i}.o")),
            client.hello_reference()
        );
    }
    assert_eq!(offer.jobs_served(), 2, "{}", offer.log());
    let host = mon_json()["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "127.0.0.1")
        .cloned()
        .expect("the offer among mon's hosts");
    assert_eq!(host["transport"], "tcp", "{host:#}");
    assert_eq!(host["done"], 2, "{host:#}");
}

/// SIGTERM withdraws: the entry file and the hosts-file block go (the user's lines stay),
/// `--show-hosts` no longer lists the offer, and the offer exits by itself.
#[test]
fn stopping_an_offer_removes_its_entry() {
    let sshd = Sshd::start();
    let client = Work::new();
    let own = "localhost/2\n";
    std::fs::write(client.distcc_dir().join("hosts"), own).unwrap();
    let port = free_port();
    let mut offer = Offer::start(&sshd, &client, &["--slots", "2", "--hosts-file"], port);
    let entry = format!("127.0.0.1:{port}/2");
    offer.wait_offered(&entry, 1);
    assert_eq!(show_hosts(&client, None), ["localhost/2", &entry]);
    hello_through(&client, &entry, &offer);

    offer.child.signal(Signal::SIGTERM);
    let status = offer.child.wait_timeout(Duration::from_secs(30));
    assert!(
        status.is_some(),
        "the offer exits after SIGTERM:\n{}",
        offer.log()
    );
    assert!(offer.log().contains("withdrawn"), "{}", offer.log());
    assert_eq!(
        entry_files(&client),
        Vec::<PathBuf>::new(),
        "the entry file is gone"
    );
    assert_eq!(read_text(&client.distcc_dir().join("hosts")), own);
    assert_eq!(show_hosts(&client, None), ["localhost/2"]);
}

/// `--lzo`: the entry says `,lzo`, jobs go compressed (protocol 2) and are identical.
#[test]
fn an_lzo_offer_is_entered_with_lzo_and_compiles_identically() {
    let sshd = Sshd::start();
    let client = client_without_hosts();
    let port = free_port();
    let offer = Offer::start(&sshd, &client, &["--slots", "2", "--lzo"], port);
    let entry = format!("127.0.0.1:{port}/2,lzo");
    offer.wait_offered(&entry, 1);
    assert_eq!(show_hosts(&client, None), [entry.as_str()]);
    hello_through(&client, &entry, &offer);
}

/// `--confinement namespaces` confines an offer's compilers in a mount namespace (the
/// fallback where Landlock is missing), as it does `serve`'s: its log says so, and the job
/// compiles identically.
#[test]
fn an_offer_confined_by_namespaces_compiles_identically() {
    let sshd = Sshd::start();
    let client = client_without_hosts();
    let port = free_port();
    let offer = Offer::start(
        &sshd,
        &client,
        &["--slots", "1", "--confinement", "namespaces"],
        port,
    );
    let entry = format!("127.0.0.1:{port}/1");
    offer.wait_offered(&entry, 1);
    hello_through(&client, &entry, &offer);
    assert!(
        offer
            .log()
            .contains("compilers run confined in a mount namespace"),
        "{}",
        offer.log()
    );
}

/// SIGINT while a job compiles: the offer withdraws its entry at once, lets the job finish
/// (within `--drain`), and exits; the client gets its object.
#[test]
fn sigint_withdraws_the_offer_and_lets_the_running_job_finish() {
    let sshd = Sshd::start();
    let client = client_without_hosts();
    // A unit that takes gcc a second or more at -O2 (long enough to be caught running).
    let slow: String = (0..1500)
        .map(|i| {
            format!("int f{i}(int x) {{ for (int k = 0; k < x; k++) x ^= k * {i}; return x; }}\n")
        })
        .collect();
    std::fs::write(client.path("slow.c"), slow).unwrap();
    let port = free_port();
    let mut offer = Offer::start(&sshd, &client, &["--slots", "1", "--drain", "300"], port);
    let entry = format!("127.0.0.1:{port}/1");
    offer.wait_offered(&entry, 1);
    // A first job: the client then knows the offer's compiler, so the compiler caught
    // running below is the slow job's, not the probe that asks which compiler it is.
    hello_through(&client, &entry, &offer);
    let args = ["-O2", "-c", "slow.c", "-o", "out/slow.o"];
    let mut build = client.spawn(
        client
            .distfarm(Some(&entry))
            .env("DISTCC_FALLBACK", "0")
            .env("DISTCC_SKIP_LOCAL_RETRY", "1")
            .arg("gcc")
            .args(args)
            .timeout(Duration::from_secs(300)),
        "slow",
    );
    let offer_pid = offer.child.id() as i32;
    wait_for(
        "the offer's compiler to run",
        Duration::from_secs(30),
        || (compilers_under(offer_pid) > 0).then_some(()),
        || offer.log(),
    );
    offer.child.signal(Signal::SIGINT);
    wait_for(
        "the entry to go while the job runs",
        Duration::from_secs(10),
        || entry_files(&client).is_empty().then_some(()),
        || offer.log(),
    );
    assert!(
        compilers_under(offer_pid) > 0,
        "the running job was not left to finish:\n{}",
        offer.log()
    );
    let status = offer.child.wait_timeout(Duration::from_secs(300));
    assert!(
        status.is_some(),
        "the offer exits after its job:\n{}",
        offer.log()
    );
    let finished = build.wait_timeout(Duration::from_secs(30));
    assert!(
        finished.is_some_and(|s| s.success()),
        "the client's compile failed: {finished:?}\n{}\n{}",
        client.logs(),
        offer.log()
    );
    client
        .gcc()
        .args(["-O2", "-c", "slow.c", "-o", "out/local.o"])
        .run();
    assert_eq!(client.read("out/slow.o"), client.read("out/local.o"));
    assert_eq!(offer.jobs_served(), 2, "{}", offer.log());
}

/// The sshd processes serving the link are killed: the offer notices, reconnects on its own
/// and registers again within 60 s, and jobs go through it again.
#[test]
fn killed_link_comes_back_and_registers_again() {
    let sshd = Sshd::start();
    let client = client_without_hosts();
    let port = free_port();
    let offer = Offer::start(&sshd, &client, &["--slots", "2"], port);
    let entry = format!("127.0.0.1:{port}/2");
    offer.wait_offered(&entry, 1);
    let first = entry_files(&client);
    assert_eq!(first.len(), 1);

    let serving = sshd_session_processes(&sshd);
    assert!(!serving.is_empty(), "sshd serves the offer's connection");
    let killed_at = Instant::now();
    for pid in serving {
        kill(pid);
    }
    offer.wait_offered(&entry, 2);
    assert!(killed_at.elapsed() < Duration::from_secs(60));
    let log = offer.log();
    assert!(
        log.contains("lost") && log.contains("reconnecting"),
        "{log}"
    );
    wait_for(
        "the new registration",
        Duration::from_secs(10),
        || (show_hosts(&client, None) == [entry.as_str()]).then_some(()),
        || offer.log(),
    );
    hello_through(&client, &entry, &offer);
}

/// An offer and its holder both die by `kill -9` (no one withdraws anything): the entry
/// left behind is not listed and is removed by the next distfarm run on the client, and its
/// hosts-file block with it.
#[test]
fn a_killed_offers_entry_is_ignored_and_cleaned_up() {
    let sshd = Sshd::start();
    let client = Work::new();
    let port = free_port();
    let mut offer = Offer::start(&sshd, &client, &["--slots", "2", "--hosts-file"], port);
    let entry = format!("127.0.0.1:{port}/2");
    offer.wait_offered(&entry, 1);
    let files = entry_files(&client);
    assert_eq!(files.len(), 1);
    let holder = holder_pid(&files[0]);

    // Stopped first, so that it cannot withdraw when the offer's connection ends.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(holder), Signal::SIGSTOP).unwrap();
    offer.child.kill();
    kill(holder);
    wait_for(
        "sshd to close the dead offer's port",
        Duration::from_secs(20),
        || (!crate::support::ports::port_accepts(port)).then_some(()),
        || sshd.log(),
    );
    assert_eq!(entry_files(&client), files, "nobody withdrew the entry");

    assert_eq!(show_hosts(&client, Some("localhost/1")), ["localhost/1"]);
    assert_eq!(
        entry_files(&client),
        Vec::<PathBuf>::new(),
        "the dead entry is removed"
    );
    let hosts_file = std::fs::read_to_string(client.distcc_dir().join("hosts"));
    assert!(
        hosts_file.is_err(),
        "the block is removed (and the file the offer created with it): {hosts_file:?}"
    );
}

/// Two offers to one client: two entries, and a build spreads its jobs over both.
#[test]
fn two_offers_give_two_entries_and_jobs_spread_over_both() {
    let sshd = Sshd::start();
    let client = client_without_hosts();
    let (p1, p2) = (free_port(), free_port());
    let one = Offer::start(&sshd, &client, &["--slots", "2"], p1);
    let two = Offer::start(&sshd, &client, &["--slots", "2"], p2);
    let (e1, e2) = (format!("127.0.0.1:{p1}/2"), format!("127.0.0.1:{p2}/2"));
    one.wait_offered(&e1, 1);
    two.wait_offered(&e2, 1);
    let mut listed = show_hosts(&client, None);
    listed.sort();
    let mut expected = vec![e1.clone(), e2.clone()];
    expected.sort();
    assert_eq!(listed, expected);

    let lua = CProject::lua().first(16);
    let out = temp_dir("offer-out");
    let objects = build(&lua, &LUA_EXTRA, out.path(), 4, |unit, args| {
        let cmd = client
            .distfarm(None)
            .current_dir(lua.root())
            .env("DISTCC_FALLBACK", "0")
            .env("DISTCC_SKIP_LOCAL_RETRY", "1")
            .arg("gcc")
            .args(args);
        if let Err(e) = cmd.output() {
            panic!(
                "{}: {e}\n{}\n{}",
                unit.source.display(),
                one.log(),
                two.log()
            );
        }
    });
    assert_identical(
        &lua,
        &objects,
        &lua_references()[..16],
        "distfarm → two offers",
    );
    let (n1, n2) = (one.jobs_served(), two.jobs_served());
    assert!(n1 > 0 && n2 > 0, "both offers served jobs ({n1} and {n2})");
    assert_eq!(n1 + n2, 16);
}

/// One offer with `--slots 1` to two clients (two sshds), both building at once with four
/// jobs each: the offer never runs more than one compiler at a time, and both builds finish
/// with the right objects.
#[test]
fn one_offer_to_two_clients_never_runs_more_than_its_slots() {
    let sshd_a = Sshd::start();
    let sshd_b = Sshd::start();
    let (client_a, client_b) = (client_without_hosts(), client_without_hosts());
    let config_dir = temp_dir("offer-ssh");
    let config = two_client_config(&sshd_a, &sshd_b, config_dir.path());
    let command = |work: &Work| {
        format!(
            "env DISTCC_DIR={} {}",
            work.distcc_dir().display(),
            distfarm_bin().display()
        )
    };
    // One client command for both clients: a script that picks the client's DISTCC_DIR by
    // the port its sshd listens on (both "machines" are this one).
    let script = config_dir.path().join("client-distfarm");
    crate::support::write_script(
        &script,
        &format!(
            "case \"$SSH_CONNECTION\" in\n  *' {a}') exec {ca} \"$@\";;\n  *) exec {cb} \"$@\";;\nesac",
            a = sshd_a.port(),
            ca = command(&client_a),
            cb = command(&client_b),
        ),
    );
    let offer = Offer::spawn(
        &config,
        &script.display().to_string(),
        &["client-a", "client-b", "--slots", "1"],
        &client_a,
    );
    // Both "clients" are this machine: the second gets the next port of the default range.
    offer.wait_offered("127.0.0.1:", 2);
    let (listed_a, listed_b) = (show_hosts(&client_a, None), show_hosts(&client_b, None));
    assert_eq!(listed_a.len(), 1, "{listed_a:?}");
    assert_eq!(listed_b.len(), 1, "{listed_b:?}");
    for listed in [&listed_a[0], &listed_b[0]] {
        let port: u16 = listed["127.0.0.1:".len()..listed.len() - 2]
            .parse()
            .unwrap();
        assert!(
            (3640..=3699).contains(&port) && listed.ends_with("/1"),
            "{listed}"
        );
    }

    let lua = CProject::lua().first(8);
    let build_on = |client: &Work| {
        let out = temp_dir("offer-out");
        build(&lua, &LUA_EXTRA, out.path(), 4, |unit, args| {
            let cmd = client
                .distfarm(None)
                .current_dir(lua.root())
                .env("DISTCC_FALLBACK", "0")
                .env("DISTCC_SKIP_LOCAL_RETRY", "1")
                .arg("gcc")
                .args(args);
            if let Err(e) = cmd.output() {
                panic!("{}: {e}\n{}", unit.source.display(), offer.log());
            }
        })
    };
    let most = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::atomic::AtomicBool::new(false);
    let (a, b) = std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let running = compilers_under(offer.child.id() as i32);
                most.fetch_max(running, std::sync::atomic::Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let a = scope.spawn(|| build_on(&client_a));
        let b = scope.spawn(|| build_on(&client_b));
        let (a, b) = (a.join().unwrap(), b.join().unwrap());
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        watcher.join().unwrap();
        (a, b)
    });
    assert_identical(&lua, &a, &lua_references()[..8], "client a → shared offer");
    assert_identical(&lua, &b, &lua_references()[..8], "client b → shared offer");
    assert_eq!(offer.jobs_served(), 16);
    let most = most.into_inner();
    assert_eq!(
        most, 1,
        "compilers seen at once under --slots 1 (0: none seen at all)"
    );
}

/// Anyone on the client can reach the port: a request naming a shell as its compiler, and
/// one loading a gcc plugin, are refused through the tunnel as by `distfarm serve`.
#[test]
fn hostile_requests_through_the_tunnel_are_refused() {
    let sshd = Sshd::start();
    let client = Work::new();
    let port = free_port();
    let offer = Offer::start(&sshd, &client, &["--slots", "1"], port);
    offer.wait_offered(&format!("127.0.0.1:{port}/1"), 1);
    let source = b"int main(void) { return 0; }\n";
    for argv in [
        &["sh", "-c", "x.i", "-o", "x.o"][..],
        &["gcc", "-fplugin=/tmp/evil.so", "-c", "x.i", "-o", "x.o"][..],
    ] {
        let (response, _) = wire::compile(port, Version::V1, argv, source);
        let stderr = wire::stderr_text(&response);
        assert_eq!(response.status, 113 << 8, "{argv:?} refused: {stderr}");
        assert!(stderr.starts_with("distfarm server refused"), "{stderr}");
        assert!(response.object.is_empty());
    }
    let (response, _) = wire::compile(port, Version::V1, &wire::HONEST_ARGV, source);
    wire::assert_compiled(&response, "an honest job through the tunnel");
}

/// With no distfarm on the client the offer still forwards, and says what to add by hand.
#[test]
fn without_distfarm_on_the_client_the_offer_prints_the_entry_to_add() {
    let sshd = Sshd::start();
    let client = Work::new();
    let port = free_port();
    let offer = Offer::spawn(
        &sshd.ssh_config(),
        "/nonexistent/distfarm",
        &["farmhost", "--slots", "2", "--port", &port.to_string()],
        &client,
    );
    let entry = format!("127.0.0.1:{port}/2");
    wait_for(
        "the by-hand line",
        UP,
        || offer.log().contains("add `").then_some(()),
        || offer.log(),
    );
    let log = offer.log();
    assert!(
        log.contains(&format!("offered as {entry}, but not registered")),
        "{log}"
    );
    assert!(log.contains("was not found there"), "{log}");
    hello_through(&client, &entry, &offer);
}

// ---------------------------------------------------------------------------------------
// --socket: a Unix socket in the client user's private directory
// ---------------------------------------------------------------------------------------

/// `--socket`: the offer registers `unix:$DISTCC_DIR/offers/ID.sock/4`, a socket in a 0700
/// directory of the client's user; `--show-hosts` lists it; Lua compiles through it
/// (remote-or-fail, identical to local); another local user is refused by the socket's
/// directory and gets no job run; stopping the offer removes the entry and the socket.
#[test]
fn a_socket_offer_compiles_lua_for_its_user_and_refuses_another_user() {
    let sshd = Sshd::start();
    let client = client_without_hosts();
    let mut offer = Offer::start_socket(&sshd, &client, &["--slots", "4"]);
    offer.wait_offered("unix:", 1);
    let listed = show_hosts(&client, None);
    assert_eq!(listed.len(), 1, "{listed:?}");
    let entry = listed[0].clone();
    let socket = socket_of(&entry);
    let offers = client.distcc_dir().join("offers");
    assert_eq!(socket.parent(), Some(offers.as_path()), "{entry}");
    assert!(entry.ends_with(".sock/4"), "{entry}");
    assert!(
        offer.log().contains(&format!("offered as {entry}")),
        "{}",
        offer.log()
    );
    {
        use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
        let dir = std::fs::metadata(&offers).unwrap();
        assert_eq!(
            dir.permissions().mode() & 0o777,
            0o700,
            "the socket's directory"
        );
        assert_eq!(dir.uid(), nix::unistd::Uid::effective().as_raw());
        assert!(
            std::fs::symlink_metadata(&socket)
                .unwrap()
                .file_type()
                .is_socket()
        );
    }

    let lua = CProject::lua();
    let out = temp_dir("offer-out");
    let objects = distfarm_build(&client, &lua, out.path(), &offer);
    assert_identical(&lua, &objects, lua_references(), "distfarm → socket offer");
    let served = offer.jobs_served();
    assert_eq!(served, lua.units().len(), "{}", offer.log());

    // Another user: everything up to the offers directory is open to it, that one is not.
    for dir in [client.root(), client.distcc_dir().as_path()] {
        crate::support::files::set_mode(dir, 0o755);
    }
    let other = SystemAccount::create();
    let area = crate::support::files::readable_temp_dir("offer-other");
    let open = crate::support::files::open_dir(area.path(), "work");
    std::fs::copy(client.path("hello.c"), open.join("hello.c")).unwrap();
    std::fs::copy(client.path("hello.h"), open.join("hello.h")).unwrap();
    let bin = area.path().join("distfarm");
    std::fs::copy(distfarm_bin(), &bin).unwrap();
    let refused = other
        .run_as(&bin)
        .current_dir(&open)
        .env("PATH", crate::support::test_path())
        .env("LC_ALL", "C")
        .env("TMPDIR", &open)
        .env("DISTCC_DIR", open.join("distcc_dir"))
        .env("DISTCC_HOSTS", &entry)
        .env("DISTCC_FALLBACK", "0")
        .env("DISTCC_SKIP_LOCAL_RETRY", "1")
        .args(["gcc", "-O2", "-c", "hello.c", "-o", "hello.o"])
        .timeout(Duration::from_secs(60))
        .run_expect_failure();
    let stderr = text(&refused.stderr);
    assert!(stderr.contains("Permission denied"), "{stderr}");
    assert!(!open.join("hello.o").exists());
    assert_eq!(offer.jobs_served(), served, "no job ran for the other user");

    offer.child.signal(Signal::SIGTERM);
    let status = offer.child.wait_timeout(Duration::from_secs(30));
    assert!(
        status.is_some(),
        "the offer exits after SIGTERM:\n{}",
        offer.log()
    );
    assert_eq!(
        entry_files(&client),
        Vec::<PathBuf>::new(),
        "the entry is gone"
    );
    assert!(!socket.exists(), "the socket is gone");
    assert_eq!(show_hosts(&client, None), Vec::<String>::new());
}

/// A `--socket` offer and its holder die by `kill -9`: the entry left behind is not listed
/// (its socket refuses connections once sshd's session is gone) and is removed by the next
/// distfarm run on the client, with its socket.
#[test]
fn a_killed_socket_offers_entry_is_ignored_and_cleaned_up() {
    let sshd = Sshd::start();
    let client = client_without_hosts();
    let mut offer = Offer::start_socket(&sshd, &client, &["--slots", "2"]);
    offer.wait_offered("unix:", 1);
    let files = entry_files(&client);
    assert_eq!(files.len(), 1);
    let entry = show_hosts(&client, None).remove(0);
    let socket = socket_of(&entry);
    hello_through(&client, &entry, &offer);
    let holder = holder_pid(&files[0]);

    nix::sys::signal::kill(nix::unistd::Pid::from_raw(holder), Signal::SIGSTOP).unwrap();
    offer.child.kill();
    kill(holder);
    wait_for(
        "sshd to stop listening on the dead offer's socket",
        Duration::from_secs(20),
        || {
            matches!(
                std::os::unix::net::UnixStream::connect(&socket),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
            )
            .then_some(())
        },
        || sshd.log(),
    );
    assert_eq!(entry_files(&client), files, "nobody withdrew the entry");
    assert!(socket.exists(), "nobody removed the socket");

    assert_eq!(show_hosts(&client, Some("localhost/1")), ["localhost/1"]);
    assert_eq!(
        entry_files(&client),
        Vec::<PathBuf>::new(),
        "the dead entry is removed"
    );
    assert!(!socket.exists(), "the dead socket is removed");
}

/// Sockets in `offers/` that nobody listens on (an offer that died before recording its
/// entry) are removed by the next distfarm run; a file of the same kind of name that is not
/// a socket, and a socket that still listens, are left alone.
#[test]
fn dead_offer_sockets_are_removed_and_nothing_else_is() {
    let client = client_without_hosts();
    let offers = client.distcc_dir().join("offers");
    std::fs::create_dir(&offers).unwrap();
    let dead = offers.join("0123abcd.sock");
    drop(std::os::unix::net::UnixListener::bind(&dead).unwrap()); // the file stays
    let listening = offers.join("4567cdef.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&listening).unwrap();
    let not_a_socket = offers.join("89abcdef.sock");
    std::fs::write(&not_a_socket, "mine\n").unwrap();

    assert_eq!(show_hosts(&client, Some("localhost/1")), ["localhost/1"]);
    assert!(!dead.exists(), "the dead socket is removed");
    assert!(listening.exists(), "a listening socket is kept");
    assert_eq!(
        read_text(&not_a_socket),
        "mine\n",
        "a plain file is never removed"
    );
}

/// `--socket --hosts-file` is refused before anything starts: plain distcc cannot use a
/// socket entry, so it must never be written into the distcc hosts file.
#[test]
fn a_socket_offer_refuses_the_distcc_hosts_file() {
    let client = Work::new();
    let out = client
        .env(Cmd::new(distfarm_bin()), None)
        .args(["offer", "--socket", "--hosts-file", "somebody@somewhere"])
        .run_expect_failure();
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("plain distcc") && stderr.contains("cannot use a Unix socket"),
        "{stderr}"
    );
    assert!(!client.distcc_dir().join("hosts").exists());
}

/// `--socket` with no distfarm on the client: there is no one to make the socket's private
/// directory, so nothing is offered, and the offer says why (and keeps trying).
#[test]
fn a_socket_offer_without_distfarm_on_the_client_says_what_is_missing() {
    let sshd = Sshd::start();
    let client = Work::new();
    let offer = Offer::spawn(
        &sshd.ssh_config(),
        "/nonexistent/distfarm",
        &["farmhost", "--socket", "--slots", "2"],
        &client,
    );
    wait_for(
        "the reason",
        UP,
        || offer.log().contains("reconnecting").then_some(()),
        || offer.log(),
    );
    let log = offer.log();
    assert!(
        log.contains("cannot offer: --socket needs distfarm on the client")
            && log.contains("was not found there"),
        "{log}"
    );
    assert!(!log.contains("offered as"), "{log}");
    assert_eq!(entry_files(&client), Vec::<PathBuf>::new());
}

// ---------------------------------------------------------------------------------------
// Keepalives
// ---------------------------------------------------------------------------------------

/// The sshd processes serving the link are frozen (SIGSTOP: no reset, no FIN, just
/// silence). With `ServerAliveInterval 1` and `ServerAliveCountMax 2` the offer says
/// "lost" within about 2 s, and once the processes run again it reconnects and registers
/// again, and jobs go through it.
#[test]
fn a_frozen_link_is_noticed_by_keepalives_and_the_offer_comes_back() {
    let sshd = Sshd::start();
    let client = client_without_hosts();
    let dir = temp_dir("offer-keepalive");
    let config = dir.path().join("ssh_config");
    std::fs::write(
        &config,
        format!(
            "ServerAliveInterval 1\nServerAliveCountMax 2\n{}",
            read_text(&sshd.ssh_config())
        ),
    )
    .unwrap();
    let port = free_port();
    let command = format!(
        "env DISTCC_DIR={} {}",
        client.distcc_dir().display(),
        distfarm_bin().display()
    );
    let offer = Offer::spawn(
        &config,
        &command,
        &["farmhost", "--slots", "2", "--port", &port.to_string()],
        &client,
    );
    let entry = format!("127.0.0.1:{port}/2");
    offer.wait_offered(&entry, 1);

    let frozen = Frozen::stop(sshd_session_processes(&sshd));
    assert!(!frozen.0.is_empty(), "sshd serves the offer's connection");
    let stopped_at = Instant::now();
    wait_for(
        "the offer to notice the frozen link",
        Duration::from_secs(15),
        || offer.log().contains(": lost: ").then_some(()),
        || offer.log(),
    );
    let noticed = stopped_at.elapsed();
    assert!(
        noticed < Duration::from_secs(10),
        "noticed after {noticed:?} with keepalives every 1 s, 2 unanswered allowed:\n{}",
        offer.log()
    );
    drop(frozen); // SIGCONT: the old session finds its peer gone and frees the port
    offer.wait_offered(&entry, 2);
    wait_for(
        "the new registration",
        Duration::from_secs(40),
        || (show_hosts(&client, None) == [entry.as_str()]).then_some(()),
        || offer.log(),
    );
    hello_through(&client, &entry, &offer);
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// `distfarm offer --verbose …` in the background, its output in a log file.
struct Offer {
    child: ChildGuard,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Offer {
    /// A `--socket` offer to `farmhost` that registers in `client`'s `DISTCC_DIR`.
    fn start_socket(sshd: &Sshd, client: &Work, args: &[&str]) -> Offer {
        let command = format!(
            "env DISTCC_DIR={} {}",
            client.distcc_dir().display(),
            distfarm_bin().display()
        );
        let mut all = vec!["farmhost", "--socket"];
        all.extend(args);
        Offer::spawn(&sshd.ssh_config(), &command, &all, client)
    }

    /// An offer to `farmhost` (the sshd) that registers in `client`'s `DISTCC_DIR`.
    fn start(sshd: &Sshd, client: &Work, args: &[&str], port: u16) -> Offer {
        let command = format!(
            "env DISTCC_DIR={} {}",
            client.distcc_dir().display(),
            distfarm_bin().display()
        );
        let mut all = vec!["farmhost", "--port"];
        let port = port.to_string();
        all.push(&port);
        all.extend(args);
        Offer::spawn(&sshd.ssh_config(), &command, &all, client)
    }

    fn spawn(ssh_config: &Path, client_command: &str, args: &[&str], client: &Work) -> Offer {
        let dir = temp_dir("offer");
        let log = dir.path().join("offer.log");
        let file = std::fs::File::create(&log).unwrap();
        let mut cmd = client
            .env(Cmd::new(distfarm_bin()), None)
            .arg("offer")
            .arg("--verbose")
            .arg("--client-command")
            .arg(client_command)
            .arg("--max-backoff")
            .arg("2")
            .args(args)
            .env("DISTFARM_SSH_CONFIG", ssh_config)
            .to_command();
        cmd.stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file));
        Offer {
            child: ChildGuard::spawn(cmd, "distfarm offer"),
            log,
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        read_text(&self.log)
    }

    /// Waits until the log says `offered as ENTRY` `times` times (an ENTRY ending in `:`
    /// matches any port).
    #[track_caller]
    fn wait_offered(&self, entry: &str, times: usize) {
        let count = |log: &str| {
            log.lines()
                .filter_map(|l| l.split_once(": offered as "))
                .filter(|(_, e)| *e == entry || (entry.ends_with(':') && e.starts_with(entry)))
                .count()
        };
        wait_for(
            &format!("offered as {entry} × {times}"),
            UP,
            || (count(&self.log()) >= times).then_some(()),
            || self.log(),
        );
    }

    /// Jobs compiled through this offer.
    /// Jobs compiled (the wrappers' compiler identity probes are not jobs).
    fn jobs_served(&self) -> usize {
        self.log()
            .lines()
            .filter(|l| l.contains("COMPILE_OK") && !is_identity_probe(l))
            .count()
    }
}

/// A client whose own hosts file lists nothing (so that the machine's /etc/distcc/hosts is
/// not used): offers are its only hosts.
fn client_without_hosts() -> Work {
    let client = Work::new();
    std::fs::write(client.distcc_dir().join("hosts"), "# no hosts of my own\n").unwrap();
    client
}

/// `distfarm --show-hosts` on the client.
fn show_hosts(client: &Work, hosts: Option<&str>) -> Vec<String> {
    let out = client.distfarm(hosts).arg("--show-hosts").run();
    text(&out.stdout).lines().map(String::from).collect()
}

/// `distfarm gcc -O2 -c hello.c` remote-or-fail through `entry` alone.
/// `project` built by distfarm with the client's own host list (offers included), remote or
/// fail; the objects in unit order.
fn distfarm_build(client: &Work, project: &CProject, out: &Path, offer: &Offer) -> Vec<Vec<u8>> {
    build(project, &LUA_EXTRA, out, 4, |unit, args| {
        let cmd = client
            .distfarm(None)
            .current_dir(project.root())
            .env("DISTCC_FALLBACK", "0")
            .env("DISTCC_SKIP_LOCAL_RETRY", "1")
            .arg("gcc")
            .args(args);
        if let Err(e) = cmd.output() {
            panic!(
                "distfarm on {}: {e}\n{}",
                unit.source.display(),
                offer.log()
            );
        }
    })
}

fn hello_through(client: &Work, entry: &str, offer: &Offer) {
    let before = offer.jobs_served();
    let out = client
        .distfarm(Some(entry))
        .env("DISTCC_FALLBACK", "0")
        .env("DISTCC_SKIP_LOCAL_RETRY", "1")
        .args(["gcc", "-O2", "-c", "hello.c", "-o", "out/hello.o"])
        .output();
    if let Err(e) = out {
        panic!("hello through {entry}: {e}\n{}", offer.log());
    }
    assert_eq!(client.read("out/hello.o"), client.hello_reference());
    assert_eq!(offer.jobs_served(), before + 1, "{}", offer.log());
}

fn entry_files(client: &Work) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(client.distcc_dir().join("offers"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "entry"))
        .collect();
    files.sort();
    files
}

fn holder_pid(entry_file: &Path) -> i32 {
    read_text(entry_file)
        .lines()
        .find_map(|l| l.strip_prefix("pid "))
        .and_then(|p| p.trim().parse().ok())
        .expect("a pid line")
}

/// An ssh_config with `client-a` and `client-b`, one per sshd.
fn two_client_config(a: &Sshd, b: &Sshd, dir: &Path) -> PathBuf {
    let host = |alias: &str, s: &Sshd| {
        format!(
            "Host {alias}\n  HostName 127.0.0.1\n  Port {}\n  User {}\n  IdentityFile {}\n  \
             IdentitiesOnly yes\n  UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n  \
             StrictHostKeyChecking yes\n  BatchMode yes\n",
            s.port(),
            s.user(),
            s.client_key().display(),
            s.known_hosts().display()
        )
    };
    let file = dir.join("ssh_config");
    std::fs::write(&file, host("client-a", a) + &host("client-b", b)).unwrap();
    file
}

/// Compilers (`cc1`) running under `root`.
fn compilers_under(root: i32) -> usize {
    let all = processes();
    descendants(root, &all)
        .iter()
        .filter(|p| p.comm == "cc1")
        .count()
}

/// The socket of a `unix:PATH/N` entry.
fn socket_of(entry: &str) -> PathBuf {
    let rest = entry.strip_prefix("unix:").expect("a socket entry");
    let (path, limit) = rest.rsplit_once('/').expect("PATH/N");
    assert!(limit.parse::<u32>().is_ok(), "{entry}");
    PathBuf::from(path)
}

/// Processes stopped with SIGSTOP; continued (SIGCONT) when dropped, whatever the test did.
struct Frozen(Vec<i32>);

impl Frozen {
    fn stop(pids: Vec<i32>) -> Frozen {
        for &pid in &pids {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGSTOP);
        }
        Frozen(pids)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        for &pid in &self.0 {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGCONT);
        }
    }
}

/// The sshd processes serving the open connections of `sshd`.
fn sshd_session_processes(sshd: &Sshd) -> Vec<i32> {
    let listener: i32 = read_text(&sshd.dir().join("sshd.pid"))
        .trim()
        .parse()
        .expect("pid");
    let all = processes();
    descendants(listener, &all)
        .iter()
        .filter(|p| p.comm.starts_with("sshd"))
        .map(|p| p.pid)
        .collect()
}
