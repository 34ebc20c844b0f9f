//! The assembly check (`server::assembly_check::check_assembly`), which refuses assembler
//! input that makes gas read server files. Input: lines of labels, directives (refused and
//! harmless, in any case, split by block comments gas removes), strings with escapes and
//! comment openers, `#` comments, and raw text. Property: every line on which gas itself
//! would see a refused directive as the statement is refused (extra refusals are allowed:
//! such jobs compile on the client), and the check does not depend on letter case.

use arbitrary::Arbitrary;
use distfarm::server::assembly_check::check_assembly;

use super::{Word, structured};

const DIRECTIVES: &[&str] = &[
    ".incbin",
    ".include",
    ".macro",
    ".irp",
    ".irpc",
    ".altmacro",
    ".text",
    ".globl",
    ".byte",
    ".string",
    ".ascii",
    ".section",
    ".endm",
    ".rept",
    ".incbinx",
    ".includes",
    ".file",
];
/// The first six are refused.
const REFUSED: usize = 6;
const ARGS: &[&str] = &[
    "\"/etc/passwd\"",
    "\"a\\\"b\"",
    "\"/*\"",
    "\"#\"",
    "'a",
    "'\\'",
    "x, y",
    "0x10",
    "\\x",
    "\".inc\" \"bin\"",
    "\"\\x2eincbin\"",
];

#[derive(Arbitrary, Debug)]
pub struct Input {
    pub lines: Vec<Line>,
}

#[derive(Arbitrary, Debug)]
pub struct Line {
    pub labels: Vec<Label>,
    pub directive: Directive,
    pub args: Vec<Word>,
    pub trailing_comment: Option<String>,
    /// Free text instead of the line above (may open strings and comments).
    pub raw: Option<String>,
}

#[derive(Arbitrary, Debug)]
pub struct Label {
    pub name: u8,
    /// A block comment (without `*/` inside) before the label.
    pub comment: Option<String>,
}

#[derive(Arbitrary, Debug)]
pub struct Directive {
    pub which: u8,
    /// Upper-cases the letters whose bit is set.
    pub case: u16,
    /// Splits the name with a block comment at this position, as gas allows.
    pub split: Option<(u8, String)>,
}

fn block_comment(text: &str) -> String {
    // Without any '/', the text can neither close the comment early nor open another.
    format!("/*{}*/", text.replace(['/', '\n'], " "))
}

impl Line {
    /// The line's text, and whether gas sees a refused directive as its statement.
    fn text(&self) -> (String, bool) {
        if let Some(raw) = &self.raw {
            return (raw.replace('\n', " "), false);
        }
        let mut text = String::new();
        for label in &self.labels {
            if let Some(c) = &label.comment {
                text.push_str(&block_comment(c));
            }
            text.push_str(&format!("l{}: ", label.name));
        }
        let which = self.directive.which as usize % DIRECTIVES.len();
        let name: String = DIRECTIVES[which]
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if self.directive.case >> (i % 16) & 1 == 1 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect();
        match &self.directive.split {
            Some((at, comment)) => {
                let at = 1 + *at as usize % (name.len() - 1); // never before the '.'
                text.push_str(&name[..at]);
                text.push_str(&block_comment(comment));
                text.push_str(&name[at..]);
            }
            None => text.push_str(&name),
        }
        let args: Vec<&str> = self.args.iter().map(|a| a.pick(ARGS)).collect();
        if !args.is_empty() {
            text.push(' ');
            text.push_str(&args.join(" ").replace('\n', " "));
        }
        if let Some(c) = &self.trailing_comment {
            text.push_str(" # ");
            text.push_str(&c.replace('\n', " "));
        }
        (text, which < REFUSED)
    }
}

pub fn fuzz(bytes: &[u8]) {
    structured(bytes, check);
}

pub fn check(input: Input) {
    let mut text = String::new();
    let mut must_refuse = false;
    // Raw text may leave a string or comment open, which gas carries over: after one, no
    // line is known to be a statement.
    let mut clean = true;
    for line in &input.lines {
        let (line_text, refused) = line.text();
        must_refuse |= clean && refused;
        clean &= line.raw.is_none()
            && line
                .args
                .iter()
                .all(|a| a.index as usize % (ARGS.len() + ARGS.len() / 3 + 1) < ARGS.len());
        text.push_str(&line_text);
        text.push('\n');
    }
    let verdict = check_assembly(text.as_bytes());
    if must_refuse {
        assert!(
            verdict.is_err(),
            "gas would read a refused directive in:\n{text}"
        );
    }
    let upper = check_assembly(text.to_ascii_uppercase().as_bytes());
    assert_eq!(
        verdict.is_err(),
        upper.is_err(),
        "case changed the verdict on:\n{text}"
    );
}
