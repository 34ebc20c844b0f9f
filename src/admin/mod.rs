//! Operator tools.

pub mod distcc_config;
pub mod install_links;
