//! Operator tools.

pub mod dist_files;
pub mod distcc_config;
pub mod install_links;
