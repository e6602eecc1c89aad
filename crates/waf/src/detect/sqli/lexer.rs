//! The SQL lexer: splits a value into the tokens MySQL, PostgreSQL, MSSQL, Oracle and SQLite
//! would see, starting in one of the contexts an injection can start in.
//!
//! One pass, linear in the input, at most [`MAX_TOKENS`] tokens. Comments are kept as tokens
//! (the judge needs to know where code was truncated); MySQL versioned comments (`/*!50000 ..*/`)
//! are lexed as code, as MySQL does.

use super::keywords::{Kw, WordClass, classify, keyword};
use crate::detect::ascii::{find, is_ident_byte};

/// Tokens examined per context: enough for any injection's decisive prefix.
pub(crate) const MAX_TOKENS: usize = 256;

/// A value's tokens: short values (most of them) are lexed without a heap allocation.
pub(crate) type Tokens = smallvec::SmallVec<[Token; 64]>;

/// What an injection is appended to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    /// Code position: a numeric value, or text appended to one (`id=1<input>`).
    Bare,
    /// Inside a string literal opened by the application with this quote.
    Quoted(u8),
}

/// An operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// `=`, `==`, `<>`, `!=`, `<`, `>`, `<=`, `>=`, `<=>`: comparison.
    Compare,
    /// `:=`: assignment.
    Assign,
    /// `-`: minus, also unary.
    Minus,
    /// `+`: plus, also unary.
    Plus,
    /// `!` and `~`: unary only.
    Not,
    /// `*`: multiplication or the select-all star.
    Star,
    /// `||` and `&&`: logical (MySQL) or concatenation (standard SQL).
    Logic,
    /// Any other binary operator: `/ % & | ^ << >> :: -> ->>`.
    Binary,
}

/// A token's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A string literal; `closed` is false when the input ends inside it.
    Str {
        /// Whether its closing quote is in the input.
        closed: bool,
    },
    /// A number: decimal, hex (`0x1F`), binary (`0b01`), scientific, MSSQL money (`\1`).
    Num,
    /// An identifier or keyword.
    Word,
    /// A quoted identifier: `` `x` `` or `[x]`.
    QuotedIdent,
    /// A variable `@x` (`system` for `@@x`).
    Var {
        /// `@@version` rather than `@x`.
        system: bool,
    },
    /// An operator.
    Op(Op),
    /// `(`.
    LParen,
    /// `)`.
    RParen,
    /// `,`.
    Comma,
    /// `;`.
    Semicolon,
    /// `.`.
    Dot,
    /// A comment; `to_end` when it runs to the end of the input (or is unterminated).
    Comment {
        /// Whether nothing but this comment follows.
        to_end: bool,
    },
    /// The start of a MySQL versioned comment `/*!`, whose content is code.
    Versioned,
    /// A character no dialect gives meaning to here (`{`, `?`, `$`, ...).
    Other,
}

/// One token: its kind and byte range in the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    /// What it is.
    pub kind: Kind,
    /// Start byte offset in the value.
    pub start: usize,
    /// End byte offset (exclusive).
    pub end: usize,
    /// What a [`Kind::Word`] is to SQL, looked up once here; [`WordClass::NONE`] for every
    /// other kind.
    pub class: WordClass,
}

/// Lex `value` in `context` into `out` (cleared first). In a quoted context the first token is
/// the string the application opened, closed by the input's first unescaped quote; returns
/// false when the input never closes it (the context does not apply).
pub(crate) fn lex(value: &str, context: Context, out: &mut Tokens) -> bool {
    out.clear();
    let bytes = value.as_bytes();
    let mut lexer = Lexer {
        bytes,
        at: 0,
        out,
        versioned: false,
    };
    if let Context::Quoted(quote) = context {
        let Some(end) = string_end(bytes, 0, quote) else {
            return false;
        };
        lexer.push(Kind::Str { closed: true }, 0, end);
        lexer.at = end;
    }
    lexer.run();
    true
}

/// The end (after the closing quote) of a string whose content starts at `from`, honouring
/// doubled quotes and backslash escapes; `None` when unterminated.
fn string_end(bytes: &[u8], from: usize, quote: u8) -> Option<usize> {
    let mut at = from;
    while let Some(rel) = memchr::memchr2(quote, b'\\', bytes.get(at..)?) {
        let pos = at + rel;
        if bytes.get(pos) == Some(&b'\\') {
            at = pos + 2;
            continue;
        }
        if bytes.get(pos + 1) == Some(&quote) {
            at = pos + 2;
            continue;
        }
        return Some(pos + 1);
    }
    None
}

