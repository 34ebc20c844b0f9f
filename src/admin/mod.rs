//! Operator tools.

pub mod dist_files;
pub mod distcc_config;
pub mod doctor;
pub mod doctor_compilers;
pub mod doctor_flags;
pub mod doctor_report;
pub mod doctor_zeroconf;
pub mod install_links;
pub mod keys;
pub mod keys_files;
pub mod keys_remote;
