//! Monitor state files in distcc's `binstate_<pid>` layout.

pub mod state;

pub use state::{Phase, StateFile};
