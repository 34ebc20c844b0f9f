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

/// The invoking user's ssh config for a build host behind a jump host: `farmhost` is
/// `target` as `account`, reached with `ProxyJump jumphost`; `jumphost` is `bastion` as
/// `jump` (another account, so the key installed there lands in a file of its own).
fn proxy_jump_invoker_config(
    target: &Sshd,
    bastion: &Sshd,
    account: &SystemAccount,
    jump: &SystemAccount,
    dir: &Path,
) -> PathBuf {
    let config = format!(
        "Host farmhost\n    HostName 127.0.0.1\n    Port {tp}\n    User {account}\n    \
         IdentityFile {tk}\n    ProxyJump jumphost\n\
         Host jumphost\n    HostName 127.0.0.1\n    Port {bp}\n    User {jump}\n    \
         IdentityFile {bk}\n\
         Host *\n    IdentitiesOnly yes\n    UserKnownHostsFile {bkh} {tkh}\n    \
         GlobalKnownHostsFile /dev/null\n    StrictHostKeyChecking yes\n    BatchMode yes\n",
        tp = target.port(),
        tk = target.client_key().display(),
        account = account.name(),
        bp = bastion.port(),
        bk = bastion.client_key().display(),
        jump = jump.name(),
        bkh = bastion.known_hosts().display(),
        tkh = target.known_hosts().display(),
    );
    let file = dir.join("ssh_config");
    std::fs::write(&file, config).unwrap();
    file
}

