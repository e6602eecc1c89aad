//! Path traversal, local and remote file inclusion.
//!
//! Reads the value as a path after mapping what servers treat as separators (`\`, and the
//! Unicode slashes IIS and some decoders fold into `/`) and dots: counts `..` segments (with
//! the junk that servers strip after them: `..;/`, `..%00/`, `..../`), looks for files and
//! directories only an attacker reads (`/etc/passwd`, `win.ini`, `/proc/self/environ`), stream
//! wrappers (`php://filter`, `expect://`, `zip://`, `phar://`), and remote inclusion URLs
//! (`http://evil/shell.txt?`).

use std::borrow::Cow;

use super::ascii::{any_byte, find, find_ci, find_ci_from, lower_into};
use super::needles::Needles;
use super::{AttackClass, Finding};

/// Bytes of a value examined.
const MAX_BYTES: usize = 64 * 1024;

/// What kind of value this is, for the absolute-path rule (a URL path is absolute by nature).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A request path.
    RequestPath,
    /// Any other value.
    Value,
}

fn push(
    findings: &mut Vec<Finding>,
    class: AttackClass,
    rule: &'static str,
    score: u16,
    span: (usize, usize),
) {
    findings.push(Finding {
        class,
        rule,
        score,
        span: span.0..span.1.max(span.0),
    });
}

/// Judge one value for traversal and file inclusion.
pub(crate) fn detect(value: &str, shape: Shape, paranoia: u8, findings: &mut Vec<Finding>) {
    let path = normalise(value);
    let bytes = path.as_bytes();
    if let Some(span) = wrapper(value.as_bytes()) {
        return push(findings, AttackClass::Lfi, "lfi.wrapper", 5, span);
    }
    let traversal = traversals(bytes);
    let target = sensitive_file(bytes);
    if let Some((count, first, last)) = traversal {
        let starts = bytes.get(..first).is_some_and(|p| {
            p.iter()
                .all(|b| matches!(b, b'/' | b'.' | b' ' | b'=' | b':' | b'"' | b'\''))
        });
        let score = if count >= 2 || starts || target.is_some() || paranoia >= 2 {
            5
        } else {
            3
        };
        return push(
            findings,
            AttackClass::Lfi,
            "lfi.traversal",
            score,
            (first, last),
        );
    }
    if let Some((score, span)) = target {
        return push(
            findings,
            AttackClass::Lfi,
            "lfi.sensitive-file",
            score,
            span,
        );
    }
    if shape == Shape::Value {
        if let Some((score, span)) = system_path(bytes) {
            return push(findings, AttackClass::Lfi, "lfi.system-path", score, span);
        }
        if let Some(span) = remote_include(value.as_bytes()) {
            push(findings, AttackClass::Rfi, "rfi.remote-include", 5, span);
        }
    }
}

/// The value with separators and dots in their canonical form, lower-cased. Offsets of ASCII
/// bytes are kept where possible; the folded Unicode forms shorten the text, which only
/// moves spans.
fn normalise(value: &str) -> Cow<'_, str> {
    let mut out = if value.is_ascii() {
        // ASCII: only `\` and upper-case letters change, byte for byte; usually nothing does.
        let head = value.get(..value.len().min(MAX_BYTES)).unwrap_or(value);
        let bytes = head.as_bytes();
        if any_byte(bytes, |b| b == b'\\' || b.is_ascii_uppercase()) {
            let lower = head.to_ascii_lowercase();
            Cow::Owned(if memchr::memchr(b'\\', bytes).is_some() {
                lower.replace('\\', "/")
            } else {
                lower
            })
        } else {
            Cow::Borrowed(head)
        }
    } else {
        Cow::Owned(normalise_chars(value))
    };
    // Hex notations some decoders accept for dots and slashes: `0x2e0x2e0x2f`, `..2f`.
    let bytes = out.as_bytes();
    if find(bytes, b"0x").is_some() || find(bytes, b"..").is_some() {
        out = Cow::Owned(
            out.replace("0x2e", ".")
                .replace("0x2f", "/")
                .replace("0x5c", "/")
                .replace("..2f", "../")
                .replace("..5c", "../")
                // `.?` and `?.`: a wildcard standing for a dot on Windows.
                .replace(".?", "..")
                .replace("?.", ".."),
        );
    }
    out
}

