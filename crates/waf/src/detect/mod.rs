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

mod ascii;
mod sqli;
mod xss;

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
pub fn detect(input: &Input<'_>, findings: &mut Vec<Finding>) {
    sqli::detect(input.value, findings);
    match input.kind {
        InputKind::FhirNarrative => xss::narrative(input.value, findings),
        InputKind::ClinicalText => xss::detect(input.value, xss::Scope::Markup, findings),
        _ => xss::detect(input.value, xss::Scope::Full, findings),
    }
}
