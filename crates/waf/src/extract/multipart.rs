//! `multipart/form-data` and `multipart/related` bodies (RFC 7578, RFC 2046), read leniently.

use memchr::memmem;

/// The longest header block of one part.
pub const MAX_PART_HEADERS: usize = 8 * 1024;

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    /// The part's position, from 1.
    pub index: usize,
    /// The `name` of its `Content-Disposition`.
    pub name: Option<&'a str>,
    /// The `filename` of its `Content-Disposition`.
    pub filename: Option<&'a str>,
    /// Its `Content-Type`.
    pub content_type: Option<&'a str>,
    /// Its content.
    pub body: &'a [u8],
}

/// Why a multipart body could not be read to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MultipartError {
    /// The body holds no delimiter line.
    #[error("no multipart delimiter in the body")]
    NoDelimiter,
    /// The body ends without the closing delimiter.
    #[error("the multipart body is not terminated")]
    Unterminated,
    /// A part's headers are not text or too long.
    #[error("a multipart part has malformed headers")]
    MalformedHeaders,
    /// More parts than allowed.
    #[error("too many multipart parts")]
    TooManyParts,
}

/// The parts read, and why reading stopped early if it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Multipart<'a> {
    /// The parts read, in order.
    pub parts: Vec<Part<'a>>,
    /// Set when the body could not be read to its closing delimiter.
    pub error: Option<MultipartError>,
}

/// The `boundary` parameter of a multipart `Content-Type`.
pub fn boundary(content_type: &str) -> Option<&str> {
    parameters(content_type)
        .find(|(k, _)| k.eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v)
        .filter(|b| !b.is_empty() && b.len() <= 200)
}

/// Read the parts of `body`, delimited by `--boundary`, at most `max_parts` of them.
pub fn parts<'a>(body: &'a [u8], boundary: &str, max_parts: usize) -> Multipart<'a> {
    let delimiter = format!("--{boundary}");
    let finder = memmem::Finder::new(delimiter.as_bytes());
    let mut result = Multipart {
        parts: Vec::new(),
        error: None,
    };
    let Some(first) = finder.find(body) else {
        result.error = Some(MultipartError::NoDelimiter);
        return result;
    };
    let mut at = first + delimiter.len();
    loop {
        let rest = &body[at..];
        if rest.starts_with(b"--") {
            return result;
        }
        if result.parts.len() >= max_parts {
            result.error = Some(MultipartError::TooManyParts);
            return result;
        }
        // The rest of the delimiter line (transport padding) is ignored.
        let Some(line_end) = memchr::memchr(b'\n', rest) else {
            result.error = Some(MultipartError::Unterminated);
            return result;
        };
        let part_start = at + line_end + 1;
        let part = &body[part_start..];
        let (headers, content_start) = match header_block(part) {
            Some(found) => found,
            None => {
                result.error = Some(MultipartError::MalformedHeaders);
                return result;
            }
        };
        let Ok(headers) = std::str::from_utf8(headers) else {
            result.error = Some(MultipartError::MalformedHeaders);
            return result;
        };
        let content = &part[content_start..];
        let (content_len, next) = match finder.find(content) {
            Some(found) => (found, part_start + content_start + found + delimiter.len()),
            None => {
                result.error = Some(MultipartError::Unterminated);
                (content.len(), body.len())
            }
        };
        // The line break before the delimiter belongs to the delimiter.
        let mut data = &content[..content_len];
        data = data.strip_suffix(b"\n").unwrap_or(data);
        data = data.strip_suffix(b"\r").unwrap_or(data);
        result
            .parts
            .push(part_from_headers(result.parts.len() + 1, headers, data));
        if result.error.is_some() {
            return result;
        }
        at = next;
    }
}

