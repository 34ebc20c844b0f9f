//! `distfarm keys --for ACCOUNT HOST`: a throwaway system account set up against the real
//! OpenSSH sshd, then checked with the real `ssh` run as that account. The invoking user
//! (root) reaches the build host through its own ssh config as the account itself (the
//! remote user), so the key lands in the account's own `~/.ssh/authorized_keys`, which the
//! test sshd reads besides its shared file.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::system_account::SystemAccount;
use crate::support::{Cmd, Sshd, distfarm_bin, read_text, require, text};

/// The invoking user's ssh config: `buildbox` is the sshd as the account, with root's own
/// key and known_hosts; `fresh` is the same host with an empty known_hosts.
fn invoker_config(sshd: &Sshd, account: &SystemAccount, dir: &Path) -> PathBuf {
    let empty = dir.join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let common = |known_hosts: &Path| {
        format!(
            "    HostName 127.0.0.1\n    Port {}\n    User {}\n    IdentityFile {}\n    \
             IdentitiesOnly yes\n    UserKnownHostsFile {}\n    GlobalKnownHostsFile /dev/null\n    \
             StrictHostKeyChecking yes\n    BatchMode yes\n",
            sshd.port(),
            account.name(),
            sshd.client_key().display(),
            known_hosts.display()
        )
    };
    let config = format!(
        "Host buildbox\n{}Host fresh\n{}",
        common(&sshd.known_hosts()),
        common(&empty)
    );
    let file = dir.join("ssh_config");
    std::fs::write(&file, config).unwrap();
    file
}

fn keys(config: &Path) -> Cmd {
    Cmd::new(distfarm_bin())
        .arg("keys")
        .env("DISTFARM_SSH_CONFIG", config)
        .env_remove("SSH_AUTH_SOCK")
        .timeout(Duration::from_secs(120))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .mode()
        & 0o7777
}

fn owner(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().uid()
}

