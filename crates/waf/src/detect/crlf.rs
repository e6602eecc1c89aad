//! CRLF injection (header injection, response splitting) and IMAP/SMTP command injection: a
//! line break in a value followed by what a protocol reads as a new header, a status line, a
//! body, or a mail command.

use super::ascii::{any_byte, lower_into};
use super::{AttackClass, Finding};

/// How strictly a header line is recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strictness {
    /// URL and header values, where a line break never belongs: any `Name:` line.
    AnyHeader,
    /// Bodies, where text has line breaks: only response headers an attacker sets.
    KnownHeaders,
}

/// Lines examined after breaks.
const MAX_LINES: usize = 64;

fn is_break(c: char) -> bool {
    // U+560A / U+560D: servers that truncate UTF-16 code units to bytes make them LF / CR.
    matches!(
        c,
        '\r' | '\n' | '\u{560A}' | '\u{560D}' | '\u{2028}' | '\u{2029}' | '\u{0085}'
    )
}

/// Judge one value.
pub(crate) fn detect(value: &str, strictness: Strictness, findings: &mut Vec<Finding>) {
    // Every break is `\r`, `\n` or a non-ASCII character: ASCII text without them is one line.
    // (`|`, not `||`: the test stays branch-free, so the scan is vectorised.)
    if !any_byte(value.as_bytes(), |b| {
        (b == b'\r') | (b == b'\n') | !b.is_ascii()
    }) {
        return;
    }
    let mut lines = value.split(is_break);
    let Some(_first) = lines.next() else {
        return;
    };
    let mut offset = value.find(is_break).unwrap_or(value.len());
    for line in lines.take(MAX_LINES) {
        // `offset` is the break before `line`; advance past the break character.
        let brk_len = value
            .get(offset..)
            .and_then(|s| s.chars().next())
            .map_or(1, char::len_utf8);
        let start = offset + brk_len;
        offset = start + line.len();
        let line = line.trim_start_matches([' ', '\t']);
        if line.is_empty() {
            continue;
        }
        if let Some((class, rule)) = judge_line(line, strictness) {
            findings.push(Finding {
                class,
                rule,
                score: 5,
                span: start.saturating_sub(brk_len)..offset,
            });
            return;
        }
    }
}

fn judge_line(line: &str, strictness: Strictness) -> Option<(AttackClass, &'static str)> {
    let b = line.as_bytes();
    if b.len() >= 9
        && b.get(..5).is_some_and(|h| h.eq_ignore_ascii_case(b"HTTP/"))
        && b.get(5).is_some_and(u8::is_ascii_digit)
    {
        return Some((AttackClass::Crlf, "crlf.status-line"));
    }
    if let Some(cmd) = mail_command(line) {
        return Some((AttackClass::MailInjection, cmd));
    }
    let colon = memchr::memchr(b':', b)?;
    let name = b.get(..colon)?;
    let token = !name.is_empty()
        && name.len() <= 40
        && name
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b'_')
        && name.first().is_some_and(u8::is_ascii_alphabetic);
    if !token {
        return None;
    }
    let mut buf = [0u8; 32];
    let lower = lower_into(name, &mut buf).unwrap_or("");
    let known = matches!(
        lower,
        "set-cookie"
            | "location"
            | "content-type"
            | "content-length"
            | "content-disposition"
            | "refresh"
            | "access-control-allow-origin"
            | "access-control-allow-credentials"
            | "x-xss-protection"
            | "cache-control"
            | "transfer-encoding"
            | "host"
            | "cookie"
            | "x-forwarded-for"
            | "x-forwarded-host"
            | "link"
            | "content-security-policy"
            | "strict-transport-security"
            | "connection"
            | "upgrade"
            | "authorization"
            | "referer"
            | "origin"
            | "server"
            | "x-powered-by"
            | "x-frame-options"
            | "bcc"
            | "cc"
            | "to"
            | "from"
            | "subject"
            | "reply-to"
            | "content-transfer-encoding"
    );
    match strictness {
        Strictness::AnyHeader => Some((AttackClass::Crlf, "crlf.header")),
        Strictness::KnownHeaders if known => Some((AttackClass::Crlf, "crlf.header")),
        Strictness::KnownHeaders => None,
    }
}

