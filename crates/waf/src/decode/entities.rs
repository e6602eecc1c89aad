//! HTML character references: named, decimal and hexadecimal, with or without the `;`.

use std::borrow::Cow;

/// Named references attackers use to hide markup and URL schemes, sorted for binary search.
/// Browsers accept many of them without a trailing `;` (`&lt` `&colon`), so we do too.
const NAMED: &[(&str, char)] = &[
    ("AMP", '&'),
    ("GT", '>'),
    ("LT", '<'),
    ("NewLine", '\n'),
    ("QUOT", '"'),
    ("Tab", '\t'),
    ("amp", '&'),
    ("apos", '\''),
    ("ast", '*'),
    ("bsol", '\\'),
    ("colon", ':'),
    ("comma", ','),
    ("commat", '@'),
    ("dollar", '$'),
    ("equals", '='),
    ("excl", '!'),
    ("grave", '`'),
    ("gt", '>'),
    ("hyphen", '-'),
    ("lbrace", '{'),
    ("lbrack", '['),
    ("lcub", '{'),
    ("lowbar", '_'),
    ("lpar", '('),
    ("lsqb", '['),
    ("lt", '<'),
    ("midast", '*'),
    ("nbsp", '\u{a0}'),
    ("num", '#'),
    ("percnt", '%'),
    ("period", '.'),
    ("plus", '+'),
    ("quest", '?'),
    ("quot", '"'),
    ("rbrace", '}'),
    ("rbrack", ']'),
    ("rcub", '}'),
    ("rpar", ')'),
    ("rsqb", ']'),
    ("semi", ';'),
    ("sol", '/'),
    ("tilde", '~'),
    ("verbar", '|'),
    ("vert", '|'),
];

/// The longest name in [`NAMED`]; longer runs of letters are not references.
const MAX_NAME: usize = 8;
/// Digits beyond this (after leading zeros) cannot name a character.
const MAX_DIGITS: usize = 8;

/// Decode the character references in `input`; borrows when there is no `&`.
pub fn decode_entities(input: &str) -> Cow<'_, str> {
    let Some(first) = memchr::memchr(b'&', input.as_bytes()) else {
        return Cow::Borrowed(input);
    };
    let bytes = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    out.push_str(&input[..first]);
    let mut i = first;
    let mut changed = false;
    while i < bytes.len() {
        if bytes[i] == b'&'
            && let Some((c, len)) = reference_at(&bytes[i + 1..])
        {
            out.push(c);
            i += 1 + len;
            changed = true;
            continue;
        }
        // Copy up to the next `&` in one go; `&` is ASCII so the slice stays on char boundaries.
        let next = memchr::memchr(b'&', &bytes[i + 1..]).map_or(bytes.len(), |n| i + 1 + n);
        out.push_str(&input[i..next]);
        i = next;
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(input)
    }
}

/// The reference that starts right after a `&`, as (character, bytes consumed after the `&`).
fn reference_at(rest: &[u8]) -> Option<(char, usize)> {
    if rest.first() == Some(&b'#') {
        return numeric_reference(&rest[1..]).map(|(c, len)| (c, len + 1));
    }
    let run = rest
        .iter()
        .take(MAX_NAME + 1)
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    // Longest known name that prefixes the run, as browsers match legacy references.
    (1..=run.min(MAX_NAME)).rev().find_map(|len| {
        let name = std::str::from_utf8(&rest[..len]).ok()?;
        let index = NAMED.binary_search_by(|(n, _)| n.cmp(&name)).ok()?;
        let semicolon = usize::from(rest.get(len) == Some(&b';'));
        Some((NAMED[index].1, len + semicolon))
    })
}

fn numeric_reference(rest: &[u8]) -> Option<(char, usize)> {
    let (radix, start) = match rest.first() {
        Some(b'x' | b'X') => (16, 1),
        _ => (10, 0),
    };
    let digits = rest[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit() || (radix == 16 && b.is_ascii_hexdigit()))
        .count();
    if digits == 0 {
        return None;
    }
    let text = std::str::from_utf8(&rest[start..start + digits]).ok()?;
    let significant = text.trim_start_matches('0');
    let value = if significant.len() > MAX_DIGITS {
        None
    } else if significant.is_empty() {
        Some(0)
    } else {
        u32::from_str_radix(significant, radix).ok()
    };
    // As in HTML: NUL and what is not a character read as U+FFFD.
    let c = value
        .filter(|&v| v != 0)
        .and_then(char::from_u32)
        .unwrap_or(char::REPLACEMENT_CHARACTER);
    let semicolon = usize::from(rest.get(start + digits) == Some(&b';'));
    Some((c, start + digits + semicolon))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted() {
        assert!(NAMED.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(NAMED.iter().all(|(n, _)| n.len() <= MAX_NAME));
    }

    #[test]
    fn named_decimal_and_hex_references_decode() {
        assert_eq!(decode_entities("&lt;b&gt;"), "<b>");
        assert_eq!(decode_entities("&#60;&#x3C;&#X3c;&#0000060;"), "<<<<");
        assert_eq!(
            decode_entities("javascript&colon;alert&lpar;1&rpar;"),
            "javascript:alert(1)"
        );
        assert_eq!(decode_entities("&ltscript&gt"), "<script>");
        assert_eq!(decode_entities("&#106&#97&#118&#97"), "java");
        assert_eq!(decode_entities("java&Tab;script"), "java\tscript");
    }

    #[test]
    fn text_that_is_not_a_reference_is_kept() {
        assert_eq!(decode_entities("Smith & Sons"), "Smith & Sons");
        assert_eq!(decode_entities("a&b=c&#;"), "a&b=c&#;");
        assert_eq!(decode_entities("&unknown;"), "&unknown;");
        assert_eq!(decode_entities("&#99999999999;"), "\u{FFFD}");
        assert!(matches!(decode_entities("R&D"), Cow::Borrowed(_)));
    }
}
