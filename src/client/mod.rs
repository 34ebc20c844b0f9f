//! The compiler wrapper pipeline.
//!
//! Pure argument logic so far: how the wrapper was invoked (`invocation`), what each compiler
//! option is (`flags`), what file names mean (`source`), the distribute/local/not-a-compile
//! decision (`args`), and the command lines a distributable job derives (`job`).

pub mod agent_link;
pub mod args;
pub mod attempt;
pub mod distribute;
pub mod fallback;
pub mod flags;
pub mod invocation;
pub mod job;
pub mod local;
pub mod masquerade;
pub mod output;
pub mod pick;
pub mod preprocess;
pub mod remote;
pub mod run;
pub mod source;

pub use args::{Scan, scan};
pub use invocation::{Invocation, invocation};
pub use job::{CompileJob, Dependencies};
