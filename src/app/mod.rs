//! The application layer: one thin module per command. Each turns the parsed command line
//! (`cli.rs`) and the environment (`config.rs`) into plain settings, sets up logging and a
//! runtime, and starts its part of the library. Only this layer (and `main.rs`, which picks
//! the command from argv[0]) knows the command line.

pub mod agent;
pub mod config;
pub mod dist_files;
pub mod install_links;
pub mod keys;
pub mod serve;
pub mod wrapper;
