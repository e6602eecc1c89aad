//! `multipart/related` bodies (RFC 2387), as STOW-RS sends them and WADO-RS answers them.
//!
//! A pure parser over bytes, with limits on parts and header size; the fuzz target
//! `dicom_multipart` drives it with arbitrary input.

use memchr::memmem;

/// Limits of the multipart parser.
#[derive(Debug, Clone, Copy)]
pub struct MultipartLimits {
    /// The most parts one body may carry.
    pub max_parts: usize,
    /// The largest header block of one part, in bytes.
    pub max_header_bytes: usize,
    /// The largest body of one part, in bytes.
    pub max_part_bytes: usize,
}

impl Default for MultipartLimits {
    fn default() -> Self {
        MultipartLimits {
            max_parts: 10_000,
            max_header_bytes: 8 * 1024,
            max_part_bytes: 256 * 1024 * 1024,
        }
    }
}

/// Why a body is not a well-formed multipart body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MultipartError {
    /// The boundary parameter is missing or not valid (RFC 2046: 1 to 70 characters).
    #[error("the boundary is missing or invalid")]
    BadBoundary,
    /// No opening delimiter was found.
    #[error("the body does not start with the boundary")]
    NoDelimiter,
    /// The body ends before the closing delimiter.
    #[error("the body ends before the closing boundary")]
    Truncated,
    /// A part's headers are malformed or too long.
    #[error("a part's headers are malformed or too long")]
    BadHeaders,
    /// More parts than allowed.
    #[error("too many parts")]
    TooManyParts,
    /// A part is larger than allowed.
    #[error("a part is too large")]
    PartTooLarge,
}

/// A media type with its parameters, e.g. `multipart/related; type="application/dicom"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    /// `type/subtype`, lower case.
    pub essence: String,
    /// Parameters, names lower case, values unquoted.
    pub params: Vec<(String, String)>,
}

impl MediaType {
    /// A parameter's value.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parse a `Content-Type` value.
pub fn parse_media_type(value: &str) -> Option<MediaType> {
    let mut rest = value;
    let essence_end = rest.find(';').unwrap_or(rest.len());
    let essence = rest[..essence_end].trim().to_ascii_lowercase();
    if essence.is_empty() || !essence.contains('/') {
        return None;
    }
    rest = &rest[essence_end..];
    let mut params = Vec::new();
    while let Some(after) = rest.strip_prefix(';') {
        let after = after.trim_start();
        let eq = after.find('=')?;
        let name = after[..eq].trim().to_ascii_lowercase();
        let value_part = &after[eq + 1..];
        let (value, remaining) = if let Some(quoted) = value_part.strip_prefix('"') {
            let end = quoted.find('"')?;
            (quoted[..end].to_owned(), &quoted[end + 1..])
        } else {
            let end = value_part.find(';').unwrap_or(value_part.len());
            (value_part[..end].trim().to_owned(), &value_part[end..])
        };
        params.push((name, value));
        rest = remaining.trim_start();
        if params.len() > 32 {
            return None;
        }
    }
    rest.trim()
        .is_empty()
        .then_some(MediaType { essence, params })
}

/// One part: its headers (names lower case) and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    /// The part's headers.
    pub headers: Vec<(String, String)>,
    /// The part's body.
    pub body: &'a [u8],
}

impl Part<'_> {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn valid_boundary(boundary: &str) -> bool {
    (1..=70).contains(&boundary.len())
        && boundary
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&b))
        && !boundary.ends_with(' ')
}

