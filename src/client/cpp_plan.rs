//! The one program gcc's driver runs to preprocess (`cc1 -E …`), learned once per command
//! shape so that later jobs of that shape run it directly and skip the driver's start-up
//! (about 1.5 ms of CPU a job). This file is the pure part: the shape of a preprocessor
//! command, the driver's plan made into a template, and a template filled in for one job.
//!
//! The words that change from job to job are the source file and the values of `-MF`, `-MT`
//! and `-MQ`. The driver is asked about the command with those words replaced by tokens
//! (`gcc -### … distfarmzDIRz/distfarmzSTEMz.c`) and carries the tokens into its plan
//! wherever it derives something from them (`-dumpbase foo.c`, `-MD foo.d`,
//! `COLLECT_GCC_OPTIONS`); a job's plan is the template with its own words put back. The
//! first job of a shape also asks about its own command, and the template is kept only if
//! it gives exactly that plan: a driver that derives a word in a way the tokens do not
//! follow leaves the shape to the driver.

use crate::driver_report::{COMPILERS_PROPER, Pass, driver_must_run, parse_report};

/// Every token starts so; a command that already holds it gets no plan.
const MARK: &str = "distfarmz";
const DIR: &str = "distfarmzDIRz";
const STEM: &str = "distfarmzSTEMz";

/// A preprocessor command with its per-job words taken out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// The arguments after the compiler, each per-job word replaced by its token: what the
    /// driver is asked about, and (with the form) what names the shape.
    pub probe_args: Vec<String>,
    /// How the source is named: `bare` (`foo.c`), `relative` (`src/foo.c`) or `absolute`.
    pub input_form: &'static str,
    /// Each token and this job's word for it.
    pub values: Vec<(String, String)>,
}

/// The shape of `args` (the preprocessor's arguments after the compiler) whose source file is
/// `input`; `None` when this command is left to the driver.
pub fn shape(args: &[String], input: &str) -> Option<Shape> {
    if args.iter().any(|a| driver_must_run(a) || a.contains(MARK)) {
        return None;
    }
    let mut values = Vec::new();
    let mut probe_args = Vec::with_capacity(args.len());
    let mut words = args.iter();
    let mut inputs = 0;
    let mut input_form = "bare";
    while let Some(word) = words.next() {
        let token = |values: &mut Vec<(String, String)>, value: &str| {
            let token = format!("{MARK}DEP{}z", values.len());
            values.push((token.clone(), value.to_string()));
            token
        };
        match word.as_str() {
            "-MF" | "-MT" | "-MQ" => {
                probe_args.push(word.clone());
                let value = words.next()?;
                probe_args.push(token(&mut values, value));
            }
            w if w.len() > 3 && ["-MF", "-MT", "-MQ"].contains(&&w[..3]) => {
                let joined = format!("{}{}", &w[..3], token(&mut values, &w[3..]));
                probe_args.push(joined);
            }
            w if w == input => {
                inputs += 1;
                let words = input_words(input)?;
                values.extend(words.tokens);
                input_form = words.form;
                probe_args.push(words.probe);
            }
            _ => probe_args.push(word.clone()),
        }
    }
    let plain = |v: &str| !v.contains('\'') && !v.contains('\n');
    (inputs == 1 && values.iter().all(|(_, v)| plain(v))).then_some(Shape {
        probe_args,
        input_form,
        values,
    })
}

/// What the source file's name becomes in the probe.
struct InputWords {
    /// `DIR/STEM.ext` (the extension stays: it chooses the language).
    probe: String,
    /// `bare`, `relative` or `absolute`.
    form: &'static str,
    /// The tokens it fills, with this job's words.
    tokens: Vec<(String, String)>,
}

fn input_words(input: &str) -> Option<InputWords> {
    let (dir, file) = match input.rsplit_once('/') {
        Some((dir, file)) => (Some(dir), file),
        None => (None, input),
    };
    let (stem, ext) = file.rsplit_once('.')?;
    if stem.is_empty() {
        return None;
    }
    let mut named = vec![(STEM.to_string(), stem.to_string())];
    let (probe, form) = match dir {
        None => (format!("{STEM}.{ext}"), "bare"),
        Some(dir) => {
            let (form, dir) = match dir.strip_prefix('/') {
                Some(rest) => ("absolute", rest),
                None => ("relative", dir),
            };
            if dir.is_empty() {
                return None; // `/foo.c` or `/…`: no directory word to stand for
            }
            named.push((DIR.to_string(), dir.to_string()));
            let root = if form == "absolute" { "/" } else { "" };
            (format!("{root}{DIR}/{STEM}.{ext}"), form)
        }
    };
    Some(InputWords {
        probe,
        form,
        tokens: named,
    })
}

