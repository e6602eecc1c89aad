//! SQL injection: tokenise the value in every context an injection can start in (code
//! position, after a single quote, a double quote or a backtick), walk the token sequence with
//! the grammar SQL dialects share, and judge what the valid part does.
//!
//! Two kinds of rule:
//! - rules on the walk from the injection point: the application's string closed and then
//!   a tautology (`' OR 1=1`), a truncating comment (`admin'--`), a clause (`' ORDER BY 3--`)
//!   or a sub-query; a numeric value followed by the same;
//! - rules anywhere in the token sequence, each checked by its own grammar: `UNION SELECT`
//!   with a select list, a stacked statement after `;`, calls of delay/file/error-extraction
//!   functions with valid arguments, `@@` system variables, MySQL versioned comments, system
//!   catalogs.
//!
//! Words alone never decide: "Union City", "select a drop-in clinic", "O'Brien" stop the walk
//! at their second token.

mod keywords;
mod lexer;
mod walk;

#[cfg(test)]
mod tests;

use super::{AttackClass, Finding};
use keywords::{FnClass, Kw};
use lexer::{Context, Kind, Token, Tokens, lex};
use walk::{State, Walk, statement_shape, walk, walk_list};

/// The contexts tried for every value.
const CONTEXTS: [Context; 4] = [
    Context::Bare,
    Context::Quoted(b'\''),
    Context::Quoted(b'"'),
    Context::Quoted(b'`'),
];

/// Judge one value for SQL injection.
pub(crate) fn detect(value: &str, findings: &mut Vec<Finding>) {
    if is_plain_words(value.as_bytes()) {
        return;
    }
    detect_in(value, findings);
}

/// Whether `value` holds only ASCII letters, digits, spaces and `- . / , ( ) ;` (no `--`), and
/// every word the lexer can make of it is plain or a comparison word (`LIKE`, `IN`, `IS`), not
/// a catalog name, and, when the value has a `(`, not the name of a function any dialect
/// ships (request ids, codes, dates, units, paths, versions, User-Agents such as
/// `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)`):
/// [`detect_in`] finds nothing in such a value.
///
/// Why: with these bytes the lexer makes only words, numbers, [`Op::Minus`](lexer::Op::Minus),
/// [`Op::Binary`](lexer::Op::Binary) (`/`, never a comment opener here: that needs `*`), dots,
/// commas, parentheses and `;`: no string, comment, variable or other operator (each needs a
/// byte outside the set), and no quoted context applies (no quote).
///
/// Which words: a word token runs to the end of its run of letters and digits. A run that
/// starts with a letter, at the start or after a space, `/`, `,`, `-`, `(`, `)` or `;`, is
/// reached by the lexer at its first byte (no other token crosses those: `( ) ;` are tokens of
/// one byte, and a number takes `-` only as an exponent's sign, followed by a digit), so it is
/// one word. In a run that starts with a digit or follows a `.` (a number may run on into it:
/// `1.e5abc`), a word can start at any letter after a number. Each such candidate is
/// classified as the lexer does; every keyword and catalog name starts with a letter and has
/// two or more bytes.
///
/// Why no rule counts such tokens. `anywhere` needs a union, `WAITFOR`, catalog or
/// attack-function word (an attack function counts only called, which needs `(`, or before a
/// string or variable), a variable, a versioned comment, a comment, or a `;` followed by
/// `SELECT` or a statement keyword. The walk (`walk_list`, from the first token, in either
/// state) can record only: `compare` (and `compare_first`, `compare_symbol`) from a comparison
/// word; `arithmetic` from `-` or `/`; `app_paren` from a `)` it did not open; `comment_first`
/// from a lone `;`; and a called function of class [`FnClass::Unknown`] (with a `(`, every
/// word is of that class, and so is the package of a dotted call; `char_extraction` needs a
/// call of `ASCII`, `ORD`, `UNICODE` or `HEX`, which are not). Every other piece of evidence
/// needs a logic, clause, `SELECT`, `CASE`, `UNION`, `NOT`, statement, prefix, operator-word or
/// catalog keyword, a variable, a versioned comment or a comment. With that, `strong` finds
/// nothing, `tautology` needs a logic operator, the comment rules a comment,
/// `logic_and_constant` a logic operator, the function rules a function above `Unknown`, and
/// `statement_start` a `SELECT` or statement keyword first: `judge_bare` reports nothing
/// (`1*1--` needs its comment).
fn is_plain_words(b: &[u8]) -> bool {
    if b.is_empty() || super::ascii::any_byte(b, |c| !PLAIN_WORDS_BYTE[usize::from(c)]) {
        return false;
    }
    let called = memchr::memchr(b'(', b).is_some();
    let plain = |word: &[u8]| {
        if called {
            let class = keywords::classify(word);
            matches!(class.kw, Kw::Plain | Kw::Compare)
                && !class.catalog
                && class.function == FnClass::Unknown
        } else {
            // Without a `(`, the function table is not read.
            let (kw, catalog) = keywords::keyword_and_catalog(word);
            matches!(kw, Kw::Plain | Kw::Compare) && !catalog
        }
    };
    let mut start = 0;
    loop {
        let rest = b.get(start..).unwrap_or_default();
        let len = rest
            .iter()
            .position(|c| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        let run = rest.get(..len).unwrap_or_default();
        let entered_whole = run.first().is_some_and(u8::is_ascii_alphabetic)
            && (start == 0 || b.get(start - 1) != Some(&b'.'));
        let words_ok = if entered_whole {
            run.len() < 2 || plain(run)
        } else {
            (0..run.len().saturating_sub(1)).all(|at| {
                !run.get(at).is_some_and(u8::is_ascii_alphabetic)
                    || plain(run.get(at..).unwrap_or_default())
            })
        };
        if !words_ok {
            return false;
        }
        // The byte after the run, if any, is a separator; two `-` open a comment.
        let after = start + len;
        if after >= b.len() {
            return true;
        }
        if b.get(after..after + 2) == Some(b"--") {
            return false;
        }
        start = after + 1;
    }
}

/// The bytes [`is_plain_words`] accepts.
static PLAIN_WORDS_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(c, b'-' | b'.' | b'/' | b' ' | b',' | b'(' | b')' | b';');
        b += 1;
    }
    table
};

