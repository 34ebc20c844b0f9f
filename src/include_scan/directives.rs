//! One file's preprocessor directives that decide which other files a compile opens:
//! `#include`, `#include_next`, `#import`, `#embed`, `__has_include(…)` in `#if`/`#elif` and
//! `#define` bodies, and every `#define` (for computed includes). Pure: bytes in, list out.
//!
//! Conditionals are not evaluated — every branch counts, `#if 0` included — but the text is
//! lexed the way the preprocessor lexes it, so an include inside a comment or a string literal
//! is not followed and a real one after a multi-line comment is not missed: line splices
//! (backslash-newline, also with blanks between), `/* … */` across lines, `//` comments that a
//! splice extends, string and character literals (ending at an unspliced newline, as an
//! unterminated one does), C++ raw strings, `'` digit separators inside numbers, a UTF-8 byte
//! order mark at the start, and `\r` alone as a line end.
//!
//! Deliberate over-approximations (more files, never fewer): a `#` that follows a block
//! comment which began on an earlier line still starts a directive here; trigraphs are not
//! replaced (with `-trigraphs` an include after a `??/`-spliced `//` comment is kept).

/// Which directive or operator names the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Include,
    IncludeNext,
    Import,
    /// C23 `#embed`: the file is read as data, so it is shipped but not scanned.
    Embed,
    HasInclude,
    HasIncludeNext,
}

impl Kind {
    /// `#include_next` and `__has_include_next` continue after the including file's directory.
    pub fn is_next(self) -> bool {
        matches!(self, Kind::IncludeNext | Kind::HasIncludeNext)
    }
}

