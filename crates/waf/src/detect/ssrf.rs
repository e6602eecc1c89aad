//! Server-side request forgery: URLs in values that point at the server's own network
//! (loopback, link-local, cloud metadata, private ranges) in any notation an URL parser
//! accepts (`2130706433`, `0x7f000001`, `0177.0.0.1`, `127.1`, `[::1]`,
//! `[::ffff:127.0.0.1]`, `127.0.0.1.nip.io`), and schemes that speak other protocols
//! (`gopher://`, `dict://`, `ldap://`, `tftp://`).

use std::net::Ipv6Addr;

use super::ascii::find_iter;
use super::{AttackClass, Finding};

/// URLs examined per value.
const MAX_URLS: usize = 32;

/// Where the internal address class of a URL lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// Cloud metadata services: credentials of the server itself.
    Metadata,
    /// The server itself, or a link-local neighbour.
    Loopback,
    /// A private network range.
    Private,
}

/// How strongly a value is read as an URL the server will fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Query, form, header and cookie values: parameters that name what to fetch.
    Parameter,
    /// JSON and XML content: URLs recorded as data (an attachment's location), rarely fetched.
    Content,
}

/// Judge one value.
pub(crate) fn detect(value: &str, reach: Reach, paranoia: u8, findings: &mut Vec<Finding>) {
    let b = value.as_bytes();
    let mut best: Option<(u16, &'static str, usize, usize)> = None;
    for sep in find_iter(b, b"://").take(MAX_URLS) {
        let mut scheme_start = sep;
        while scheme_start > 0
            && b.get(scheme_start - 1)
                .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'.' | b'-'))
            && sep - scheme_start < 16
        {
            scheme_start -= 1;
        }
        let scheme = b.get(scheme_start..sep).unwrap_or(b"").to_ascii_lowercase();
        let end = b
            .get(sep + 3..)
            .and_then(|r| {
                r.iter().position(|c| {
                    c.is_ascii_whitespace() || matches!(c, b'"' | b'\'' | b'<' | b'>')
                })
            })
            .map_or(b.len(), |i| sep + 3 + i);
        if matches!(
            scheme.as_slice(),
            b"gopher" | b"dict" | b"ldap" | b"ldaps" | b"tftp" | b"jar" | b"netdoc" | b"sftp"
        ) {
            best = best.max(Some((5, "ssrf.scheme", scheme_start, end)));
            continue;
        }
        let Some(target) = host_target(b.get(sep + 3..end).unwrap_or(b"")) else {
            continue;
        };
        // Content (an attachment's location in a resource) is recorded, not fetched: only the
        // metadata services, whose only use is the server's credentials, count there.
        let score = match (target, reach) {
            (Target::Metadata, _) => 5,
            (Target::Loopback, Reach::Parameter) => 5,
            (Target::Private, Reach::Parameter) if paranoia >= 2 => 5,
            (Target::Private, Reach::Parameter) => 3,
            (Target::Loopback, Reach::Content) if paranoia >= 2 => 3,
            (Target::Loopback | Target::Private, Reach::Content) => continue,
        };
        best = best.max(Some((score, "ssrf.internal-address", scheme_start, end)));
    }
    if let Some((score, rule, s, e)) = best {
        findings.push(Finding {
            class: AttackClass::Ssrf,
            rule,
            score,
            span: s..e,
        });
    }
}

/// Classify the host of an URL's authority-and-path `rest` (after `://`).
fn host_target(rest: &[u8]) -> Option<Target> {
    // The authority ends at the path, query or fragment; `\` counts as `/` for browsers and
    // many URL parsers.
    let auth_end = rest
        .iter()
        .position(|c| matches!(c, b'/' | b'?' | b'#' | b'\\'))
        .unwrap_or(rest.len());
    let authority = rest.get(..auth_end)?;
    let host_port = match memchr::memrchr(b'@', authority) {
        Some(at) => authority.get(at + 1..)?,
        None => authority,
    };
    let host = if host_port.first() == Some(&b'[') {
        let close = memchr::memchr(b']', host_port)?;
        let inner = std::str::from_utf8(host_port.get(1..close)?).ok()?;
        return ipv6_target(inner);
    } else {
        host_port.split(|c| *c == b':').next().unwrap_or(host_port)
    };
    let host = std::str::from_utf8(host)
        .ok()?
        .trim_end_matches('.')
        .to_ascii_lowercase();
    name_target(&host)
}

