//! A POSIX shell (and cmd.exe) tokeniser: words after quote removal and expansion, and the
//! operators between them. Quoting tricks (`c''at`, `c\at`, `"w"hoami`), empty expansions
//! (`who$@ami`, `w$()hoami`), `$IFS` as a separator and `${PATH:0:1}` as `/` come out the way
//! the shell sees them. At most [`MAX_TOKENS`] tokens; linear in the input.
//!
//! The words' text is written into one buffer per value ([`Lexed::text`]), each word a range
//! of it, so a value costs no allocation per word.

use std::ops::Range;

use crate::detect::ascii::starts_with_ci;

/// Tokens produced per value and context.
pub(crate) const MAX_TOKENS: usize = 512;
/// Bytes of one word kept (longer words are cut; commands and paths are short).
const MAX_WORD: usize = 256;

/// An operator between words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sep {
    /// `;`, newline, `&`, `&&`, `||`: the next word is a command.
    List,
    /// `|`: the next word is a command reading the previous one's output.
    Pipe,
    /// `$(` or an opening backtick: a command substitution starts.
    SubstOpen,
    /// `)` or a closing backtick.
    Close,
    /// `(`, `{`: a subshell or group starts.
    Group,
}

/// One token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// A word after quote removal.
    Word(Word),
    /// An operator.
    Sep(Sep, usize),
    /// A redirection (`>`, `>>`, `<`, `2>&1`); the next word is its target.
    Redirect(usize),
}

/// A word after quote removal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Word {
    /// Where the text the shell would pass (expansions removed), lower-cased, is in
    /// [`Lexed::text`].
    pub text: Range<usize>,
    /// Byte range in the value.
    pub start: usize,
    /// End of the byte range.
    pub end: usize,
    /// It contained quotes, escapes or expansions: shell syntax, not prose.
    pub shellish: bool,
    /// It contained `$IFS` or `${IFS}` used as a separator.
    pub ifs: bool,
    /// It had an upper-case ASCII letter as written (commands and options are lower case).
    pub upper: bool,
}

/// Where lexing starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    /// At the start of a command line.
    Bare,
    /// Inside a quoted argument that the input closes with this quote.
    Quoted(u8),
}

/// A value's tokens and the text of its words.
#[derive(Debug, Default)]
pub(crate) struct Lexed {
    /// The tokens.
    pub tokens: Vec<Token>,
    /// The words' text, one after the other (see [`Word::text`]).
    pub text: String,
}

/// Bytes of word text a thread keeps between values (more is freed after the value).
const KEPT_TEXT: usize = 64 * 1024;

thread_local! {
    /// The token list and text buffer of the values this thread lexes, reused from value to
    /// value: a value's list of ~30 tokens is larger than the allocator's per-thread cache
    /// holds, so allocating it for every value cost a full `malloc` and `free` each time.
    static SCRATCH: std::cell::RefCell<Lexed> = std::cell::RefCell::default();
}

impl Lexed {
    /// Run `f` with this thread's lexing buffers (emptied by [`lex`] before each use).
    pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Lexed) -> R) -> R {
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut lexed) => {
                let result = f(&mut lexed);
                // A huge value's buffers are not kept for the next, small, one.
                if lexed.text.capacity() > KEPT_TEXT {
                    *lexed = Lexed::default();
                }
                result
            }
            // Not re-entered today; if it ever is, fresh buffers keep it correct.
            Err(_) => f(&mut Lexed::default()),
        })
    }

    /// The text of a word.
    pub(crate) fn word_text(&self, w: &Word) -> &str {
        self.text.get(w.text.clone()).unwrap_or("")
    }
}

struct Lexer<'a, 'o> {
    value: &'a str,
    b: &'a [u8],
    at: usize,
    out: &'o mut Lexed,
    /// The word being read; its text runs from `text.start` to the end of `out.text`.
    word: Option<Word>,
    backtick_open: bool,
}

/// Tokenise `value` starting in `start` into `out` (cleared first); false when a quoted start
/// is never closed.
pub(crate) fn lex(value: &str, start: Start, out: &mut Lexed) -> bool {
    out.tokens.clear();
    out.text.clear();
    let b = value.as_bytes();
    let mut lx = Lexer {
        value,
        b,
        at: 0,
        out,
        word: None,
        backtick_open: false,
    };
    if let Start::Quoted(q) = start {
        let Some(close) = memchr::memchr(q, b) else {
            return false;
        };
        lx.at = close + 1;
    }
    lx.run();
    true
}