/// `ssh-keygen -l`'s `SHA256:…` of a public key file.
fn fingerprint(public_key: &Path) -> String {
    let out = Cmd::new(require("ssh-keygen", "openssh-client"))
        .args(["-l", "-f"])
        .arg(public_key)
        .run();
    text(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
}

#[test]
fn keys_for_a_host_behind_a_proxy_jump_installs_the_key_on_both_and_logs_in_through_the_jump() {
    let bastion = Sshd::builder().home_authorized_keys().start();
    let target = Sshd::builder().home_authorized_keys().start();
    let account = SystemAccount::create();
    let jump = SystemAccount::create();
    let work = crate::support::temp_dir("keys-jump");
    let config = proxy_jump_invoker_config(&target, &bastion, &account, &jump, work.path());
    let name = account.name();
    let ssh_dir = account.home().join(".ssh");

    let first = keys(&config).args(["--for", name, "farmhost"]).run();
    let stdout = text(&first.stdout);
    assert!(
        stdout.contains(&format!("farmhost: {name} logs in with its own key")),
        "{first:?}"
    );

    // The account's Host block carries the jump as the invoking user's config resolves it:
    // an entry of its own, with the account's key.
    let ssh_config = read_text(&ssh_dir.join("config"));
    let key_file = format!(
        "    IdentityFile {}\n",
        ssh_dir.join("id_ed25519").display()
    );
    for entry in [
        format!(
            "Host farmhost\n    HostName 127.0.0.1\n    Port {}\n    User {name}\n    \
             ProxyJump farmhost-jump1\n",
            target.port()
        ),
        format!(
            "Host farmhost-jump1\n    HostName 127.0.0.1\n    Port {}\n    User {}\n{key_file}",
            bastion.port(),
            jump.name()
        ),
    ] {
        assert!(ssh_config.contains(&entry), "{entry:?} in\n{ssh_config}");
    }
    // Both host keys pinned for the account, each under its own name.
    let known_hosts = read_text(&ssh_dir.join("known_hosts"));
    for (sshd, what) in [(&bastion, "the jump host"), (&target, "the build host")] {
        let pin = format!("[127.0.0.1]:{} {}", sshd.port(), sshd.host_key_line());
        assert!(
            known_hosts.lines().any(|l| l == pin),
            "{what} pinned:\n{known_hosts}"
        );
    }
    // The key is in the build host's authorized_keys and in the jump host's (its user's).
    let public = read_text(&ssh_dir.join("id_ed25519.pub"));
    for (home, what) in [(account.home(), "build host"), (jump.home(), "jump host")] {
        let file = home.join(".ssh/authorized_keys");
        assert!(
            read_text(&file).contains(public.trim()),
            "the key is installed on the {what} ({})",
            file.display()
        );
    }

    // The real OpenSSH client, run as the account, goes through the jump with its own key.
    let jumps_before = bastion.log();
    let out = account
        .run_as(require("ssh", "openssh-client"))
        .args(["farmhost", "id", "-un"])
        .run();
    assert_eq!(text(&out.stdout).trim(), name);
    let jump_log = bastion.log()[jumps_before.len()..].to_string();
    let login = format!("Accepted publickey for {}", jump.name());
    let account_key = fingerprint(&ssh_dir.join("id_ed25519.pub"));
    assert!(
        jump_log
            .lines()
            .any(|l| l.contains(&login) && l.contains(&account_key)),
        "the jump host saw the account's key ({account_key}) log in as {}:\n{jump_log}",
        jump.name()
    );

    // A second run changes nothing.
    let second = keys(&config).args(["--for", name, "farmhost"]).run();
    assert!(
        text(&second.stdout).contains("nothing changed"),
        "{second:?}"
    );
}

/// A home for `account` away from the password database's: (its guard, the directory).
fn other_home(account: &SystemAccount) -> (tempfile::TempDir, PathBuf) {
    let parent = crate::support::files::readable_temp_dir("keys-other-home");
    let home = parent.path().join("builds");
    std::fs::create_dir(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(account.uid()), None).unwrap();
    (parent, home)
}

#[test]
fn keys_with_home_writes_there_and_the_account_logs_in_from_there() {
    let sshd = Sshd::builder().home_authorized_keys().start();
    let account = SystemAccount::create();
    let work = crate::support::temp_dir("keys-home");
    let config = invoker_config(&sshd, &account, work.path());
    let name = account.name();
    let (_home_parent, home) = other_home(&account);

    let out = keys(&config)
        .args(["--for", name, "--home"])
        .arg(&home)
        .arg("buildbox")
        .run();
    assert!(
        text(&out.stdout).contains(&format!("buildbox: {name} logs in with its own key")),
        "{out:?}"
    );
    let ssh_dir = home.join(".ssh");
    for file in ["id_ed25519", "id_ed25519.pub", "config", "known_hosts"] {
        let file = ssh_dir.join(file);
        assert_eq!(owner(&file), account.uid(), "{}", file.display());
    }
    assert_eq!(mode(&ssh_dir), 0o700);
    assert!(
        !account.home().join(".ssh/id_ed25519").exists(),
        "nothing written in the home of the password database"
    );
    // The config names the key and known_hosts by absolute path: plain OpenSSH, given that
    // config, logs in as the account whatever its home.
    let ssh_config = ssh_dir.join("config");
    assert!(
        read_text(&ssh_config).contains(&format!(
            "IdentityFile {}",
            ssh_dir.join("id_ed25519").display()
        )),
        "{}",
        read_text(&ssh_config)
    );
    let out = account
        .run_as(require("ssh", "openssh-client"))
        .arg("-F")
        .arg(&ssh_config)
        .args(["buildbox", "id", "-un"])
        .run();
    assert_eq!(text(&out.stdout).trim(), name);

    let second = keys(&config)
        .args(["--for", name, "--home"])
        .arg(&home)
        .arg("buildbox")
        .run();
    assert!(
        text(&second.stdout).contains("nothing changed"),
        "{second:?}"
    );
}

#[test]
fn keys_with_home_through_a_proxy_jump_lets_plain_openssh_log_in_through_the_jump() {
    let bastion = Sshd::builder().home_authorized_keys().start();
    let target = Sshd::builder().home_authorized_keys().start();
    let account = SystemAccount::create();
    let jump = SystemAccount::create();
    let work = crate::support::temp_dir("keys-home-jump");
    let config = proxy_jump_invoker_config(&target, &bastion, &account, &jump, work.path());
    let name = account.name();
    let (_home_parent, home) = other_home(&account);

    let out = keys(&config)
        .args(["--for", name, "--home"])
        .arg(&home)
        .arg("farmhost")
        .run();
    assert!(
        text(&out.stdout).contains(&format!("farmhost: {name} logs in with its own key")),
        "{out:?}"
    );
    // Plain OpenSSH given the account's config: the jump, too, uses the key and known_hosts
    // under --home (OpenSSH reads the password database's home, not $HOME, for defaults).
    let ssh_config = home.join(".ssh/config");
    let out = account
        .run_as(require("ssh", "openssh-client"))
        .arg("-F")
        .arg(&ssh_config)
        .args(["farmhost", "id", "-un"])
        .output_unchecked()
        .unwrap();
    assert_eq!(
        text(&out.stdout).trim(),
        name,
        "{out:?}\n{}",
        read_text(&ssh_config)
    );
}