fn name_target(host: &str) -> Option<Target> {
    if matches!(
        host,
        "metadata.google.internal" | "metadata" | "instance-data" | "metadata.azure.internal"
    ) || host.ends_with(".metadata.google.internal")
    {
        return Some(Target::Metadata);
    }
    if host == "localhost"
        || host.ends_with(".localhost")
        || host == "ip6-localhost"
        || host == "localhost.localdomain"
    {
        return Some(Target::Loopback);
    }
    // Wildcard DNS services that resolve to the address in their name, and names that
    // resolve to 127.0.0.1 publicly.
    for suffix in [".nip.io", ".xip.io", ".sslip.io", ".nip.direct"] {
        if let Some(embedded) = host.strip_suffix(suffix) {
            let tail: Vec<&str> = embedded.rsplit(['.', '-']).take(4).collect();
            let dotted: Vec<&str> = tail.into_iter().rev().collect();
            return ipv4_target(&dotted.join("."));
        }
    }
    if matches!(
        host,
        "localtest.me" | "lvh.me" | "vcap.me" | "127.0.0.1.xip.io"
    ) || host.ends_with(".localtest.me")
        || host.ends_with(".lvh.me")
    {
        return Some(Target::Loopback);
    }
    ipv4_target(host)
}

/// Parse an IPv4 address the way `inet_aton` does: 1 to 4 parts, each decimal, `0x` hex or
/// `0`-prefixed octal; the last part fills the remaining bytes.
fn parse_ipv4(host: &str) -> Option<u32> {
    let parts: Vec<&str> = host.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(4);
    for p in &parts {
        let v = if let Some(hex) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
            if hex.is_empty() {
                0
            } else {
                u64::from_str_radix(hex, 16).ok()?
            }
        } else if p.len() > 1 && p.starts_with('0') {
            u64::from_str_radix(p, 8).ok()?
        } else {
            p.parse::<u64>().ok()?
        };
        values.push(v);
    }
    let (last, head) = values.split_last()?;
    let mut addr: u64 = 0;
    for (i, v) in head.iter().enumerate() {
        if *v > 255 {
            return None;
        }
        addr |= v << (24 - 8 * i);
    }
    let remaining_bits = 32 - 8 * head.len() as u32;
    if *last >= 1u64 << remaining_bits {
        return None;
    }
    u32::try_from(addr | last).ok()
}

fn ipv4_target(host: &str) -> Option<Target> {
    let a = parse_ipv4(host)?;
    v4_class(a)
}

fn v4_class(a: u32) -> Option<Target> {
    let [o1, o2, o3, o4] = a.to_be_bytes();
    match (o1, o2) {
        (169, 254) if o3 == 169 && o4 == 254 => Some(Target::Metadata),
        (100, 100) if o3 == 100 && o4 == 200 => Some(Target::Metadata),
        (127, _) | (0, _) | (169, 254) => Some(Target::Loopback),
        (10, _) | (192, 168) => Some(Target::Private),
        (172, 16..=31) | (100, 64..=127) => Some(Target::Private),
        _ => None,
    }
}

fn ipv6_target(inner: &str) -> Option<Target> {
    let inner = inner.split('%').next().unwrap_or(inner);
    let addr: Ipv6Addr = inner.parse().ok()?;
    if addr.is_loopback() || addr.is_unspecified() {
        return Some(Target::Loopback);
    }
    if let Some(v4) = addr.to_ipv4_mapped() {
        return v4_class(u32::from(v4));
    }
    let first = addr.segments()[0];
    if addr == "fd00:ec2::254".parse::<Ipv6Addr>().ok()? {
        return Some(Target::Metadata);
    }
    match first {
        0xfe80..=0xfebf => Some(Target::Loopback),
        0xfc00..=0xfdff => Some(Target::Private),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(value: &str) -> u16 {
        let mut f = Vec::new();
        detect(value, Reach::Parameter, 1, &mut f);
        f.iter().map(|f| f.score).max().unwrap_or(0)
    }

    #[test]
    fn internal_addresses_in_any_notation() {
        for a in [
            "http://127.0.0.1/admin",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0177.0.0.1/",
            "http://127.1/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://localhost:8080/",
            "http://evil.example@127.0.0.1/",
            "http://127.0.0.1.nip.io/",
            "gopher://127.0.0.1:6379/_FLUSHALL",
            "dict://localhost:11211/stat",
            "url=http://0/",
        ] {
            assert_eq!(score(a), 5, "missed: {a}");
        }
        assert_eq!(score("http://10.0.0.5/"), 3);
        for b in [
            "http://loinc.org|1234-5",
            "https://example.org/fhir",
            "http://www.example.com/tan?usp=4#8",
            "http://hl7.org/fhir/StructureDefinition/x",
            "http://8.8.8.8/",
        ] {
            assert_eq!(score(b), 0, "false positive: {b}");
        }
        let mut f = Vec::new();
        detect(
            "http://localhost:9556/svc/fhir/Binary/1",
            Reach::Content,
            1,
            &mut f,
        );
        assert!(f.is_empty());
    }
}
