//! gcc options whose value names a path that a pump-mode job's files are mirrored under: a
//! server rebuilding the job in a root (distccd 3.4, `distfarm serve`) and an engine's input
//! root (`client::engine_pump`) move an absolute one there, and the same ones.

/// Options whose value is an include path, joined (`-I/x`) or in the next word (`-I /x`).
pub const PATH_OPTIONS: &[&str] = &[
    "-I",
    "-include",
    "-imacros",
    "-idirafter",
    "-iprefix",
    "-iwithprefixbefore",
    "-iwithprefix",
    "-isystem",
    "-iquote",
];

/// Prefix maps the user may give (`-ffile-prefix-map=OLD=NEW`): an absolute old prefix moves
/// with the files it names.
pub const PREFIX_MAPS: &[&str] = &[
    "-ffile-prefix-map=",
    "-fdebug-prefix-map=",
    "-fmacro-prefix-map=",
    "-fprofile-prefix-map=",
];
