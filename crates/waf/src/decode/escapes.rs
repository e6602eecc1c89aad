//! JavaScript and Unicode escapes: `\x41`, `\u0041`, `\u{41}`.

use std::borrow::Cow;

use super::percent::hex_digit;

/// Decode `\xHH`, `\uHHHH` (surrogate pairs joined) and `\u{H..H}`; other backslashes stay.
pub fn decode_escapes(input: &str) -> Cow<'_, str> {
    let bytes = input.as_bytes();
    let Some(first) = memchr::memchr(b'\\', bytes) else {
        return Cow::Borrowed(input);
    };
    let mut out = String::with_capacity(input.len());
    out.push_str(&input[..first]);
    let mut i = first;
    let mut changed = false;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && let Some((c, len)) = escape_at(&bytes[i + 1..])
        {
            out.push(c);
            i += 1 + len;
            changed = true;
            continue;
        }
        let next = memchr::memchr(b'\\', &bytes[i + 1..]).map_or(bytes.len(), |n| i + 1 + n);
        out.push_str(&input[i..next]);
        i = next;
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(input)
    }
}

fn hex_value(digits: &[u8]) -> Option<u32> {
    digits
        .iter()
        .try_fold(0u32, |acc, &b| Some(acc << 4 | u32::from(hex_digit(b)?)))
}

/// The escape right after a backslash, as (character, bytes consumed after the backslash).
fn escape_at(rest: &[u8]) -> Option<(char, usize)> {
    match rest.first()? {
        b'x' | b'X' => {
            let v = hex_value(rest.get(1..3)?)?;
            Some((char::from_u32(v)?, 3))
        }
        b'u' | b'U' if rest.get(1) == Some(&b'{') => {
            let close = rest.iter().take(10).position(|&b| b == b'}')?;
            let digits = rest.get(2..close)?;
            if digits.is_empty() || digits.len() > 6 {
                return None;
            }
            let c = char::from_u32(hex_value(digits)?).unwrap_or(char::REPLACEMENT_CHARACTER);
            Some((c, close + 1))
        }
        b'u' | b'U' => {
            let unit = hex_value(rest.get(1..5)?)?;
            if (0xD800..0xDC00).contains(&unit)
                && rest.get(5) == Some(&b'\\')
                && matches!(rest.get(6), Some(b'u' | b'U'))
                && let Some(low) = rest.get(7..11).and_then(hex_value)
                && (0xDC00..0xE000).contains(&low)
            {
                let c = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                return Some((char::from_u32(c)?, 11));
            }
            Some((
                char::from_u32(unit).unwrap_or(char::REPLACEMENT_CHARACTER),
                5,
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_unicode_and_braced_escapes_decode() {
        assert_eq!(decode_escapes(r"\x3cscript\x3E"), "<script>");
        assert_eq!(decode_escapes(r"\u0061lert\u{28}1\u{000029}"), "alert(1)");
        assert_eq!(decode_escapes(r"\uD83D\uDE00"), "😀");
        assert_eq!(decode_escapes(r"\uD83D"), "\u{FFFD}");
    }

    #[test]
    fn other_backslashes_stay() {
        assert_eq!(decode_escapes(r"C:\Windows\n\x"), r"C:\Windows\n\x");
        assert_eq!(decode_escapes(r"\u{}\u{1234567}"), r"\u{}\u{1234567}");
        assert!(matches!(decode_escapes("plain"), Cow::Borrowed(_)));
    }
}
