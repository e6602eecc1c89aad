//! Percent-decoding as servers do it, and as attackers stack it.

use std::borrow::Cow;

/// How to read `%` escapes and `+`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PercentOptions {
    /// Read `+` as a space (query strings and form bodies).
    pub plus_as_space: bool,
    /// Read IIS's `%uXXXX` as the UTF-16 code unit it names.
    pub iis_unicode: bool,
}

/// Decode every `%XX` (and, with the options, `%uXXXX` and `+`) once.
///
/// Malformed escapes (`%zz`, a lone `%` at the end) are kept as written, as most servers do.
/// Borrows when there is nothing to decode; the result may be invalid UTF-8 (`%C0%AF`).
pub fn percent_decode(input: &[u8], options: PercentOptions) -> Cow<'_, [u8]> {
    let needs_work = memchr::memchr(b'%', input).is_some()
        || (options.plus_as_space && memchr::memchr(b'+', input).is_some());
    if !needs_work {
        return Cow::Borrowed(input);
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        match b {
            b'%' => {
                if let Some(byte) = hex_pair(input.get(i + 1..i + 3)) {
                    out.push(byte);
                    i += 3;
                    continue;
                }
                if options.iis_unicode
                    && matches!(input.get(i + 1), Some(b'u' | b'U'))
                    && let Some(unit) = hex_quad(input.get(i + 2..i + 6))
                {
                    push_utf16_unit(&mut out, unit);
                    i += 6;
                    continue;
                }
                out.push(b'%');
                i += 1;
            }
            b'+' if options.plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    if out == input {
        Cow::Borrowed(input)
    } else {
        Cow::Owned(out)
    }
}

/// The value of one hexadecimal digit.
pub(crate) fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn hex_pair(pair: Option<&[u8]>) -> Option<u8> {
    match pair {
        Some([hi, lo]) => Some(hex_digit(*hi)? << 4 | hex_digit(*lo)?),
        _ => None,
    }
}

fn hex_quad(quad: Option<&[u8]>) -> Option<u16> {
    let quad = quad?;
    let mut value: u16 = 0;
    for &b in quad {
        value = value << 4 | u16::from(hex_digit(b)?);
    }
    Some(value)
}

/// IIS decodes `%uXXXX` to the code unit; a lone surrogate cannot be a character, so it becomes
/// U+FFFD. Fullwidth forms are left for the text normaliser.
fn push_utf16_unit(out: &mut Vec<u8>, unit: u16) {
    let c = char::from_u32(u32::from(unit)).unwrap_or(char::REPLACEMENT_CHARACTER);
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(s: &str, plus: bool, iis: bool) -> Vec<u8> {
        let options = PercentOptions {
            plus_as_space: plus,
            iis_unicode: iis,
        };
        percent_decode(s.as_bytes(), options).into_owned()
    }

    #[test]
    fn escapes_plus_and_iis_units_decode() {
        assert_eq!(decode("a%20b%3Cc%3e", false, false), b"a b<c>");
        assert_eq!(decode("a+b", true, false), b"a b");
        assert_eq!(decode("a+b", false, false), b"a+b");
        assert_eq!(decode("%u003cscript%u003E", false, true), b"<script>");
        assert_eq!(decode("%u003c", false, false), b"%u003c");
        assert_eq!(decode("%C0%AF", false, false), vec![0xC0, 0xAF]);
    }

    #[test]
    fn malformed_escapes_stay_as_written() {
        assert_eq!(decode("100%", false, true), b"100%");
        assert_eq!(decode("%zz%4", false, true), b"%zz%4");
        assert_eq!(decode("%u12", false, true), b"%u12");
        assert_eq!(decode("%%41", false, false), b"%A");
    }

    #[test]
    fn nothing_to_decode_borrows() {
        assert!(matches!(
            percent_decode(b"plain", PercentOptions::default()),
            Cow::Borrowed(_)
        ));
    }
}