impl Lexer<'_, '_> {
    fn peek(&self, n: usize) -> u8 {
        self.b.get(self.at + n).copied().unwrap_or(0)
    }

    fn word(&mut self) -> &mut Word {
        let at = self.at;
        let text = self.out.text.len();
        self.word.get_or_insert_with(|| Word {
            start: at,
            end: at,
            text: text..text,
            ..Word::default()
        })
    }

    /// Bytes of text the current word has.
    fn word_len(&self) -> usize {
        self.word
            .as_ref()
            .map_or(0, |w| self.out.text.len() - w.text.start)
    }

    fn push_char(&mut self, c: char) {
        let w = self.word();
        w.upper |= c.is_ascii_uppercase();
        if self.word_len() < MAX_WORD {
            self.out.text.extend(c.to_lowercase());
        }
    }

    /// Close the current word's text and add the word to the tokens.
    fn push_word(&mut self, mut w: Word) {
        w.text.end = self.out.text.len();
        self.out.tokens.push(Token::Word(w));
    }

    fn end_word(&mut self) {
        if let Some(mut w) = self.word.take() {
            // An escape at the very end (`C:\\`) may step past the input.
            w.end = self.at.max(w.start).min(self.b.len());
            if self.out.text.len() > w.text.start || w.ifs {
                self.push_word(w);
            }
        }
    }

    fn sep(&mut self, sep: Sep, len: usize) {
        self.end_word();
        self.out.tokens.push(Token::Sep(sep, self.at));
        self.at += len;
    }

    fn run(&mut self) {
        while self.at < self.b.len() && self.out.tokens.len() < MAX_TOKENS {
            let c = self.peek(0);
            match c {
                b' ' | b'\t' | 0x0b | 0x0c => {
                    self.end_word();
                    self.at += 1;
                }
                b'\n' | b'\r' | b';' => self.sep(Sep::List, 1),
                b'&' if self.peek(1) == b'>' => self.redirect(2),
                b'&' if self.peek(1) == b'&' => self.sep(Sep::List, 2),
                b'&' => self.sep(Sep::List, 1),
                b'|' if self.peek(1) == b'|' => self.sep(Sep::List, 2),
                b'|' => self.sep(Sep::Pipe, 1),
                b'>' | b'<' => {
                    let mut len = 1;
                    while matches!(self.b.get(self.at + len), Some(b'>' | b'<' | b'&')) && len < 3 {
                        len += 1;
                    }
                    // `<(cmd)` is a process substitution.
                    if c == b'<' && self.peek(1) == b'(' {
                        self.sep(Sep::SubstOpen, 2);
                    } else {
                        self.redirect(len);
                    }
                }
                b'(' => self.sep(Sep::Group, 1),
                b')' => self.sep(Sep::Close, 1),
                b'{' if self.word.is_none() && matches!(self.peek(1), b' ' | b'\t' | b'\n') => {
                    self.sep(Sep::Group, 1)
                }
                b'}' if self.word.is_none() => self.sep(Sep::Close, 1),
                b'`' => {
                    let sep = if self.backtick_open {
                        Sep::Close
                    } else {
                        Sep::SubstOpen
                    };
                    self.backtick_open = !self.backtick_open;
                    self.sep(sep, 1);
                }
                b'#' if self.word.is_none() => {
                    // A comment runs to the end of the line.
                    while self.at < self.b.len() && self.peek(0) != b'\n' {
                        self.at += 1;
                    }
                }
                b'\'' => self.single_quoted(),
                b'"' => self.double_quoted(),
                // A literal `\n` / `\r`: applications that unescape input turn it into a line
                // break, which ends a command.
                b'\\'
                    if matches!(self.peek(1), b'n' | b'r')
                        && !self.peek(2).is_ascii_alphanumeric()
                        || b'\\' == c
                            && matches!(self.peek(1), b'n' | b'r')
                            && self.word.is_none() =>
                {
                    self.sep(Sep::List, 2)
                }
                b'\\' => {
                    self.word().shellish = true;
                    let next = self.peek(1);
                    self.at = (self.at + 2).min(self.b.len());
                    if next != b'\n' && next != 0 {
                        self.push_char(next as char);
                    }
                }
                b'$' => self.dollar(),
                // cmd.exe's escape character: `w^h^o^a^m^i`.
                b'^' => {
                    self.word().shellish = true;
                    self.at += 1;
                }
                _ => self.plain_char(),
            }
        }
        self.end_word();
    }

