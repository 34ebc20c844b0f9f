//! `distfarm config` / `distcc-config`: Gentoo's options on distcc's files (see
//! `admin::distcc_config`).

use std::path::{Path, PathBuf};

use crate::admin::distcc_config::{self as dc, ConfigError};
use crate::admin::install_links;
use crate::cli::ConfigArgs;
use crate::config::ConfigEnv;
use crate::exit_code::ExitCode;

pub fn main(args: &ConfigArgs) -> i32 {
    let env = ConfigEnv::from_env();
    match run(args, &env) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("distcc-config: {e}");
            match e {
                ConfigError::BadHosts(_) | ConfigError::NoHosts(_) => ExitCode::BadHostSpec,
                ConfigError::NotRoot { .. } => ExitCode::BadArguments,
                ConfigError::Io { .. } => ExitCode::IoError,
            }
            .code()
        }
    }
}

fn run(args: &ConfigArgs, env: &ConfigEnv) -> Result<(), ConfigError> {
    if let Some(list) = &args.set_hosts {
        let path = dc::hosts_file(env.distcc_dir.as_deref(), &env.home, env.is_root);
        dc::set_hosts(&path, list)?;
        println!("{}: {}", path.display(), list.trim());
        if env.hosts.is_some() {
            println!("note: DISTCC_HOSTS is set in this environment and takes precedence");
        }
    } else if args.get_hosts {
        let own = dc::hosts_file(env.distcc_dir.as_deref(), &env.home, false);
        let files = [own, PathBuf::from(dc::SYSTEM_HOSTS)];
        match dc::shown_hosts(env.hosts.as_deref(), &files) {
            Some(list) => println!("{list}"),
            None => println!("No configuration file found. Setup your hosts with --set-hosts."),
        }
    } else if let Some(value) = &args.set_verbose {
        set_env(env, "--set-verbose", "DISTCC_VERBOSE", value)?;
    } else if args.get_verbose {
        get_env("DISTCC_VERBOSE");
    } else if let Some(value) = &args.set_log {
        set_env(env, "--set-log", "DISTCC_LOG", value)?;
    } else if args.get_log {
        get_env("DISTCC_LOG");
    } else if args.update_masquerade {
        update_masquerade(&args.masquerade_dir)?;
    }
    Ok(())
}

fn set_env(
    env: &ConfigEnv,
    what: &'static str,
    name: &str,
    value: &str,
) -> Result<(), ConfigError> {
    if !env.is_root {
        return Err(ConfigError::NotRoot {
            what,
            path: dc::ENV_FILE.into(),
        });
    }
    let path = Path::new(dc::ENV_FILE);
    let io = |source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    };
    let old = std::fs::read_to_string(path).unwrap_or_default();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    crate::user_files::write(path, dc::with_env_value(&old, name, value).as_bytes()).map_err(io)?;
    println!("{name}=\"{value}\" in {}", path.display());
    println!("run env-update and source /etc/profile (or log in again) to use it");
    Ok(())
}

fn get_env(name: &str) {
    let text = std::fs::read_to_string(dc::ENV_FILE).unwrap_or_default();
    match dc::env_value(&text, name) {
        Some(value) => println!("{name}={value}"),
        None => println!("{name} not set."),
    }
}

fn update_masquerade(dir: &Path) -> Result<(), ConfigError> {
    let io = |source| ConfigError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let me = std::env::current_exe().map_err(io)?;
    let names = install_links::compilers_on_path(&crate::config::search_path());
    let (made, removed) = install_links::refresh(dir, &me, &names).map_err(io)?;
    for link in &removed {
        println!("removed {}", link.display());
    }
    println!("{} links in {}", made.len(), dir.display());
    Ok(())
}