/// The header block of a part and where its content starts; `None` when no blank line ends it
/// within [`MAX_PART_HEADERS`].
fn header_block(part: &[u8]) -> Option<(&[u8], usize)> {
    if part.starts_with(b"\r\n") {
        return Some((&[], 2));
    }
    if part.starts_with(b"\n") {
        return Some((&[], 1));
    }
    let window = &part[..part.len().min(MAX_PART_HEADERS)];
    let crlf = memmem::find(window, b"\r\n\r\n").map(|i| (i, i + 4));
    let lf = memmem::find(window, b"\n\n").map(|i| (i, i + 2));
    let (end, start) = match (crlf, lf) {
        (Some(a), Some(b)) => {
            if a.0 <= b.0 {
                a
            } else {
                b
            }
        }
        (Some(a), None) => a,
        (None, Some(b)) => b,
        (None, None) => return None,
    };
    Some((&part[..end], start))
}

fn part_from_headers<'a>(index: usize, headers: &'a str, body: &'a [u8]) -> Part<'a> {
    let mut part = Part {
        index,
        name: None,
        filename: None,
        content_type: None,
        body,
    };
    for line in headers.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let key = key.trim();
        if key.eq_ignore_ascii_case("content-disposition") {
            for (k, v) in parameters(value) {
                if k.eq_ignore_ascii_case("name") {
                    part.name = Some(v);
                } else if k.eq_ignore_ascii_case("filename") || k.eq_ignore_ascii_case("filename*")
                {
                    part.filename = Some(v);
                }
            }
        } else if key.eq_ignore_ascii_case("content-type") {
            part.content_type = Some(value.trim());
        }
    }
    part
}

/// The `key=value` parameters after the first `;` of a header value, quotes removed.
fn parameters(value: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut rest = value.split_once(';').map_or("", |(_, r)| r);
    std::iter::from_fn(move || {
        loop {
            rest = rest.trim_start_matches([' ', '\t', ';']);
            if rest.is_empty() {
                return None;
            }
            let eq = rest.find(['=', ';']);
            let Some(eq) = eq.filter(|&i| rest.as_bytes()[i] == b'=') else {
                // A parameter without a value: skip it.
                rest = rest.find(';').map_or("", |i| &rest[i..]);
                continue;
            };
            let key = rest[..eq].trim();
            let after = rest[eq + 1..].trim_start();
            let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
                match quoted.find('"') {
                    Some(end) => (&quoted[..end], &quoted[end + 1..]),
                    None => (quoted, ""),
                }
            } else {
                let end = after.find(';').unwrap_or(after.len());
                (after[..end].trim_end(), &after[end..])
            };
            rest = remaining;
            return Some((key, value));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_are_read_quoted_or_not() {
        assert_eq!(boundary("multipart/form-data; boundary=abc"), Some("abc"));
        assert_eq!(
            boundary(
                "multipart/related; type=\"application/dicom\"; boundary=\"DICOMwebBoundary\""
            ),
            Some("DICOMwebBoundary")
        );
        assert_eq!(boundary("multipart/form-data"), None);
    }

    #[test]
    fn fields_files_and_their_names_are_read() {
        let body = b"--xx\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--xx\r\nContent-Disposition: form-data; name=\"scan\"; filename=\"a;b.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--xx--\r\n";
        let m = parts(body, "xx", 10);
        assert_eq!(m.error, None);
        assert_eq!(m.parts.len(), 2);
        assert_eq!(m.parts[0].name, Some("note"));
        assert_eq!(m.parts[0].body, b"hello");
        assert_eq!(m.parts[1].filename, Some("a;b.png"));
        assert_eq!(m.parts[1].content_type, Some("image/png"));
        assert_eq!(m.parts[1].body, b"\x89PNG");
    }

    #[test]
    fn broken_bodies_say_why_and_keep_what_was_read() {
        let m = parts(
            b"--xx\r\nContent-Disposition: form-data; name=a\r\n\r\nvalue",
            "xx",
            10,
        );
        assert_eq!(m.error, Some(MultipartError::Unterminated));
        assert_eq!(m.parts[0].body, b"value");
        assert_eq!(
            parts(b"no delimiter", "xx", 10).error,
            Some(MultipartError::NoDelimiter)
        );
        let many = b"--b\r\n\r\n1\r\n--b\r\n\r\n2\r\n--b\r\n\r\n3\r\n--b--";
        let m = parts(many, "b", 2);
        assert_eq!(m.error, Some(MultipartError::TooManyParts));
        assert_eq!(m.parts.len(), 2);
    }
}
