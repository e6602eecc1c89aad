//! Detectors: one module per attack class, each judging one decoded input value.
//!
//! CONTRACT between the engine (extraction, decoding, scoring: `crate::*` outside `detect/`) and
//! the detectors (`detect/**`). The engine extracts every input of a request, produces its
//! decoded variants (percent-decoding, entities, escapes, base64, ...) and calls [`detect`] once
//! per variant with the input's [`InputKind`]. The detectors normalise within their own grammar
//! (SQL comments, shell quoting, HTML case, ...) and push [`Finding`]s. Which detectors run for
//! which kind of input is decided here, in [`detect`], so that for example clinical free text
//! ([`InputKind::ClinicalText`]) is judged only by what is dangerous there.
//!
//! The types below are the stable interface; their owners may add variants and fields, but
//! must not remove or rename without telling the other side.

use std::ops::Range;

pub(crate) mod ascii;
mod crlf;
#[cfg(test)]
pub(crate) mod differential;
mod graphql;
mod ldap;
mod lfi;
mod log4shell;
mod needles;
mod nosql;
mod scanner;
mod shell;
mod sqli;
mod ssrf;
mod template;
mod xpath;
mod xss;
mod xxe;

/// Where an input value sits in the request; selects the grammar contexts that apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputKind {
    /// One segment of the URL path (already split on `/`).
    PathSegment,
    /// The whole normalised URL path (for traversal checks across segments).
    Path,
    /// A query-string parameter name.
    QueryName,
    /// A query-string parameter value.
    QueryValue,
    /// A request header value (the header's name is in [`Input::name`]).
    HeaderValue,
    /// A cookie name.
    CookieName,
    /// A cookie value.
    CookieValue,
    /// An `application/x-www-form-urlencoded` or multipart field name.
    FormName,
    /// An `application/x-www-form-urlencoded` or multipart field value.
    FormValue,
    /// A multipart part's file name.
    FileName,
    /// A JSON object key.
    JsonKey,
    /// A JSON string leaf.
    JsonString,
    /// A whole XML document (for XXE: DOCTYPE / ENTITY declarations).
    XmlDocument,
    /// XML text or attribute content.
    XmlText,
    /// A body of another or unknown content type, as text.
    RawBody,
    /// FHIR narrative XHTML (`text.div`): judged by the FHIR narrative rules only
    /// (no script, no event-handler attributes, no `javascript:` / `data:` URLs, ...).
    FhirNarrative,
    /// Clinical free text in a FHIR resource (notes, names, comments, descriptions): never
    /// judged by the presence of SQL words or apostrophes; only by what is dangerous in
    /// text that will be displayed (markup that executes) or logged (lookups).
    ClinicalText,
}

impl InputKind {
    /// Every kind, for the tests and fuzz targets that judge a value as each.
    pub const ALL: [InputKind; 17] = [
        InputKind::PathSegment,
        InputKind::Path,
        InputKind::QueryName,
        InputKind::QueryValue,
        InputKind::HeaderValue,
        InputKind::CookieName,
        InputKind::CookieValue,
        InputKind::FormName,
        InputKind::FormValue,
        InputKind::FileName,
        InputKind::JsonKey,
        InputKind::JsonString,
        InputKind::XmlDocument,
        InputKind::XmlText,
        InputKind::RawBody,
        InputKind::FhirNarrative,
        InputKind::ClinicalText,
    ];
}

/// The attack class a finding belongs to (the corpus categories use these names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AttackClass {
    /// SQL injection.
    Sqli,
    /// Cross-site scripting.
    Xss,
    /// Path traversal and local file inclusion.
    Lfi,
    /// Remote file inclusion.
    Rfi,
    /// OS command or code injection.
    Rce,
    /// Server-side request forgery.
    Ssrf,
    /// XML external entities.
    Xxe,
    /// LDAP injection.
    Ldapi,
    /// XPath injection.
    Xpathi,
    /// NoSQL injection.
    Nosqli,
    /// Server-side template injection.
    Ssti,
    /// Server-side includes.
    Ssi,
    /// Log4Shell-style lookups (`${jndi:...}`).
    Log4Shell,
    /// CRLF / header injection, response splitting.
    Crlf,
    /// IMAP/SMTP command injection.
    MailInjection,
    /// Known scanner or exploit-tool signatures.
    Scanner,
    /// GraphQL schema introspection and abusive nesting.
    Graphql,
    /// Protocol anomalies (malformed encodings, NUL bytes where none belong, ...).
    Protocol,
}