/// [`detect`] without the shortcut for plain words.
pub(super) fn detect_in(value: &str, findings: &mut Vec<Finding>) {
    let mut toks = Tokens::new();
    let mut best: Option<Finding> = None;
    let src = value.as_bytes();
    for context in CONTEXTS {
        if let Context::Quoted(q) = context
            && memchr::memchr(q, src).is_none()
        {
            continue;
        }
        if !lex(value, context, &mut toks) {
            continue;
        }
        let mut consider = |f: Option<Finding>| {
            if let Some(f) = f
                && best.as_ref().is_none_or(|b| f.score > b.score)
            {
                best = Some(f);
            }
        };
        consider(anywhere(&toks, src));
        match context {
            Context::Bare => consider(bare(&toks, src)),
            Context::Quoted(_) => consider(quoted(&toks, src)),
        }
        if best.as_ref().is_some_and(|b| b.score >= 5) {
            break;
        }
    }
    findings.extend(best);
}

fn finding(rule: &'static str, score: u16, start: usize, end: usize) -> Option<Finding> {
    Some(Finding {
        class: AttackClass::Sqli,
        rule,
        score,
        span: start..end.max(start),
    })
}

/// Rules that hold wherever they appear in the sequence.
fn anywhere(toks: &[Token], src: &[u8]) -> Option<Finding> {
    let text = |t: &Token| src.get(t.start..t.end).unwrap_or(b"");
    for (i, tok) in toks.iter().enumerate() {
        match tok.kind {
            Kind::Var { system: true } if tok.end - tok.start > 2 => {
                return finding("sqli.system-variable", 5, tok.start, tok.end);
            }
            // `/*!` followed by SQL code (not by the end or another comment).
            Kind::Versioned
                if toks
                    .get(i + 1)
                    .is_some_and(|t| matches!(t.kind, Kind::Word | Kind::Num)) =>
            {
                return finding("sqli.versioned-comment", 5, tok.start, tok.end);
            }
            Kind::Word => {
                let kw = tok.class.kw;
                if kw == Kw::Union
                    && let Some(f) = union_select(toks, src, i)
                {
                    return Some(f);
                }
                if let Kw::Statement(stmt) = kw
                    && stmt == keywords::Stmt::Waitfor
                    && statement_shape(toks, src, i, stmt)
                {
                    return finding(
                        "sqli.time-delay",
                        5,
                        tok.start,
                        toks.get(i + 2).map_or(tok.end, |t| t.end),
                    );
                }
                if tok.class.catalog {
                    return finding("sqli.system-catalog", 5, tok.start, tok.end);
                }
                if tok.class.function == FnClass::Attack
                    && let Some(end) = valid_call(toks, src, i)
                {
                    return finding("sqli.attack-function", 5, tok.start, end);
                }
                // MSSQL runs a procedure without parentheses: `xp_cmdshell 'whoami'`.
                if tok.class.function == FnClass::Attack
                    && text(tok).contains(&b'_')
                    && let Some(arg) = toks.get(i + 1..).and_then(|rest| {
                        rest.iter()
                            .find(|t| !matches!(t.kind, Kind::Comment { .. }))
                    })
                    && matches!(arg.kind, Kind::Str { closed: true } | Kind::Var { .. })
                {
                    return finding("sqli.attack-function", 5, tok.start, arg.end);
                }
            }
            Kind::Semicolon => {
                if let Some(f) = stacked(toks, src, i) {
                    return Some(f);
                }
            }
            // MSSQL leaves statements that mention `sp_password` out of its trace log: a
            // comment after code that names it hides the injection.
            Kind::Comment { .. }
                if i > 0
                    && text(tok)
                        .windows(11)
                        .any(|w| w.eq_ignore_ascii_case(b"sp_password")) =>
            {
                return finding("sqli.log-evasion", 5, tok.start, tok.end);
            }
            _ => {}
        }
    }
    None
}

