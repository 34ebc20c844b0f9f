//! `distfarm doctor` against four SSH hosts on the real OpenSSH sshd: a good one, one whose
//! `gcc` (a wrapper script first on sshd's PATH) reports another version, one where nothing
//! listens, and one whose host key is pinned nowhere. One line per host, each problem with
//! its next step, a non-zero exit, and the same facts as JSON.

use std::path::Path;
use std::time::Duration;

use crate::support::{Cmd, Sshd, distfarm_bin, free_port, text, write_script};

/// The four hosts in one ssh config, as the invoking user would have them.
fn ssh_config(good: &Sshd, odd: &Sshd, dir: &Path) -> std::path::PathBuf {
    let empty = dir.join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let host = |alias: &str, sshd: &Sshd, port: u16, known_hosts: &Path| {
        format!(
            "Host {alias}\n    HostName 127.0.0.1\n    Port {port}\n    User {}\n    \
             IdentityFile {}\n    IdentitiesOnly yes\n    UserKnownHostsFile {}\n    \
             GlobalKnownHostsFile /dev/null\n    StrictHostKeyChecking yes\n    BatchMode yes\n    \
             ConnectTimeout 5\n",
            sshd.user(),
            sshd.client_key().display(),
            known_hosts.display()
        )
    };
    let config = [
        host("good", good, good.port(), &good.known_hosts()),
        host("oddgcc", odd, odd.port(), &odd.known_hosts()),
        host("nowhere", good, free_port(), &good.known_hosts()),
        host("newkey", good, good.port(), &empty),
    ]
    .concat();
    let file = dir.join("ssh_config");
    std::fs::write(&file, config).unwrap();
    file
}

#[test]
fn doctor_reports_each_host_and_the_next_step_for_each_problem() {
    let wrappers = crate::support::files::readable_temp_dir("doctor-bin");
    write_script(
        &wrappers.path().join("gcc"),
        "case \"$1\" in -dumpfullversion|-dumpversion) echo 9.9.9;; *) exec /usr/bin/gcc \"$@\";; esac",
    );
    let good = Sshd::start();
    let odd = Sshd::builder()
        .config_line(format!(
            "SetEnv PATH={}:/usr/local/bin:/usr/bin:/bin",
            wrappers.path().display()
        ))
        .start();
    let work = crate::support::temp_dir("doctor");
    let config = ssh_config(&good, &odd, work.path());
    let doctor = || {
        Cmd::new(distfarm_bin())
            .arg("doctor")
            .env("DISTFARM_SSH_CONFIG", &config)
            .env("DISTCC_HOSTS", "@good @oddgcc @nowhere @newkey")
            .env("DISTCC_DIR", work.path().join("distcc"))
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("CFLAGS")
            .env_remove("CXXFLAGS")
            .timeout(Duration::from_secs(120))
    };

    let out = doctor().run_expect_failure();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let report = text(&out.stdout);
    let line = |host: &str| {
        report
            .lines()
            .find(|l| l.starts_with(&format!("{host}: ")))
            .unwrap_or_else(|| panic!("no line for {host}:\n{report}"))
            .to_string()
    };
    // The good host: everything, and distcc's own server recognised.
    let good_line = line("@good");
    assert!(
        good_line.starts_with("@good: reachable, logged in, host key pinned, distccd 3.4"),
        "{report}"
    );
    assert!(good_line.contains("compilers: all"), "{report}");
    // Another gcc: named, with both versions and what to do.
    let odd_line = line("@oddgcc");
    assert!(odd_line.contains("gcc not"), "{report}");
    let here = text(&Cmd::new("gcc").arg("-dumpfullversion").run().stdout);
    let here = here.trim();
    assert!(
        report.contains(&format!(
            "gcc is 9.9.9 for x86_64-linux-gnu on oddgcc but {here}"
        )),
        "{report}"
    );
    assert!(
        report.contains(&format!("next: install gcc {here}")),
        "{report}"
    );
    // Nothing listening.
    assert!(
        line("@nowhere").starts_with("@nowhere: UNREACHABLE"),
        "{report}"
    );
    // A host key pinned nowhere: not logged in, and the way to pin it.
    assert!(
        line("@newkey").starts_with("@newkey: reachable, HOST KEY NOT PINNED"),
        "{report}"
    );
    assert!(report.contains("--accept-new newkey"), "{report}");
    assert_eq!(
        report.matches("  problem: ").count(),
        report.matches("     next: ").count(),
        "every problem has its next step:\n{report}"
    );

    let out = doctor().arg("--json").run_expect_failure();
    let json = text(&out.stdout);
    assert!(json.contains("\"ok\": false"), "{json}");
    for expected in [
        "{\"host\": \"@good\", \"kind\": \"ssh\", \"reachable\": true, \"authenticated\": true, \
         \"host_key_pinned\": true, \"server\": \"distccd 3.4",
        "{\"host\": \"@nowhere\", \"kind\": \"ssh\", \"reachable\": false",
        "{\"host\": \"@newkey\", \"kind\": \"ssh\", \"reachable\": true, \"authenticated\": null, \
         \"host_key_pinned\": false",
        "\"there\": {\"version\": \"9.9.9\"",
    ] {
        assert!(json.contains(expected), "{expected} in\n{json}");
    }
}

#[test]
fn doctor_exits_0_when_every_host_is_right() {
    let good = Sshd::start();
    let out = Cmd::new(distfarm_bin())
        .arg("doctor")
        .env("DISTFARM_SSH_CONFIG", good.ssh_config())
        .env("DISTCC_HOSTS", good.distcc_host())
        .env_remove("SSH_AUTH_SOCK")
        .env_remove("CFLAGS")
        .env_remove("CXXFLAGS")
        .timeout(Duration::from_secs(120))
        .run();
    let report = text(&out.stdout);
    assert!(report.ends_with("everything looks right\n"), "{report}");
}