impl AttackClass {
    /// The category name used by the corpora and in verdicts (`sqli`, `xss`, `lfi`, ...).
    pub fn name(self) -> &'static str {
        match self {
            AttackClass::Sqli => "sqli",
            AttackClass::Xss => "xss",
            AttackClass::Lfi => "lfi",
            AttackClass::Rfi => "rfi",
            AttackClass::Rce => "rce",
            AttackClass::Ssrf => "ssrf",
            AttackClass::Xxe => "xxe",
            AttackClass::Ldapi => "ldapi",
            AttackClass::Xpathi => "xpathi",
            AttackClass::Nosqli => "nosqli",
            AttackClass::Ssti => "ssti",
            AttackClass::Ssi => "ssi",
            AttackClass::Log4Shell => "log4shell",
            AttackClass::Crlf => "crlf",
            AttackClass::MailInjection => "mail_injection",
            AttackClass::Scanner => "scanner",
            AttackClass::Graphql => "graphql",
            AttackClass::Protocol => "protocol",
        }
    }
}

/// One input value as the detectors see it.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// Where the value sits.
    pub kind: InputKind,
    /// The header, parameter, field or JSON key name this value belongs to, when there is one
    /// (lower-cased for headers).
    pub name: Option<&'a str>,
    /// The decoded value to judge.
    pub value: &'a str,
    /// Paranoia level 1..=4 of the route: higher levels enable rules with more false positives.
    pub paranoia: u8,
}

/// One thing a detector found in one input value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The attack class.
    pub class: AttackClass,
    /// A stable rule identifier, e.g. `sqli.tautology`, `xss.event-handler`.
    pub rule: &'static str,
    /// Anomaly score contribution: 5 = critical (blocks alone at the default threshold of 5),
    /// 3 = error, 2 = warning.
    pub score: u16,
    /// The byte range in [`Input::value`] that triggered the rule (for the verdict's excerpt).
    pub span: Range<usize>,
}

/// Judge one input value with every detector that applies to its kind; push what is found.
///
/// Dispatch by kind:
/// - [`InputKind::FhirNarrative`]: the FHIR narrative rules only;
/// - [`InputKind::ClinicalText`]: markup that executes, Log4Shell lookups and server-side
///   include directives; never SQL words, apostrophes, shell words or paths;
/// - [`InputKind::XmlDocument`]: XML external entities;
/// - [`InputKind::HeaderValue`]: by header name (see [`header_set`]);
/// - every other kind: the full set.
pub fn detect(input: &Input<'_>, findings: &mut Vec<Finding>) {
    let value = input.value;
    if value.is_empty() {
        return;
    }
    match input.kind {
        InputKind::FhirNarrative => xss::narrative(value, findings),
        InputKind::ClinicalText => {
            xss::detect(value, xss::Scope::Markup, findings);
            log4shell::detect(value, findings);
            template::ssi_only(value, findings);
        }
        InputKind::XmlDocument => xxe::detect(value, true, findings),
        InputKind::HeaderValue => match header_set(input.name.unwrap_or("")) {
            HeaderSet::UserAgent => {
                scanner::user_agent(value, findings);
                scanner::callback_domain(value, findings);
                log4shell::detect(value, findings);
                shell::detect(value, findings);
                sqli::detect(value, findings);
                xss::detect(value, xss::Scope::Full, findings);
            }
            HeaderSet::Structural => {
                log4shell::detect(value, findings);
                crlf::detect(value, crlf::Strictness::AnyHeader, findings);
            }
            HeaderSet::Logged => {
                log4shell::detect(value, findings);
                crlf::detect(value, crlf::Strictness::AnyHeader, findings);
                sqli::detect(value, findings);
                xss::detect(value, xss::Scope::Full, findings);
                shell::detect(value, findings);
            }
            HeaderSet::Full => full(input, findings),
        },
        _ => full(input, findings),
    }
}

/// One detector, to run alone (`wardgate waf explain`, fuzzing, benchmarks per detector).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Detector {
    /// SQL injection (the SQL tokeniser and grammar walk).
    Sqli,
    /// Cross-site scripting in a request value (HTML and JavaScript tokenisers).
    Xss,
    /// Markup that executes, as judged in clinical free text.
    ClinicalMarkup,
    /// The FHIR narrative rules.
    Narrative,
    /// OS command and code injection (the shell tokeniser).
    Shell,
    /// Path traversal and file inclusion.
    Lfi,
    /// Server-side template injection and server-side includes.
    Template,
    /// Log4Shell lookups.
    Log4Shell,
    /// NoSQL operators in a value.
    Nosql,
    /// LDAP filter injection.
    Ldap,
    /// XPath injection.
    Xpath,
    /// XML external entities in a whole document.
    Xxe,
    /// SSRF in a parameter value.
    Ssrf,
    /// CRLF and mail command injection in a URL or header value.
    Crlf,
    /// Scanner User-Agent names.
    Scanner,
}

