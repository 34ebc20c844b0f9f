//! The application layer: one thin module per command. Each turns the parsed command line
//! (`cli.rs`) and the environment (`config.rs`) into plain settings, sets up logging and a
//! runtime, and starts its part of the library. Only this layer (and `main.rs`, which picks
//! the command from argv[0]) knows the command line.

pub mod agent;
pub mod config;
pub mod dist_files;
pub mod doctor;
pub mod install_links;
pub mod keys;
pub mod mon;
pub mod mon_server;
pub mod offer;
pub mod offers;
pub mod pump;
pub mod serve;
pub mod wrapper;
pub mod zeroconf_browser;

/// `distfarm --version`, and `distccd --version` when distccd is a link to distfarm: the
/// line `distfarm doctor` tells a distfarm server from distcc's `distccd 3.4 …` by.
pub fn version_line() -> String {
    format!(
        "distfarm {} (distcc 3.4 compatible; protocols 1, 2 and 3; default port 3632)",
        env!("CARGO_PKG_VERSION")
    )
}