/// How the file is named.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Operand {
    /// `"name"`: the including file's directory first, then the quote chain.
    Quoted(Box<[u8]>),
    /// `<name>`: the bracket chain.
    Angled(Box<[u8]>),
    /// Anything else: macro-expanded by the preprocessor (comments removed, splices joined).
    Computed(Box<str>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Include {
    pub kind: Kind,
    pub operand: Operand,
}

/// `#define NAME BODY` or `#define NAME(PARAMS) BODY`; a variadic `...` is kept as a parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Define {
    pub name: Box<str>,
    pub params: Option<Box<[Box<str>]>>,
    pub body: Box<str>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Directives {
    pub includes: Vec<Include>,
    pub defines: Vec<Define>,
}

impl Directives {
    pub fn has_computed(&self) -> bool {
        self.includes
            .iter()
            .any(|i| matches!(i.operand, Operand::Computed(_)))
    }
}

/// The directives of a whole file.
pub fn parse(src: &[u8]) -> Directives {
    // libcpp skips a UTF-8 byte order mark at the start of a file.
    let src = src.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(src);
    // libcpp ends a line at `\r` as at `\n` (classic Mac OS line ends); the lexer knows only
    // `\n`, so such a file is lexed from a copy with each lone `\r` made `\n`. Other files
    // pay one search for `\r`.
    let copy;
    let src = if has_lone_cr(src) {
        copy = lone_cr_to_lf(src);
        &copy[..]
    } else {
        src
    };
    let mut lexer = Lexer {
        s: src,
        i: 0,
        out: Directives::default(),
    };
    lexer.run();
    lexer.out
}

fn has_lone_cr(src: &[u8]) -> bool {
    memchr::memchr_iter(b'\r', src).any(|k| src.get(k + 1) != Some(&b'\n'))
}

fn lone_cr_to_lf(src: &[u8]) -> Vec<u8> {
    let mut out = src.to_vec();
    for k in 0..out.len() {
        if out[k] == b'\r' && out.get(k + 1) != Some(&b'\n') {
            out[k] = b'\n';
        }
    }
    out
}

/// Bytes the plain-text scan must stop at; everything else is skipped in a tight loop.
static STOP: [bool; 256] = {
    let mut t = [false; 256];
    t[b'\n' as usize] = true;
    t[b'/' as usize] = true;
    t[b'"' as usize] = true;
    t[b'\'' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

fn is_blank(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\x0b' | b'\x0c')
}

pub(crate) fn is_ident_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

struct Lexer<'a> {
    s: &'a [u8],
    i: usize,
    out: Directives,
}

impl<'a> Lexer<'a> {
    fn run(&mut self) {
        while self.i < self.s.len() {
            self.line_start();
        }
    }

    /// The length of a line splice at `i` (backslash, optional blanks, newline), or 0.
    fn splice_len(&self, i: usize) -> usize {
        if self.s.get(i) != Some(&b'\\') {
            return 0;
        }
        let mut j = i + 1;
        while j < self.s.len() && is_blank(self.s[j]) {
            j += 1;
        }
        if self.s.get(j) == Some(&b'\n') {
            j + 1 - i
        } else {
            0
        }
    }

    /// `i` moved past any line splices.
    fn skip_splices(&self, mut i: usize) -> usize {
        loop {
            let n = self.splice_len(i);
            if n == 0 {
                return i;
            }
            i += n;
        }
    }

    /// The byte at `i` after splices, and the index just past it.
    fn byte_at(&self, i: usize) -> Option<(u8, usize)> {
        let i = self.skip_splices(i);
        self.s.get(i).map(|&c| (c, i + 1))
    }

    /// At the start of a logical line: blanks and comments, then a directive or text.
    fn line_start(&mut self) {
        loop {
            let Some((c, next)) = self.byte_at(self.i) else {
                self.i = self.s.len();
                return;
            };
            match c {
                b'\n' => {
                    self.i = next;
                    continue;
                }
                c if is_blank(c) => {
                    self.i = next;
                    continue;
                }
                b'/' => match self.byte_at(next) {
                    Some((b'*', after)) => {
                        self.i = self.block_comment_end(after);
                        continue;
                    }
                    Some((b'/', after)) => {
                        self.i = self.line_comment_end(after);
                        return;
                    }
                    _ => {}
                },
                b'#' => {
                    self.i = next;
                    self.directive();
                    return;
                }
                // `%:` is the digraph of `#`.
                b'%' if matches!(self.byte_at(next), Some((b':', _))) => {
                    self.i = self.byte_at(next).map(|(_, n)| n).unwrap_or(next);
                    self.directive();
                    return;
                }
                _ => {}
            }
            self.text_line();
            return;
        }
    }

    /// Skips an ordinary line (through its newline), stepping over literals and comments.
    fn text_line(&mut self) {
        let s = self.s;
        let mut i = self.i;
        loop {
            while i < s.len() && !STOP[s[i] as usize] {
                i += 1;
            }
            if i >= s.len() {
                self.i = s.len();
                return;
            }
            match s[i] {
                b'\n' => {
                    self.i = i + 1;
                    return;
                }
                b'\\' => i += self.splice_len(i).max(1),
                b'/' => match self.byte_at(i + 1) {
                    Some((b'*', after)) => i = self.block_comment_end(after),
                    Some((b'/', after)) => {
                        self.i = self.line_comment_end(after);
                        return;
                    }
                    _ => i += 1,
                },
                b'"' => {
                    i = match self.raw_string_end(i) {
                        Some(end) => end,
                        None => self.literal_end(i, b'"'),
                    }
                }
                _ => {
                    // `'`: a digit separator inside a number, or a character literal.
                    i = if self.in_pp_number(i) {
                        i + 1
                    } else {
                        self.literal_end(i, b'\'')
                    }
                }
            }
        }
    }

    /// Just past the `*/` that closes a comment whose body starts at `i` (or the end).
    fn block_comment_end(&self, mut i: usize) -> usize {
        let s = self.s;
        loop {
            match memchr::memchr(b'*', &s[i.min(s.len())..]) {
                None => return s.len(),
                Some(k) => {
                    let star = i + k;
                    match self.byte_at(star + 1) {
                        Some((b'/', after)) => return after,
                        _ => i = star + 1,
                    }
                }
            }
        }
    }

    /// Just past the newline that ends a `//` comment starting at `i` (splices extend it).
    fn line_comment_end(&self, mut i: usize) -> usize {
        let s = self.s;
        loop {
            match memchr::memchr(b'\n', &s[i.min(s.len())..]) {
                None => return s.len(),
                Some(k) => {
                    let nl = i + k;
                    let mut j = nl;
                    while j > i && is_blank(s[j - 1]) {
                        j -= 1;
                    }
                    if j > i && s[j - 1] == b'\\' {
                        i = nl + 1;
                    } else {
                        return nl + 1;
                    }
                }
            }
        }
    }

    /// Just past a `"…"` or `'…'` literal opening at `i`; an unterminated one ends before the
    /// newline, as the preprocessor ends it.
    fn literal_end(&self, open: usize, quote: u8) -> usize {
        let s = self.s;
        let mut i = open + 1;
        loop {
            match memchr::memchr3(quote, b'\\', b'\n', &s[i.min(s.len())..]) {
                None => return s.len(),
                Some(k) => {
                    let j = i + k;
                    match s[j] {
                        b'\n' => return j,
                        b'\\' => {
                            let splice = self.splice_len(j);
                            i = j + if splice > 0 { splice } else { 2 };
                        }
                        _ => return j + 1,
                    }
                }
            }
        }
    }

    /// Whether the `'` at `i` continues a pp-number (`1'000`, `0x1'F`).
    fn in_pp_number(&self, i: usize) -> bool {
        let s = self.s;
        let mut j = i;
        while j > 0 && (is_ident_byte(s[j - 1]) || s[j - 1] == b'.' || s[j - 1] == b'\'') {
            j -= 1;
        }
        j < i
            && (s[j].is_ascii_digit()
                || (s[j] == b'.' && s.get(j + 1).is_some_and(u8::is_ascii_digit)))
    }

    /// The end of a C++ raw string `R"delim(…)delim"` whose `"` is at `quote`, if it is one.
    fn raw_string_end(&self, quote: usize) -> Option<usize> {
        let s = self.s;
        if quote == 0 || s[quote - 1] != b'R' {
            return None;
        }
        let r = quote - 1;
        // The encoding prefix, longest first; the byte before it must not continue an identifier.
        let starts = [
            (r >= 2 && s[r - 2] == b'u' && s[r - 1] == b'8').then(|| r - 2),
            (r >= 1 && matches!(s[r - 1], b'L' | b'u' | b'U')).then(|| r - 1),
            Some(r),
        ];
        let prefixed = starts
            .into_iter()
            .flatten()
            .any(|start| start == 0 || !is_ident_byte(s[start - 1]));
        if !prefixed {
            return None;
        }
        let delim_start = quote + 1;
        let mut j = delim_start;
        while j < s.len() && j - delim_start <= 16 {
            match s[j] {
                b'(' => break,
                b' ' | b')' | b'\\' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c' => return None,
                _ => j += 1,
            }
        }
        if s.get(j) != Some(&b'(') || j - delim_start > 16 {
            return None;
        }
        let mut close = Vec::with_capacity(j - delim_start + 2);
        close.push(b')');
        close.extend_from_slice(&s[delim_start..j]);
        close.push(b'"');
        Some(
            memchr::memmem::find(&s[j + 1..], &close)
                .map(|k| j + 1 + k + close.len())
                .unwrap_or(s.len()),
        )
    }

    /// Blanks and comments inside a directive line; stops at the end of the logical line.
    fn skip_directive_blanks(&mut self) {
        loop {
            match self.byte_at(self.i) {
                Some((c, next)) if is_blank(c) => self.i = next,
                Some((b'/', next)) => match self.byte_at(next) {
                    Some((b'*', after)) => self.i = self.block_comment_end(after),
                    Some((b'/', after)) => {
                        // The comment runs to the end of the line: leave the cursor on its newline.
                        self.i = self.line_comment_end(after) - 1;
                        if self.s.get(self.i) != Some(&b'\n') {
                            self.i = self.s.len();
                        }
                        return;
                    }
                    _ => return,
                },
                _ => return,
            }
        }
    }

    fn read_ident(&mut self) -> String {
        let mut name = Vec::new();
        while let Some((c, next)) = self.byte_at(self.i) {
            if !is_ident_byte(c) {
                break;
            }
            name.push(c);
            self.i = next;
        }
        String::from_utf8_lossy(&name).into_owned()
    }

    /// The rest of the logical line with splices joined, comments as one space and literals
    /// verbatim; the cursor ends past the newline.
    fn rest_of_line(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some((c, next)) = self.byte_at(self.i) {
            match c {
                b'\n' => {
                    self.i = next;
                    return out;
                }
                b'/' => match self.byte_at(next) {
                    Some((b'*', after)) => {
                        self.i = self.block_comment_end(after);
                        out.push(b' ');
                    }
                    Some((b'/', after)) => {
                        self.i = self.line_comment_end(after);
                        return out;
                    }
                    _ => {
                        out.push(c);
                        self.i = next;
                    }
                },
                b'"' | b'\'' if !(c == b'\'' && self.in_pp_number(self.i)) => {
                    self.i = next;
                    out.push(c);
                    self.copy_literal(c, &mut out);
                }
                _ => {
                    out.push(c);
                    self.i = next;
                }
            }
        }
        self.i = self.s.len();
        out
    }

    /// Copies a literal's body after its opening quote (splices removed), up to and including
    /// the closing quote or up to (not including) an unspliced newline.
    fn copy_literal(&mut self, quote: u8, out: &mut Vec<u8>) {
        while let Some((c, next)) = self.byte_at(self.i) {
            match c {
                b'\n' => return,
                b'\\' => {
                    out.push(c);
                    self.i = next;
                    if let Some((escaped, after)) = self.byte_at(self.i)
                        && escaped != b'\n'
                    {
                        out.push(escaped);
                        self.i = after;
                    }
                }
                _ => {
                    out.push(c);
                    self.i = next;
                    if c == quote {
                        return;
                    }
                }
            }
        }
    }

    /// After the `#`: the directive's name, then its operands; consumes the whole line.
    fn directive(&mut self) {
        self.skip_directive_blanks();
        let name = self.read_ident();
        match name.as_str() {
            "include" => self.include(Kind::Include),
            "include_next" => self.include(Kind::IncludeNext),
            "import" => self.include(Kind::Import),
            "embed" => self.include(Kind::Embed),
            "define" => self.define(),
            "if" | "elif" => {
                let line = self.rest_of_line();
                self.has_includes(&line);
            }
            _ => {
                self.rest_of_line();
            }
        }
    }

    fn include(&mut self, kind: Kind) {
        self.skip_directive_blanks();
        let operand = match self.byte_at(self.i) {
            Some((open @ (b'"' | b'<'), next)) => {
                let close = if open == b'"' { b'"' } else { b'>' };
                self.i = next;
                let mut name = Vec::new();
                let mut closed = false;
                while let Some((c, next)) = self.byte_at(self.i) {
                    if c == b'\n' {
                        break;
                    }
                    self.i = next;
                    if c == close {
                        closed = true;
                        break;
                    }
                    name.push(c);
                }
                let name = name.into_boxed_slice();
                closed.then_some(match open {
                    b'"' => Operand::Quoted(name),
                    _ => Operand::Angled(name),
                })
            }
            _ => {
                let text = self.rest_of_line();
                let text = String::from_utf8_lossy(&text);
                let text = text.trim();
                if !text.is_empty() {
                    self.out.includes.push(Include {
                        kind,
                        operand: Operand::Computed(text.into()),
                    });
                }
                return;
            }
        };
        if let Some(operand) = operand {
            self.out.includes.push(Include { kind, operand });
        }
        self.rest_of_line();
    }

    fn define(&mut self) {
        self.skip_directive_blanks();
        let name = self.read_ident();
        if name.is_empty() {
            self.rest_of_line();
            return;
        }
        // A `(` right after the name (no blank) makes it function-like.
        let params = match self.byte_at(self.i) {
            Some((b'(', next)) => {
                self.i = next;
                let mut params = Vec::new();
                let mut current = Vec::new();
                while let Some((c, next)) = self.byte_at(self.i) {
                    if c == b'\n' {
                        break;
                    }
                    self.i = next;
                    match c {
                        b')' | b',' => {
                            let p = String::from_utf8_lossy(&current).trim().to_string();
                            if !p.is_empty() {
                                params.push(p.into_boxed_str());
                            }
                            current.clear();
                            if c == b')' {
                                break;
                            }
                        }
                        _ => current.push(c),
                    }
                }
                Some(params.into_boxed_slice())
            }
            _ => None,
        };
        let body = self.rest_of_line();
        self.has_includes(&body);
        let body = String::from_utf8_lossy(&body).trim().to_string();
        self.out.defines.push(Define {
            name: name.into(),
            params,
            body: body.into(),
        });
    }

    /// Every `__has_include(…)` / `__has_include_next(…)` in a cleaned line.
    fn has_includes(&mut self, line: &[u8]) {
        // Built once: a finder's set-up costs more than searching one short line.
        static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
            std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"__has_include"));
        let finder = &*FINDER;
        let mut from = 0;
        while let Some(k) = finder.find(&line[from..]) {
            let start = from + k;
            let mut j = start + b"__has_include".len();
            from = j;
            if start > 0 && is_ident_byte(line[start - 1]) {
                continue;
            }
            let mut ident_end = j;
            while ident_end < line.len() && is_ident_byte(line[ident_end]) {
                ident_end += 1;
            }
            let kind = match &line[j..ident_end] {
                b"" | b"__" => Kind::HasInclude,
                b"_next" | b"_next__" => Kind::HasIncludeNext,
                _ => continue,
            };
            j = ident_end;
            while j < line.len() && is_blank(line[j]) {
                j += 1;
            }
            if line.get(j) != Some(&b'(') {
                continue;
            }
            j += 1;
            while j < line.len() && is_blank(line[j]) {
                j += 1;
            }
            let operand = match line.get(j) {
                Some(&open @ (b'"' | b'<')) => {
                    let close = if open == b'"' { b'"' } else { b'>' };
                    let Some(len) = memchr::memchr(close, &line[j + 1..]) else {
                        continue;
                    };
                    let name: Box<[u8]> = line[j + 1..j + 1 + len].into();
                    if open == b'"' {
                        Operand::Quoted(name)
                    } else {
                        Operand::Angled(name)
                    }
                }
                _ => {
                    // A macro: the balanced text up to the closing parenthesis.
                    let mut depth = 0usize;
                    let mut end = j;
                    while end < line.len() {
                        match line[end] {
                            b'(' => depth += 1,
                            b')' if depth == 0 => break,
                            b')' => depth -= 1,
                            _ => {}
                        }
                        end += 1;
                    }
                    let text = String::from_utf8_lossy(&line[j..end]).trim().to_string();
                    if text.is_empty() {
                        continue;
                    }
                    Operand::Computed(text.into())
                }
            };
            self.out.includes.push(Include { kind, operand });
        }
    }
}

#[cfg(test)]
#[path = "directives_tests.rs"]
mod tests;