/// An SMTP, POP3 or IMAP command line: `RCPT TO:<x>`, `QUIT`, `A1 LOGIN x y`, `V100 FETCH 1`.
fn mail_command(line: &str) -> Option<&'static str> {
    let mut words = line.split_ascii_whitespace();
    let first = words.next()?.to_ascii_uppercase();
    let rest: Vec<&str> = words.collect();
    let smtp_with_arg = matches!(first.as_str(), "RCPT" | "MAIL")
        && rest.first().is_some_and(|w| {
            w.to_ascii_uppercase().starts_with("TO:")
                || w.to_ascii_uppercase().starts_with("FROM:")
                || w.eq_ignore_ascii_case("to")
                || w.eq_ignore_ascii_case("from")
        });
    let bare = rest.is_empty()
        && matches!(
            first.as_str(),
            "QUIT" | "DATA" | "RSET" | "NOOP" | "STARTTLS" | "CAPABILITY" | "LOGOUT"
        );
    let hello =
        matches!(first.as_str(), "HELO" | "EHLO" | "VRFY" | "EXPN" | "AUTH") && rest.len() == 1;
    if smtp_with_arg || bare || hello {
        return Some("mail.smtp-command");
    }
    // IMAP: a tag, then a command.
    let tag_ok = first.len() <= 10
        && first.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
        && first.chars().any(|c| c.is_ascii_digit());
    let imap = rest
        .first()
        .map(|w| w.to_ascii_uppercase())
        .is_some_and(|c| {
            matches!(
                c.as_str(),
                "CAPABILITY"
                    | "LOGIN"
                    | "SELECT"
                    | "EXAMINE"
                    | "FETCH"
                    | "STORE"
                    | "LIST"
                    | "LSUB"
                    | "LOGOUT"
                    | "CREATE"
                    | "DELETE"
                    | "RENAME"
                    | "APPEND"
                    | "UID"
                    | "SEARCH"
                    | "COPY"
                    | "AUTHENTICATE"
                    | "STATUS"
                    | "EXPUNGE"
                    | "NOOP"
            )
        });
    (tag_ok && imap).then_some("mail.imap-command")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(value: &str, s: Strictness) -> Option<AttackClass> {
        let mut f = Vec::new();
        detect(value, s, &mut f);
        f.first().map(|f| f.class)
    }

    #[test]
    fn header_and_mail_injection() {
        for a in [
            "\r\nSet-Cookie:crlf=injection",
            "\nSet-cookie:crlf=injection",
            "x\u{560D}\u{560A}Set-cookie:a=b",
            "\r\n\r\nHTTP/1.1 200 OK",
            "\nLocation: https://evil.example",
        ] {
            assert_eq!(
                class(a, Strictness::AnyHeader),
                Some(AttackClass::Crlf),
                "{a}"
            );
            assert_eq!(
                class(a, Strictness::KnownHeaders),
                Some(AttackClass::Crlf),
                "{a}"
            );
        }
        for a in [
            "\nRCPT TO: test@evil.com\n",
            "\r\nQUIT\r\n",
            "\r\nV100 CAPABILITY\r\nV101 FETCH 4791",
        ] {
            assert_eq!(
                class(a, Strictness::KnownHeaders),
                Some(AttackClass::MailInjection),
                "{a}"
            );
        }
    }

    #[test]
    fn text_with_line_breaks_passes_in_bodies() {
        for b in [
            "Assessment:\nAllergies: penicillin\nPlan: review",
            "line one\nline two",
            "Dear team,\nData attached.",
        ] {
            assert_eq!(class(b, Strictness::KnownHeaders), None, "{b}");
        }
    }
}
