//! Script in a value: calls of the functions an injected script needs (`alert`, `eval`,
//! `setTimeout`, `Function`, `document.write`, ...) written as JavaScript writes them, and URLs
//! whose scheme runs script (`javascript:`, `vbscript:`, `data:text/html`).
//!
//! A sink name only counts in JavaScript syntax: preceded by the start of the value or by
//! punctuation (never by a word, as in "please confirm (yes)") and followed by a call
//! (`(`, `` ` ``, `.call(`, `.apply(`, `?.(`, `)(`), or passed or assigned as a function.

use crate::detect::ascii::{any_byte, is_ident_byte, lower_bytes_into};

/// A piece of script found in a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ScriptHit {
    /// Rule id.
    pub rule: &'static str,
    /// Score.
    pub score: u16,
    /// Byte range.
    pub start: usize,
    /// End of the byte range.
    pub end: usize,
}

/// How a sink is used when it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sink {
    /// A function that runs or shows attacker text: counts when called.
    Call,
    /// A property that leaks or writes the page: counts when read from `document` / assigned.
    Property,
    /// A global object whose computed members hide a call: `top["al"+"ert"](1)`.
    Global,
}

/// The sink a lower-case word names.
fn sink(name: &[u8]) -> Option<(Sink, u16)> {
    Some(match name {
        b"alert"
        | b"prompt"
        | b"confirm"
        | b"eval"
        | b"settimeout"
        | b"setinterval"
        | b"function"
        | b"execscript"
        | b"msgbox"
        | b"import"
        | b"atob"
        | b"write"
        | b"writeln"
        | b"constructor"
        | b"insertadjacenthtml"
        | b"createcontextualfragment"
        | b"setimmediate"
        | b"print"
        | b"showmodaldialog"
        | b"navigate" => (Sink::Call, 5),
        b"fromcharcode" | b"fetch" | b"open" | b"unescape" | b"decodeuricomponent" => {
            (Sink::Call, 3)
        }
        b"cookie" | b"domain" | b"innerhtml" | b"outerhtml" | b"srcdoc" | b"location"
        | b"referrer" => (Sink::Property, 5),
        b"top" | b"self" | b"parent" | b"window" | b"frames" | b"globalthis" | b"this"
        | b"content" => (Sink::Global, 5),
        _ => return None,
    })
}

/// Whether `value` starts with the name of a function that runs or shows attacker text
/// (`confirm&lpar;1&rpar;` in a handler, whose call syntax is still encoded).
pub(crate) fn starts_with_call_sink(value: &[u8]) -> bool {
    let len = value.iter().take_while(|b| is_ident_byte(**b)).count();
    let mut buf = [0u8; 32];
    value
        .get(..len)
        .and_then(|w| lower_bytes_into(w, &mut buf))
        .and_then(sink)
        .is_some_and(|(kind, score)| kind == Sink::Call && score >= 5)
}

/// Whether `b` ends a JavaScript expression context where a new expression may start.
fn js_punct(b: u8) -> bool {
    matches!(
        b,
        b';' | b'('
            | b'{'
            | b'}'
            | b'['
            | b','
            | b'='
            | b':'
            | b'+'
            | b'-'
            | b'*'
            | b'/'
            | b'%'
            | b'!'
            | b'?'
            | b'&'
            | b'|'
            | b'^'
            | b'~'
            | b'<'
            | b'>'
            | b'\''
            | b'"'
            | b'`'
            | b'.'
            | b')'
            | b']'
    )
}

fn skip_ws(text: &[u8], mut at: usize) -> usize {
    while text
        .get(at)
        .is_some_and(|b| b.is_ascii_whitespace() || *b == 0)
    {
        at += 1;
    }
    at
}

/// The previous byte that is not whitespace, before `at`.
fn prev_code(text: &[u8], at: usize) -> Option<u8> {
    text.get(..at)?
        .iter()
        .rev()
        .find(|b| !b.is_ascii_whitespace() && **b != 0)
        .copied()
}