/// Whether U+FFFD (the replacement character) starts at `at`.
fn is_replacement(b: &[u8], at: usize) -> bool {
    matches!(b.get(at..), Some([0xef, 0xbf, 0xbd, ..]))
}

/// Where a number ends when the letters at `at` (after its digits) are a keyword that ends it,
/// optionally after an Oracle `f` / `d` suffix.
fn number_before_keyword(b: &[u8], at: usize) -> Option<usize> {
    let run_end = at
        + b.get(at..)?
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
            .count();
    let ends_number = |from: usize| {
        // Every keyword below has two to six letters: longer or shorter runs need no lookup.
        b.get(from..run_end).is_some_and(|w| {
            (2..=6).contains(&w.len())
                && matches!(
                    keyword(w),
                    Kw::Union
                        | Kw::From
                        | Kw::Logic
                        | Kw::Filter
                        | Kw::Sort
                        | Kw::Limit
                        | Kw::Into
                        | Kw::Select
                )
        })
    };
    if ends_number(at) {
        return Some(at);
    }
    let suffix = matches!(b.get(at), Some(b'f' | b'F' | b'd' | b'D'));
    (suffix && ends_number(at + 1)).then_some(at + 1)
}

struct Lexer<'a, 'o> {
    bytes: &'a [u8],
    at: usize,
    out: &'o mut Tokens,
    /// Inside `/*! ... */`: the closing `*/` is skipped, not a comment end.
    versioned: bool,
}

impl Lexer<'_, '_> {
    fn push(&mut self, kind: Kind, start: usize, end: usize) {
        let class = match kind {
            Kind::Word => classify(self.bytes.get(start..end).unwrap_or(b"")),
            _ => WordClass::NONE,
        };
        self.out.push(Token {
            kind,
            start,
            end,
            class,
        });
    }

    fn peek(&self, offset: usize) -> u8 {
        self.bytes.get(self.at + offset).copied().unwrap_or(0)
    }

    fn run(&mut self) {
        while self.at < self.bytes.len() && self.out.len() < MAX_TOKENS {
            self.step();
        }
    }

    fn step(&mut self) {
        let start = self.at;
        let b = self.peek(0);
        match b {
            // Whitespace, including what MySQL and MSSQL also accept between tokens.
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0 | 0xa0 => self.at += 1,
            0xc2 if self.peek(1) == 0xa0 => self.at += 2,
            // U+FFFD: a byte that was not text (`%A0`, `%0B` in another charset), which the
            // database read as a separator.
            0xef if is_replacement(self.bytes, self.at) => self.at += 3,
            // An en or em dash where `--` was meant (payloads copied through word processors).
            0xe2 if self.peek(1) == 0x80 && matches!(self.peek(2), 0x93 | 0x94) => {
                self.line_comment(start)
            }
            b'\'' | b'"' => self.string(start, b),
            b'`' => self.delimited_ident(start, b'`'),
            b'[' => self.delimited_ident(start, b']'),
            b'0'..=b'9' => self.number(start),
            b'.' if self.peek(1).is_ascii_digit() => self.number(start),
            b'.' => self.single(Kind::Dot),
            b'(' => self.single(Kind::LParen),
            b')' => self.single(Kind::RParen),
            b',' => self.single(Kind::Comma),
            b';' => self.single(Kind::Semicolon),
            b'@' => self.variable(start),
            b'#' => self.line_comment(start),
            b'-' if self.peek(1) == b'-' => self.line_comment(start),
            b'/' if self.peek(1) == b'*' => self.block_comment(start),
            b'*' if self.peek(1) == b'/' && self.versioned => {
                self.versioned = false;
                self.at += 2;
            }
            b'\\' if self.peek(1) == b'N' => {
                // MySQL's `\N` is NULL.
                self.at += 2;
                self.push(Kind::Word, start, self.at);
            }
            b'\\' if self.peek(1).is_ascii_digit() || self.peek(1) == b'.' => {
                // MSSQL money literal: `\1` is a number.
                self.at += 1;
                self.number(start);
            }
            b'$' => self.dollar(start),
            b'N' | b'n' | b'E' | b'e' | b'X' | b'x' | b'B' | b'b' | b'Q' | b'q'
                if self.peek(1) == b'\'' =>
            {
                self.prefixed_string(start)
            }
            b'U' | b'u' if self.peek(1) == b'&' && self.peek(2) == b'\'' => {
                self.at += 2;
                self.string(start, b'\'');
            }
            _ if b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 => self.word(start),
            _ => self.operator(start, b),
        }
    }

