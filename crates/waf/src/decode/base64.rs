//! Base64 values that decode to readable text: attackers wrap payloads in them, applications
//! unwrap them.

/// Values shorter than this are words more often than Base64.
pub const MIN_LEN: usize = 8;
/// Values longer than this are not unwrapped (bounded work per value).
pub const MAX_LEN: usize = 64 * 1024;

/// Decode `value` as standard or URL-safe Base64 (padding optional) when the whole value is
/// Base64 and the result is printable UTF-8 text; otherwise `None`.
pub fn decode_printable(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    // A value with spaces is words, not one Base64 token.
    if !(MIN_LEN..=MAX_LEN).contains(&bytes.len()) || bytes.iter().any(u8::is_ascii_whitespace) {
        return None;
    }
    // Give up at the first control byte: most values that are not Base64 fail within a few
    // characters, before the whole value is decoded.
    let mut decoded = decode_with(bytes, |b| {
        b >= 0x20 || matches!(b, b'\t' | b'\n' | b'\r' | 0)
    })?;
    // A NUL or two inside longer text is an evasion (`<scr\0ipt`), which a C string
    // function of the application drops or stops at; the text around it is what is judged.
    let nuls = decoded.iter().filter(|b| **b == 0).count();
    if nuls > 0 {
        if nuls > MAX_NULS || decoded.len() < MIN_LEN * 2 {
            return None;
        }
        decoded.retain(|b| *b != 0);
    }
    let text = String::from_utf8(decoded).ok()?;
    is_printable(&text).then_some(text)
}

/// NUL bytes tolerated inside decoded text.
const MAX_NULS: usize = 2;

/// Decode standard or URL-safe Base64 with optional padding, line breaks and spaces ignored
/// (MIME wraps its lines); `None` on any other character.
pub fn decode(bytes: &[u8]) -> Option<Vec<u8>> {
    decode_with(bytes, |_| true)
}

/// Decode, stopping with `None` at the first byte `keep` refuses.
fn decode_with(bytes: &[u8], keep: impl Fn(u8) -> bool) -> Option<Vec<u8>> {
    let trimmed = bytes.trim_ascii_end();
    let unpadded = trimmed
        .strip_suffix(b"==")
        .or(trimmed.strip_suffix(b"="))
        .unwrap_or(trimmed);
    let mut out = Vec::with_capacity(unpadded.len() / 4 * 3 + 2);
    let mut acc: u32 = 0;
    let mut bits = 0;
    let mut count = 0usize;
    for &b in unpadded {
        if matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
            continue;
        }
        count += 1;
        acc = acc << 6 | u32::from(sextet(b)?);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            let byte = (acc >> bits) as u8;
            if !keep(byte) {
                return None;
            }
            out.push(byte);
            acc &= (1 << bits) - 1;
        }
    }
    if count % 4 == 1 {
        return None;
    }
    Some(out)
}

fn sextet(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    }
}

/// Text a person or a program would write: no control characters but line breaks and tabs.
fn is_printable(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_payloads_unwrap() {
        assert_eq!(
            decode_printable("PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg").as_deref(),
            Some("<script>alert(1)</script>")
        );
        assert_eq!(
            decode_printable("Li4vLi4vZXRjL3Bhc3N3ZA==").as_deref(),
            Some("../../etc/passwd")
        );
        // `<scr\0ipt/src=http://xss.com/xss.js></script`
        assert_eq!(
            decode_printable("PDxzY3IAaXB0L3NyYz1odHRwOi8veHNzLmNvbS94c3MuanM+PC9zY3JpcHQ")
                .as_deref(),
            Some("<<script/src=http://xss.com/xss.js></script")
        );
        // Binary with many NULs stays binary.
        assert_eq!(decode_printable("AAAAAAAAAAAAAAAAYWJj"), None);
    }

    #[test]
    fn words_ids_and_binary_do_not() {
        for value in [
            "Patient",
            "edge-pt-obrien",
            "2f9c6a7e0d1b",
            "hello world",
            "AAECAwQFBgcICQ",
        ] {
            assert_eq!(decode_printable(value), None, "{value}");
        }
        assert_eq!(decode(b"QQ"), Some(b"A".to_vec()));
        assert_eq!(decode(b"Q"), None);
        assert_eq!(decode(b"aGVs\r\nbG8=\n"), Some(b"hello".to_vec()));
    }
}
