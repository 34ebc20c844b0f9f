//! What changes in a command line when the server preprocesses (pump mode, protocol 3): the
//! client's absolute include paths and source are moved into the job's root, its dependency
//! options are replaced by the server's own `.d` (sent back as `DOTD`), and the root is
//! mapped away with `-ffile-prefix-map` so that `__FILE__`, diagnostics and debug info name
//! the client's paths: with it an object is the same as a local compile, `-g` included.
//!
//! The loop over the arguments and every other rule stay in `arg_rules`; this file holds the
//! state of one pump-mode rewrite.

use std::path::{Path, PathBuf};

use super::refusal::Refusal;
use crate::path_options::{PATH_OPTIONS, PREFIX_MAPS};

/// A pump-mode job's paths, and what the rewrite has learnt so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PumpRewrite {
    /// The job's root (the client's `/`).
    pub root: PathBuf,
    /// The client's working directory inside the root: where the compiler runs.
    pub workdir: PathBuf,
    /// Where the server's preprocessor writes the `.d` file.
    pub deps: PathBuf,
    /// The `.d` file's target as the client named it (its first `-MT`), if it did.
    pub deps_target: Option<String>,
    /// The client's `-o`, the `.d` file's target when there is no `-MT`.
    pub client_output: Option<String>,
    wants_deps: bool,
}

/// What the rewrite did with one argument.
pub enum Rewritten {
    /// Not a pump-mode option: the usual rules apply.
    Untouched,
    /// Handled: these words go on the command line instead (maybe none).
    Replaced(Vec<String>),
}

impl PumpRewrite {
    pub fn new(root: &Path, workdir: PathBuf, deps: PathBuf) -> Self {
        PumpRewrite {
            root: root.to_path_buf(),
            workdir,
            deps,
            deps_target: None,
            client_output: None,
            wants_deps: false,
        }
    }

    /// Rewrites `arg` (taking its value from `words` when it has a separate one).
    pub fn rewrite<'a>(
        &mut self,
        arg: &str,
        words: &mut impl Iterator<Item = &'a String>,
    ) -> Result<Rewritten, Refusal> {
        let mut value_of = |option: &str| {
            words
                .next()
                .cloned()
                .ok_or_else(|| Refusal::new(option.to_string(), "it has no value"))
        };
        if PATH_OPTIONS.contains(&arg) {
            let value = value_of(arg)?;
            return Ok(Rewritten::Replaced(vec![
                arg.to_string(),
                self.reroot(&value),
            ]));
        }
        // Joined forms. `-iwithprefixbefore` is tried before `-iwithprefix` (distccd 3.4
        // tries them the other way round and leaves the first unrewritten).
        if let Some(option) = PATH_OPTIONS.iter().find(|o| arg.starts_with(*o)) {
            let value = &arg[option.len()..];
            return Ok(Rewritten::Replaced(vec![format!(
                "{option}{}",
                self.reroot(value)
            )]));
        }
        if let Some(map) = PREFIX_MAPS.iter().find(|m| arg.starts_with(*m)) {
            let spec = &arg[map.len()..];
            return Ok(Rewritten::Replaced(vec![match spec.split_once('=') {
                Some((old, new)) if old.starts_with('/') => {
                    format!("{map}{}={new}", self.reroot(old))
                }
                _ => arg.to_string(),
            }]));
        }
        match arg {
            // The server's own .d replaces the client's: its -MF would write anywhere.
            "-MF" => {
                value_of(arg)?;
                Ok(Rewritten::Replaced(vec![]))
            }
            _ if arg.starts_with("-MF") => Ok(Rewritten::Replaced(vec![])),
            "-MT" if self.deps_target.is_none() => {
                self.deps_target = Some(value_of(arg)?);
                Ok(Rewritten::Replaced(vec![]))
            }
            "-MT" | "-MQ" => Ok(Rewritten::Replaced(vec![arg.to_string(), value_of(arg)?])),
            "-MD" | "-MMD" => {
                self.wants_deps = true;
                Ok(Rewritten::Replaced(vec![arg.to_string()]))
            }
            "-MP" | "-MG" => Ok(Rewritten::Replaced(vec![arg.to_string()])),
            "-M" | "-MM" => Err(Refusal::new(
                format!("argument {arg:?}"),
                "it only preprocesses; that is the client's to run",
            )),
            "-fpreprocessed" | "-fdirectives-only" => Err(Refusal::new(
                format!("argument {arg:?}"),
                "a pump-mode job is preprocessed by the server from the files sent",
            )),
            _ => Ok(Rewritten::Untouched),
        }
    }

    /// The target the client's `.d` file names, as distccd picks it: the first `-MT`, else
    /// the `-o` value.
    pub fn target(&self) -> &str {
        self.deps_target
            .as_deref()
            .or(self.client_output.as_deref())
            .unwrap_or("")
    }

    /// An absolute client path moves into the root; a relative one already resolves there,
    /// since the compiler runs in the mirrored working directory.
    pub fn reroot(&self, path: &str) -> String {
        match path.strip_prefix('/') {
            Some(rest) => self
                .root
                .join(rest.trim_start_matches('/'))
                .to_string_lossy()
                .into_owned(),
            None => path.to_string(),
        }
    }

    /// The options the server adds: the root mapped away first (so the user's own maps,
    /// given later, win for their paths), and the `.d` file it sends back.
    pub fn finish(&self, args: &mut Vec<String>) {
        args.insert(0, format!("-ffile-prefix-map={}=", self.root.display()));
        if !self.wants_deps {
            args.push("-MMD".to_string());
        }
        args.push("-MF".to_string());
        args.push(self.deps.to_string_lossy().into_owned());
    }
}