/// The preprocessor pass in a `-###` report: exactly one compiler-proper program, named by
/// an absolute path, running with `-E`. Anything else is the driver's to run.
pub fn preprocessor_pass(report: &str) -> Option<Pass> {
    let mut passes = parse_report(report)?;
    if passes.len() != 1 {
        return None;
    }
    let pass = passes.pop()?;
    let name = pass.program.file_name()?.to_str()?;
    (COMPILERS_PROPER.contains(&name)
        && pass.program.is_absolute()
        && pass.args.iter().any(|a| a == "-E")
        && !pass.program.to_string_lossy().contains(MARK))
    .then_some(pass)
}

/// The template's pass with this job's words in place of the tokens.
pub fn fill(template: &Pass, values: &[(String, String)]) -> Pass {
    let fill = |text: &str| {
        if !text.contains(MARK) {
            return text.to_string();
        }
        values.iter().fold(text.to_string(), |t, (token, value)| {
            t.replace(token, value)
        })
    };
    Pass {
        program: template.program.clone(),
        args: template.args.iter().map(|a| fill(a)).collect(),
        env: template
            .env
            .iter()
            .map(|(name, value)| (name.clone(), fill(value)))
            .collect(),
    }
}

/// Whether the template gives exactly the plan the driver stated for this job itself, and
/// no token is left over in it.
pub fn template_holds(template: &Pass, values: &[(String, String)], own: &Pass) -> bool {
    let filled = fill(template, values);
    let leftover = filled.args.iter().any(|a| a.contains(MARK))
        || filled.env.iter().any(|(_, v)| v.contains(MARK));
    !leftover && filled == *own
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn words(text: &str) -> Vec<String> {
        text.split(' ').map(String::from).collect()
    }

    const HEADERS: &str = "Using built-in specs.\nCOLLECT_GCC=gcc\nTarget: x86_64-linux-gnu\n\
                           gcc version 12.2.0 (Debian 12.2.0-14+deb12u1) \n";

    /// What gcc 12 reports for `gcc -### -O2 -MD -MF DEP0 -MQ DEP1 -E INPUT`.
    fn report(input: &str, base: &str, stem: &str, dep0: &str, dep1: &str) -> String {
        format!(
            "{HEADERS}COLLECT_GCC_OPTIONS='-O2' '-MD' '-MF' '{dep0}' '-MQ' '{dep1}' '-E'\n \
             /usr/lib/gcc/x86_64-linux-gnu/12/cc1 -E -quiet -MD {stem}.d -MF {dep0} -MQ {dep1} \
             {input} \"-mtune=generic\" -O2 -dumpbase {base} -dumpbase-ext .c\n\
             COMPILER_PATH=/usr/lib/gcc/x86_64-linux-gnu/12/\n\
             COLLECT_GCC_OPTIONS='-O2' '-MD' '-MF' '{dep0}' '-MQ' '{dep1}' '-E'\n"
        )
    }

    #[test]
    fn the_source_and_dependency_words_become_tokens() {
        let args = words("-O2 -MD -MF out/foo.d -MQ out/foo.o -E src/foo.c -DX");
        let shape = shape(&args, "src/foo.c").unwrap();
        assert_eq!(
            shape.probe_args.join(" "),
            "-O2 -MD -MF distfarmzDEP0z -MQ distfarmzDEP1z -E \
             distfarmzDIRz/distfarmzSTEMz.c -DX"
        );
        assert_eq!(shape.input_form, "relative");
        let values: Vec<&str> = shape.values.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(values, ["out/foo.d", "out/foo.o", "foo", "src"]);
    }

    #[test]
    fn files_in_other_directories_have_the_same_shape() {
        let one = shape(&words("-MF a/x.d -MTx.o -E a/x.c"), "a/x.c").unwrap();
        let two = shape(&words("-MF b/c/y.d -MTy.o -E b/c/y.c"), "b/c/y.c").unwrap();
        assert_eq!(one.probe_args, two.probe_args);
        assert_eq!(one.probe_args[2], "-MTdistfarmzDEP1z");
        let bare = shape(&words("-E y.c"), "y.c").unwrap();
        assert_eq!(bare.input_form, "bare");
        let absolute = shape(&words("-E /b/y.c"), "/b/y.c").unwrap();
        assert_eq!(absolute.input_form, "absolute");
        assert_eq!(absolute.probe_args[1], "/distfarmzDIRz/distfarmzSTEMz.c");
        // The extension is part of the shape: it chooses the language.
        let cc = shape(&words("-E b/y.cc"), "b/y.cc").unwrap();
        assert_ne!(cc.probe_args, two.probe_args);
    }

    #[test]
    fn commands_the_driver_must_run_have_no_shape() {
        assert!(shape(&words("-v -E x.c"), "x.c").is_none());
        assert!(shape(&words("@opts -E x.c"), "x.c").is_none());
        assert!(shape(&words("-E x.c -include x.c"), "x.c").is_none());
        assert!(shape(&words("-E /x.c"), "/x.c").is_none());
        assert!(shape(&words("-MT it's -E x.c"), "x.c").is_none());
        assert!(shape(&words("-E distfarmzDIRz.c"), "distfarmzDIRz.c").is_none());
        assert!(shape(&words("-E -MF"), "x.c").is_none());
    }

    #[test]
    fn a_template_from_the_tokens_gives_each_job_its_own_plan() {
        let shape_a = shape(
            &words("-O2 -MD -MF out/a.d -MQ out/a.o -E src/a.c"),
            "src/a.c",
        )
        .unwrap();
        let probe = report(
            "distfarmzDIRz/distfarmzSTEMz.c",
            "distfarmzSTEMz.c",
            "distfarmzSTEMz",
            "distfarmzDEP0z",
            "distfarmzDEP1z",
        );
        let template = preprocessor_pass(&probe).unwrap();
        assert_eq!(
            template.program,
            PathBuf::from("/usr/lib/gcc/x86_64-linux-gnu/12/cc1")
        );
        let own = preprocessor_pass(&report("src/a.c", "a.c", "a", "out/a.d", "out/a.o")).unwrap();
        assert!(template_holds(&template, &shape_a.values, &own));

        let shape_b = shape(
            &words("-O2 -MD -MF deps/b.d -MQ lib/b.o -E x/y/b.c"),
            "x/y/b.c",
        )
        .unwrap();
        assert_eq!(shape_a.probe_args, shape_b.probe_args);
        let want =
            preprocessor_pass(&report("x/y/b.c", "b.c", "b", "deps/b.d", "lib/b.o")).unwrap();
        assert_eq!(fill(&template, &shape_b.values), want);
        let options = &want.env.last().unwrap().1;
        assert!(options.contains("'deps/b.d'"), "{options}");
    }

    #[test]
    fn a_template_the_driver_does_not_follow_is_refused() {
        let shape = shape(&words("-E src/a.c"), "src/a.c").unwrap();
        // A driver that spelt the base name its own way.
        let probe = format!(
            "{HEADERS} /usr/lib/gcc/cc1 -E distfarmzDIRz/distfarmzSTEMz.c -dumpbase DISTFARMZSTEMZ.c\n"
        );
        let own = format!("{HEADERS} /usr/lib/gcc/cc1 -E src/a.c -dumpbase A.c\n");
        let template = preprocessor_pass(&probe).unwrap();
        let own = preprocessor_pass(&own).unwrap();
        assert!(!template_holds(&template, &shape.values, &own));
    }

    #[test]
    fn only_a_lone_compiler_proper_pass_with_e_is_a_preprocessor_plan() {
        let pass = |line: &str| preprocessor_pass(&format!("{HEADERS} {line}\n"));
        assert!(pass("/usr/lib/gcc/cc1plus -E -quiet a.cc").is_some());
        assert!(pass("cc1 -E a.c").is_none(), "a relative program");
        assert!(pass("/usr/lib/gcc/cc1 -quiet a.c").is_none(), "no -E");
        assert!(pass("/usr/bin/clang -cc1 -E a.c").is_none());
        let two = format!("{HEADERS} /usr/lib/gcc/cc1 -E a.c\n /usr/bin/as a.s\n");
        assert!(preprocessor_pass(&two).is_none());
        let warned = format!("gcc: warning: x\n{HEADERS} /usr/lib/gcc/cc1 -E a.c\n");
        assert!(preprocessor_pass(&warned).is_none());
    }
}
