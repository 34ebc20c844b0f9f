//! argv[0] decides the part: `distccd` is the server, a compiler name is the wrapper, and
//! `distfarm SUBCOMMAND` is everything else.

use std::path::Path;

use clap::Parser;
use distfarm::cli::{Cli, Command, ServeArgs};
use distfarm::exit_code::ExitCode;

const SUBCOMMANDS: [&str; 1] = ["serve"];

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let name = argv.first().map(|a| basename(a)).unwrap_or("distfarm");
    let code = if name == "distccd" {
        parse_server_args(&argv)
            .map(distfarm::server::start::run)
            .unwrap_or_else(|code| code)
    } else {
        match argv.get(1).map(String::as_str) {
            Some(sub) if SUBCOMMANDS.contains(&sub) => run_subcommand(&argv),
            _ => run_subcommand(&argv),
        }
    };
    std::process::exit(code);
}

fn basename(path: &str) -> &str {
    Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(path)
}

/// distccd's option errors exit 101; `--help`/`--version` exit 0.
fn parse_server_args(argv: &[String]) -> Result<ServeArgs, i32> {
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
            Command::Serve(args) => distfarm::server::start::run(args),
        },
        Err(e) => exit_for_clap_error(e),
    }
}
