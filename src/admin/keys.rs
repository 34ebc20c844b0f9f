//! `distfarm keys --for ACCOUNT HOST…`: SSH for a service account such as `portage`, made
//! the way its operator's own SSH already works, and idempotent.
//!
//! First everything is looked at and nothing is changed ([`plan`]): each host resolved through
//! the invoking user's ssh config, each host key found in the invoking user's known_hosts
//! (or fetched, and then used only with `--accept-new`), and compared with what the account
//! already pins. Any problem stops the run there. Then ([`apply`]) the account's `~/.ssh`,
//! key, known_hosts pins and `Host` blocks are written where they differ, and the public key
//! is installed on each host (and `ProxyJump` hop) with the invoking user's credentials.
//! The login check as the account is the application's (it may need another process).

use std::io::Write;

use russh::keys::PublicKey;

use super::keys_files::{self as files, FileError, Target};
use super::keys_remote::{self as remote, Installed};
use crate::transport::ssh::known_hosts::{self, Verdict};
use crate::transport::ssh::{self, ResolvedHost, SshSettings};

/// What `distfarm keys` was asked to do.
#[derive(Debug, Clone)]
pub struct KeysSettings {
    pub target: Target,
    /// `[USER@]HOST` as given.
    pub hosts: Vec<String>,
    pub accept_new: bool,
    pub dry_run: bool,
    /// The invoking user's SSH: its config, known_hosts, keys and agent.
    pub invoker: SshSettings,
    /// For the key's comment.
    pub local_host_name: String,
}

/// One build host, looked at.
#[derive(Debug, Clone)]
pub struct HostPlan {
    /// The alias of the `Host` block (the host as given, without `USER@`).
    pub alias: String,
    /// How the invoking user reaches it (hops included).
    pub host: ResolvedHost,
    /// Keys for the host and each hop, in the account's known_hosts names.
    pub pins: Vec<Pin>,
    pub block: String,
}

#[derive(Debug, Clone)]
pub struct Pin {
    /// The name looked up in the account's known_hosts (`host` or `[host]:port`).
    pub name: String,
    pub key: PublicKey,
    /// Where the key came from, for the report.
    pub source: String,
    /// Already pinned by the account.
    pub pinned: bool,
}

/// What the run did: how many things changed, and what went wrong (each with its next step).
#[derive(Debug, Default)]
pub struct Outcome {
    pub changes: usize,
    pub problems: Vec<String>,
}

/// Looks at every host; changes nothing. Problems come back with their next step.
pub async fn plan(settings: &KeysSettings, out: &mut dyn Write) -> (Vec<HostPlan>, Vec<String>) {
    let mut plans = Vec::new();
    let mut problems = Vec::new();
    for spec in &settings.hosts {
        let (user, alias) = split_spec(spec);
        let host = match ssh::resolve(alias, user, None, &settings.invoker) {
            Ok(host) => host,
            Err(e) => {
                problems.push(format!("{spec}: {e}"));
                continue;
            }
        };
        let mut pins = Vec::new();
        let chain: Vec<&ResolvedHost> = host.proxy_jump.iter().chain([&host]).collect();
        for (i, reached) in chain.iter().enumerate() {
            let is_target = i + 1 == chain.len();
            match pins_for(reached, &host.proxy_jump[..i], is_target, settings, out).await {
                Ok(mut found) => pins.append(&mut found),
                Err(problem) => problems.push(format!("{spec}: {problem}")),
            }
        }
        let block = host_blocks(&alias.to_lowercase(), &host, &settings.target);
        plans.push(HostPlan {
            alias: alias.to_lowercase(),
            host,
            pins,
            block,
        });
    }
    (plans, problems)
}

/// `[USER@]HOST` → the user, if any, and the host.
pub fn split_spec(spec: &str) -> (Option<&str>, &str) {
    match spec.rsplit_once('@') {
        Some((user, alias)) if !user.is_empty() => (Some(user), alias),
        _ => (None, spec.trim_start_matches('@')),
    }
}

/// The `Host` entries for `alias`: the build host where the invoking user's config says it
/// is, and each `ProxyJump` hop under an alias of its own (`ALIAS-jump1`, …). A hop written
/// as `user@host:port` would get none of the account's options: OpenSSH connects to it with
/// its defaults, the key and known_hosts in the password database's home, which is not the
/// account's own with `--home`. Its own entry names them by absolute path, as the build
/// host's does.
fn host_blocks(alias: &str, host: &ResolvedHost, target: &Target) -> String {
    let hop_aliases: Vec<String> = (1..=host.proxy_jump.len())
        .map(|n| format!("{alias}-jump{n}"))
        .collect();
    let mut options = place(host);
    if !hop_aliases.is_empty() {
        options.push(("ProxyJump", hop_aliases.join(",")));
    }
    if let Some(key_alias) = &host.host_key_alias {
        options.push(("HostKeyAlias", key_alias.clone()));
    }
    options.extend(account_options(target));
    let mut entries = vec![(alias.to_string(), options)];
    for (hop, hop_alias) in host.proxy_jump.iter().zip(hop_aliases) {
        // No HostKeyAlias: the account pins a hop under its host name (see `pins_for`).
        let mut options = place(hop);
        options.extend(account_options(target));
        entries.push((hop_alias, options));
    }
    files::host_blocks(alias, &entries)
}

