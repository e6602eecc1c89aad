//! Text normalisation: NUL bytes, whitespace look-alikes, invisible and fullwidth characters.

use std::borrow::Cow;

use crate::detect::ascii::any_byte;

/// What text normalisation found and did.
#[derive(Debug)]
pub struct NormalisedText<'a> {
    /// The normalised text.
    pub text: Cow<'a, str>,
    /// Whether the text held a NUL byte (never legitimate in a request's text).
    pub had_nul: bool,
}

/// Drop NUL bytes and invisible characters, map whitespace substitutes (`\t`, `\v`, NBSP,
/// the Unicode spaces) to a space and fullwidth ASCII (`＜`) to ASCII.
pub fn normalise_text(input: &str) -> NormalisedText<'_> {
    // Most text has nothing to normalise: find the first character that changes, if any.
    let first_change = if !any_byte(input.as_bytes(), |b| !(0x20..0x7F).contains(&b)) {
        None
    } else {
        input
            .char_indices()
            .find(|(_, c)| mapping(*c) != Mapping::Keep)
            .map(|(at, _)| at)
    };
    let Some(at) = first_change else {
        return NormalisedText {
            text: Cow::Borrowed(input),
            had_nul: false,
        };
    };
    let mut out = String::with_capacity(input.len());
    out.push_str(input.get(..at).unwrap_or(""));
    let mut had_nul = false;
    for c in input.get(at..).unwrap_or("").chars() {
        match mapping(c) {
            Mapping::Keep => out.push(c),
            Mapping::Drop => had_nul |= c == '\0',
            Mapping::To(to) => out.push(to),
        }
    }
    NormalisedText {
        text: Cow::Owned(out),
        had_nul,
    }
}

/// What normalisation does with one character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mapping {
    Keep,
    Drop,
    To(char),
}

fn mapping(c: char) -> Mapping {
    match c {
        '\0' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{AD}' => Mapping::Drop,
        '\t'
        | '\u{0B}'
        | '\u{0C}'
        | '\u{A0}'
        | '\u{1680}'
        | '\u{2000}'..='\u{200A}'
        | '\u{2028}'
        | '\u{2029}'
        | '\u{202F}'
        | '\u{205F}'
        | '\u{3000}' => Mapping::To(' '),
        '\u{FF01}'..='\u{FF5E}' => Mapping::To(char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c)),
        _ => Mapping::Keep,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_and_invisibles_normalise() {
        let n = normalise_text("＜script＞\u{a0}a\u{200b}b\0c\td");
        assert_eq!(n.text, "<script> abc d");
        assert!(n.had_nul);
    }

    #[test]
    fn line_breaks_and_plain_text_stay() {
        let n = normalise_text("a\r\nb");
        assert_eq!(n.text, "a\r\nb");
        assert!(!n.had_nul);
        assert!(matches!(normalise_text("plain").text, Cow::Borrowed(_)));
        assert_eq!(normalise_text("Zoë").text, "Zoë");
    }
}