/// `UNION [ALL] SELECT` followed by a select list SQL would accept.
fn union_select(toks: &[Token], src: &[u8], at: usize) -> Option<Finding> {
    let w = walk(toks, src, at, State::Operator);
    if !w.ev.union {
        return None;
    }
    let start = toks.get(at)?.start;
    // What follows SELECT decides between "Union Select Committee" and a column list.
    let items = w.accepted;
    let sql_like = w.ev.function.is_some()
        || w.ev.comment_end
        || w.ev.system_var
        || w.ev.catalog
        || w.ev.subquery;
    let listed = toks.iter().skip(at).take(w.accepted + 1).any(|t| {
        matches!(
            t.kind,
            Kind::Num | Kind::Comma | Kind::Str { .. } | Kind::Op(_)
        ) || t.kind == Kind::Word && matches!(t.class.kw, Kw::From | Kw::Literal)
    });
    if sql_like || listed && (w.clean || items >= 4) {
        return finding("sqli.union", 5, start, w.end);
    }
    if w.clean && items >= 3 {
        return finding("sqli.union", 3, start, w.end);
    }
    None
}

/// A statement after `;` with the shape its grammar requires.
fn stacked(toks: &[Token], src: &[u8], at: usize) -> Option<Finding> {
    let next = toks
        .iter()
        .enumerate()
        .skip(at + 1)
        .find(|(_, t)| !matches!(t.kind, Kind::Comment { .. } | Kind::Versioned))?;
    let (j, tok) = next;
    if tok.kind != Kind::Word {
        return None;
    }
    let start = toks.get(at)?.start;
    match tok.class.kw {
        Kw::Statement(stmt) if statement_shape(toks, src, j, stmt) => finding(
            "sqli.stacked-query",
            5,
            start,
            toks.last().map_or(tok.end, |t| t.end),
        ),
        Kw::Select => {
            let w = walk(toks, src, j, State::Operand);
            let features = w.ev.function.is_some() || w.ev.system_var || w.ev.catalog || w.ev.union;
            (w.accepted >= 2 && (w.clean || features))
                .then(|| finding("sqli.stacked-query", 5, start, w.end))?
        }
        _ => None,
    }
}

