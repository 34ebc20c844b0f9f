//! A Remote Execution API (REAPI v2) endpoint as a host: one compile is one Action
//! (Buildbarn, BuildGrid, BuildBuddy, NativeLink, EngFlow all run them), and the engine's
//! action cache is a compile cache shared by everyone who sends the same Action.
//!
//! | file | job |
//! |---|---|
//! | [`digest`] | SHA-256 digests of blobs and messages |
//! | [`action`] | a plain-mode job → the Action, its Command and its input root (pure) |
//! | [`pump_action`] | a pump-mode job (`,cpp`) → the Action: the source and headers at their absolute paths, a `/bin/sh` script that maps the worker's root away (pure) |
//! | [`input_tree`] | an input root of many files, links and directories → its Merkle tree of Directories (pure) |
//! | [`line_markers`] | the preprocessed text made independent of the build directory (pure) |
//! | [`platform`] | the platform properties: OS, architecture, compiler identity, the entry's own |
//! | [`connect`] | a gRPC channel to the endpoint: TLS, client certificate, the API-key header |
//! | [`cas`] | blobs up (`FindMissingBlobs`, `BatchUpdateBlobs`, `ByteStream.Write`) and down |
//! | [`run`] | one job: `GetActionResult`, else upload and `Execute`, then the outputs |
//! | [`error`] | what failed, and whether the endpoint is to blame |
//!
//! # Why the same compile has the same key in any checkout (plain mode)
//!
//! The action cache is keyed by the Action's digest, which covers the Command (argv,
//! environment, output paths, platform) and every input file's bytes and name. Nothing in
//! them names the directory a build runs in:
//!
//! * The input root holds one file under a fixed name (`input.i`, `input.ii`, …: the
//!   preprocessed text) and the output is a fixed relative name (`output.o`); the Command's
//!   argv names those two, never the user's paths. `working_directory` is empty (the input
//!   root), and the environment is a fixed `PATH`, so the client's cwd and variables are not
//!   in it.
//! * The compiler is named by its absolute path (`/usr/bin/gcc`), which is the same on every
//!   machine of a farm, and identified by its version and target in the platform properties
//!   (a worker with another compiler never matches).
//! * The preprocessed text is the one part that may carry the directory: gcc's line markers
//!   (`# 1 "/home/alice/zstd/lib/foo.c"`) name files as the build named them, absolute when
//!   the build gives absolute paths (CMake does). [`line_markers::relative_to`] rewrites
//!   every marker that names a file under the build's base directory (by default the job's
//!   working directory) relative to the working directory, as ccache's `base_dir` does.
//!   Without `-g` that changes nothing in the object: gcc puts only the base name of the
//!   main file into it (`STT_FILE`), and `__FILE__` was expanded before (so a file that
//!   uses it differs per checkout and rightly gets its own key). With `-g` the markers
//!   (and the `# 1 "/cwd//"` marker gcc adds) become the debug info's file names and
//!   compilation directory, so such text is sent unchanged: correct objects, a key per
//!   directory.
//!
//! Pump mode (`,cpp`) keys differ: they hold the working directory and the absolute paths
//! (see [`pump_action`]).
//!
//! # Trust
//!
//! An answer is only taken for the Action asked about: the final Operation's metadata must
//! name our action digest, an ActionResult must list exactly the outputs we declared, and
//! every byte read back (inline or from the CAS) must hash to the digest it came under.
//! Anything else is [`error::ReapiError::Untrusted`]: the endpoint is blamed, the job goes
//! elsewhere.

pub mod action;
pub mod cas;
pub mod connect;
pub mod digest;
pub mod error;
pub mod input_tree;
pub mod line_markers;
pub mod platform;
pub mod pump_action;
pub mod run;

pub use bazel_remote_apis::build::bazel::remote::execution::v2 as proto;
pub use bazel_remote_apis::google::bytestream as bytestream_proto;
pub use bazel_remote_apis::google::longrunning as longrunning_proto;
pub use bazel_remote_apis::google::protobuf as protobuf_proto;
pub use bazel_remote_apis::google::rpc as rpc_proto;