/// [`normalise`]'s separators, dots and case, character by character (text with non-ASCII
/// characters).
fn normalise_chars(value: &str) -> String {
    let mut out = String::with_capacity(value.len().min(MAX_BYTES));
    for c in value.chars().take(MAX_BYTES) {
        match c {
            '\\' | '\u{2215}' | '\u{2044}' | '\u{FF0F}' | '\u{FF3C}' | '\u{2216}' | '\u{EFC8}'
            | '\u{F025}' | '\u{29F8}' | '\u{29F9}' => out.push('/'),
            '\u{FF0E}' | '\u{2024}' | '\u{FE52}' => out.push('.'),
            // What is left of an overlong or invalid sequence (`%c0%2e` -> U+FFFD '.'): the
            // decoder that the attacker targets drops the lead byte.
            '\u{FFFD}' => {}
            c => out.push(c.to_ascii_lowercase()),
        }
    }
    out
}

/// `(count, start of first, end of last)` of `..` segments.
fn traversals(bytes: &[u8]) -> Option<(usize, usize, usize)> {
    let mut count = 0;
    let mut first = 0;
    let mut last = 0;
    let mut at = 0;
    while let Some(rel) = bytes.get(at..).and_then(|s| find(s, b"..")) {
        let start = at + rel;
        let mut end = start;
        while bytes.get(end) == Some(&b'.') {
            end += 1;
        }
        at = end;
        // Left: the start, a separator or punctuation (never a letter: "etc..", "1..5").
        let left_ok = start == 0
            || bytes
                .get(start - 1)
                .is_some_and(|b| !b.is_ascii_alphanumeric() && *b != b'.');
        // Right: a separator, possibly after junk servers strip (`;`, NUL, `?`, `%`, spaces).
        let mut right = end;
        while right < end + 4
            && bytes
                .get(right)
                .is_some_and(|b| matches!(b, b';' | 0 | b'?' | b'%' | b' ' | b'\t' | 0x01..=0x1f))
        {
            right += 1;
        }
        let right_ok = bytes.get(right).is_none_or(|b| *b == b'/')
            && (right > end || bytes.get(right) == Some(&b'/') || right == bytes.len());
        // `..%c1%pc..%c1%pc..`: a made-up separator repeated between dot pairs, meant for a
        // decoder that turns it into a slash.
        let fake_separator = !right_ok && repeated_separator(bytes, end);
        if left_ok && (right_ok || fake_separator) {
            if count == 0 {
                first = start;
            }
            count += 1;
            last = right.min(bytes.len());
        }
    }
    (count > 0).then_some((count, first, last))
}

/// Whether `bytes[end..]` is a short run of punctuation followed by `..` and the same run
/// again: a separator the attacker expects some decoder to turn into `/`.
fn repeated_separator(bytes: &[u8], end: usize) -> bool {
    let Some(rest) = bytes.get(end..) else {
        return false;
    };
    let Some(next) = find(rest.get(..rest.len().min(8)).unwrap_or(b""), b"..") else {
        return false;
    };
    let sep = rest.get(..next).unwrap_or(b"");
    let punct = sep
        .iter()
        .any(|b| !b.is_ascii_alphanumeric() && !b.is_ascii_whitespace());
    !sep.is_empty() && punct && rest.get(next + 2..).is_some_and(|r| r.starts_with(sep))
}

/// Files and directories only an attacker asks for.
static FILES: Needles = Needles::new(&[
    b"etc/passwd",
    b"etc/shadow",
    b"etc/group",
    b"etc/hosts",
    b"etc/issue",
    b"etc/motd",
    b"etc/sudoers",
    b"etc/crontab",
    b"etc/fstab",
    b"etc/httpd/",
    b"etc/apache",
    b"etc/nginx",
    b"etc/mysql",
    b"etc/php",
    b"etc/ssh",
    b"etc/security/",
    b"etc/master.passwd",
    b"proc/self/",
    b"proc/version",
    b"proc/cpuinfo",
    b"proc/mounts",
    b"proc/net/",
    b"/.ssh/",
    b"id_rsa",
    b"id_dsa",
    b"authorized_keys",
    b".bash_history",
    b".htpasswd",
    b".htaccess",
    b"boot.ini",
    b"win.ini",
    b"system.ini",
    b"windows/system32",
    b"winnt/system32",
    b"repair/sam",
    b"system32/config",
    b"web.config",
    b"wp-config",
    b"applicationhost.config",
    b"php.ini",
    b"my.cnf",
    b"httpd.conf",
    b"ntuser.dat",
    b"/.env",
    b".git/config",
    b"var/log/",
    b"/c$/",
    b"inetpub/",
    b"/root/",
    b"/shosts",
    b"/.shosts",
    b"/.rhosts",
    b"/.netrc",
    b"/.aws/credentials",
    b"/.profile",
    b"/.cshrc",
    b"/.bashrc",
    b"/.bash_profile",
    b"/.login",
    b"/.logout",
    b"/.history",
    b"/.sh_history",
    b"/.mysql_history",
    b"/.psql_history",
]);