/// Where a host is: `HostName`, `Port`, `User`.
fn place(host: &ResolvedHost) -> Vec<(&'static str, String)> {
    vec![
        ("HostName", host.host_name.clone()),
        ("Port", host.port.to_string()),
        ("User", host.user.clone()),
    ]
}

/// The account's own key and known_hosts (absolute, so `--home` holds for plain `ssh` too),
/// and no questions asked.
fn account_options(target: &Target) -> Vec<(&'static str, String)> {
    vec![
        ("IdentityFile", target.key_file().display().to_string()),
        ("IdentitiesOnly", "yes".into()),
        (
            "UserKnownHostsFile",
            target.known_hosts().display().to_string(),
        ),
        ("StrictHostKeyChecking", "yes".into()),
        ("BatchMode", "yes".into()),
    ]
}

/// The keys to pin for `reached` (the build host, or a hop reached through `hops`).
async fn pins_for(
    reached: &ResolvedHost,
    hops: &[ResolvedHost],
    is_target: bool,
    settings: &KeysSettings,
    out: &mut dyn Write,
) -> Result<Vec<Pin>, String> {
    let invoker_name = known_hosts::lookup_name(&reached.known_hosts_name(), reached.port);
    // A hop's entry has no HostKeyAlias, so the account looks it up by its host name; the
    // build host keeps its HostKeyAlias in the block.
    let account_name = if is_target {
        invoker_name.clone()
    } else {
        known_hosts::lookup_name(&reached.host_name, reached.port)
    };
    let invoker_files: Vec<_> = reached
        .known_hosts
        .iter()
        .chain(&reached.global_known_hosts)
        .cloned()
        .collect();
    let mut keys: Vec<(PublicKey, String)> =
        known_hosts::entries_for(&invoker_name, &invoker_files)
            .into_iter()
            .filter(|k| !k.revoked)
            .map(|k| (k.key, format!("{}:{}", k.file.display(), k.line)))
            .collect();
    if keys.is_empty() {
        let mut direct = reached.clone();
        direct.proxy_jump = hops.to_vec();
        let key = ssh::fetch_host_key(&direct)
            .await
            .map_err(|e| format!("its host key is pinned nowhere and cannot be fetched: {e}"))?;
        let _ = writeln!(
            out,
            "{invoker_name}: pinned nowhere; the server offers {}",
            files::describe_key(&key)
        );
        if !settings.accept_new {
            return Err(format!(
                "the host key of {invoker_name} is pinned nowhere (not in {}); the server \
                 offers {}. Check that fingerprint with the host's administrator (on the host: \
                 `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`), then run again with \
                 --accept-new",
                invoker_files
                    .first()
                    .map(|f| f.display().to_string())
                    .unwrap_or_default(),
                files::describe_key(&key)
            ));
        }
        keys.push((key, "fetched, accepted with --accept-new".into()));
    }
    let account_file = settings.target.known_hosts();
    let pinned = known_hosts::entries_for(&account_name, std::slice::from_ref(&account_file));
    let mut pins = Vec::new();
    for (key, source) in keys {
        let already = match known_hosts::verdict(&pinned, &key) {
            Verdict::Trusted => true,
            Verdict::Changed { file, line } | Verdict::Revoked { file, line } => {
                return Err(format!(
                    "{} already pins another key for {account_name} at {}:{line}, not {} (from \
                     {source}); distfarm keys never replaces a pinned key. If the host's key \
                     really changed, remove the old one with `ssh-keygen -R '{account_name}' -f \
                     {}` and run again",
                    settings.target.name,
                    file.display(),
                    files::describe_key(&key),
                    file.display()
                ));
            }
            Verdict::OtherTypes(_) | Verdict::Unknown => false,
        };
        pins.push(Pin {
            name: account_name.clone(),
            key,
            source,
            pinned: already,
        });
    }
    Ok(pins)
}

