//! ASCII scanning primitives shared by the detectors (and decoding): case-insensitive search,
//! word boundaries, bounded entity decoding. Every function is linear in its input.

/// Whether `haystack[at..]` starts with `needle`, ignoring ASCII case (`needle` lower-case).
pub(crate) fn starts_with_ci(haystack: &[u8], at: usize, needle: &[u8]) -> bool {
    haystack
        .get(at..at.saturating_add(needle.len()))
        .is_some_and(|window| window.eq_ignore_ascii_case(needle))
}

/// The first position of `needle` (lower-case ASCII) in `haystack`, ignoring ASCII case.
pub(crate) fn find_ci(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    find_ci_from(haystack, needle, 0)
}

/// Like [`find_ci`], starting at `from`.
pub(crate) fn find_ci_from(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let upper = first.to_ascii_uppercase();
    let mut at = from;
    while at < haystack.len() {
        // memchr2 keeps the scan linear and fast: only candidate first bytes are compared.
        let rel = memchr::memchr2(first, upper, haystack.get(at..)?)?;
        let pos = at + rel;
        if starts_with_ci(haystack, pos, needle) {
            return Some(pos);
        }
        at = pos + 1;
    }
    None
}

/// The first position of `needle` in `haystack`: the same answer as `memchr::memmem::find`,
/// for the detectors' short constant needles (`..`, `${`, `://`), where building a `memmem`
/// searcher on every call costs more than the search. Each candidate (an occurrence of the
/// needle's first byte) is compared in at most `needle.len()` steps, so the work is linear in
/// the haystack for a needle of constant length; long needles built from the input (a SQL
/// dollar-quote tag) belong to `memmem`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let Some((&first, rest)) = needle.split_first() else {
        return Some(0);
    };
    let mut at = 0;
    while let Some(rel) = memchr::memchr(first, haystack.get(at..)?) {
        let pos = at + rel;
        if haystack.get(pos + 1..pos + needle.len()) == Some(rest) {
            return Some(pos);
        }
        at = pos + 1;
    }
    None
}

/// Every position of `needle` in `haystack`, left to right, not overlapping: the positions
/// `memchr::memmem::find_iter` yields, searched as [`find`] does.
pub(crate) fn find_iter<'h, 'n>(haystack: &'h [u8], needle: &'n [u8]) -> FindIter<'h, 'n> {
    FindIter {
        haystack,
        needle,
        at: 0,
    }
}

/// The iterator of [`find_iter`].
pub(crate) struct FindIter<'h, 'n> {
    haystack: &'h [u8],
    needle: &'n [u8],
    at: usize,
}

impl Iterator for FindIter<'_, '_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let pos = self.at + find(self.haystack.get(self.at..)?, self.needle)?;
        self.at = pos + self.needle.len().max(1);
        Some(pos)
    }
}

/// Whether any byte of `bytes` satisfies `test`. Most values have none, so the whole value is
/// read: a block of 32 bytes at a time without stopping inside the block, which the compiler
/// turns into a few vector instructions instead of a test and a branch per byte, as long as
/// `test` has no branch itself (combine conditions with `|`, not `||`).
pub(crate) fn any_byte(bytes: &[u8], test: impl Fn(u8) -> bool) -> bool {
    let mut blocks = bytes.chunks_exact(32);
    for block in &mut blocks {
        if block.iter().fold(false, |found, &b| found | test(b)) {
            return true;
        }
    }
    let mut rest = blocks.remainder().chunks_exact(8);
    for block in &mut rest {
        if block.iter().fold(false, |found, &b| found | test(b)) {
            return true;
        }
    }
    rest.remainder().iter().any(|&b| test(b))
}

/// Whether `b` may continue an identifier in the C-like languages the detectors read.
pub(crate) fn is_ident_byte(b: u8) -> bool {
    IDENT_BYTE[usize::from(b)]
}

/// [`is_ident_byte`] as a table: one lookup per byte in the loops that scan identifiers.
static IDENT_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80;
        b += 1;
    }
    table
};

/// Index of the first byte at or after `at` that is not ASCII whitespace.
pub(crate) fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while bytes
        .get(at)
        .is_some_and(|b| b.is_ascii_whitespace() || *b == 0x0b)
    {
        at += 1;
    }
    at
}

/// Maximum bytes of a character reference we try to decode (`&#x0000000040;` is 14).
const MAX_ENTITY_LEN: usize = 24;

/// Decode one HTML character reference at `bytes[at]` (which is `&`): the character and the
/// number of bytes consumed. Browsers accept numeric references without `;` and with any
/// number of leading zeros; named references cover those attackers use to hide syntax.
pub(crate) fn decode_entity(bytes: &[u8], at: usize) -> Option<(char, usize)> {
    let rest = bytes.get(at + 1..)?;
    if rest.first() == Some(&b'#') {
        let (radix, digits_from) = match rest.get(1) {
            Some(b'x' | b'X') => (16, 2),
            _ => (10, 1),
        };
        let mut value: u32 = 0;
        let mut len = digits_from;
        while let Some(&b) = rest.get(len) {
            let Some(d) = (b as char).to_digit(radix) else {
                break;
            };
            value = value
                .saturating_mul(radix)
                .saturating_add(d)
                .min(0x10_FFFF + 1);
            len += 1;
            if len > MAX_ENTITY_LEN {
                return None;
            }
        }
        if len == digits_from {
            return None;
        }
        if rest.get(len) == Some(&b';') {
            len += 1;
        }
        let c = char::from_u32(value).unwrap_or('\u{FFFD}');
        return Some((c, len + 1));
    }
    let name_len = rest
        .iter()
        .take(MAX_ENTITY_LEN)
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    let name = rest.get(..name_len)?;
    let c = named_entity(name)?;
    let mut len = name_len;
    if rest.get(len) == Some(&b';') {
        len += 1;
    }
    Some((c, len + 1))
}

