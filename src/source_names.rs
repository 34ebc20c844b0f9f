//! What a source file's name tells both ends of a job (distcc 3.4 `filename.c`): which files
//! are distributed, and what their preprocessed text is called — the name by which the server
//! knows the language. Extensions are case-sensitive, after the last `.`.

/// The text after the last `.`, if there is a `.` with something after it.
pub fn extension(path: &str) -> Option<&str> {
    let (_, ext) = path.rsplit_once('.')?;
    (!ext.is_empty()).then_some(ext)
}

/// The extension the preprocessed text gets (`dcc_preproc_exten`): `.c→.i`, C++ → `.ii`,
/// `.m→.mi`, `.mm .M→.mii`; `None` for anything distcc does not distribute.
pub fn preprocessed_extension(path: &str) -> Option<&'static str> {
    Some(match extension(path)? {
        "c" | "i" => ".i",
        "cc" | "cpp" | "cxx" | "cp" | "c++" | "C" | "ii" => ".ii",
        "m" | "mi" => ".mi",
        "mm" | "M" | "mii" => ".mii",
        _ => return None,
    })
}