/// Writes what differs and installs the key; reports each step on `out`.
pub async fn apply(settings: &KeysSettings, plans: &[HostPlan], out: &mut dyn Write) -> Outcome {
    let mut outcome = Outcome::default();
    let dry = settings.dry_run;
    let target = &settings.target;
    let mut say = |outcome: &mut Outcome, changed: bool, line: String| {
        if changed {
            outcome.changes += 1;
        }
        let _ = writeln!(out, "{line}");
    };

    // ~/.ssh and the key pair.
    let key = match local_key(settings) {
        Ok((key, lines)) => {
            for (changed, line) in lines {
                say(&mut outcome, changed, line);
            }
            key
        }
        Err(e) => {
            outcome.problems.push(e.to_string());
            return outcome;
        }
    };

    // known_hosts pins.
    for plan in plans {
        for pin in &plan.pins {
            let what = format!(
                "{}: host key {} (from {})",
                pin.name,
                files::describe_key(&pin.key),
                pin.source
            );
            if pin.pinned {
                say(&mut outcome, false, format!("{what}: already pinned"));
            } else if dry {
                say(
                    &mut outcome,
                    true,
                    format!("{what}: would pin in {}", target.known_hosts().display()),
                );
            } else if let Err(e) = files::pin(target, &pin.name, &pin.key) {
                outcome.problems.push(e.to_string());
                return outcome;
            } else {
                say(
                    &mut outcome,
                    true,
                    format!("{what}: pinned in {}", target.known_hosts().display()),
                );
            }
        }
    }

    // Host blocks.
    let config_file = target.config_file();
    let mut config = std::fs::read_to_string(&config_file).unwrap_or_default();
    let mut config_changed = false;
    for plan in plans {
        match files::with_host_block(&config, &plan.alias, &plan.block) {
            None => say(
                &mut outcome,
                false,
                format!(
                    "{}: Host block in {}: as it should be",
                    plan.alias,
                    config_file.display()
                ),
            ),
            Some(new) => {
                config = new;
                config_changed = true;
                let verb = if dry { "would write" } else { "written" };
                say(
                    &mut outcome,
                    true,
                    format!(
                        "{}: Host block in {}: {verb}",
                        plan.alias,
                        config_file.display()
                    ),
                );
            }
        }
    }
    if config_changed
        && !dry
        && let Err(e) = files::write_owned(&config_file, &config, target, 0o600)
    {
        outcome.problems.push(e.to_string());
        return outcome;
    }

    // authorized_keys on each host and hop, with the invoking user's credentials.
    for plan in plans {
        let chain: Vec<ResolvedHost> = plan
            .host
            .proxy_jump
            .iter()
            .chain([&plan.host])
            .cloned()
            .collect();
        for (i, reached) in chain.iter().enumerate() {
            let mut reached = reached.clone();
            reached.proxy_jump = chain[..i].to_vec();
            with_account_pins(&mut reached, target);
            let what = format!(
                "{}: public key in {}'s ~/.ssh/authorized_keys",
                plan.alias,
                reached.description()
            );
            let Some(key) = &key else {
                say(
                    &mut outcome,
                    true,
                    format!("{what}: would install the new key"),
                );
                continue;
            };
            if dry {
                say(
                    &mut outcome,
                    true,
                    format!("{what}: would install it unless it is there"),
                );
                continue;
            }
            match remote::install(&reached, &settings.invoker, key).await {
                Ok(Installed::AlreadyThere) => {
                    say(&mut outcome, false, format!("{what}: already there"))
                }
                Ok(Installed::Added) => say(&mut outcome, true, format!("{what}: added")),
                Err(e) => outcome.problems.push(format!(
                    "{}: cannot install the public key with your own login: {e}",
                    plan.alias
                )),
            }
        }
    }
    outcome
}

/// The invoking user's connection also trusts what the account pins (a key just accepted
/// with `--accept-new` is in no file of the invoking user's).
fn with_account_pins(host: &mut ResolvedHost, target: &Target) {
    host.known_hosts.push(target.known_hosts());
    for hop in &mut host.proxy_jump {
        hop.known_hosts.push(target.known_hosts());
    }
}

/// `~/.ssh` and the key pair, made or fixed. The key is `None` only in a dry run that would
/// make it.
#[allow(clippy::type_complexity)]
fn local_key(
    settings: &KeysSettings,
) -> Result<(Option<PublicKey>, Vec<(bool, String)>), FileError> {
    let target = &settings.target;
    let mut lines = Vec::new();
    let existing = files::existing_key(target)?;
    if settings.dry_run {
        if !target.ssh_dir().exists() {
            lines.push((
                true,
                format!(
                    "{}: would create (0700, owned by {})",
                    target.ssh_dir().display(),
                    target.name
                ),
            ));
        }
        match &existing {
            Some(key) => lines.push((
                false,
                format!(
                    "{}: {}",
                    target.key_file().display(),
                    files::describe_key(key)
                ),
            )),
            None => lines.push((
                true,
                format!(
                    "{}: would create an ed25519 key without a passphrase",
                    target.key_file().display()
                ),
            )),
        }
        return Ok((existing, lines));
    }
    for done in files::ensure_ssh_dir(target)? {
        lines.push((true, done));
    }
    let key = match existing {
        Some(key) => {
            for done in files::fix_key_file(target)? {
                lines.push((true, done));
            }
            if files::write_public_key(target, &key)? {
                lines.push((
                    true,
                    format!("{}: written", files::public_key_file(target).display()),
                ));
            }
            lines.push((
                false,
                format!(
                    "{}: {} (kept)",
                    target.key_file().display(),
                    files::describe_key(&key)
                ),
            ));
            key
        }
        None => {
            let comment = format!("{}@{}", target.name, settings.local_host_name);
            let key = files::create_key(target, &comment)?;
            lines.push((
                true,
                format!(
                    "{}: created {}",
                    target.key_file().display(),
                    files::describe_key(&key)
                ),
            ));
            key
        }
    };
    Ok((Some(key), lines))
}
