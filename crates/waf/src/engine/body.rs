//! The body, read by its content type: form, multipart, JSON, XML, or text.

use super::Inspection;
use super::json_body;
use super::parts::{Kinds, TEXT};
use super::xml_body;
use crate::decode::Anomalies;
use crate::detect::InputKind;
use crate::extract::multipart;
use crate::fhir::FhirContext;
use crate::location::Place;
use crate::request::HttpRequest;

/// How a body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format<'a> {
    Form,
    Multipart(&'a str),
    /// JSON; `declared` when the content type said so (a failure is then an anomaly).
    Json {
        declared: bool,
    },
    Xml {
        declared: bool,
    },
    Text,
}

fn format<'a>(content_type: Option<&'a str>, body: &[u8]) -> Format<'a> {
    let mime = content_type
        .and_then(|ct| ct.split(';').next())
        .map(str::trim)
        .unwrap_or("");
    let is = |name: &str| mime.eq_ignore_ascii_case(name);
    let ends = |suffix: &str| {
        mime.len() >= suffix.len() && mime[mime.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
    };
    // Any XML type (`application/xml-dtd`, `text/xml-external-parsed-entity`, `+xml`), and a
    // body that declares itself XML whatever its label: an XML parser behind the gateway reads
    // its declarations either way.
    let xml_type = find_ignore_case(mime, "xml");
    if starts_as_xml(body) {
        return Format::Xml { declared: xml_type };
    }
    if is("application/x-www-form-urlencoded") {
        return Format::Form;
    }
    if mime.len() > 10 && mime[..10].eq_ignore_ascii_case("multipart/") {
        if let Some(boundary) = content_type.and_then(multipart::boundary) {
            return Format::Multipart(boundary);
        }
        return Format::Text;
    }
    if is("application/json") || is("text/json") || ends("+json") {
        return Format::Json { declared: true };
    }
    if xml_type {
        return Format::Xml { declared: true };
    }
    // Undeclared or other types: read what the body looks like, since many servers do.
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{' | b'[') => Format::Json { declared: false },
        Some(b'<') => Format::Xml { declared: false },
        _ => Format::Text,
    }
}

fn find_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// Whether a body opens with an XML declaration or a document type declaration (after a
/// byte order mark and white space).
fn starts_as_xml(body: &[u8]) -> bool {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(body.len());
    let head = &body[start..body.len().min(start + 9)];
    head.len() >= 5 && head[..5].eq_ignore_ascii_case(b"<?xml")
        || head.eq_ignore_ascii_case(b"<!doctype")
}

/// Bytes as text: borrowed when UTF-8 (the fast, common case), U+FFFD for invalid bytes.
pub(super) fn text_of(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// Whether bytes are a binary format (by magic number) or not text at all.
pub(super) fn looks_binary(bytes: &[u8]) -> bool {
    const MAGIC: &[&[u8]] = &[
        b"\x89PNG",
        b"\xFF\xD8\xFF",
        b"GIF8",
        b"%PDF-",
        b"PK\x03\x04",
        b"\x1F\x8B",
        b"II*\x00",
        b"MM\x00*",
        b"RIFF",
        b"\x00\x00\x00",
    ];
    if MAGIC.iter().any(|m| bytes.starts_with(m)) {
        return true;
    }
    // DICOM Part 10: a 128-byte preamble, then `DICM`.
    if bytes.get(128..132) == Some(b"DICM") {
        return true;
    }
    let sample = &bytes[..bytes.len().min(1024)];
    if memchr::memchr(0, sample).is_some() {
        return true;
    }
    // Invalid UTF-8 inside the sample (not just a character cut at its end) is not text.
    matches!(std::str::from_utf8(sample), Err(e) if e.error_len().is_some())
}

impl Inspection<'_> {
    /// The body, by its format.
    pub(super) fn body(&mut self, request: &HttpRequest<'_>, fhir: Option<&FhirContext>) {
        if request.body.is_empty() || self.stopped {
            return;
        }
        match format(request.content_type(), request.body) {
            Format::Form => {
                let text = text_of(request.body);
                let search = fhir.filter(|f| f.is_search());
                self.pairs(&text, search, Kinds::FORM);
            }
            Format::Multipart(boundary) => self.multipart(request.body, boundary),
            Format::Json { declared } => {
                let text = text_of(request.body);
                if !json_body::inspect(self, &text, fhir) {
                    if declared {
                        self.protocol(Place::Body, "protocol.json-malformed");
                    }
                    self.raw(&text);
                }
            }
            Format::Xml { declared } => {
                let text = text_of(request.body);
                let read = xml_body::inspect(self, &text, fhir);
                if !read && declared {
                    self.protocol(Place::Body, "protocol.xml-malformed");
                }
                // A body that only looks like XML (HTML, say) is also judged as it is: the
                // element-by-element reading would hide its markup.
                if !read || !declared {
                    self.raw(&text);
                }
            }
            Format::Text => {
                if !looks_binary(request.body) {
                    self.raw(&text_of(request.body));
                }
            }
        }
    }

    /// A body read as plain text (`body`).
    pub(super) fn raw(&mut self, text: &str) {
        self.value(
            Place::Body,
            InputKind::RawBody,
            None,
            text,
            Anomalies::default(),
            TEXT,
        );
    }

    fn multipart(&mut self, body: &[u8], boundary: &str) {
        let read = multipart::parts(body, boundary, self.config.limits.max_parts);
        for part in &read.parts {
            if self.stopped {
                return;
            }
            if let Some(name) = part.name {
                self.value(
                    Place::MultipartName(name),
                    InputKind::FormName,
                    None,
                    name,
                    Anomalies::default(),
                    TEXT,
                );
            }
            if let Some(filename) = part.filename {
                self.value(
                    Place::MultipartFilename(part.name, part.index),
                    InputKind::FileName,
                    part.name,
                    filename,
                    Anomalies::default(),
                    TEXT,
                );
            }
            // Binary files (images, DICOM, PDFs) are not text an injection can sit in.
            if !looks_binary(part.body) {
                let text = text_of(part.body);
                self.value(
                    Place::Multipart(part.name, part.index),
                    InputKind::FormValue,
                    part.name,
                    &text,
                    Anomalies::default(),
                    TEXT,
                );
            }
        }
        match read.error {
            None => {}
            Some(multipart::MultipartError::TooManyParts) => {
                self.limit_exceeded("protocol.limit-parts");
            }
            Some(multipart::MultipartError::NoDelimiter) => {
                self.protocol(Place::Body, "protocol.multipart-malformed");
                if !looks_binary(body) {
                    self.raw(&text_of(body));
                }
            }
            Some(_) => self.protocol(Place::Body, "protocol.multipart-malformed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_follow_the_content_type_then_the_body() {
        assert_eq!(
            format(Some("application/x-www-form-urlencoded"), b"a=1"),
            Format::Form
        );
        assert_eq!(
            format(Some("multipart/form-data; boundary=x"), b""),
            Format::Multipart("x")
        );
        assert_eq!(
            format(Some("application/fhir+json"), b"x"),
            Format::Json { declared: true }
        );
        assert_eq!(
            format(Some("application/fhir+xml"), b"x"),
            Format::Xml { declared: true }
        );
        assert_eq!(
            format(Some("text/plain"), b" {\"a\":1}"),
            Format::Json { declared: false }
        );
        assert_eq!(format(None, b"<a/>"), Format::Xml { declared: false });
        assert_eq!(format(None, b"cmd=ls"), Format::Text);
        assert_eq!(format(Some("multipart/form-data"), b""), Format::Text);
        assert_eq!(
            format(Some("application/xml-dtd"), b"x"),
            Format::Xml { declared: true }
        );
        assert_eq!(
            format(
                Some("application/x-www-form-urlencoded"),
                b"<?xml version=\"1.0\"?><a/>"
            ),
            Format::Xml { declared: false }
        );
        assert_eq!(
            format(Some("application/json"), b"\n<!DOCTYPE a SYSTEM \"x\"><a/>"),
            Format::Xml { declared: false }
        );
    }

    #[test]
    fn binary_is_recognised_by_magic_or_content() {
        assert!(looks_binary(b"\x89PNG\r\n\x1a\n...."));
        let mut dicom = vec![0u8; 128];
        dicom.extend_from_slice(b"DICM");
        assert!(looks_binary(&dicom));
        assert!(looks_binary(b"abc\x00def"));
        assert!(looks_binary(b"abc\xFF\xFEdef"));
        assert!(!looks_binary("<?php system($_GET['c']); ?> é".as_bytes()));
    }
}