/// The bytes a JavaScript name starts with (ASCII letters, `_`, `$`), as a table.
static WORD_START: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphabetic() || c == b'_' || c == b'$';
        b += 1;
    }
    table
};

/// Find script sinks in `text`, at most `limit` words examined.
pub(crate) fn sinks(text: &[u8]) -> Option<ScriptHit> {
    // Every hit needs one of these bytes, so text without them is not read word by word:
    // a call (`called`) needs `(`, a backtick, `.call(`-like text or `)(`, or is handed over
    // before `)` or after `=`; a property (`property`) needs `.` or `[` before it, or `=`
    // after it; a computed call (`computed_call`) needs `[`.
    if !any_byte(text, |b| {
        (b == b'(') | (b == b')') | (b == b'`') | (b == b'=') | (b == b'.') | (b == b'[')
    }) {
        return None;
    }
    sinks_in(text)
}

/// [`sinks`] without the byte-presence shortcut.
pub(super) fn sinks_in(text: &[u8]) -> Option<ScriptHit> {
    let mut best: Option<ScriptHit> = None;
    // One pass: `before` is what `prev_code` gives at `at` (the last byte before it that is
    // neither white space nor NUL), kept up to date instead of searched backwards per word.
    let mut before: Option<u8> = None;
    let mut at = 0;
    while let Some(&b) = text.get(at) {
        if !WORD_START[usize::from(b)] {
            if !(b.is_ascii_whitespace() || b == 0) {
                before = Some(b);
            }
            at += 1;
            continue;
        }
        // An identifier starts here (every byte a name starts with continues one).
        let start = at;
        at += 1;
        while text.get(at).is_some_and(|&c| is_ident_byte(c)) {
            at += 1;
        }
        // A word before (other than punctuation) means prose, not code (checked first: it
        // rules out most words of text without a lookup).
        let prose = before.is_some_and(|p| !js_punct(p));
        let code_before = before;
        // The identifier's last byte is neither white space nor NUL.
        before = text.get(at - 1).copied();
        if prose || !sink_context(text, start, at, code_before) {
            continue;
        }
        if let Some(found) = sink_hit(text, start, at) {
            if found.score >= 5 {
                return Some(found);
            }
            best = best.or(Some(found));
        }
    }
    best
}

/// Whether the word at `start..end`, after `code_before` (what `prev_code` gives at `start`),
/// stands where some sink would count (checked before the word is looked up: most words of
/// text stand nowhere such). Each kind's rule needs one of these:
/// - a call (`called`): after the word and white space, `(`, a backtick, `?.(`, `.call(` and
///   the like (`.`), `)(` or a `)` handed over; or `=` before it (`onerror=eval`);
/// - a property (`property`): `.` or a quote (`["cookie"]`) right before it, or `=` after it
///   and white space (an assignment);
/// - a global's computed member (`computed_call`): `[` after it and white space.
fn sink_context(text: &[u8], start: usize, end: usize, code_before: Option<u8>) -> bool {
    let next = text.get(skip_ws(text, end));
    matches!(next, Some(b'(' | b'`' | b'?' | b'.' | b')' | b'=' | b'['))
        || code_before == Some(b'=')
        || matches!(
            start.checked_sub(1).and_then(|i| text.get(i)),
            Some(b'.' | b'"' | b'\'')
        )
}

/// [`sinks_in`] as it was written before its one-pass form: each word found by a search
/// for the next name start, and `prev_code` searched backwards from it. Built for the tests
/// and under `cargo fuzz`, which compare it with [`sinks_in`].
#[cfg(any(test, fuzzing))]
pub(super) fn sinks_word_by_word(text: &[u8]) -> Option<ScriptHit> {
    let mut at = 0;
    let mut best: Option<ScriptHit> = None;
    while let Some(rest) = text.get(at..) {
        let Some(rel) = rest.iter().position(|&b| WORD_START[usize::from(b)]) else {
            break;
        };
        let start = at + rel;
        let word = text.get(start..).unwrap_or(b"");
        at = start
            + word
                .iter()
                .position(|&b| !is_ident_byte(b))
                .unwrap_or(word.len());
        if prev_code(text, start).is_some_and(|p| !js_punct(p)) {
            continue;
        }
        if let Some(found) = sink_hit(text, start, at) {
            if found.score >= 5 {
                return Some(found);
            }
            best = best.or(Some(found));
        }
    }
    best
}