/// The end of a function call at `toks[at]` whose argument list is valid SQL.
fn valid_call(toks: &[Token], src: &[u8], at: usize) -> Option<usize> {
    let open = toks
        .iter()
        .enumerate()
        .skip(at + 1)
        .find(|(_, t)| !matches!(t.kind, Kind::Comment { .. }))?;
    if open.1.kind != Kind::LParen {
        return None;
    }
    let w = walk(toks, src, at, State::Operand);
    // The walk must get past the closing parenthesis of this call.
    let close = matching_paren(toks, open.0)?;
    (w.end >= toks.get(close)?.end).then_some(w.end)
}

fn matching_paren(toks: &[Token], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, t) in toks.iter().enumerate().skip(open) {
        match t.kind {
            Kind::LParen => depth += 1,
            Kind::RParen => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Judge the walk after the application's string was closed by the input.
fn quoted(toks: &[Token], src: &[u8]) -> Option<Finding> {
    let brk = toks.first()?;
    toks.get(1)?;
    if url_query_continues(toks, src) {
        return None;
    }
    let w = walk(toks, src, 1, State::Operator);
    if w.accepted == 0 {
        return None;
    }
    // The injection point: the quote that closed the application's string.
    let start = brk.end.saturating_sub(1);
    let quote = src.get(start).copied().unwrap_or(b'\'');
    let prefix = src.get(brk.start..start).unwrap_or(b"");
    let spaced_prefix = prefix.iter().any(u8::is_ascii_whitespace);
    let ev = &w.ev;
    if let Some(f) = strong(&w, start) {
        return Some(f);
    }
    // The application appends its closing quote: an injection ends in a comment, in code, or
    // inside a string opened with that same quote, which the application's quote closes.
    let commented = toks
        .iter()
        .any(|t| t.kind == (Kind::Comment { to_end: true }));
    let tail = toks
        .iter()
        .rev()
        .find(|t| !matches!(t.kind, Kind::Comment { .. }));
    // `tail_ok`: not a syntax error by construction; `proper`: the application's quote is
    // consumed (by a string the input opened, or by a comment).
    let (tail_ok, proper, tail_short) = match tail {
        Some(t) if t.kind == (Kind::Str { closed: false }) => {
            let body = src.get(t.start..t.end).unwrap_or(b"");
            let same = body.first() == Some(&quote);
            let short = body.len() <= 12 && !body.iter().any(u8::is_ascii_whitespace);
            (same, same, same && short)
        }
        _ => (true, commented, commented),
    };
    if !w.clean || !tail_ok {
        if ev.tautology_done && !w.stopped_at_text || w.truncated && ev.subquery {
            return finding("sqli.tautology", 5, start, w.end);
        }
        return None;
    }
    // A value without spaces closed by the quote, then a short tail: the shape of every
    // injection probe (`'+'`, `a'DIV'b`, `x'='x`). Text with spaces around the quote is as
    // likely an apostrophe or inches.
    let compact = !spaced_prefix && tail_short && proper;
    let natural_comment = comment_is_text(toks, src);
    if ev.logic && (ev.compare || ev.arithmetic || ev.truthy_after_logic) {
        return finding("sqli.tautology", 5, start, w.end);
    }
    if ev.subquery
        || ev.case_when
        || ev.clause && (ev.clause_value || ev.compare || ev.logic || ev.comment_end)
    {
        return finding("sqli.clause-injection", 5, start, w.end);
    }
    if ev.comment_end
        && !natural_comment
        && (ev.arithmetic || ev.logic || ev.compare || ev.keyword_op || ev.function.is_some())
    {
        return finding("sqli.comment-truncation", 5, start, w.end);
    }
    if proper && quote == b'\'' && operator_only(toks, src, prefix) {
        return finding("sqli.string-expression", 5, start, w.end);
    }
    if ev.compare {
        // `x'='x`, `'<>'`: a bare comparison of the application's string. A word operator
        // between strings (`"LIKE" stamp`) is as likely a quoted phrase.
        let strong_compare = ev.arithmetic || ev.function.is_some() || ev.compare_symbol;
        let score = if proper && (strong_compare || compact) {
            5
        } else {
            3
        };
        return finding("sqli.tautology", score, start, w.end);
    }
    if ev.comment_first || ev.comment_end && ev.app_paren_only(&w) {
        // `admin'--`: a value, then the rest of the query commented out.
        let telling = !spaced_prefix && comment_body_short(toks, src);
        return finding(
            "sqli.comment-truncation",
            if telling { 5 } else { 3 },
            start,
            w.end,
        );
    }
    if ev.function >= Some(FnClass::Builtin) {
        return finding(
            "sqli.function-call",
            if proper { 5 } else { 3 },
            start,
            w.end,
        );
    }
    if ev.logic || ev.arithmetic || ev.keyword_op || ev.function.is_some() {
        // `A'+'B`, `'DIV'`: an operator between the application's string and the input's.
        // An empty prefix is only telling with SQL's own quote: `"*"` is a search phrase.
        let telling =
            compact && (!prefix.is_empty() || quote == b'\'' || ev.keyword_op || ev.logic);
        return finding(
            "sqli.string-expression",
            if telling { 5 } else { 3 },
            start,
            w.end,
        );
    }
    None
}

/// `A 'DIV' B`, `A 'NOT REGEXP' B`: one word, the application's quote, nothing but operators
/// only SQL writes as words, and a string of one word that the application's quote closes.
/// Symbols (`use '/' separator`, `SMALL '&' SIGN`) and lone English operator words
/// (`the 'or' clause`) are quoted in prose as often.
fn operator_only(toks: &[Token], src: &[u8], prefix: &[u8]) -> bool {
    let [_, ops @ .., tail] = toks else {
        return false;
    };
    let text = |t: &Token| src.get(t.start..t.end).unwrap_or(b"");
    let tail_word = text(tail).get(1..).unwrap_or(b"").trim_ascii_start();
    let one_word =
        |w: &[u8]| !w.is_empty() && w.len() <= 12 && !w.iter().any(u8::is_ascii_whitespace);
    if tail.kind != (Kind::Str { closed: false }) || !one_word(tail_word) || ops.is_empty() {
        return false;
    }
    if !one_word(prefix.trim_ascii()) {
        return false;
    }
    let operator = |t: &Token| {
        t.kind == Kind::Word
            && matches!(t.class.kw, Kw::Logic | Kw::Compare | Kw::Operator | Kw::Not)
    };
    let english = |t: &Token| {
        [
            "and", "or", "not", "like", "is", "in", "between", "match", "member", "escape",
            "against", "similar",
        ]
        .iter()
        .any(|w| text(t).eq_ignore_ascii_case(w.as_bytes()))
    };
    ops.iter().all(operator) && !(ops.len() == 1 && english(&ops[0]))
}

/// Whether the comment that runs to the end holds at most a few characters (`-- -`, `#`,
/// `--+`), as payload comments do, rather than text.
fn comment_body_short(toks: &[Token], src: &[u8]) -> bool {
    let Some(c) = toks
        .iter()
        .find(|t| t.kind == (Kind::Comment { to_end: true }))
    else {
        return true;
    };
    let text = src.get(c.start..c.end).unwrap_or(b"");
    let body = text
        .strip_prefix(b"--")
        .or_else(|| text.strip_prefix(b"#"))
        .or_else(|| text.strip_prefix(b"/*"))
        .unwrap_or(text);
    body.iter().filter(|b| !b.is_ascii_whitespace()).count() <= 3
}

/// Whether the text after the quote continues a URL query string (`15"&PAGE=2`): `&`, a
/// name and `=` with no space between, which is URL syntax rather than SQL.
fn url_query_continues(toks: &[Token], src: &[u8]) -> bool {
    let [_, amp, name, eq, ..] = toks else {
        return false;
    };
    src.get(amp.start..amp.end) == Some(b"&")
        && name.kind == Kind::Word
        && amp.end == name.start
        && name.end == eq.start
        && src.get(eq.start..eq.end) == Some(b"=")
}

/// Whether the first comment that runs to the end reads like prose (several words), which
/// payload comments (`-- -`, `#`, `/*`) never do.
fn comment_is_text(toks: &[Token], src: &[u8]) -> bool {
    let Some(c) = toks
        .iter()
        .find(|t| t.kind == (Kind::Comment { to_end: true }))
    else {
        return false;
    };
    let text = src.get(c.start..c.end).unwrap_or(b"");
    text.split(|b| !b.is_ascii_alphabetic())
        .filter(|w| w.len() >= 3)
        .take(3)
        .count()
        >= 3
}

/// Judge the walks of a value in code position: as a whole value (`1 OR 1=1`) and as text
/// appended to one (` OR 1=1`, ` ORDER BY 3`).
fn bare(toks: &[Token], src: &[u8]) -> Option<Finding> {
    let first = toks
        .iter()
        .position(|t| !matches!(t.kind, Kind::Comment { .. }))?;
    let mut best = None;
    for state in [State::Operand, State::Operator] {
        // A value in code position may sit in a list (`ORDER BY <value>`): commas are valid.
        let w = walk_list(toks, src, first, state);
        let f = judge_bare(&w, toks, src, first, state);
        if f.as_ref().map(|f| f.score) > best.as_ref().map(|f: &Finding| f.score) {
            best = f;
        }
    }
    best
}

fn judge_bare(w: &Walk, toks: &[Token], src: &[u8], first: usize, state: State) -> Option<Finding> {
    let ev = &w.ev;
    if w.accepted == 0 {
        return statement_start(toks, src, first);
    }
    if let Some(f) = strong(w, w.start) {
        return Some(f);
    }
    if !w.clean {
        if ev.tautology_done && !w.stopped_at_text || w.truncated && ev.subquery {
            return finding("sqli.tautology", 5, w.start, w.end);
        }
        return statement_start(toks, src, first);
    }
    if ev.tautology {
        return finding("sqli.tautology", 5, w.start, w.end);
    }
    if ev.clause && (ev.clause_value || ev.compare || ev.logic) {
        return finding("sqli.clause-injection", 5, w.start, w.end);
    }
    if ev.subquery || ev.case_when {
        return finding("sqli.clause-injection", 5, w.start, w.end);
    }
    let sql_specific = ev.function >= Some(FnClass::Builtin)
        || ev.keyword_op
        || ev.logic
        || ev.compare
        || ev.user_var
        || ev.app_paren;
    if ev.comment_end && sql_specific && !comment_is_text(toks, src) {
        return finding("sqli.comment-truncation", 5, w.start, w.end);
    }
    if ev.logic && ev.truthy_after_logic && ev.function >= Some(FnClass::Builtin) {
        return finding("sqli.boolean", 5, w.start, w.end);
    }
    // `1*1--`: arithmetic on numbers, then the rest of the query commented out.
    let numbers_only = toks.iter().skip(first).all(|t| {
        matches!(
            t.kind,
            Kind::Num | Kind::Op(_) | Kind::Comment { .. } | Kind::LParen | Kind::RParen
        )
    });
    if ev.comment_end && ev.arithmetic && numbers_only {
        return finding("sqli.comment-truncation", 5, w.start, w.end);
    }
    if state == State::Operator && logic_and_constant(toks, src, first) {
        return finding("sqli.boolean", 5, w.start, w.end);
    }
    if ev.logic && ev.truthy_after_logic && state == State::Operator {
        let score = if ev.function >= Some(FnClass::Builtin) {
            5
        } else {
            3
        };
        return finding("sqli.boolean", score, w.start, w.end);
    }
    if ev.function >= Some(FnClass::Info) {
        return finding("sqli.function-call", 3, w.start, w.end);
    }
    statement_start(toks, src, first)
}

/// `AND 1`, `OR false`: the whole value is a connective and a constant, which only continues
/// the application's condition (the true / false pair of a blind probe). Text never starts
/// with a connective and stops at a lone number or truth value.
fn logic_and_constant(toks: &[Token], src: &[u8], first: usize) -> bool {
    let mut code = toks
        .iter()
        .skip(first)
        .filter(|t| !matches!(t.kind, Kind::Comment { .. }));
    let text = |t: &Token| src.get(t.start..t.end).unwrap_or(b"");
    // Exactly two code tokens.
    let (Some(connective), Some(constant), None) = (code.next(), code.next(), code.next()) else {
        return false;
    };
    let logic = connective.kind == Kind::Op(lexer::Op::Logic)
        || connective.kind == Kind::Word && connective.class.kw == Kw::Logic;
    let value = constant.kind == Kind::Num
        || constant.kind == Kind::Word
            && (text(constant).eq_ignore_ascii_case(b"true")
                || text(constant).eq_ignore_ascii_case(b"false"));
    logic && value
}

/// Rules that decide whatever the context: a union, a stacked query, an attack function, a
/// system variable or catalog, versioned comments.
fn strong(w: &Walk, start: usize) -> Option<Finding> {
    let ev = &w.ev;
    if ev.union {
        return finding("sqli.union", 5, start, w.end);
    }
    if ev.outfile {
        return finding("sqli.file-write", 5, start, w.end);
    }
    if ev.stacked {
        return finding("sqli.stacked-query", 5, start, w.end);
    }
    if let Some((s, e)) = ev.attack_call {
        return finding("sqli.attack-function", 5, s, e);
    }
    if ev.system_var {
        return finding("sqli.system-variable", 5, start, w.end);
    }
    if ev.catalog {
        return finding("sqli.system-catalog", 5, start, w.end);
    }
    if ev.char_extraction && (w.clean || w.truncated) {
        return finding("sqli.char-extraction", 5, start, w.end);
    }
    if ev.union_cut {
        return finding("sqli.union", 5, start, w.end);
    }
    if ev.versioned && w.accepted >= 2 {
        return finding("sqli.versioned-comment", 5, start, w.end);
    }
    if ev.function == Some(FnClass::Info)
        && (ev.logic || ev.compare || ev.comment_end || ev.arithmetic || w.accepted >= 5)
        && (w.clean || w.truncated)
    {
        return finding("sqli.function-call", 5, start, w.end);
    }
    None
}

/// A whole statement as the value: `SELECT .. FROM ..`, `DROP TABLE ..`, `INSERT INTO ..`.
fn statement_start(toks: &[Token], src: &[u8], first: usize) -> Option<Finding> {
    let tok = toks.get(first)?;
    if tok.kind != Kind::Word {
        return None;
    }
    match tok.class.kw {
        Kw::Select => {
            let w = walk(toks, src, first, State::Operand);
            let complete = w.clean || w.truncated;
            if !complete && w.accepted < 4 {
                return None;
            }
            let ev = &w.ev;
            // Numbers, `*`, server variables in the select list: a probe, not a sentence.
            let numbers = toks.iter().skip(first).take(w.accepted).any(|t| {
                matches!(t.kind, Kind::Num | Kind::Op(lexer::Op::Star))
                    || t.kind == Kind::Word
                        && matches!(
                            src.get(t.start..t.end)
                                .map(<[u8]>::to_ascii_lowercase)
                                .as_deref(),
                            Some(b"current_user" | b"session_user" | b"system_user" | b"user")
                        )
            });
            let telling = ev.function.is_some()
                || ev.system_var
                || ev.user_var
                || ev.catalog
                || ev.union
                || ev.comment_end
                || ev.versioned
                || ev.subquery
                || numbers;
            let from = toks
                .iter()
                .skip(first)
                .take(w.accepted)
                .any(|t| t.kind == Kind::Word && t.class.kw == Kw::From);
            if telling && (from || complete) {
                finding("sqli.statement", 5, tok.start, w.end)
            } else if from && complete {
                finding("sqli.statement", 3, tok.start, w.end)
            } else {
                None
            }
        }
        Kw::Statement(stmt) if statement_shape(toks, src, first, stmt) => finding(
            "sqli.statement",
            5,
            tok.start,
            toks.last().map_or(tok.end, |t| t.end),
        ),
        _ => None,
    }
}

impl walk::Evidence {
    /// Whether everything between the quote and the comment only closed parentheses.
    fn app_paren_only(&self, w: &Walk) -> bool {
        self.app_paren && !self.logic && !self.compare && !self.arithmetic && w.accepted >= 2
    }
}
