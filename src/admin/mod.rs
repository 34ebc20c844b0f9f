//! Operator tools.

pub mod install_links;
