//! `distfarm keys`: SSH for a service account (see `admin::keys`). This module finds the
//! account, runs the plan and the changes, and checks the result by logging in *as the
//! account*: in a child process of distfarm run with the account's uid and gid and a clean
//! environment (`distfarm keys --check`), so the check reads the account's own files with the
//! account's own rights — a file it cannot read fails here, not in the first build.

use std::path::PathBuf;
use std::time::Duration;

use crate::admin::keys::{self, KeysSettings};
use crate::admin::keys_files::Target;
use crate::admin::keys_remote;
use crate::cli::KeysArgs;
use crate::config::SshEnv;

/// Logins checked by the child may each wait out a connect timeout.
const CHECK_TIMEOUT: Duration = Duration::from_secs(120);

pub fn main(args: &KeysArgs) -> i32 {
    crate::logging::init(tracing::Level::WARN, crate::logging::Sink::Stderr);
    let env = SshEnv::from_env();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    if args.check {
        return check(args, &env, &runtime);
    }
    let account = args.account.as_deref().unwrap_or_default();
    let target = match target(account, args.home.clone()) {
        Ok(target) => target,
        Err(message) => {
            eprintln!("distfarm keys: {message}");
            return 1;
        }
    };
    let settings = KeysSettings {
        target: target.clone(),
        hosts: args.hosts.clone(),
        accept_new: args.accept_new,
        dry_run: args.dry_run,
        invoker: env.settings(),
        local_host_name: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "localhost".into()),
    };
    let mut out = std::io::stdout();
    let (plans, problems) = runtime.block_on(keys::plan(&settings, &mut out));
    if !problems.is_empty() {
        for problem in &problems {
            eprintln!("distfarm keys: {problem}");
        }
        eprintln!("distfarm keys: nothing was changed");
        return 1;
    }
    let outcome = runtime.block_on(keys::apply(&settings, &plans, &mut out));
    if !outcome.problems.is_empty() {
        for problem in &outcome.problems {
            eprintln!("distfarm keys: {problem}");
        }
        eprintln!(
            "distfarm keys: stopped after {} change(s); fix the above and run again",
            outcome.changes
        );
        return 1;
    }
    if args.dry_run {
        match outcome.changes {
            0 => println!("dry run: nothing to change"),
            n => println!("dry run: {n} change(s) would be made; nothing was changed"),
        }
        return 0;
    }
    let aliases: Vec<String> = plans.iter().map(|p| p.alias.clone()).collect();
    let checked = check_as_account(&target, args.home.is_some(), &aliases, &runtime);
    match outcome.changes {
        0 => println!(
            "nothing changed: {} was already set up for {} host(s)",
            target.name,
            aliases.len()
        ),
        n => println!("{n} change(s) made for {}", target.name),
    }
    if checked { 0 } else { 1 }
}

/// The account from the password database, its home replaced by `--home`.
fn target(name: &str, home: Option<PathBuf>) -> Result<Target, String> {
    let user = nix::unistd::User::from_name(name)
        .map_err(|e| format!("cannot read the password database: {e}"))?
        .ok_or_else(|| {
            format!(
                "there is no account {name:?}; create it first (e.g. `useradd --system \
                 --create-home {name}`) or check the name"
            )
        })?;
    let me = nix::unistd::Uid::effective();
    if !me.is_root() && me != user.uid {
        return Err(format!(
            "only root can set up {name}'s SSH (its files must belong to it); run this with sudo"
        ));
    }
    Ok(Target {
        name: user.name,
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        home: home.unwrap_or(user.dir),
    })
}

/// Logs in to every host as the account: in this process when we are the account, else in
/// `distfarm keys --check` run as the account. Prints one line per host.
fn check_as_account(
    target: &Target,
    home_given: bool,
    aliases: &[String],
    runtime: &tokio::runtime::Runtime,
) -> bool {
    if nix::unistd::Uid::effective().as_raw() == target.uid {
        let account = crate::config::Account {
            home: target.home.clone(),
            name: target.name.clone(),
        };
        let results = runtime.block_on(keys_remote::check_logins(
            aliases,
            &account.ssh_settings(None, None),
        ));
        return report_checks(&target.name, &results);
    }
    let me = match std::env::current_exe() {
        Ok(me) => me,
        Err(e) => {
            eprintln!(
                "distfarm keys: cannot find my own program to check as {}: {e}",
                target.name
            );
            return false;
        }
    };
    let mut command = tokio::process::Command::new(&me);
    command.args(["keys", "--check"]);
    if home_given {
        command.arg("--home").arg(&target.home);
    }
    command
        .args(aliases)
        .env_clear()
        .env("HOME", &target.home)
        .env("USER", &target.name)
        .env("LOGNAME", &target.name)
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .current_dir(&target.home)
        .uid(target.uid)
        .gid(target.gid)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let run =
        runtime.block_on(async { tokio::time::timeout(CHECK_TIMEOUT, command.output()).await });
    match run {
        Ok(Ok(output)) => {
            print!("{}", String::from_utf8_lossy(&output.stdout));
            eprint!("{}", String::from_utf8_lossy(&output.stderr));
            output.status.success()
        }
        Ok(Err(e)) => {
            eprintln!(
                "distfarm keys: cannot run {} as {} to check the logins: {e}; can the account \
                 execute it?",
                me.display(),
                target.name
            );
            false
        }
        Err(_) => {
            eprintln!(
                "distfarm keys: checking the logins as {} took longer than {} s",
                target.name,
                CHECK_TIMEOUT.as_secs()
            );
            false
        }
    }
}

/// `distfarm keys --check HOST…`: this account's own login to each host.
fn check(args: &KeysArgs, env: &SshEnv, runtime: &tokio::runtime::Runtime) -> i32 {
    let mut account = env.account.clone();
    if let Some(home) = &args.home {
        account.home = home.clone();
    }
    let settings = account.ssh_settings(None, None);
    let results = runtime.block_on(keys_remote::check_logins(&args.hosts, &settings));
    if report_checks(&account.name, &results) {
        0
    } else {
        1
    }
}

fn report_checks(name: &str, results: &[(String, Result<(), String>)]) -> bool {
    let mut ok = true;
    for (host, result) in results {
        match result {
            Ok(()) => println!("{host}: {name} logs in with its own key"),
            Err(e) => {
                ok = false;
                println!("{host}: {name} cannot log in: {e}");
            }
        }
    }
    ok
}