    fn plain_char(&mut self) {
        let rest = self.b.get(self.at..).unwrap_or(b"");
        // Most bytes are ASCII: no UTF-8 decoding, no Unicode lower-casing. The ASCII bytes
        // after it that every caller would also hand here (inside a word, `{`, `}` and `#`
        // are plain too) are taken in the same step.
        if let Some(&b) = rest.first()
            && b.is_ascii()
        {
            let after = rest.get(1..).unwrap_or(b"");
            let run = 1 + after
                .iter()
                .position(|&c| !PLAIN_RUN[usize::from(c)])
                .unwrap_or(after.len());
            let text = rest.get(..run).unwrap_or(b"");
            let upper = text
                .iter()
                .fold(false, |upper, c| upper | c.is_ascii_uppercase());
            let w = self.word();
            w.upper |= upper;
            let room = MAX_WORD.saturating_sub(self.word_len());
            // ASCII only: every byte of the run is a character boundary.
            let kept = self
                .value
                .get(self.at..self.at + run.min(room))
                .unwrap_or("");
            let from = self.out.text.len();
            self.out.text.push_str(kept);
            if upper && let Some(added) = self.out.text.get_mut(from..) {
                added.make_ascii_lowercase();
            }
            self.at += run;
            return;
        }
        let (c, len) = match std::str::from_utf8(rest.get(..rest.len().min(4)).unwrap_or(b"")) {
            Ok(s) => s
                .chars()
                .next()
                .map_or(('\u{FFFD}', 1), |c| (c, c.len_utf8())),
            Err(e) if e.valid_up_to() > 0 => {
                let s =
                    std::str::from_utf8(rest.get(..e.valid_up_to()).unwrap_or(b"")).unwrap_or("");
                s.chars()
                    .next()
                    .map_or(('\u{FFFD}', 1), |c| (c, c.len_utf8()))
            }
            Err(_) => ('\u{FFFD}', 1),
        };
        self.word();
        self.at += len;
        self.push_char(c);
    }

    fn redirect(&mut self, len: usize) {
        self.end_word();
        self.out.tokens.push(Token::Redirect(self.at));
        self.at += len;
    }

    fn single_quoted(&mut self) {
        self.word();
        self.at += 1;
        let close = self.b.get(self.at..).and_then(|s| memchr::memchr(b'\'', s));
        // Only a closed quote is shell syntax; an apostrophe running to the end is prose.
        if close.is_some() {
            self.word().shellish = true;
        }
        let end = close.map_or(self.b.len(), |r| self.at + r);
        while self.at < end {
            self.plain_char();
        }
        self.at = (end + 1).min(self.b.len().max(end));
    }

    fn double_quoted(&mut self) {
        self.word();
        self.at += 1;
        if self
            .b
            .get(self.at..)
            .is_some_and(|s| memchr::memchr(b'"', s).is_some())
        {
            self.word().shellish = true;
        }
        while self.at < self.b.len() {
            match self.peek(0) {
                b'"' => {
                    self.at += 1;
                    return;
                }
                b'\\' if matches!(self.peek(1), b'"' | b'\\' | b'$' | b'`') => {
                    let next = self.peek(1);
                    self.at += 2;
                    self.push_char(next as char);
                }
                b'$' => self.dollar(),
                _ => self.plain_char(),
            }
        }
    }

