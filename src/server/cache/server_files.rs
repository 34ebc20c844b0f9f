//! The server's own files a pump-mode compile read: the system headers (and anything else
//! outside the job's root) its preprocessor opened. They are not in the request, so the entry
//! lists them with their identity, and a lookup serves it only while every one is unchanged
//! (a libc upgrade on the server misses, as it should).
//!
//! The compile itself may only have written a `-MMD` list, which leaves system headers out,
//! so after a successful compile the preprocessor runs once more with `-M` (every header), off
//! the client's path: the answer has already been sent.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use super::file_identity::file_identity;
use crate::server::arg_rules::PreparedArgs;
use crate::server::child::{confinement, job_command};
use crate::server::settings::ServerSettings;

/// A server file and its identity when the answer was made (empty: it did not exist).
pub(super) type Manifest = Vec<(Vec<u8>, Vec<u8>)>;

const DEPS_FILE: &str = "cache-deps.d";

/// The files outside the job's root that the compile of `prepared` reads, with their
/// identity now; `None` when that cannot be found out (the answer is then not kept).
pub(super) async fn read_by(
    compiler: &Path,
    prepared: &PreparedArgs,
    job_dir: &Path,
    settings: &ServerSettings,
) -> Option<Manifest> {
    let pump = prepared.pump.as_ref()?;
    let deps = job_dir.join(DEPS_FILE);
    let confinement = confinement(job_dir, compiler, settings);
    let mut command = job_command(
        compiler,
        &pump.workdir,
        job_dir,
        confinement.as_ref(),
        settings,
    )
    .ok()?;
    command
        .args(dependency_args(&prepared.args))
        .arg("-MF")
        .arg(&deps)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let limit = settings.job_lifetime.unwrap_or(Duration::from_secs(300));
    let status = tokio::time::timeout(limit, command.status())
        .await
        .ok()?
        .ok()?;
    if !status.success() {
        return None;
    }
    let text = tokio::fs::read(&deps).await.ok()?;
    let mut manifest = Manifest::new();
    for name in prerequisites(&String::from_utf8_lossy(&text)) {
        let path = pump.workdir.join(&name);
        // Through the tree's links too: `<root>/usr/include` may lead to the server's own.
        let real = std::fs::canonicalize(&path).unwrap_or(path);
        if real.starts_with(&pump.root) {
            continue; // sent by the client: in the key
        }
        let bytes = real.as_os_str().as_bytes().to_vec();
        if !manifest.iter().any(|(known, _)| *known == bytes) {
            let identity = file_identity(&real).unwrap_or_default();
            manifest.push((bytes, identity));
        }
    }
    Some(manifest)
}

/// Whether every file of `manifest` is still the one the answer was made with.
pub(super) fn unchanged(manifest: &Manifest) -> bool {
    manifest.iter().all(|(path, identity)| {
        let path = Path::new(std::ffi::OsStr::from_bytes(path));
        file_identity(path).unwrap_or_default() == *identity
    })
}

/// The compile's arguments turned into "list every file the preprocessor reads": no
/// output, no compile, no dependency options of its own.
fn dependency_args(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len() + 1);
    let mut words = args.iter();
    while let Some(arg) = words.next() {
        match arg.as_str() {
            "-o" | "-MF" | "-MT" | "-MQ" => {
                words.next();
            }
            "-c" | "-S" | "-MD" | "-MMD" | "-MP" | "-MG" => {}
            _ => out.push(arg.clone()),
        }
    }
    out.push("-M".to_string());
    out
}

/// The prerequisites of the first rule of a make dependency file, unescaped.
fn prerequisites(text: &str) -> Vec<PathBuf> {
    let joined = text.replace("\\\n", " ");
    let rule = joined.lines().next().unwrap_or("");
    let Some(colon) = rule
        .find(": ")
        .or_else(|| rule.strip_suffix(':').map(str::len))
    else {
        return Vec::new();
    };
    let mut names = Vec::new();
    let mut name = String::new();
    let mut chars = rule[colon + 1..].chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek().is_some_and(|n| *n == ' ' || *n == '#') => {
                name.push(chars.next().expect("peeked"));
            }
            '$' if chars.peek() == Some(&'$') => {
                name.push(chars.next().expect("peeked"));
            }
            ' ' | '\t' => {
                if !name.is_empty() {
                    names.push(PathBuf::from(std::mem::take(&mut name)));
                }
            }
            c => name.push(c),
        }
    }
    if !name.is_empty() {
        names.push(PathBuf::from(name));
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dependency_rule_gives_its_prerequisites_unescaped() {
        let text = "main.o: main.c /usr/include/stdio.h \\\n /opt/my\\ dir/a$$b.h \\\n inc/x.h\n\
                    /usr/include/stdio.h:\n";
        assert_eq!(
            prerequisites(text),
            [
                "main.c",
                "/usr/include/stdio.h",
                "/opt/my dir/a$b.h",
                "inc/x.h"
            ]
            .map(PathBuf::from)
            .to_vec()
        );
    }

    #[test]
    fn the_listing_drops_outputs_and_dependency_options() {
        let args: Vec<String> = [
            "-ffile-prefix-map=/j/root=",
            "-O2",
            "-c",
            "/j/root/p/main.c",
            "-o",
            "/j/output.o",
            "-MD",
            "-MT",
            "x",
            "-MMD",
            "-MF",
            "/j/deps.d",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            dependency_args(&args),
            [
                "-ffile-prefix-map=/j/root=",
                "-O2",
                "/j/root/p/main.c",
                "-M"
            ]
            .map(String::from)
            .to_vec()
        );
    }
}