impl Detector {
    /// Every detector.
    pub const ALL: [Detector; 15] = [
        Detector::Sqli,
        Detector::Xss,
        Detector::ClinicalMarkup,
        Detector::Narrative,
        Detector::Shell,
        Detector::Lfi,
        Detector::Template,
        Detector::Log4Shell,
        Detector::Nosql,
        Detector::Ldap,
        Detector::Xpath,
        Detector::Xxe,
        Detector::Ssrf,
        Detector::Crlf,
        Detector::Scanner,
    ];
}

/// Run one detector on a value at a paranoia level; push what it finds.
pub fn detect_with(detector: Detector, value: &str, paranoia: u8, findings: &mut Vec<Finding>) {
    match detector {
        Detector::Sqli => sqli::detect(value, findings),
        Detector::Xss => xss::detect(value, xss::Scope::Full, findings),
        Detector::ClinicalMarkup => xss::detect(value, xss::Scope::Markup, findings),
        Detector::Narrative => xss::narrative(value, findings),
        Detector::Shell => shell::detect(value, findings),
        Detector::Lfi => lfi::detect(value, lfi::Shape::Value, paranoia, findings),
        Detector::Template => template::detect(value, findings),
        Detector::Log4Shell => log4shell::detect(value, findings),
        Detector::Nosql => nosql::value(value, findings),
        Detector::Ldap => ldap::detect(value, findings),
        Detector::Xpath => xpath::detect(value, findings),
        Detector::Xxe => xxe::detect(value, true, findings),
        Detector::Ssrf => ssrf::detect(value, ssrf::Reach::Parameter, paranoia, findings),
        Detector::Crlf => crlf::detect(value, crlf::Strictness::AnyHeader, findings),
        Detector::Scanner => scanner::user_agent(value, findings),
    }
}

/// [`detect_with`] for the SQL and shell detectors without the shortcuts that skip their
/// lexers, and for the XSS detectors without the byte-presence shortcuts that skip their rules
/// (each argued where it is defined), for the fuzz targets that compare the two.
/// Built only under `cargo fuzz`, which sets `--cfg fuzzing`.
#[cfg(fuzzing)]
pub fn detect_without_shortcuts(detector: Detector, value: &str, findings: &mut Vec<Finding>) {
    match detector {
        Detector::Sqli => sqli::detect_in(value, findings),
        Detector::Shell => shell::detect_in(value, findings),
        Detector::Xss => xss::detect_in(value, xss::Scope::Full, findings),
        Detector::ClinicalMarkup => xss::detect_in(value, xss::Scope::Markup, findings),
        other => detect_with(other, value, 1, findings),
    }
}

/// Whether the XSS detector's one-pass sink scan finds what the word-by-word scan it replaced
/// finds, for the fuzz target that compares them. Built only under `cargo fuzz`.
#[cfg(fuzzing)]
pub fn sink_scans_agree(value: &str) -> bool {
    xss::sink_scans_agree(value)
}

/// What [`detect`] reads of an input besides its value and the paranoia level: the kind, and
/// for a header value the detector set its name selects (the name of no other kind is read).
/// Inputs judged as the same, with the same value at the same paranoia, get the same findings:
/// the engine's memo of values judged in a request is keyed on this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct JudgedAs {
    kind: InputKind,
    headers: Option<HeaderSet>,
}

impl JudgedAs {
    /// How [`detect`] judges an input of this kind and name.
    pub(crate) fn of(kind: InputKind, name: Option<&str>) -> JudgedAs {
        let headers = (kind == InputKind::HeaderValue).then(|| header_set(name.unwrap_or("")));
        JudgedAs { kind, headers }
    }
}

/// Which detectors a header gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeaderSet {
    /// `user-agent`: scanner names, lookups, command, SQL and script injection.
    UserAgent,
    /// Headers the HTTP layer parses (`accept`, `content-type`, `host`, `authorization`, ...):
    /// lookups and line breaks only.
    Structural,
    /// Headers applications log or echo (`referer`, `x-forwarded-for`, `origin`, ...).
    Logged,
    /// Custom headers (`x-*` and unknown ones): the full set, since attacks hide there.
    Full,
}

