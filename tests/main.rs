//! distfarm's integration tests: one test binary (as ripgrep and just have), whose modules
//! share `support/` — compiled once instead of once per test file. A new test file is a module
//! here.

mod support;

mod agent;
mod agent_faults;
mod client_cpp_plans;
mod client_environment;
mod client_fallback;
mod client_interop;
mod client_invocation;
mod client_locks_monitor;
mod compiler_identity;
mod demo;
mod dist_files;
mod distcc_config;
mod distcc_messages;
mod doctor;
mod forward;
mod include_scan_generated;
mod include_scan_trees;
mod include_scan_vs_gcc;
mod keys;
mod monitor;
mod native_cpu_flags;
mod offer;
mod protocol_fixtures;
mod pump_client;
mod pump_server;
mod pump_ssh;
mod reapi;
mod reapi_tls;
mod reapi_wrapper;
mod server_cache;
mod server_confinement;
mod server_daemon;
mod server_faults;
mod server_gcc_passes;
mod server_hostile;
mod server_interop;
mod silent_link;
mod ssh_build;
mod ssh_transport;
mod ssh_transport_sshd;
mod user_named_paths;
mod zeroconf;
