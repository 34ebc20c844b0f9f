//! The distccd-compatible server: `distfarm serve` (daemon or `--inetd`) and the `distccd`
//! symlink. It runs only compilers, only as compilers, and answers the moment the compiler
//! exits.

pub mod access;
pub mod arg_rules;
pub mod assembly_check;
pub mod cache;
mod child;
pub mod client_counters_here;
pub mod client_stats;
pub mod command_list;
pub mod compilers;
pub mod confinement;
pub mod connection;
pub mod daemon;
pub mod disk_full;
pub mod exe_stamp;
pub mod gcc_passes;
pub mod header_store;
pub mod inetd;
pub mod job;
pub mod job_limits;
pub mod job_root;
pub mod leftovers;
pub mod mount_jail;
mod mount_plan;
pub mod per_address;
pub mod process;
pub mod pump_args;
pub mod pump_request;
pub mod refusal;
pub mod sandbox;
pub mod session;
pub mod settings;
pub mod stats;
pub mod stats_http;
pub mod stdio;

pub use connection::{Peer, ResultClass, ServerContext};
pub use daemon::serve;
pub use settings::ServerSettings;