    fn single(&mut self, kind: Kind) {
        let start = self.at;
        self.at += 1;
        self.push(kind, start, self.at);
    }

    fn string(&mut self, start: usize, quote: u8) {
        // `start` may be before a prefix (`N'`, `U&'`); the quote is at `self.at`.
        match string_end(self.bytes, self.at + 1, quote) {
            Some(end) => {
                self.at = end;
                self.push(Kind::Str { closed: true }, start, end);
            }
            None => {
                self.at = self.bytes.len();
                self.push(Kind::Str { closed: false }, start, self.at);
            }
        }
    }

    fn prefixed_string(&mut self, start: usize) {
        // Oracle q'[...]' uses a bracket pair as its delimiter.
        if matches!(self.peek(0), b'q' | b'Q') {
            let open = self.peek(2);
            let close = match open {
                b'[' => b']',
                b'(' => b')',
                b'{' => b'}',
                b'<' => b'>',
                other => other,
            };
            let from = self.at + 3;
            let mut at = from;
            while let Some(rel) = self.bytes.get(at..).and_then(|s| memchr::memchr(close, s)) {
                let pos = at + rel;
                if self.bytes.get(pos + 1) == Some(&b'\'') {
                    self.at = pos + 2;
                    self.push(Kind::Str { closed: true }, start, self.at);
                    return;
                }
                at = pos + 1;
            }
            self.at = self.bytes.len();
            self.push(Kind::Str { closed: false }, start, self.at);
            return;
        }
        self.at += 1;
        self.string(start, b'\'');
    }

    fn delimited_ident(&mut self, start: usize, close: u8) {
        let from = self.at + 1;
        match self
            .bytes
            .get(from..)
            .and_then(|s| memchr::memchr(close, s))
        {
            Some(rel) => self.at = from + rel + 1,
            None => self.at = self.bytes.len(),
        }
        self.push(Kind::QuotedIdent, start, self.at);
    }

    fn number(&mut self, start: usize) {
        let b = self.bytes;
        let mut at = self.at;
        let radix_prefix =
            b.get(at) == Some(&b'0') && matches!(b.get(at + 1), Some(b'x' | b'X' | b'b' | b'B'));
        if radix_prefix {
            let hex = matches!(b.get(at + 1), Some(b'x' | b'X'));
            at += 2;
            while b.get(at).is_some_and(|c| {
                if hex {
                    c.is_ascii_hexdigit()
                } else {
                    *c == b'0' || *c == b'1'
                }
            }) {
                at += 1;
            }
        } else {
            while b.get(at).is_some_and(u8::is_ascii_digit) {
                at += 1;
            }
            if b.get(at) == Some(&b'.') {
                at += 1;
                while b.get(at).is_some_and(u8::is_ascii_digit) {
                    at += 1;
                }
            }
            if matches!(b.get(at), Some(b'e' | b'E')) {
                let mut exp = at + 1;
                if matches!(b.get(exp), Some(b'+' | b'-')) {
                    exp += 1;
                }
                if b.get(exp).is_some_and(u8::is_ascii_digit) {
                    at = exp;
                    while b.get(at).is_some_and(u8::is_ascii_digit) {
                        at += 1;
                    }
                } else if b
                    .get(at + 1)
                    .is_none_or(|c| !c.is_ascii_alphanumeric() && *c != b'_')
                {
                    // MySQL accepts `1.e` and `1e` followed by a non-word as a number.
                    at += 1;
                }
            }
        }
        // A plain integer running into letters is an identifier in MySQL (`1st`, `2fa`).
        let plain_integer = !radix_prefix
            && b.get(start..at)
                .is_some_and(|s| s.iter().all(|c| c.is_ascii_digit() || *c == b'\\'));
        if plain_integer
            && !is_replacement(b, at)
            && b.get(at)
                .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_' || *c >= 0x80)
        {
            // Except before a keyword, where MSSQL, Oracle and PostgreSQL end the number
            // (`1UNION`, `1FROM`), also after Oracle's float suffixes (`1fUNION`, `1dUNION`).
            if let Some(number_end) = number_before_keyword(b, at) {
                self.at = number_end;
                self.push(Kind::Num, start, self.at);
                return;
            }
            self.at = at;
            self.word(start);
            return;
        }
        self.at = at.max(self.at + 1);
        self.push(Kind::Num, start, self.at);
    }