/// The finding for the word at `start..end` (not preceded by prose): a sink name that is
/// called, passed, assigned or indexed as code.
fn sink_hit(text: &[u8], start: usize, end: usize) -> Option<ScriptHit> {
    let mut buf = [0u8; 32];
    let name = text
        .get(start..end)
        .and_then(|w| lower_bytes_into(w, &mut buf))?;
    let (kind, score) = sink(name)?;
    let hit = match kind {
        Sink::Call => called(text, start, end),
        Sink::Property => property(text, start, end),
        Sink::Global => computed_call(text, end),
    }?;
    Some(ScriptHit {
        rule: "xss.script-call",
        score,
        start,
        end: hit,
    })
}

/// Whether the sink word at `start..end` is called, passed or assigned as a function.
fn called(text: &[u8], start: usize, end: usize) -> Option<usize> {
    let next = skip_ws(text, end);
    let rest = text.get(next..).unwrap_or(b"");
    let call = rest.starts_with(b"(")
        || rest.starts_with(b"`")
        || rest.starts_with(b"?.(")
        || starts_with_ci(rest, b".call(")
        || starts_with_ci(rest, b".apply(")
        || starts_with_ci(rest, b".bind(")
        || rest.starts_with(b")(")
        || rest.starts_with(b")`");
    if call {
        return Some(next + 1);
    }
    let before = prev_code(text, start);
    // `[1].some(confirm)`, `onerror=eval`: the function itself handed over.
    let handed = matches!(before, Some(b'(' | b',')) && rest.first() == Some(&b')')
        || before == Some(b'=')
            && rest
                .first()
                .is_none_or(|b| matches!(b, b';' | b' ' | b'}' | b'>' | b','));
    handed.then_some(end)
}

/// `document.cookie`, `document["cookie"]`, `x.innerHTML=`, `location.href=`.
fn property(text: &[u8], start: usize, end: usize) -> Option<usize> {
    let before = text.get(..start)?;
    let trimmed = before.strip_suffix(b".").or_else(|| {
        // `document["cookie"]` and `document['cookie']`
        let b = before
            .strip_suffix(b"\"")
            .or_else(|| before.strip_suffix(b"'"))?;
        b.strip_suffix(b"[")
    });
    let after = skip_ws(text, end);
    let assigned = text.get(after) == Some(&b'=') && text.get(after + 1) != Some(&b'=');
    let statement_start = prev_code(text, start).is_none_or(|b| matches!(b, b';' | b'{' | b'}'));
    let name = text.get(start..end).unwrap_or(b"");
    match trimmed {
        Some(obj) if ends_with_ci(obj, b"document") || ends_with_ci(obj, b"window") => Some(end),
        Some(_) if assigned => Some(after + 1),
        // `location="//evil"` as a statement of its own.
        None if assigned
            && statement_start
            && name.eq_ignore_ascii_case(b"location")
            && matches!(
                text.get(skip_ws(text, after + 1)),
                Some(b'"' | b'\'' | b'`')
            ) =>
        {
            Some(after + 1)
        }
        _ => None,
    }
}

/// `top["al"+"ert"](1)`, `window['alert'](1)`: a computed member of a global, then called.
fn computed_call(text: &[u8], end: usize) -> Option<usize> {
    let open = skip_ws(text, end);
    if text.get(open) != Some(&b'[') {
        return None;
    }
    let window = text.get(open..(open + 128).min(text.len()))?;
    let close = memchr::memchr(b']', window)?;
    let after = skip_ws(text, open + close + 1);
    matches!(text.get(after), Some(b'(' | b'`')).then_some(after + 1)
}

