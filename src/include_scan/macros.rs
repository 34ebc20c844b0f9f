//! Evaluating a computed include (`#include MACRO`, `#include STR(x)`) against every
//! definition the scan has seen, as distcc's `macro_eval.py` does: a name with several
//! `#define`s expands to each of them, and — because a definition may not be in force where
//! the include is — also stays as it is. Object-like and function-like macros, `#`, `##`,
//! variadic arguments; the result is every header name any combination forms. Pure.

use std::collections::{HashMap, HashSet};

use super::directives::{Define, is_ident_byte};

/// A header name a computed include can produce.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Header {
    Quoted(Vec<u8>),
    Angled(Vec<u8>),
}

/// All definitions by name.
#[derive(Default)]
pub struct MacroTable<'a> {
    defs: HashMap<&'a str, Vec<&'a Define>>,
}

impl<'a> MacroTable<'a> {
    pub fn add(&mut self, define: &'a Define) {
        let list = self.defs.entry(&define.name).or_default();
        if !list.contains(&define) {
            list.push(define);
        }
    }

    fn get(&self, name: &str) -> Option<&[&'a Define]> {
        self.defs.get(name).map(Vec::as_slice)
    }
}

/// `-DNAME`, `-DNAME=VALUE`, `-DNAME(ARGS)=VALUE` as a definition.
pub fn command_line_define(text: &str) -> Option<Define> {
    let (head, body) = match text.split_once('=') {
        Some((head, body)) => (head, body.to_string()),
        None => (text, "1".to_string()),
    };
    let (name, params) = match head.split_once('(') {
        Some((name, rest)) => {
            let params = rest.trim_end().strip_suffix(')')?;
            let params: Vec<Box<str>> = params
                .split(',')
                .map(|p| p.trim())
                .filter(|p| !p.is_empty())
                .map(Into::into)
                .collect();
            (name, Some(params.into_boxed_slice()))
        }
        None => (head, None),
    };
    let name = name.trim();
    (!name.is_empty()).then(|| Define {
        name: name.into(),
        params,
        body: body.into(),
    })
}

/// The outcome of evaluating one operand.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Evaluation {
    /// Every header name some expansion forms.
    pub headers: Vec<Header>,
    /// Whether any name in the operand had a definition at all. With none, the operand can
    /// only be an identifier, which the compiler rejects: the include is in a dead branch.
    pub expanded: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("its expansions grow past {STEP_LIMIT} steps")]
pub struct TooComplex;

/// Work allowed for one operand; past it the scan gives up rather than guess.
const STEP_LIMIT: usize = 200_000;
/// Alternatives kept for one operand.
const ALTERNATIVE_LIMIT: usize = 4096;

