//! Writing one line of JSON by hand into a reused buffer: the exchange record is written once
//! per request, and building it through serde (or formatting its parts into `String`s first)
//! was most of what the record cost.
//!
//! Strings are escaped exactly as `serde_json` escapes them (`"` and `\`, and control
//! characters as `\b \t \n \f \r` or `\u00xx`), so the record reads the same as before.

use std::net::SocketAddr;
use std::time::SystemTime;

/// Append `text` as a JSON string, quoted and escaped.
pub(crate) fn push_str(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // Nearly every record string is plain: one look, one copy.
    if !any_to_escape(bytes) {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    while let Some(offset) = first_to_escape(&bytes[start..]) {
        let at = start + offset;
        out.extend_from_slice(&bytes[start..at]);
        let byte = bytes[at];
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            _ => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(byte >> 4)]);
                out.push(HEX[usize::from(byte & 0x0f)]);
            }
        }
        start = at + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Append `text`, one of the gateway's own fixed codes and names (a rule code, an outcome, a
/// protocol version), as a JSON string: they hold nothing JSON escapes, so they are copied
/// without the look for bytes to escape that a string from a request needs.
pub(crate) fn push_plain(out: &mut Vec<u8>, text: &'static str) {
    debug_assert!(!any_to_escape(text.as_bytes()), "{text:?} needs escaping");
    out.reserve(text.len() + 2);
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}