/// The named references that matter for hiding markup and script syntax.
fn named_entity(name: &[u8]) -> Option<char> {
    let mut lower = [0u8; MAX_ENTITY_LEN];
    let lower = lower.get_mut(..name.len())?;
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    Some(match &*lower {
        b"lt" => '<',
        b"gt" => '>',
        b"amp" => '&',
        b"quot" => '"',
        b"apos" => '\'',
        b"tab" => '\t',
        b"newline" => '\n',
        b"colon" => ':',
        b"lpar" => '(',
        b"rpar" => ')',
        b"lsqb" | b"lbrack" => '[',
        b"rsqb" | b"rbrack" => ']',
        b"lcub" | b"lbrace" => '{',
        b"rcub" | b"rbrace" => '}',
        b"sol" => '/',
        b"bsol" => '\\',
        b"period" => '.',
        b"comma" => ',',
        b"semi" => ';',
        b"equals" => '=',
        b"excl" => '!',
        b"quest" => '?',
        b"num" => '#',
        b"percnt" => '%',
        b"plus" => '+',
        b"grave" => '`',
        b"nbsp" => '\u{a0}',
        _ => return None,
    })
}

/// Decode HTML character references in `text` into `out` (cleared first), at most `limit`
/// bytes of input. Returns whether anything was decoded.
pub(crate) fn decode_entities_into(text: &str, limit: usize, out: &mut String) -> bool {
    out.clear();
    let bytes = text.as_bytes();
    let end = floor_char_boundary(text, limit.min(bytes.len()));
    let mut changed = false;
    let mut at = 0;
    let mut copied = 0;
    while let Some(rel) = bytes.get(at..end).and_then(|s| memchr::memchr(b'&', s)) {
        let pos = at + rel;
        if let Some((c, len)) = decode_entity(bytes, pos) {
            out.push_str(text.get(copied..pos).unwrap_or(""));
            out.push(c);
            at = pos + len;
            copied = at;
            changed = true;
        } else {
            at = pos + 1;
        }
    }
    out.push_str(text.get(copied..end).unwrap_or(""));
    changed
}

/// The largest char boundary of `text` at or below `at`.
pub(crate) fn floor_char_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// Lower-case `word` into `buf` when it fits; `None` for longer words (which are never
/// keywords of any table the detectors look up).
pub(crate) fn lower_into<'b>(word: &[u8], buf: &'b mut [u8; 32]) -> Option<&'b str> {
    std::str::from_utf8(lower_bytes_into(word, buf)?).ok()
}

/// [`lower_into`] as bytes, for tables of ASCII words (which no byte of another text matches,
/// so it need not be checked to be UTF-8).
pub(crate) fn lower_bytes_into<'b>(word: &[u8], buf: &'b mut [u8; 32]) -> Option<&'b [u8]> {
    let dst = buf.get_mut(..word.len())?;
    // Copied and lower-cased in one loop: words are short, a `memcpy` call costs more.
    for (to, from) in dst.iter_mut().zip(word) {
        *to = from.to_ascii_lowercase();
    }
    Some(dst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_answers_as_memmem_does() {
        let haystacks: [&[u8]; 9] = [
            b"",
            b".",
            b"...",
            b"a..b...c....",
            b"::::x::",
            b"${${jndi:${x}}",
            b"http://a://b:/",
            b"() {() { :; }",
            b"\xef\xbf..\x00.",
        ];
        let needles: [&[u8]; 9] = [
            b"", b".", b"..", b"...", b"::", b"${", b"://", b"() {", b"x",
        ];
        for h in haystacks {
            for n in needles {
                assert_eq!(find(h, n), memchr::memmem::find(h, n), "{h:?} {n:?}");
                assert_eq!(
                    find_iter(h, n).collect::<Vec<_>>(),
                    memchr::memmem::find_iter(h, n).collect::<Vec<_>>(),
                    "{h:?} {n:?}"
                );
            }
        }
    }

    #[test]
    fn any_byte_reads_blocks_and_the_rest() {
        let mut text = vec![b'a'; 100];
        assert!(!any_byte(&text, |b| b == b'\n'));
        for at in [0, 31, 32, 63, 64, 95, 96, 99] {
            text[at] = b'\n';
            assert!(any_byte(&text, |b| b == b'\n'), "{at}");
            text[at] = b'a';
        }
        assert!(!any_byte(b"", |_| true));
    }

    #[test]
    fn case_insensitive_search() {
        assert_eq!(find_ci(b"xx JavaScript:", b"javascript:"), Some(3));
    }

    #[test]
    fn entities_decode_with_and_without_semicolons() {
        let mut out = String::new();
        assert!(decode_entities_into(
            "j&#X41vascript&colon;a&#0000000040;1)",
            1000,
            &mut out
        ));
        assert_eq!(out, "jAvascript:a(1)");
        assert!(!decode_entities_into("AT&T & co", 1000, &mut out));
        assert_eq!(out, "AT&T & co");
    }
}