fn starts_with_ci(text: &[u8], prefix: &[u8]) -> bool {
    text.get(..prefix.len())
        .is_some_and(|t| t.eq_ignore_ascii_case(prefix))
}

fn ends_with_ci(text: &[u8], suffix: &[u8]) -> bool {
    text.len() >= suffix.len()
        && text
            .get(text.len() - suffix.len()..)
            .is_some_and(|t| t.eq_ignore_ascii_case(suffix))
}

/// A URL scheme that runs script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// `javascript:`, `vbscript:`, `livescript:`.
    Script,
    /// `data:` with a type a browser renders as a document or runs.
    ActiveData,
    /// `data:` with another type (images).
    PassiveData,
}

/// Letters of a scheme read backwards from a `:` at most this far.
const MAX_SCHEME: usize = 40;

/// Every script-running scheme in `text`: `(scheme, start of scheme, index after ':')`.
/// Browsers drop tabs, newlines and NULs inside a URL's scheme, and ignore its case.
pub(crate) fn schemes(text: &[u8]) -> impl Iterator<Item = (Scheme, usize, usize)> + '_ {
    memchr::memchr_iter(b':', text).filter_map(move |colon| {
        let mut letters = [0u8; 16];
        let mut n = 0;
        let mut at = colon;
        let floor = colon.saturating_sub(MAX_SCHEME);
        while at > floor {
            let b = text.get(at - 1).copied().unwrap_or(0);
            if b.is_ascii_alphabetic() {
                if n == letters.len() {
                    return None;
                }
                letters[letters.len() - 1 - n] = b.to_ascii_lowercase();
                n += 1;
            } else if !matches!(b, b'\t' | b'\n' | b'\r' | 0) {
                break;
            }
            at -= 1;
        }
        let word = letters.get(letters.len() - n..)?;
        let after = colon + 1;
        let scheme = match word {
            b"javascript" | b"vbscript" | b"livescript" | b"mocha" => Scheme::Script,
            b"data" => data_kind(text.get(after..).unwrap_or(b"")),
            _ => return None,
        };
        Some((scheme, at, after))
    })
}

fn data_kind(rest: &[u8]) -> Scheme {
    let rest: Vec<u8> = rest
        .iter()
        .take(48)
        .filter(|b| !b.is_ascii_whitespace())
        .map(u8::to_ascii_lowercase)
        .collect();
    let active = [
        &b"text/html"[..],
        b"text/xml",
        b"text/javascript",
        b"text/ecmascript",
        b"text/vbscript",
        b"image/svg",
        b"application/",
        b"text/x-scriptlet",
        b"text/xsl",
        b";base64,",
        b",<",
        b",%3c",
    ];
    if active.iter().any(|a| rest.starts_with(a)) {
        Scheme::ActiveData
    } else {
        Scheme::PassiveData
    }
}

