//! argv[0] decides the part: `distccd` is the server, `distfarm SUBCOMMAND` an operator
//! command, and everything else (`distfarm gcc …`, a `gcc` link) the compiler wrapper.

use clap::Parser;
use distfarm::app;
use distfarm::cli::{Cli, Command, ConfigArgs, PumpArgs, ServeArgs};
use distfarm::exit_code::ExitCode;

const SUBCOMMANDS: [&str; 13] = [
    "mon",
    "top",
    "serve",
    "install-links",
    "agent",
    "config",
    "keys",
    "doctor",
    "dist-files",
    "offer",
    "offers",
    "pump",
    "zeroconf-browser",
];

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    use distfarm::server::assembly_check;
    if argv.get(1).is_some_and(|a| a == assembly_check::GUARD_ARG) {
        std::process::exit(assembly_check::guard_main(&argv[2..]));
    }
    let name = argv
        .first()
        .map(|a| distfarm::compiler_names::basename(a))
        .unwrap_or("distfarm");
    let is_wrapper_name = name.contains("distfarm") || name.contains("distcc");
    let code = if name == "distccd" {
        parse_server_args(&argv)
            .map(app::serve::main)
            .unwrap_or_else(|code| code)
    } else if name == "distcc-config" {
        parse_config_args(&argv)
            .map(|args| app::config::main(&args))
            .unwrap_or_else(|code| code)
    } else if name == "pump" || name == "distcc-pump" {
        parse_pump_args(&argv)
            .map(|args| app::pump::main(&args))
            .unwrap_or_else(|code| code)
    } else if is_wrapper_name
        && argv
            .get(1)
            .is_some_and(|a| SUBCOMMANDS.contains(&a.as_str()))
    {
        run_subcommand(&argv)
    } else {
        app::wrapper::main(argv)
    };
    std::process::exit(code);
}

/// distccd's option errors exit 101; `--help`/`--version` exit 0. `--version` says
/// distfarm, so a client (`distfarm doctor`) can tell it from distcc's own distccd.
fn parse_server_args(argv: &[String]) -> Result<ServeArgs, i32> {
    if argv.get(1).is_some_and(|a| a == "--version") {
        println!("{}", app::version_line());
        return Err(0);
    }
    #[derive(Parser)]
    #[command(
        name = "distccd",
        version,
        about = "distfarm's distccd-compatible compile server"
    )]
    struct Distccd {
        #[command(flatten)]
        args: ServeArgs,
    }
    Distccd::try_parse_from(argv)
        .map(|d| d.args)
        .map_err(exit_for_clap_error)
}

/// `distcc-config` (Gentoo's name): the options of `distfarm config`.
fn parse_config_args(argv: &[String]) -> Result<ConfigArgs, i32> {
    #[derive(Parser)]
    #[command(name = "distcc-config", version)]
    struct DistccConfig {
        #[command(flatten)]
        args: ConfigArgs,
    }
    DistccConfig::try_parse_from(argv)
        .map(|d| d.args)
        .map_err(exit_for_clap_error)
}

/// `pump` / `distcc-pump` (distcc's names): the options of `distfarm pump`.
fn parse_pump_args(argv: &[String]) -> Result<PumpArgs, i32> {
    #[derive(Parser)]
    #[command(name = "pump", version)]
    struct Pump {
        #[command(flatten)]
        args: PumpArgs,
    }
    Pump::try_parse_from(argv)
        .map(|p| p.args)
        .map_err(exit_for_clap_error)
}

fn exit_for_clap_error(e: clap::Error) -> i32 {
    let _ = e.print();
    if e.use_stderr() {
        ExitCode::BadArguments.code()
    } else {
        0
    }
}

fn run_subcommand(argv: &[String]) -> i32 {
    match Cli::try_parse_from(argv) {
        Ok(cli) => match cli.command {
            Command::Serve(args) => app::serve::main(args),
            Command::InstallLinks { dir, distcc_config } => {
                app::install_links::main(&dir, distcc_config)
            }
            Command::Config(args) => app::config::main(&args),
            Command::Keys(args) => app::keys::main(&args),
            Command::Doctor(args) => app::doctor::main(&args),
            Command::Mon(args) => app::mon::main(&args),
            Command::Top(mut args) => {
                args.live = true;
                app::mon::main(&args)
            }
            Command::DistFiles { dir } => app::dist_files::main(&dir),
            Command::Offer(args) => app::offer::main(args),
            Command::Offers(command) => app::offers::main(command),
            Command::Pump(args) => app::pump::main(&args),
            Command::ZeroconfBrowser { distcc_dir } => app::zeroconf_browser::main(&distcc_dir),
            Command::Agent {
                socket,
                idle,
                lock_dir,
            } => app::agent::main(&socket, std::time::Duration::from_secs(idle), lock_dir),
        },
        Err(e) => exit_for_clap_error(e),
    }
}