    fn word(&mut self, start: usize) {
        let b = self.bytes;
        let mut at = self.at;
        // U+FFFD ends a word; only its first byte (0xEF) needs the closer look.
        while let Some(&c) = b.get(at)
            && is_ident_byte(c)
            && !(c == 0xef && is_replacement(b, at))
        {
            at += 1;
        }
        // `_latin1'x'`: a character-set introducer before a string is one string literal.
        if b.get(start) == Some(&b'_') && b.get(at) == Some(&b'\'') {
            self.at = at;
            self.string(start, b'\'');
            return;
        }
        self.at = at.max(start + 1);
        self.push(Kind::Word, start, self.at);
    }

    fn variable(&mut self, start: usize) {
        let system = self.peek(1) == b'@';
        self.at += if system { 2 } else { 1 };
        match self.peek(0) {
            q @ (b'\'' | b'"' | b'`') => {
                let from = self.at + 1;
                self.at = string_end(self.bytes, from, q).unwrap_or(self.bytes.len());
            }
            _ => {
                while self.bytes.get(self.at).is_some_and(|c| {
                    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'$' | b'.') || *c >= 0x80
                }) {
                    self.at += 1;
                }
            }
        }
        self.push(Kind::Var { system }, start, self.at);
    }

    fn line_comment(&mut self, start: usize) {
        let end = self
            .bytes
            .get(self.at..)
            .and_then(|s| memchr::memchr(b'\n', s))
            .map_or(self.bytes.len(), |rel| self.at + rel);
        self.at = end;
        let to_end = end == self.bytes.len();
        self.push(Kind::Comment { to_end }, start, end);
    }

    fn block_comment(&mut self, start: usize) {
        if self.peek(2) == b'!' {
            // MySQL versioned comment: optional version digits, then code.
            self.at += 3;
            let mut digits = 0;
            while digits < 6 && self.peek(0).is_ascii_digit() {
                self.at += 1;
                digits += 1;
            }
            self.versioned = true;
            self.push(Kind::Versioned, start, self.at);
            return;
        }
        let from = self.at + 2;
        let end = self
            .bytes
            .get(from..)
            .and_then(|s| find(s, b"*/"))
            .map_or(self.bytes.len(), |rel| from + rel + 2);
        self.at = end;
        let to_end = end == self.bytes.len();
        self.push(Kind::Comment { to_end }, start, end);
    }

    fn dollar(&mut self, start: usize) {
        // PostgreSQL dollar quoting: `$$..$$` or `$tag$..$tag$`.
        let b = self.bytes;
        let mut tag_end = self.at + 1;
        while b
            .get(tag_end)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            tag_end += 1;
        }
        if b.get(tag_end) == Some(&b'$') {
            let tag = b.get(self.at..=tag_end).unwrap_or(b"$$");
            let from = tag_end + 1;
            match b.get(from..).and_then(|s| memchr::memmem::find(s, tag)) {
                Some(rel) => {
                    self.at = from + rel + tag.len();
                    self.push(Kind::Str { closed: true }, start, self.at);
                }
                None => {
                    self.at = b.len();
                    self.push(Kind::Str { closed: false }, start, self.at);
                }
            }
            return;
        }
        self.single(Kind::Other);
    }

    fn operator(&mut self, start: usize, b: u8) {
        let next = self.peek(1);
        let (kind, len) = match (b, next) {
            (b'<', b'=') if self.peek(2) == b'>' => (Op::Compare, 3),
            (b'<', b'>' | b'=') | (b'>', b'=') | (b'!', b'=') | (b'=', b'=') => (Op::Compare, 2),
            (b'^', b'=') => (Op::Compare, 2),
            (b'<', b'<') | (b'>', b'>') => (Op::Binary, 2),
            (b'<' | b'>' | b'=', _) => (Op::Compare, 1),
            (b':', b'=') => (Op::Assign, 2),
            (b':', b':') => (Op::Binary, 2),
            (b'|', b'|') | (b'&', b'&') => (Op::Logic, 2),
            (b'-', b'>') if self.peek(2) == b'>' => (Op::Binary, 3),
            (b'-', b'>') => (Op::Binary, 2),
            (b'-', _) => (Op::Minus, 1),
            (b'+', _) => (Op::Plus, 1),
            (b'!' | b'~', _) => (Op::Not, 1),
            (b'*', _) => (Op::Star, 1),
            (b'/' | b'%' | b'&' | b'|' | b'^', _) => (Op::Binary, 1),
            _ => {
                // Any other byte (or a multi-byte character) is not SQL syntax here.
                let width = utf8_width(b);
                self.at += width;
                self.push(Kind::Other, start, self.at.min(self.bytes.len()));
                self.at = self.at.min(self.bytes.len());
                return;
            }
        };
        self.at += len;
        self.push(Kind::Op(kind), start, self.at);
    }
}