    fn dollar(&mut self) {
        let next = self.peek(1);
        match next {
            b'(' => {
                self.sep(Sep::SubstOpen, if self.peek(2) == b'(' { 3 } else { 2 });
            }
            b'{' => {
                let from = self.at + 2;
                let close = self
                    .b
                    .get(from..)
                    .and_then(|s| memchr::memchr(b'}', s))
                    .map_or(self.b.len(), |r| from + r);
                let inner = self.b.get(from..close).unwrap_or(b"");
                self.at = (close + 1).min(self.b.len());
                self.expansion(inner);
            }
            b'\'' => {
                // `$'..'`: ANSI-C quoting, with `\xHH` escapes.
                self.word().shellish = true;
                self.at += 2;
                while self.at < self.b.len() && self.peek(0) != b'\'' {
                    if self.peek(0) == b'\\' && self.peek(1) == b'x' {
                        let hex = std::str::from_utf8(
                            self.b.get(self.at + 2..self.at + 4).unwrap_or(b""),
                        )
                        .unwrap_or("");
                        if let Ok(v) = u8::from_str_radix(hex, 16) {
                            self.push_char(v as char);
                            self.at += 4;
                            continue;
                        }
                    }
                    self.plain_char();
                }
                self.at += 1;
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                let from = self.at + 1;
                let mut end = from;
                while self
                    .b
                    .get(end)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    end += 1;
                }
                let name = self.b.get(from..end).unwrap_or(b"");
                self.at = end;
                self.expansion(name);
            }
            b'0'..=b'9' | b'@' | b'*' | b'#' | b'?' | b'$' | b'!' | b'-' => {
                // Special parameters: empty in an injected command line.
                self.word().shellish = true;
                self.at += 2;
            }
            _ => self.plain_char(),
        }
    }

    /// `$name` or `${...}`: `IFS` splits words, `PATH:0:1` is `/`, anything else is empty.
    fn expansion(&mut self, inner: &[u8]) {
        if starts_with_ci(inner, 0, b"ifs") {
            let had_word = self.word.is_some();
            self.word().ifs = true;
            if had_word {
                let at = self.at;
                if let Some(w) = self.word.as_mut() {
                    w.end = at;
                }
            }
            // IFS separates words: close the current one, mark the next.
            if let Some(mut w) = self.word.take() {
                w.ifs = true;
                w.end = self.at;
                self.push_word(w);
            }
            let at = self.at;
            let text = self.out.text.len();
            self.word = Some(Word {
                start: at,
                end: at,
                text: text..text,
                ifs: true,
                shellish: true,
                ..Word::default()
            });
            return;
        }
        self.word().shellish = true;
        if starts_with_ci(inner, 0, b"path:0:1")
            || starts_with_ci(inner, 0, b"home:0:1")
            || starts_with_ci(inner, 0, b"pwd:0:1")
        {
            self.push_char('/');
        }
    }
}

/// The bytes a run of plain ASCII continues with: ASCII, and not [`ends_plain_run`].
static PLAIN_RUN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 128 {
        table[b] = !ends_plain_run(b as u8);
        b += 1;
    }
    table
};

/// Whether an ASCII byte is one that the lexer (outside or inside quotes) does not simply add
/// to the current word: a separator, an operator, a quote, an escape or an expansion.
const fn ends_plain_run(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t'
            | 0x0b
            | 0x0c
            | b'\n'
            | b'\r'
            | b';'
            | b'&'
            | b'|'
            | b'>'
            | b'<'
            | b'('
            | b')'
            | b'`'
            | b'\''
            | b'"'
            | b'\\'
            | b'$'
            | b'^'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex_new(value: &str, start: Start) -> Option<Lexed> {
        let mut out = Lexed::default();
        lex(value, start, &mut out).then_some(out)
    }

    fn words(value: &str) -> Vec<String> {
        let lexed = lex_new(value, Start::Bare).unwrap_or_default();
        lexed
            .tokens
            .iter()
            .filter_map(|t| match t {
                Token::Word(w) => Some(lexed.word_text(w).to_owned()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn quotes_escapes_and_expansions_come_out_as_the_shell_sees_them() {
        assert_eq!(words("c''at /et'c/pa'ss'wd"), ["cat", "/etc/passwd"]);
        assert_eq!(words("c\\at who$@ami"), ["cat", "whoami"]);
        assert_eq!(words("cat${IFS}/etc/passwd"), ["cat", "/etc/passwd"]);
        assert_eq!(words("cat$IFS$9/etc/passwd"), ["cat", "/etc/passwd"]);
        assert_eq!(words("ls ${PATH:0:1}etc"), ["ls", "/etc"]);
        assert_eq!(words("w^h^o^a^m^i"), ["whoami"]);
        assert_eq!(words("$'\\x69\\x64'"), ["id"]);
    }

    #[test]
    fn spans_stay_inside_the_value() {
        // Found by the fuzzer: a trailing escape stepped past the end.
        for value in ["; dir C:\\", "x\\", "$", "${", "$'\\x", "\"", "'"] {
            let lexed = lex_new(value, Start::Bare).unwrap_or_default();
            for tok in &lexed.tokens {
                if let Token::Word(w) = tok {
                    assert!(w.start <= w.end && w.end <= value.len(), "{value:?}: {w:?}");
                    assert!(w.text.end <= lexed.text.len(), "{value:?}: {w:?}");
                }
            }
        }
    }

    #[test]
    fn operators_split_commands() {
        let lexed = lex_new("a;id|cat&&x||y&z\n$(w)`v`", Start::Bare).unwrap_or_default();
        let seps = lexed
            .tokens
            .iter()
            .filter(|t| matches!(t, Token::Sep(..)))
            .count();
        assert_eq!(seps, 10);
        assert!(lex_new("no quote", Start::Quoted(b'"')).is_none());
    }
}