/// Whether what follows a `javascript:` scheme is code rather than prose
/// ("JavaScript: Basics of JavaScript Language").
pub(crate) fn code_follows(text: &[u8], after: usize) -> bool {
    let rest = text.get(after..).unwrap_or(b"");
    if sinks(rest).is_some() {
        return true;
    }
    // Spaces, written or percent-encoded, before the code.
    let mut at = 0;
    loop {
        match rest.get(at..) {
            Some([b' ' | b'\t', ..]) => at += 1,
            Some([b'%', b'2', b'0', ..] | [b'%', b'0', b'9', ..]) => at += 3,
            _ => break,
        }
    }
    let code = rest.get(at..).unwrap_or(b"");
    let ident = code
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'.'))
        .count();
    match code.first() {
        None => false,
        // `javascript:void(0)`, `javascript:x.y=1`, `javascript:f\`1\``
        Some(b) if b.is_ascii_alphabetic() || *b == b'_' || *b == b'$' => {
            matches!(
                code.get(ident),
                Some(b'(' | b'`' | b'=' | b'[' | b';') | None
            )
        }
        // `javascript://%0a..`, `javascript:%61lert`, `javascript:'..'`, `javascript:(..)`
        Some(_) => at == 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink_score(text: &str) -> u16 {
        sinks(text.as_bytes()).map_or(0, |h| h.score)
    }

    /// The one-pass sink scan finds what the word-by-word scan found, at the same place: on
    /// every corpus string and on script written around white space, NUL and prose.
    #[test]
    fn one_pass_sink_scan_is_the_word_by_word_scan() {
        let mut values = crate::detect::differential::corpus_strings();
        for v in [
            "alert(1)",
            " \t\0alert (1)",
            "x \0 alert(1)",
            "word alert(1)",
            "1alert(1)",
            "64bit alert(1)",
            "(\0 confirm)",
            "a=\n eval",
            "document . cookie",
            "$alert(1)",
            "_x.innerHTML=1",
            "é alert(1)",
            "x;\u{0} location.href=1",
            // Each place `sink_context` lets a word through to its lookup.
            "top[\"al\"+\"ert\"](1)",
            "top ['al'+'ert'](1)",
            "window\t[\"alert\"](1)",
            "document[\"cookie\"]",
            "document['cookie']",
            "x.innerHTML =1",
            "location = 'x'",
            ";location = \"//x\"",
            "onerror=eval",
            "a = eval",
            "a =\0 eval;",
            "[1].map(alert)",
            "(confirm )",
            "alert ?.(1)",
            "alert `1`",
            "alert .call(1)",
            "(alert) (1)",
            "alert\0(1)",
            "x.cookie",
            "'cookie'",
        ] {
            values.push(v.to_owned());
        }
        let mut hits = 0;
        for v in &values {
            let one_pass = sinks_in(v.as_bytes());
            assert_eq!(one_pass, sinks_word_by_word(v.as_bytes()), "{v}");
            hits += usize::from(one_pass.is_some());
        }
        assert!(hits > 100, "{hits}");
    }

    #[test]
    fn sinks_in_javascript_syntax() {
        for code in [
            "alert(1)",
            "'-alert(1)//",
            "';alert(1)//",
            "(alert)(1)",
            "alert.call(null,1)",
            "alert.apply(null, [1])",
            "alert?.(document?.cookie)",
            "alert`xss`",
            "[1].some(confirm)",
            "window.onerror=eval",
            "document[\"cookie\"]",
            "top[\"al\"+\"ert\"](1)",
            "eval(atob(\"YWxlcnQoKQ==\"))",
            "\"));if(!self.x)self.x=!alert(document.domain)}catch(e){}//",
            "x.innerHTML=y",
            "__proto__[v-if]=_c.constructor('alert(1)')()",
        ] {
            assert_eq!(sink_score(code), 5, "{code}");
        }
    }

    #[test]
    fn prose_is_not_script() {
        for text in [
            "Please confirm (yes/no) before discharge",
            "1alert(1)",
            "x/void(1)",
            "1 function (1)",
            "print the label",
            "Patient to confirm appointment",
            "the top [left] corner",
        ] {
            assert_eq!(sink_score(text), 0, "{text}");
        }
    }

    #[test]
    fn schemes_survive_case_and_control_characters() {
        let found: Vec<_> = schemes(b"x=JaVa\tScRiPt:alert(1)").collect();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, Scheme::Script);
        assert_eq!(
            schemes(b"data:text/html,<script>").next().map(|s| s.0),
            Some(Scheme::ActiveData)
        );
        assert_eq!(
            schemes(b"data:image/png;base64,AAAA").next().map(|s| s.0),
            Some(Scheme::PassiveData)
        );
        assert!(schemes(b"http://example.org").next().is_none());
        assert!(!code_follows(
            b"JavaScript: Basics of JavaScript Language",
            11
        ));
    }
}