/// Split a multipart body into its parts.
pub fn parse<'a>(
    body: &'a [u8],
    boundary: &str,
    limits: &MultipartLimits,
) -> Result<Vec<Part<'a>>, MultipartError> {
    if !valid_boundary(boundary) {
        return Err(MultipartError::BadBoundary);
    }
    let delimiter = format!("--{boundary}");
    let inner = format!("\r\n--{boundary}");
    let first = if body.starts_with(delimiter.as_bytes()) {
        0
    } else {
        memmem::find(body, inner.as_bytes())
            .map(|i| i + 2)
            .ok_or(MultipartError::NoDelimiter)?
    };
    let finder = memmem::Finder::new(inner.as_bytes());
    let mut pos = first + delimiter.len();
    let mut parts = Vec::new();
    loop {
        let rest = &body[pos..];
        if rest.starts_with(b"--") {
            return Ok(parts);
        }
        // Transport padding, then CRLF, after a delimiter.
        let line_end = memmem::find(rest, b"\r\n").ok_or(MultipartError::Truncated)?;
        if !rest[..line_end].iter().all(|b| *b == b' ' || *b == b'\t') {
            return Err(MultipartError::NoDelimiter);
        }
        let start = pos + line_end + 2;
        if parts.len() == limits.max_parts {
            return Err(MultipartError::TooManyParts);
        }
        let part_area = &body[start..];
        let (headers, body_start) = if part_area.starts_with(b"\r\n") {
            (Vec::new(), 2)
        } else {
            let end = memmem::find(
                &part_area[..part_area.len().min(limits.max_header_bytes + 4)],
                b"\r\n\r\n",
            )
            .ok_or(MultipartError::BadHeaders)?;
            (parse_headers(&part_area[..end])?, end + 4)
        };
        let content = &part_area[body_start..];
        let end = finder.find(content).ok_or(MultipartError::Truncated)?;
        if end > limits.max_part_bytes {
            return Err(MultipartError::PartTooLarge);
        }
        parts.push(Part {
            headers,
            body: &content[..end],
        });
        pos = start + body_start + end + inner.len();
    }
}

fn parse_headers(block: &[u8]) -> Result<Vec<(String, String)>, MultipartError> {
    let text = std::str::from_utf8(block).map_err(|_| MultipartError::BadHeaders)?;
    let mut headers = Vec::new();
    for line in text.split("\r\n") {
        let (name, value) = line.split_once(':').ok_or(MultipartError::BadHeaders)?;
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(MultipartError::BadHeaders);
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
        if headers.len() > 32 {
            return Err(MultipartError::BadHeaders);
        }
    }
    Ok(headers)
}

/// Write parts as a `multipart/related` body.
pub fn write(boundary: &str, parts: &[(String, &[u8])]) -> Vec<u8> {
    let total: usize = parts
        .iter()
        .map(|(h, b)| h.len() + b.len() + boundary.len() + 16)
        .sum();
    let mut out = Vec::with_capacity(total + boundary.len() + 8);
    for (content_type, body) in parts {
        out.extend_from_slice(b"--");
        out.extend_from_slice(boundary.as_bytes());
        out.extend_from_slice(b"\r\nContent-Type: ");
        out.extend_from_slice(content_type.as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(body);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"--");
    out.extend_from_slice(boundary.as_bytes());
    out.extend_from_slice(b"--\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_body_parses_back() {
        let a = b"DICM\r\n--not-the-boundary".to_vec();
        let b = vec![0u8; 300];
        let body = write(
            "b0und",
            &[
                ("application/dicom".into(), &a),
                ("application/dicom".into(), &b),
            ],
        );
        let parts = parse(&body, "b0und", &MultipartLimits::default()).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].body, a.as_slice());
        assert_eq!(parts[1].body, b.as_slice());
        assert_eq!(parts[0].header("content-type"), Some("application/dicom"));
    }

    #[test]
    fn media_types_and_broken_bodies() {
        let mt = parse_media_type(r#"multipart/related; type="application/dicom"; boundary=abc"#)
            .unwrap();
        assert_eq!(mt.essence, "multipart/related");
        assert_eq!(mt.param("type"), Some("application/dicom"));
        assert_eq!(mt.param("boundary"), Some("abc"));
        assert!(parse_media_type("nonsense").is_none());
        let limits = MultipartLimits::default();
        assert_eq!(
            parse(b"--abc\r\n\r\nunterminated", "abc", &limits),
            Err(MultipartError::Truncated)
        );
        assert_eq!(
            parse(b"garbage", "abc", &limits),
            Err(MultipartError::NoDelimiter)
        );
        assert_eq!(
            parse(b"--abc--", "", &limits),
            Err(MultipartError::BadBoundary)
        );
        let tight = MultipartLimits {
            max_parts: 1,
            ..limits
        };
        let two = write("abc", &[("a/b".into(), b"1"), ("a/b".into(), b"2")]);
        assert_eq!(
            parse(&two, "abc", &tight),
            Err(MultipartError::TooManyParts)
        );
    }
}