#[test]
fn keys_sets_up_a_service_account_once_and_never_replaces_a_pinned_key() {
    let sshd = Sshd::builder().home_authorized_keys().start();
    let account = SystemAccount::create();
    let work = crate::support::temp_dir("keys");
    let config = invoker_config(&sshd, &account, work.path());
    let name = account.name();
    let ssh_dir = account.home().join(".ssh");
    let known_hosts = ssh_dir.join("known_hosts");

    // A host pinned nowhere: its fingerprint is shown, and nothing happens without
    // --accept-new.
    let out = keys(&config)
        .args(["--for", name, "fresh"])
        .run_expect_failure();
    let fingerprint = text(
        &Cmd::new(require("ssh-keygen", "openssh-client"))
            .args(["-l", "-f"])
            .arg(sshd.host_public_key())
            .run()
            .stdout,
    );
    let fingerprint = fingerprint.split_whitespace().nth(1).unwrap().to_string();
    assert!(text(&out.stdout).contains(&fingerprint), "{out:?}");
    assert!(text(&out.stderr).contains("--accept-new"), "{out:?}");
    assert!(text(&out.stderr).contains("nothing was changed"), "{out:?}");
    assert!(!known_hosts.exists());

    // --dry-run says what it would do and does nothing.
    let out = keys(&config)
        .args(["--for", name, "--dry-run", "buildbox"])
        .run();
    assert!(
        text(&out.stdout).contains("would create an ed25519 key"),
        "{out:?}"
    );
    assert!(text(&out.stdout).contains("would pin"), "{out:?}");
    assert!(!ssh_dir.exists(), "a dry run created {}", ssh_dir.display());

    // The first run sets everything up and checks the login as the account.
    let first = keys(&config).args(["--for", name, "buildbox"]).run();
    let stdout = text(&first.stdout);
    assert!(
        stdout.contains(&format!("buildbox: {name} logs in with its own key")),
        "{first:?}"
    );
    assert!(stdout.contains("change(s) made"), "{first:?}");
    let key = ssh_dir.join("id_ed25519");
    assert_eq!(mode(&ssh_dir), 0o700);
    assert_eq!(mode(&key), 0o600);
    for file in [&ssh_dir, &key, &ssh_dir.join("config"), &known_hosts] {
        assert_eq!(
            owner(file),
            account.uid(),
            "{} belongs to the account",
            file.display()
        );
    }
    assert!(read_text(&key).starts_with("-----BEGIN OPENSSH PRIVATE KEY-----"));
    let ssh_config = read_text(&ssh_dir.join("config"));
    for line in [
        "Host buildbox".to_string(),
        "HostName 127.0.0.1".to_string(),
        format!("Port {}", sshd.port()),
        format!("User {name}"),
    ] {
        assert!(ssh_config.contains(&line), "{line:?} in\n{ssh_config}");
    }
    assert_eq!(
        read_text(&known_hosts).trim(),
        format!("[127.0.0.1]:{} {}", sshd.port(), sshd.host_key_line())
    );
    let public = read_text(&ssh_dir.join("id_ed25519.pub"));
    assert!(
        read_text(&ssh_dir.join("authorized_keys")).contains(public.trim()),
        "the key is installed on the build host"
    );

    // The real OpenSSH client, run as the account, uses what was written.
    let out = account
        .run_as(require("ssh", "openssh-client"))
        .args(["buildbox", "id", "-un"])
        .run();
    assert_eq!(text(&out.stdout).trim(), name);

    // A second run changes nothing and says so.
    let files = [
        &key,
        &ssh_dir.join("config"),
        &known_hosts,
        &ssh_dir.join("authorized_keys"),
    ];
    let before: Vec<String> = files.iter().map(|f| read_text(f)).collect();
    let second = keys(&config).args(["--for", name, "buildbox"]).run();
    assert!(
        text(&second.stdout).contains("nothing changed"),
        "{second:?}"
    );
    let after: Vec<String> = files.iter().map(|f| read_text(f)).collect();
    assert_eq!(before, after);

    // Another key pinned for the host stops the run; the pin is kept.
    let other = work.path().join("other");
    Cmd::new(require("ssh-keygen", "openssh-client"))
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other)
        .run();
    let other_key = read_text(&other.with_extension("pub"));
    let other_key: Vec<&str> = other_key.split_whitespace().take(2).collect();
    let pinned = format!("[127.0.0.1]:{} {}\n", sshd.port(), other_key.join(" "));
    std::fs::write(&known_hosts, &pinned).unwrap();
    let out = keys(&config)
        .args(["--for", name, "buildbox"])
        .run_expect_failure();
    assert!(
        text(&out.stderr).contains("never replaces a pinned key"),
        "{out:?}"
    );
    assert!(text(&out.stderr).contains("nothing was changed"), "{out:?}");
    assert_eq!(read_text(&known_hosts), pinned);
}

#[test]
fn a_host_pinned_nowhere_is_pinned_for_the_account_only_with_accept_new() {
    let sshd = Sshd::builder().home_authorized_keys().start();
    let account = SystemAccount::create();
    let work = crate::support::temp_dir("keys-new");
    let config = invoker_config(&sshd, &account, work.path());
    let known_hosts = account.home().join(".ssh/known_hosts");

    let refused = keys(&config)
        .args(["--for", account.name(), "fresh"])
        .run_expect_failure();
    assert!(
        text(&refused.stderr).contains("--accept-new"),
        "{refused:?}"
    );
    assert!(!known_hosts.exists());

    let out = keys(&config)
        .args(["--for", account.name(), "--accept-new", "fresh"])
        .run();
    assert!(
        text(&out.stdout).contains("fetched, accepted with --accept-new"),
        "{out:?}"
    );
    assert!(
        text(&out.stdout).contains(&format!("fresh: {} logs in", account.name())),
        "{out:?}"
    );
    assert_eq!(
        read_text(&known_hosts).trim(),
        format!("[127.0.0.1]:{} {}", sshd.port(), sshd.host_key_line())
    );
    // The invoking user's own known_hosts is left as it was.
    assert_eq!(read_text(&work.path().join("empty_known_hosts")), "");
}