/// The detector set of a header (name lower-cased).
pub fn header_set(name: &str) -> HeaderSet {
    // Matched as bytes: a decision tree, not a string comparison per name.
    match name.as_bytes() {
        b"user-agent" => HeaderSet::UserAgent,
        b"accept"
        | b"accept-encoding"
        | b"accept-language"
        | b"accept-charset"
        | b"content-type"
        | b"content-length"
        | b"content-encoding"
        | b"transfer-encoding"
        | b"host"
        | b"connection"
        | b"cache-control"
        | b"pragma"
        | b"te"
        | b"upgrade"
        | b"authorization"
        | b"proxy-authorization"
        | b"if-match"
        | b"if-none-match"
        | b"if-modified-since"
        | b"if-unmodified-since"
        | b"if-range"
        | b"range"
        | b"expect"
        | b"max-forwards"
        | b"dnt"
        | b"upgrade-insecure-requests"
        | b"priority"
        | b"keep-alive"
        | b"cookie"
        | b"content-md5"
        | b"date"
        | b"prefer" => HeaderSet::Structural,
        b"referer" | b"origin" | b"x-forwarded-for" | b"x-forwarded-host" | b"x-real-ip"
        | b"forwarded" | b"via" | b"true-client-ip" | b"x-client-ip" | b"x-requested-with"
        | b"x-request-id" | b"x-correlation-id" => HeaderSet::Logged,
        n if n.starts_with(b"sec-") => HeaderSet::Structural,
        _ => HeaderSet::Full,
    }
}

/// Every detector that applies to a request value.
fn full(input: &Input<'_>, findings: &mut Vec<Finding>) {
    let value = input.value;
    let kind = input.kind;
    match kind {
        InputKind::JsonKey => nosql::key(value, findings),
        InputKind::QueryName | InputKind::FormName | InputKind::CookieName => {
            nosql::name(value, findings)
        }
        _ => {}
    }
    sqli::detect(value, findings);
    xss::detect(value, xss::Scope::Full, findings);
    let shape = match kind {
        InputKind::Path | InputKind::PathSegment => lfi::Shape::RequestPath,
        _ => lfi::Shape::Value,
    };
    lfi::detect(value, shape, input.paranoia, findings);
    shell::detect(value, findings);
    template::detect(value, findings);
    log4shell::detect(value, findings);
    nosql::value(value, findings);
    ldap::detect(value, findings);
    xpath::detect(value, findings);
    scanner::callback_domain(value, findings);
    graphql::detect(value, findings);
    if ascii::find(value.as_bytes(), b"<!").is_some() {
        xxe::detect(value, false, findings);
    }
    let reach = match kind {
        InputKind::JsonString | InputKind::XmlText | InputKind::RawBody => ssrf::Reach::Content,
        _ => ssrf::Reach::Parameter,
    };
    ssrf::detect(value, reach, input.paranoia, findings);
    let strictness = match kind {
        InputKind::QueryValue
        | InputKind::QueryName
        | InputKind::Path
        | InputKind::PathSegment
        | InputKind::HeaderValue
        | InputKind::CookieName
        | InputKind::CookieValue
        | InputKind::FileName => crlf::Strictness::AnyHeader,
        _ => crlf::Strictness::KnownHeaders,
    };
    crlf::detect(value, strictness, findings);
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [InputKind; 17] = InputKind::ALL;

    /// The engine remembers judgements by [`JudgedAs`]: inputs judged as the same must get the
    /// same findings whatever their names.
    #[test]
    fn inputs_judged_as_the_same_get_the_same_findings() {
        let names = [
            None,
            Some("user-agent"),
            Some("accept"),
            Some("x-id"),
            Some("unit"),
        ];
        let values = differential::corpus_strings();
        let mut compared = 0;
        for value in values.iter().step_by(10).map(String::as_str) {
            for kind in KINDS {
                let mut first: Option<(JudgedAs, Vec<Finding>)> = None;
                for name in names {
                    let mut findings = Vec::new();
                    let input = Input {
                        kind,
                        name,
                        value,
                        paranoia: 1,
                    };
                    detect(&input, &mut findings);
                    let judged_as = JudgedAs::of(kind, name);
                    match &first {
                        Some((same, found)) if *same == judged_as => {
                            assert_eq!(*found, findings, "{kind:?} {name:?} {value}");
                            compared += 1;
                        }
                        _ => first = Some((judged_as, findings)),
                    }
                }
            }
        }
        assert!(compared > 10_000, "{compared}");
        let header = |name| JudgedAs::of(InputKind::HeaderValue, Some(name));
        assert_ne!(header("user-agent"), header("accept"));
        assert_ne!(header("referer"), header("x-id"));
        assert_eq!(header("accept"), header("content-type"));
        assert_eq!(
            JudgedAs::of(InputKind::JsonString, Some("unit")),
            JudgedAs::of(InputKind::JsonString, Some("code"))
        );
    }
}