/// More of them (a set holds 64 at most).
static MORE_FILES: Needles = Needles::new(&[
    b"/.viminfo",
    b"/.kshrc",
    b"/.tcshrc",
    b"/.zshrc",
    b"/.xauthority",
    b"/.forward",
    b"/.lesshst",
    b"/.git/",
    b"/.svn/",
    b"/.ds_store",
]);

/// Files only an attacker asks for, anywhere in the value (lower-cased): the first of
/// [`FILES`], then of [`MORE_FILES`], that occurs.
fn sensitive_file(bytes: &[u8]) -> Option<(u16, (usize, usize))> {
    FILES
        .first_listed(bytes)
        .or_else(|| MORE_FILES.first_listed(bytes))
        .map(|(f, at)| (5, (at, at + f.len())))
        .or_else(|| split_pair(bytes))
}

/// `etc%c1%8spasswd`: a directory and a file of the classic targets joined by a made-up
/// separator (at most 8 bytes, no spaces) that some decoder is expected to turn into `/`.
fn split_pair(bytes: &[u8]) -> Option<(u16, (usize, usize))> {
    static DIRS: Needles = Needles::new(&[b"etc", b"windows", b"winnt", b"system32"]);
    const FILES: [&[&[u8]]; 4] = [
        &[b"passwd", b"shadow", b"issue", b"hosts", b"group", b"motd"],
        &[b"system32", b"win.ini", b"repair"],
        &[b"system32", b"win.ini", b"repair"],
        &[b"drivers", b"config"],
    ];
    let found = DIRS.find_all(bytes);
    for (index, dir, first) in found.iter(&DIRS) {
        let files = FILES.get(index).copied().unwrap_or_default();
        let mut from = first;
        while let Some(at) = find_ci_from(bytes, dir, from) {
            from = at + 1;
            let gap_start = at + dir.len();
            let window = bytes
                .get(gap_start..(gap_start + 8 + 8).min(bytes.len()))
                .unwrap_or(b"");
            for file in files {
                if let Some(gap) = find_ci(window, file)
                    && gap > 0
                    && gap <= 8
                    && !window
                        .get(..gap)
                        .unwrap_or(b"")
                        .iter()
                        .any(u8::is_ascii_whitespace)
                {
                    return Some((5, (at, gap_start + gap + file.len())));
                }
            }
        }
    }
    None
}

/// An absolute path into a system directory: `/etc/...`, `C:\Windows\...`, `\\host\c$`.
fn system_path(bytes: &[u8]) -> Option<(u16, (usize, usize))> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = bytes.get(start..)?;
    let (path, offset) = if rest.starts_with(b"file:") {
        let p = rest.get(5..)?;
        let slashes = p.iter().take_while(|b| **b == b'/').count();
        (p.get(slashes.saturating_sub(1)..)?, start + 5)
    } else if rest.get(1) == Some(&b':')
        && rest.first().is_some_and(u8::is_ascii_alphabetic)
        && rest.get(2) == Some(&b'/')
    {
        // A Windows drive: any path on it is the server's own file system.
        return Some((5, (start, start + 3)));
    } else if rest.starts_with(b"//")
        && rest
            .get(2)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b':')
    {
        // UNC: `\\host\share` (backslashes already folded to slashes).
        let share = memchr::memchr(b'/', rest.get(2..)?).and_then(|i| rest.get(2 + i + 1..));
        return share
            .filter(|s| !s.is_empty())
            .map(|_| (5, (start, start + 2)));
    } else {
        (rest, start)
    };
    if path.first() != Some(&b'/') {
        return None;
    }
    let seg_end = path
        .iter()
        .skip(1)
        .position(|b| *b == b'/')
        .map_or(path.len(), |i| i + 1);
    let mut buf = [0u8; 32];
    let first = lower_into(path.get(1..seg_end)?, &mut buf)?;
    let score = match first {
        "etc" | "proc" | "sys" | "dev" | "boot" | "root" | "windows" | "winnt" | "inetpub" => 5,
        "var" | "usr" | "bin" | "sbin" | "lib" | "lib64" | "opt" | "tmp" | "home" | "srv"
        | "mnt" => {
            // `/var/log/x` with a second segment reads like a file system, not a route.
            if path.len() > seg_end + 1 { 5 } else { 3 }
        }
        _ => return None,
    };
    Some((score, (offset, offset + seg_end)))
}