/// [`push_plain`], or `null`.
pub(crate) fn push_opt_plain(out: &mut Vec<u8>, text: Option<&'static str>) {
    match text {
        Some(text) => push_plain(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

/// Whether a byte must be escaped in a JSON string.
fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// Eight bytes as a word, with a high bit set in each lane that is below 0x20, a quote or a
/// backslash (and possibly in a lane above one that is: only "none" is exact).
fn escape_lanes(chunk: &[u8]) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut word = [0u8; 8];
    word.copy_from_slice(chunk);
    let word = u64::from_le_bytes(word);
    let below_space = word.wrapping_sub(ONES * 0x20) & !word;
    let quote = word ^ (ONES * u64::from(b'"'));
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let is_quote = quote.wrapping_sub(ONES) & !quote;
    let is_backslash = backslash.wrapping_sub(ONES) & !backslash;
    (below_space | is_quote | is_backslash) & HIGHS
}

/// Whether any byte must be escaped, looking at eight bytes at a time (the last word
/// overlapping the one before it) instead of finishing byte by byte.
fn any_to_escape(bytes: &[u8]) -> bool {
    if bytes.len() < 8 {
        return bytes.iter().any(|&byte| needs_escape(byte));
    }
    let mut chunks = bytes.chunks_exact(8);
    if chunks.by_ref().any(|chunk| escape_lanes(chunk) != 0) {
        return true;
    }
    !chunks.remainder().is_empty() && escape_lanes(&bytes[bytes.len() - 8..]) != 0
}

/// The position of the first byte to escape, looking at eight bytes at a time: record
/// strings rarely hold one, and a byte-by-byte look was most of the record's cost.
fn first_to_escape(bytes: &[u8]) -> Option<usize> {
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in chunks.by_ref() {
        if escape_lanes(chunk) != 0 {
            break;
        }
        offset += 8;
    }
    bytes[offset..]
        .iter()
        .position(|&byte| needs_escape(byte))
        .map(|position| offset + position)
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Append `text` as a JSON string, or `null`.
pub(crate) fn push_opt_str(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => push_str(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

/// Append `,"name":` (`name` a literal field name needing no escaping), in one copy.
macro_rules! push_key {
    ($out:expr, $name:literal) => {
        $out.extend_from_slice(concat!(",\"", $name, "\":").as_bytes())
    };
}
pub(crate) use push_key;

/// Append a list of strings as a JSON array.
pub(crate) fn push_str_array(out: &mut Vec<u8>, items: &[String]) {
    out.push(b'[');
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        push_str(out, item);
    }
    out.push(b']');
}

/// Append a number in decimal, as JSON writes it.
pub(crate) fn push_number(out: &mut Vec<u8>, value: u64) {
    // Most record numbers (phase times, status, counts) have one to three digits: written
    // without a digit buffer or a copy of a length the compiler does not know.
    if value < 10 {
        out.push(b'0' + value as u8);
        return;
    }
    if value < 100 {
        out.extend_from_slice(&[b'0' + (value / 10) as u8, b'0' + (value % 10) as u8]);
        return;
    }
    if value < 1000 {
        out.extend_from_slice(&[
            b'0' + (value / 100) as u8,
            b'0' + (value / 10 % 10) as u8,
            b'0' + (value % 10) as u8,
        ]);
        return;
    }
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = value;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

/// Append `true` or `false`.
pub(crate) fn push_bool(out: &mut Vec<u8>, value: bool) {
    out.extend_from_slice(if value { b"true" } else { b"false" });
}

/// Append bytes as lowercase hexadecimal, quoted (a certificate fingerprint).
pub(crate) fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    for byte in bytes {
        out.push(HEX[usize::from(byte >> 4)]);
        out.push(HEX[usize::from(byte & 0x0f)]);
    }
    out.push(b'"');
}

/// Append a socket address as its `Display` text, quoted (`"127.0.0.1:5555"`, `"[::1]:80"`).
pub(crate) fn push_socket_addr(out: &mut Vec<u8>, addr: SocketAddr) {
    match addr {
        SocketAddr::V4(v4) => {
            out.push(b'"');
            for (index, octet) in v4.ip().octets().into_iter().enumerate() {
                if index > 0 {
                    out.push(b'.');
                }
                push_number(out, u64::from(octet));
            }
            out.push(b':');
            push_number(out, u64::from(v4.port()));
            out.push(b'"');
        }
        // IPv6 text has its own compression rules: std's formatting is the one to match.
        SocketAddr::V6(v6) => push_str(out, &v6.to_string()),
    }
}

thread_local! {
    /// The second last written and its RFC 3339 text up to the seconds
    /// (`2026-11-29T10:00:10`): formatting the date and time of day once a second, not once
    /// per record.
    static SECOND: std::cell::Cell<Option<(u64, [u8; 19])>> = const { std::cell::Cell::new(None) };
}

/// Append `at` as an RFC 3339 UTC timestamp, quoted, exactly as `time`'s `Rfc3339` writes it:
/// the fraction of a second with its trailing zeros removed (none if it is zero), then `Z`.
pub(crate) fn push_time(out: &mut Vec<u8>, at: SystemTime) {
    let Ok(since_epoch) = at.duration_since(SystemTime::UNIX_EPOCH) else {
        return push_time_slowly(out, at);
    };
    let seconds = since_epoch.as_secs();
    let prefix = match SECOND.get() {
        Some((cached, prefix)) if cached == seconds => prefix,
        _ => {
            let Some(prefix) = second_prefix(seconds) else {
                return push_time_slowly(out, at);
            };
            SECOND.set(Some((seconds, prefix)));
            prefix
        }
    };
    out.push(b'"');
    out.extend_from_slice(&prefix);
    let nanos = since_epoch.subsec_nanos();
    if nanos != 0 {
        let mut digits = [0u8; 9];
        let mut rest = nanos;
        for digit in digits.iter_mut().rev() {
            *digit = b'0' + (rest % 10) as u8;
            rest /= 10;
        }
        let len = digits
            .iter()
            .rposition(|&d| d != b'0')
            .map_or(0, |last| last + 1);
        out.push(b'.');
        out.extend_from_slice(&digits[..len]);
    }
    out.extend_from_slice(b"Z\"");
}

/// `YYYY-MM-DDTHH:MM:SS` of a whole second since the epoch (`None` past year 9999).
fn second_prefix(seconds: u64) -> Option<[u8; 19]> {
    use time::format_description::well_known::Rfc3339;
    let at = time::OffsetDateTime::from_unix_timestamp(i64::try_from(seconds).ok()?).ok()?;
    let text = at.format(&Rfc3339).ok()?;
    // A whole second in UTC: `YYYY-MM-DDTHH:MM:SSZ`.
    text.as_bytes().get(..19)?.try_into().ok()
}

/// A time before the epoch or past year 9999: formatted whole (empty when it cannot be).
fn push_time_slowly(out: &mut Vec<u8>, at: SystemTime) {
    use time::format_description::well_known::Rfc3339;
    let text = time::OffsetDateTime::from(at)
        .format(&Rfc3339)
        .unwrap_or_default();
    push_str(out, &text);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn text(write: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        write(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        for sample in [
            "",
            "plain",
            "quote \" backslash \\ slash /",
            "controls \u{0} \u{1} \u{8} \t \n \u{b} \u{c} \r \u{1f} \u{7f}",
            "unicode é ∑ 🩺 and a ' quote",
            "\"",
            "\n\n",
        ] {
            assert_eq!(
                text(|out| push_str(out, sample)),
                serde_json::to_string(sample).unwrap(),
                "{sample:?}"
            );
        }
        // Every byte to escape at every place of a word, between plain and multi-byte text.
        for special in ['"', '\\', '\n', '\u{0}', '\u{1f}', ' ', '\u{7f}', 'é'] {
            for at in 0..20 {
                let sample: String = (0..20)
                    .map(|i| {
                        if i == at {
                            special
                        } else if i % 7 == 3 {
                            '∑'
                        } else {
                            'a'
                        }
                    })
                    .collect();
                assert_eq!(
                    text(|out| push_str(out, &sample)),
                    serde_json::to_string(&sample).unwrap(),
                    "{sample:?}"
                );
            }
        }
    }

    #[test]
    fn numbers_addresses_and_fingerprints_read_as_their_display() {
        for value in [0, 7, 10, 1234, u64::MAX] {
            assert_eq!(text(|out| push_number(out, value)), value.to_string());
        }
        for addr in [
            "127.0.0.1:5555",
            "10.0.255.3:0",
            "[::1]:443",
            "[2001:db8::7%3]:80",
        ] {
            let addr: SocketAddr = addr.parse().unwrap();
            assert_eq!(
                text(|out| push_socket_addr(out, addr)),
                format!("\"{addr}\"")
            );
        }
        let bytes = [0x00, 0x0f, 0xa0, 0xff];
        assert_eq!(text(|out| push_hex(out, &bytes)), "\"000fa0ff\"");
    }

    #[test]
    fn timestamps_read_as_rfc3339_of_the_time_crate() {
        use time::format_description::well_known::Rfc3339;
        let base = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_939_210);
        for offset in [
            Duration::ZERO,
            Duration::from_nanos(1),
            Duration::from_millis(100),
            Duration::from_nanos(123_456_789),
            Duration::from_nanos(120_000_000),
            Duration::from_secs(1) + Duration::from_nanos(999_999_999),
            Duration::from_secs(86_400 * 400) + Duration::from_micros(5),
        ] {
            let at = base + offset;
            let expected = time::OffsetDateTime::from(at).format(&Rfc3339).unwrap();
            // Twice: the second time from the cached second.
            for _ in 0..2 {
                assert_eq!(text(|out| push_time(out, at)), format!("\"{expected}\""));
            }
        }
        let before_epoch = SystemTime::UNIX_EPOCH - Duration::from_millis(1500);
        assert_eq!(
            text(|out| push_time(out, before_epoch)),
            "\"1969-12-31T23:59:58.5Z\""
        );
    }
}
