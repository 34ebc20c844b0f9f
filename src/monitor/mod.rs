//! Seeing the farm: distcc's state files (`binstate_<pid>`, written by every wrapper and
//! read back here), and `distfarm mon`'s picture of hosts and jobs, as text, JSON or a live
//! screen.

pub mod farm;
pub mod live;
pub mod server_view;
pub mod state;
pub mod text;
pub mod units;

pub use state::{Phase, StateFile};