/// distccd's `.d` clean-up: the first mention of the server's object name becomes the
/// client's target, and the root disappears from every path. The first rule is then wrapped
/// again the way gcc wraps it, since the names it measured were the server's longer ones.
pub fn client_deps(deps: &[u8], server_object: &Path, client_target: &str, root: &Path) -> Vec<u8> {
    let text = String::from_utf8_lossy(deps);
    let object = server_object.to_string_lossy();
    let text = text.replacen(object.as_ref(), client_target, 1);
    let text = text.replace(root.to_string_lossy().as_ref(), "");
    crate::protocol::deps_file::rewrap_first_rule(&text).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite() -> PumpRewrite {
        PumpRewrite::new(
            Path::new("/j/root"),
            "/j/root/home/u/p".into(),
            "/j/deps.d".into(),
        )
    }

    fn run(r: &mut PumpRewrite, line: &str) -> Vec<String> {
        let words: Vec<String> = line.split_whitespace().map(String::from).collect();
        let mut it = words.iter();
        let mut out = Vec::new();
        while let Some(arg) = it.next() {
            match r.rewrite(arg, &mut it).unwrap() {
                Rewritten::Untouched => out.push(arg.clone()),
                Rewritten::Replaced(words) => out.extend(words),
            }
        }
        out
    }

    #[test]
    fn absolute_include_paths_move_into_the_root_and_relative_ones_stay() {
        let mut r = rewrite();
        let out = run(
            &mut r,
            "-I/usr/x -I inc -isystem /opt/s -iquote/q -include /p/cfg.h -iwithprefixbefore/w -O2",
        );
        assert_eq!(
            out.join(" "),
            "-I/j/root/usr/x -I inc -isystem /j/root/opt/s -iquote/j/root/q \
             -include /j/root/p/cfg.h -iwithprefixbefore/j/root/w -O2"
        );
    }

    #[test]
    fn the_servers_dependency_file_replaces_the_clients() {
        let mut r = rewrite();
        let mut out = run(&mut r, "-MD -MF /etc/evil.d -MT out/a.o -MT second -MFx.d");
        assert_eq!(out.join(" "), "-MD -MT second");
        assert_eq!(r.deps_target.as_deref(), Some("out/a.o"));
        r.finish(&mut out);
        assert_eq!(
            out.join(" "),
            "-ffile-prefix-map=/j/root= -MD -MT second -MF /j/deps.d"
        );
        let mut r = rewrite();
        let mut out = run(&mut r, "-O2");
        r.finish(&mut out);
        assert_eq!(
            out.join(" "),
            "-ffile-prefix-map=/j/root= -O2 -MMD -MF /j/deps.d"
        );
    }

    #[test]
    fn users_prefix_maps_follow_their_files_into_the_root() {
        let mut r = rewrite();
        let out = run(
            &mut r,
            "-fdebug-prefix-map=/home/u/p=. -ffile-prefix-map=rel=x",
        );
        assert_eq!(
            out.join(" "),
            "-fdebug-prefix-map=/j/root/home/u/p=. -ffile-prefix-map=rel=x"
        );
    }

    #[test]
    fn preprocess_only_and_preprocessed_input_options_are_refused() {
        for arg in ["-M", "-MM", "-fpreprocessed", "-fdirectives-only"] {
            let mut r = rewrite();
            let words: Vec<String> = vec![];
            assert!(r.rewrite(arg, &mut words.iter()).is_err(), "{arg}");
        }
    }

    #[test]
    fn the_dependency_file_names_the_clients_paths() {
        let deps = b"/j/output.o: m.c /j/root/home/u/p/inc/a.h \\\n /usr/include/stdio.h\n";
        let out = client_deps(
            deps,
            Path::new("/j/output.o"),
            "out/m.o",
            Path::new("/j/root"),
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "out/m.o: m.c /home/u/p/inc/a.h /usr/include/stdio.h\n"
        );
    }

    #[test]
    fn the_dependency_file_is_wrapped_again_at_gccs_width() {
        let long = "/j/root/usr/include/x86_64-linux-gnu/bits/long-header-name.h";
        let deps = format!("/j/output.o: m.c \\\n {long} {long} \\\n {long}\n\n{long}:\n");
        let out = client_deps(
            deps.as_bytes(),
            Path::new("/j/output.o"),
            "m.o",
            Path::new("/j/root"),
        );
        let short = "/usr/include/x86_64-linux-gnu/bits/long-header-name.h";
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("m.o: m.c {short} \\\n {short} \\\n {short}\n\n{short}:\n")
        );
    }
}