/// Stream wrappers that read files or run commands.
fn wrapper(bytes: &[u8]) -> Option<(usize, usize)> {
    static WRAPPERS: Needles = Needles::new(&[
        b"php://",
        b"file://",
        b"expect://",
        b"zip://",
        b"phar://",
        b"glob://",
        b"data://",
        b"compress.zlib://",
        b"compress.bzip2://",
        b"rar://",
        b"ogg://",
        b"ssh2.shell://",
        b"ssh2.exec://",
        b"jar:file:",
        b"jar:http",
        b"netdoc:/",
        b"zlib:",
    ]);
    WRAPPERS
        .find_all(bytes)
        .iter(&WRAPPERS)
        .find_map(|(_, w, at)| {
            // `file://` is also a legitimate URL scheme in text: only at the start of a value.
            let lead = bytes
                .get(..at)?
                .iter()
                .all(|b| b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'=' | b'('));
            (lead || w != b"file://").then_some((at, at + w.len()))
        })
}

/// A URL built to be included: ending in `?` (the application's suffix becomes the query),
/// or naming a script as plain text.
fn remote_include(bytes: &[u8]) -> Option<(usize, usize)> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    let url = bytes.get(start..)?;
    let scheme_end =
        if url.len() >= 7 && find_ci(url.get(..8.min(url.len()))?, b"http://") == Some(0) {
            7
        } else if find_ci(url.get(..8.min(url.len()))?, b"https://") == Some(0) {
            8
        } else if find_ci(url.get(..6.min(url.len()))?, b"ftp://") == Some(0) {
            6
        } else {
            return None;
        };
    if url.iter().any(|b| b.is_ascii_whitespace()) {
        return None;
    }
    let trimmed = url.strip_suffix(b"%00").unwrap_or(url);
    let truncated = trimmed.ends_with(b"?")
        || trimmed.ends_with(b"?&")
        || url.ends_with(b"%00")
        || trimmed.contains(&0);
    let path = url.get(scheme_end..)?;
    let script = [
        &b".txt?"[..],
        b".php?",
        b".sh?",
        b".pl?",
        b".inc?",
        b".jsp?",
        b".asp?",
    ]
    .iter()
    .any(|e| find_ci_from(path, e, 0).is_some());
    (truncated || script).then_some((start, start + url.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(value: &str) -> u16 {
        let mut f = Vec::new();
        detect(value, Shape::Value, 1, &mut f);
        f.iter().map(|f| f.score).max().unwrap_or(0)
    }

    #[test]
    fn traversal_and_inclusion_score_five() {
        for a in [
            "../../../../etc/passwd",
            "..\\..\\..\\windows\\win.ini",
            "....//....//etc/passwd",
            "..;/..;/admin",
            "..%00/..%00/etc/hosts",
            "/static/img/../../etc/passwd",
            "..\u{2215}..\u{2215}..\u{2215}boot.ini",
            "../",
            "/etc/passwd",
            "/proc/self/environ",
            "C:\\Windows\\win.ini",
            "c:/inetpub/wwwroot/web.config",
            "\\\\::1\\c$\\users\\default\\ntuser.dat",
            "file:///etc/./passwd",
            "php://filter/convert.base64-encode/resource=index.php",
            "expect://id",
            "zip://archive.zip#shell.php",
            "phar://uploads/x.jpg/shell",
            "http://evil.example/shell.txt?",
            "https://evil.example/c99.php?",
            "/var/log/apache2/access.log",
        ] {
            assert_eq!(score(a), 5, "missed: {a}");
        }
    }

    #[test]
    fn ordinary_values_pass() {
        for b in [
            "Patient/123",
            "http://loinc.org|8867-4",
            "https://example.org/fhir/Patient?name=smith",
            "1..5 mg",
            "wait... then 2.5 mg",
            "ratio 1...3",
            "url=/maps/api/geocode/json?address=Reader",
            "/record/fhir/Observation",
            "etc.",
            "see p. 3 etc. (2020)",
            "http://www.example.com/tan?usp=4#8",
        ] {
            assert_eq!(score(b), 0, "false positive: {b}");
        }
    }
}
