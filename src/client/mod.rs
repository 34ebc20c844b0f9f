//! The compiler wrapper pipeline: how the wrapper was invoked (`invocation`, `masquerade`,
//! `cross_rewrite`), what each compiler option is (`flags`), what file names mean
//! (`source`), the distribute/local/not-a-compile decision (`args`), the command lines a job
//! derives (`job`), and the run itself (`run` → `distribute` → `attempt`, `preprocess`,
//! `remote`, `output`, or `local` and `fallback`); `cpp_plan` and `cpp_plans` let the
//! preprocessor run without gcc's driver.

pub mod agent_link;
pub mod args;
pub mod attempt;
pub mod build_id;
pub mod cpp_plan;
pub mod cpp_plans;
pub mod cross_rewrite;
pub mod distribute;
mod engine_job;
mod engine_pump;
pub mod fallback;
pub mod flags;
pub mod identity;
pub mod invocation;
pub mod job;
pub mod local;
pub mod masquerade;
pub mod output;
pub mod pick;
pub mod preprocess;
pub mod pump;
mod pump_job;
pub mod pump_scan;
pub mod remote;
pub mod report;
pub mod run;
pub mod source;
pub mod tree_contents;

pub use args::{Scan, scan};
pub use invocation::{Invocation, invocation};
pub use job::{CompileJob, Dependencies};
