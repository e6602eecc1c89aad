//! Text normalisation: NUL bytes, whitespace look-alikes, invisible and fullwidth characters.

use std::borrow::Cow;

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
    let plain = input.bytes().all(|b| (0x20..0x7F).contains(&b));
    if plain {
        return NormalisedText {
            text: Cow::Borrowed(input),
            had_nul: false,
        };
    }
    let mut out = String::with_capacity(input.len());
    let mut had_nul = false;
    for c in input.chars() {
        match c {
            '\0' => had_nul = true,
            '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{AD}' => {}
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
            | '\u{3000}' => out.push(' '),
            '\u{FF01}'..='\u{FF5E}' => {
                out.push(char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c));
            }
            other => out.push(other),
        }
    }
    let text = if out == input {
        Cow::Borrowed(input)
    } else {
        Cow::Owned(out)
    };
    NormalisedText { text, had_nul }
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
