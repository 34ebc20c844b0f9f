//! Operator tools.

pub mod dist_files;
pub mod distcc_config;
pub mod install_links;
pub mod keys;
pub mod keys_files;
pub mod keys_remote;
