//! Turning decoded bytes into text the way a lenient server would, overlong forms included.

use std::borrow::Cow;

/// Bytes read as UTF-8, with the overlong forms (`C0 AF` for `/`) that old decoders accepted
/// read as the character they spell; any other invalid byte becomes U+FFFD.
#[derive(Debug)]
pub struct LenientText<'a> {
    /// The text.
    pub text: Cow<'a, str>,
    /// Whether an overlong form was found: never legitimate (RFC 3629), always an evasion.
    pub overlong: bool,
}

/// Read `bytes` as UTF-8, decoding overlong forms (see [`LenientText`]).
pub fn decode_lenient(bytes: &[u8]) -> LenientText<'_> {
    let first_error = match std::str::from_utf8(bytes) {
        Ok(text) => {
            return LenientText {
                text: Cow::Borrowed(text),
                overlong: false,
            };
        }
        Err(e) => e,
    };
    let mut out = String::with_capacity(bytes.len());
    let mut overlong = false;
    let mut rest = bytes;
    let mut error = Some(first_error);
    while let Some(e) = error.take() {
        let (valid, after) = rest.split_at(e.valid_up_to());
        // `valid_up_to` guarantees this prefix is UTF-8.
        out.push_str(std::str::from_utf8(valid).unwrap_or_default());
        let consumed = match overlong_char(after) {
            Some((c, len)) => {
                overlong = true;
                out.push(c);
                len
            }
            None => {
                out.push(char::REPLACEMENT_CHARACTER);
                e.error_len().unwrap_or(after.len()).max(1)
            }
        };
        rest = &after[consumed.min(after.len())..];
        match std::str::from_utf8(rest) {
            Ok(tail) => out.push_str(tail),
            Err(next) => error = Some(next),
        }
    }
    LenientText {
        text: Cow::Owned(out),
        overlong,
    }
}

fn is_continuation(b: Option<&u8>) -> bool {
    matches!(b, Some(b) if b & 0xC0 == 0x80)
}

/// An overlong 2-, 3- or 4-byte sequence at the start of `bytes`, as (character, length).
fn overlong_char(bytes: &[u8]) -> Option<(char, usize)> {
    let b0 = *bytes.first()?;
    let (len, initial) = match b0 {
        0xC0 | 0xC1 => (2, u32::from(b0 & 0x1F)),
        0xE0 if matches!(bytes.get(1), Some(0x80..=0x9F)) => (3, u32::from(b0 & 0x0F)),
        0xF0 if matches!(bytes.get(1), Some(0x80..=0x8F)) => (4, u32::from(b0 & 0x07)),
        _ => return None,
    };
    let mut code = initial;
    for i in 1..len {
        if !is_continuation(bytes.get(i)) {
            return None;
        }
        code = code << 6 | u32::from(bytes[i] & 0x3F);
    }
    Some((char::from_u32(code)?, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlong_slash_and_dot_are_read_and_flagged() {
        let t = decode_lenient(&[0xC0, 0xAE, 0xC0, 0xAE, 0xC0, 0xAF, b'x']);
        assert_eq!(t.text, "../x");
        assert!(t.overlong);
        let t = decode_lenient(&[0xE0, 0x80, 0xAF]);
        assert_eq!(t.text, "/");
        let t = decode_lenient(&[0xC1, 0x9C]);
        assert_eq!(t.text, "\\");
    }

    #[test]
    fn valid_text_borrows_and_junk_becomes_replacement() {
        let t = decode_lenient("O’Brien".as_bytes());
        assert!(matches!(t.text, Cow::Borrowed("O’Brien")));
        assert!(!t.overlong);
        let t = decode_lenient(&[b'a', 0xFF, b'b', 0xC0]);
        assert_eq!(t.text, "a\u{FFFD}b\u{FFFD}");
        assert!(!t.overlong);
    }
}