/// Byte length of the UTF-8 sequence starting with `b` (1 for continuation bytes).
fn utf8_width(b: u8) -> usize {
    match b {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(value: &str, context: Context) -> Vec<Kind> {
        let mut out = Tokens::new();
        assert!(lex(value, context, &mut out));
        out.iter().map(|t| t.kind).collect()
    }

    #[test]
    fn quoted_context_starts_with_the_applications_string() {
        let k = kinds("admin' OR 1=1--", Context::Quoted(b'\''));
        assert_eq!(
            k,
            vec![
                Kind::Str { closed: true },
                Kind::Word,
                Kind::Num,
                Kind::Op(Op::Compare),
                Kind::Num,
                Kind::Comment { to_end: true },
            ]
        );
    }

    #[test]
    fn doubled_quotes_and_backslashes_stay_inside_strings() {
        let k = kinds("a''b\\'c' or 'x", Context::Quoted(b'\''));
        assert_eq!(
            k,
            vec![
                Kind::Str { closed: true },
                Kind::Word,
                Kind::Str { closed: false }
            ]
        );
        let mut out = Tokens::new();
        assert!(!lex("no quote here", Context::Quoted(b'\''), &mut out));
    }

    #[test]
    fn numbers_in_every_notation() {
        for n in ["0x7e", "0b101", "1e5", "1.e3", ".5", "3.14", "\\1"] {
            assert_eq!(kinds(n, Context::Bare), vec![Kind::Num], "{n}");
        }
        assert_eq!(kinds("1st", Context::Bare), vec![Kind::Word]);
        assert_eq!(
            kinds("1e1union", Context::Bare),
            vec![Kind::Num, Kind::Word]
        );
        for split in ["1UNION", "1fUNION", "1DUNION", "\\1from", "2and"] {
            assert_eq!(
                kinds(split, Context::Bare),
                vec![Kind::Num, Kind::Word],
                "{split}"
            );
        }
        for word in ["2fa", "3d", "1stand", "4order66"] {
            assert_eq!(kinds(word, Context::Bare), vec![Kind::Word], "{word}");
        }
    }

    #[test]
    fn mangled_separators_and_dashes() {
        assert_eq!(
            kinds("1\u{FFFD}UNION", Context::Bare),
            vec![Kind::Num, Kind::Word]
        );
        assert_eq!(
            kinds("1=1 \u{2013}", Context::Bare),
            vec![
                Kind::Num,
                Kind::Op(Op::Compare),
                Kind::Num,
                Kind::Comment { to_end: true }
            ]
        );
    }

    #[test]
    fn versioned_comments_are_code_and_plain_comments_are_comments() {
        let k = kinds("/*!50000UNION*/ /**/SELECT", Context::Bare);
        assert_eq!(
            k,
            vec![
                Kind::Versioned,
                Kind::Word,
                Kind::Comment { to_end: false },
                Kind::Word
            ]
        );
    }

    #[test]
    fn dialect_strings_and_variables() {
        assert_eq!(
            kinds("$tag$ x $tag$", Context::Bare),
            vec![Kind::Str { closed: true }]
        );
        assert_eq!(kinds("N'x' E'y' _latin1'z'", Context::Bare).len(), 3);
        assert_eq!(
            kinds("@@version", Context::Bare),
            vec![Kind::Var { system: true }]
        );
        assert_eq!(
            kinds("q'[it's]'", Context::Bare),
            vec![Kind::Str { closed: true }]
        );
    }

    #[test]
    fn token_count_is_capped() {
        let long = "1,".repeat(10_000);
        let mut out = Tokens::new();
        lex(&long, Context::Bare, &mut out);
        assert_eq!(out.len(), MAX_TOKENS);
    }
}