pub fn evaluate(operand: &str, table: &MacroTable) -> Result<Evaluation, TooComplex> {
    let mut expander = Expander {
        table,
        steps: 0,
        expanded: false,
    };
    let alternatives = expander.expand(tokenize(operand))?;
    let mut seen = HashSet::new();
    let headers = alternatives
        .iter()
        .filter_map(|toks| header(toks))
        .filter(|h| seen.insert(h.clone()))
        .collect();
    Ok(Evaluation {
        headers,
        expanded: expander.expanded,
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TokKind {
    Ident,
    Number,
    Str,
    Char,
    Punct,
}

#[derive(Clone, Debug)]
struct Tok {
    kind: TokKind,
    text: String,
    /// Whitespace before it (kept when a `<…>` header name is rebuilt from tokens).
    space: bool,
    /// Macros that may not expand again in this token (the standard's hide set).
    hide: Vec<String>,
}

impl Tok {
    fn is(&self, punct: &str) -> bool {
        self.kind == TokKind::Punct && self.text == punct
    }
}

fn tokenize(text: &str) -> Vec<Tok> {
    let s = text.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    let mut space = false;
    while i < s.len() {
        let c = s[i];
        if c.is_ascii_whitespace() {
            space = true;
            i += 1;
            continue;
        }
        let start = i;
        let kind =
            if c.is_ascii_digit() || (c == b'.' && s.get(i + 1).is_some_and(u8::is_ascii_digit)) {
                i = pp_number_end(s, i + 1);
                TokKind::Number
            } else if is_ident_byte(c) {
                while i < s.len() && is_ident_byte(s[i]) {
                    i += 1;
                }
                TokKind::Ident
            } else if c == b'"' || c == b'\'' {
                i += 1;
                while i < s.len() && s[i] != c {
                    i += if s[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(s.len());
                if c == b'"' {
                    TokKind::Str
                } else {
                    TokKind::Char
                }
            } else {
                i += if s[i..].starts_with(b"##") {
                    2
                } else if s[i..].starts_with(b"...") {
                    3
                } else {
                    // One byte, or one whole UTF-8 character.
                    text[i..].chars().next().map_or(1, char::len_utf8)
                };
                TokKind::Punct
            };
        toks.push(Tok {
            kind,
            text: text[start..i].to_string(),
            space,
            hide: Vec::new(),
        });
        space = false;
    }
    toks
}

/// Where a pp-number whose first byte is before `i` ends: it goes on through identifier
/// bytes, `.`, digit separators and the sign of an exponent (`1e+5`, `0x1p-3`).
fn pp_number_end(s: &[u8], mut i: usize) -> usize {
    while i < s.len() {
        let exponent_sign =
            matches!(s[i], b'+' | b'-') && matches!(s[i - 1], b'e' | b'E' | b'p' | b'P');
        if !(exponent_sign || is_ident_byte(s[i]) || s[i] == b'.' || s[i] == b'\'') {
            break;
        }
        i += 1;
    }
    i
}

/// The header name a fully expanded operand forms, as the preprocessor forms it.
fn header(toks: &[Tok]) -> Option<Header> {
    let first = toks.first()?;
    if first.kind == TokKind::Str && first.text.len() >= 2 && first.text.starts_with('"') {
        let inner = &first.text[1..first.text.len() - 1];
        return Some(Header::Quoted(inner.as_bytes().to_vec()));
    }
    if first.is("<") {
        let mut name = String::new();
        for (n, tok) in toks[1..].iter().enumerate() {
            if tok.is(">") {
                return Some(Header::Angled(name.into_bytes()));
            }
            if tok.space && n > 0 {
                name.push(' ');
            }
            name.push_str(&tok.text);
        }
    }
    None
}

struct Expander<'t, 'a> {
    table: &'t MacroTable<'a>,
    steps: usize,
    expanded: bool,
}

impl Expander<'_, '_> {
    fn step(&mut self) -> Result<(), TooComplex> {
        self.steps += 1;
        if self.steps > STEP_LIMIT {
            Err(TooComplex)
        } else {
            Ok(())
        }
    }

    /// Every full expansion of `input`.
    fn expand(&mut self, input: Vec<Tok>) -> Result<Vec<Vec<Tok>>, TooComplex> {
        let mut done: Vec<Vec<Tok>> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        // (output so far, tokens still to scan)
        let mut work: Vec<(Vec<Tok>, Vec<Tok>)> = vec![(Vec::new(), input)];
        while let Some((mut out, rest)) = work.pop() {
            let mut pos = 0;
            loop {
                self.step()?;
                let Some(tok) = rest.get(pos) else {
                    if seen.insert(spelling(&out)) {
                        done.push(out);
                        if done.len() > ALTERNATIVE_LIMIT {
                            return Err(TooComplex);
                        }
                    }
                    break;
                };
                let defs = (tok.kind == TokKind::Ident && !tok.hide.contains(&tok.text))
                    .then(|| self.table.get(&tok.text))
                    .flatten();
                let Some(defs) = defs else {
                    out.push(tok.clone());
                    pos += 1;
                    continue;
                };
                self.expanded = true;
                // The definition may not be in force here: the name as it is.
                let mut kept = out.clone();
                kept.push(tok.clone());
                work.push((kept, rest[pos + 1..].to_vec()));
                for def in defs {
                    let after_name = &rest[pos + 1..];
                    match &def.params {
                        None => {
                            for replacement in self.substitute(def, tok, &[])? {
                                let mut next = replacement;
                                next.extend_from_slice(after_name);
                                work.push((out.clone(), next));
                            }
                        }
                        Some(_) => {
                            let Some((args, used)) = arguments(after_name) else {
                                continue; // not followed by `(`: not an invocation
                            };
                            for replacement in self.substitute(def, tok, &args)? {
                                let mut next = replacement;
                                next.extend_from_slice(&after_name[used..]);
                                work.push((out.clone(), next));
                            }
                        }
                    }
                }
                if work.len() > ALTERNATIVE_LIMIT * 4 {
                    return Err(TooComplex);
                }
                break;
            }
        }
        Ok(done)
    }

    /// The replacement lists of one invocation (several when an argument expands several ways).
    fn substitute(
        &mut self,
        def: &Define,
        name: &Tok,
        args: &[Vec<Tok>],
    ) -> Result<Vec<Vec<Tok>>, TooComplex> {
        let params: Vec<&str> = def
            .params
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|p| p.as_ref())
            .collect();
        let variadic = params.last().is_some_and(|p| p.ends_with("..."));
        let names: Vec<&str> = params
            .iter()
            .map(|p| match p.strip_suffix("...") {
                Some("") => "__VA_ARGS__",
                Some(named) => named.trim(),
                None => p,
            })
            .collect();
        // Bind arguments to parameters; a variadic tail takes the rest with their commas.
        let mut bound: Vec<Vec<Tok>> = Vec::new();
        if def.params.is_some() {
            let fixed = names.len() - usize::from(variadic);
            // `F()` passes one empty argument, which a macro without parameters takes as none.
            let args: &[Vec<Tok>] = if args.len() == 1 && args[0].is_empty() && fixed == 0 {
                &[]
            } else {
                args
            };
            let count_ok = if variadic {
                args.len() >= fixed
            } else {
                args.len() == fixed
            };
            if !count_ok {
                return Ok(Vec::new()); // the compiler rejects it
            }
            bound.extend(args[..fixed].iter().cloned());
            if variadic {
                let mut tail = Vec::new();
                for (n, arg) in args[fixed..].iter().enumerate() {
                    if n > 0 {
                        tail.push(punct(","));
                    }
                    tail.extend(arg.iter().cloned());
                }
                bound.push(tail);
            }
        }
        let body = tokenize(&def.body);
        let param_of = |tok: &Tok| -> Option<usize> {
            (tok.kind == TokKind::Ident)
                .then(|| names.iter().position(|n| *n == tok.text))
                .flatten()
        };
        let mut expanded_args: HashMap<usize, Vec<Vec<Tok>>> = HashMap::new();
        let mut results: Vec<Vec<Tok>> = vec![Vec::new()];
        let mut i = 0;
        while i < body.len() {
            self.step()?;
            let tok = &body[i];
            if def.params.is_some()
                && tok.is("#")
                && let Some(p) = body.get(i + 1).and_then(param_of)
            {
                let mut s = stringify(&bound[p]);
                s.space = tok.space;
                results.iter_mut().for_each(|r| r.push(s.clone()));
                i += 2;
                continue;
            }
            match param_of(tok) {
                Some(p) => {
                    let pasted = body.get(i + 1).is_some_and(|t| t.is("##"))
                        || (i > 0 && body[i - 1].is("##"));
                    let choices = if pasted {
                        vec![bound[p].clone()]
                    } else {
                        if let std::collections::hash_map::Entry::Vacant(slot) =
                            expanded_args.entry(p)
                        {
                            slot.insert(self.expand(bound[p].clone())?);
                        }
                        expanded_args[&p].clone()
                    };
                    let mut next = Vec::with_capacity(results.len() * choices.len());
                    for r in &results {
                        for choice in &choices {
                            let mut r = r.clone();
                            let mut choice = choice.clone();
                            if let Some(first) = choice.first_mut() {
                                first.space = tok.space;
                            }
                            r.append(&mut choice);
                            next.push(r);
                        }
                    }
                    if next.len() > ALTERNATIVE_LIMIT {
                        return Err(TooComplex);
                    }
                    results = next;
                }
                None => results.iter_mut().for_each(|r| r.push(tok.clone())),
            }
            i += 1;
        }
        let mut hide = name.hide.clone();
        hide.push(name.text.clone());
        Ok(results
            .into_iter()
            .map(|r| {
                let mut r = paste(r);
                for tok in &mut r {
                    for h in &hide {
                        if !tok.hide.contains(h) {
                            tok.hide.push(h.clone());
                        }
                    }
                }
                if let Some(first) = r.first_mut() {
                    first.space = name.space;
                }
                r
            })
            .collect())
    }
}

fn punct(text: &str) -> Tok {
    Tok {
        kind: TokKind::Punct,
        text: text.to_string(),
        space: false,
        hide: Vec::new(),
    }
}

/// The arguments of an invocation whose `(` is the first of `toks`, and how many tokens the
/// invocation took; `None` when there is no `(` or no matching `)`.
fn arguments(toks: &[Tok]) -> Option<(Vec<Vec<Tok>>, usize)> {
    if !toks.first()?.is("(") {
        return None;
    }
    let mut args = vec![Vec::new()];
    let mut depth = 0usize;
    for (n, tok) in toks.iter().enumerate().skip(1) {
        if tok.is(")") && depth == 0 {
            return Some((args, n + 1));
        }
        if tok.is(",") && depth == 0 {
            args.push(Vec::new());
            continue;
        }
        if tok.is("(") {
            depth += 1;
        } else if tok.is(")") {
            depth -= 1;
        }
        args.last_mut().expect("one argument").push(tok.clone());
    }
    None
}

/// `#x`: the argument's spelling as a string literal.
fn stringify(arg: &[Tok]) -> Tok {
    let mut s = String::from("\"");
    for (n, tok) in arg.iter().enumerate() {
        if n > 0 && tok.space {
            s.push(' ');
        }
        if matches!(tok.kind, TokKind::Str | TokKind::Char) {
            for c in tok.text.chars() {
                if c == '"' || c == '\\' {
                    s.push('\\');
                }
                s.push(c);
            }
        } else {
            s.push_str(&tok.text);
        }
    }
    s.push('"');
    Tok {
        kind: TokKind::Str,
        text: s,
        space: false,
        hide: Vec::new(),
    }
}

/// Applies `##`: the spellings on both sides become one token (re-lexed).
fn paste(toks: Vec<Tok>) -> Vec<Tok> {
    if !toks.iter().any(|t| t.is("##")) {
        return toks;
    }
    let mut out: Vec<Tok> = Vec::with_capacity(toks.len());
    let mut iter = toks.into_iter().peekable();
    while let Some(tok) = iter.next() {
        if tok.is("##") {
            let Some(right) = iter.next() else { break };
            match out.pop() {
                Some(left) => {
                    let joined = format!("{}{}", left.text, right.text);
                    let mut relexed = tokenize(&joined);
                    if let Some(first) = relexed.first_mut() {
                        first.space = left.space;
                    }
                    for t in &mut relexed {
                        t.hide = left.hide.clone();
                    }
                    out.extend(relexed);
                }
                None => out.push(right),
            }
        } else {
            out.push(tok);
        }
    }
    out
}

fn spelling(toks: &[Tok]) -> String {
    let mut s = String::new();
    for tok in toks {
        if tok.space {
            s.push(' ');
        }
        s.push_str(&tok.text);
        s.push('\u{1}');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::include_scan::directives::parse;

    fn eval(defines: &str, operand: &str) -> Vec<String> {
        let parsed = parse(defines.as_bytes());
        let mut table = MacroTable::default();
        for d in &parsed.defines {
            table.add(d);
        }
        let mut shown: Vec<String> = evaluate(operand, &table)
            .expect("evaluates")
            .headers
            .iter()
            .map(|h| match h {
                Header::Quoted(n) => format!("\"{}\"", String::from_utf8_lossy(n)),
                Header::Angled(n) => format!("<{}>", String::from_utf8_lossy(n)),
            })
            .collect();
        shown.sort();
        shown
    }

    #[test]
    fn object_like_macros_expand_to_header_names() {
        assert_eq!(eval("#define H \"h.h\"\n", "H"), ["\"h.h\""]);
        assert_eq!(eval("#define H <sys/h.h>\n", "H"), ["<sys/h.h>"]);
        assert_eq!(
            eval("#define H INNER\n#define INNER \"inner.h\"\n", "H"),
            ["\"inner.h\""]
        );
    }

    #[test]
    fn every_definition_of_a_name_counts() {
        assert_eq!(
            eval(
                "#ifdef A\n#define CFG \"a.h\"\n#else\n#define CFG \"b.h\"\n#endif\n",
                "CFG"
            ),
            ["\"a.h\"", "\"b.h\""]
        );
    }

    #[test]
    fn stringification_through_two_levels_builds_a_path() {
        let defs = "#define STR(x) #x\n#define XSTR(x) STR(x)\n#define PLAT linux64\n";
        assert_eq!(
            eval(defs, "XSTR(PLAT/config.h)"),
            ["\"PLAT/config.h\"", "\"linux64/config.h\""]
        );
        assert_eq!(eval(defs, "STR(PLAT/config.h)"), ["\"PLAT/config.h\""]);
    }

    #[test]
    fn function_like_macros_build_angle_names_and_paste_tokens() {
        assert_eq!(
            eval("#define HDR(x) <x.h>\n", "HDR(vector)"),
            ["<vector.h>"]
        );
        assert_eq!(
            eval(
                "#define CAT(a,b) a##b\n#define STR(x) #x\n#define X(a) STR(CAT(a,_impl.h))\n",
                "X(foo)"
            ),
            ["\"CAT(foo,_impl.h)\""]
        );
        assert_eq!(
            eval(
                "#define CAT(a,b) a##b\n#define STR(x) #x\n#define XSTR(x) STR(x)\n#define X(a) XSTR(CAT(a,_impl.h))\n",
                "X(foo)"
            ),
            ["\"CAT(foo,_impl.h)\"", "\"foo_impl.h\""]
        );
    }

    #[test]
    fn variadic_macros_take_the_rest() {
        assert_eq!(
            eval("#define FIRST(x, ...) x\n", "FIRST(\"f.h\", a, b)"),
            ["\"f.h\""]
        );
        assert_eq!(
            eval("#define ALL(...) <__VA_ARGS__>\n", "ALL(a.h)"),
            ["<a.h>"]
        );
    }

    #[test]
    fn undefined_names_are_dead_code_not_a_failure() {
        let table = MacroTable::default();
        let e = evaluate("LUA_USER_H", &table).unwrap();
        assert!(e.headers.is_empty());
        assert!(!e.expanded);
    }

    #[test]
    fn self_reference_stops() {
        assert_eq!(eval("#define X X\n", "X"), Vec::<String>::new());
        assert_eq!(
            eval("#define A B\n#define B A\n", "A"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn command_line_defines_parse() {
        let d = command_line_define("CFG=\"c.h\"").unwrap();
        assert_eq!(
            (&*d.name, &*d.body, d.params.is_none()),
            ("CFG", "\"c.h\"", true)
        );
        let d = command_line_define("ON").unwrap();
        assert_eq!(&*d.body, "1");
        let d = command_line_define("F(a,b)=a b").unwrap();
        assert_eq!(d.params.unwrap().len(), 2);
        assert!(command_line_define("=x").is_none());
    }

    #[test]
    fn explosive_definitions_give_up() {
        let mut defs = String::new();
        for n in 0..12 {
            defs.push_str(&format!(
                "#define M{n} M{} M{}\n#define M{n} x\n",
                n + 1,
                n + 1
            ));
        }
        let parsed = parse(defs.as_bytes());
        let mut table = MacroTable::default();
        for d in &parsed.defines {
            table.add(d);
        }
        assert_eq!(evaluate("M0", &table), Err(TooComplex));
    }
}
