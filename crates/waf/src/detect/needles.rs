//! A fixed list of needles searched for in one pass, ignoring ASCII case.
//!
//! Detectors look for lists of markers (file names, stream wrappers, template engines' globals).
//! One case-insensitive search per needle costs a scan of the value per needle; this scans the
//! value once: at each byte, two table lookups (the needles that may start with this byte and
//! continue with the next) leave only the needles worth comparing, and a third (the byte after)
//! is looked up before any needle is compared. The answer is the same as
//! [`super::ascii::find_ci`] for each needle: which needles occur and where each first does.

use super::ascii::find_ci;

/// Needles at most in one set (the bits of a `u64`).
const MAX_NEEDLES: usize = 64;

/// A needle list with its lookup tables, built at compile time.
pub(crate) struct Needles {
    needles: &'static [&'static [u8]],
    /// Bit `i` of `first[b]`: needle `i` starts with `b` (either ASCII case).
    first: [u64; 256],
    /// Bit `i` of `second[b]`: needle `i` has `b` as its second byte (either ASCII case).
    second: [u64; 256],
    /// Bit `i` of `third[b]`: needle `i` has `b` as its third byte (either ASCII case), or
    /// has only two bytes (then any byte, or none, may follow).
    third: [u64; 256],
    /// Bit `i`: needle `i` has only two bytes (it may end at the haystack's last byte).
    short: u64,
}

/// Which needles of a set occur in one text.
pub(crate) struct Found<'h> {
    mask: u64,
    haystack: &'h [u8],
}

impl Needles {
    /// Tables for `needles` (each at least two bytes, at most [`MAX_NEEDLES`] of them).
    pub(crate) const fn new(needles: &'static [&'static [u8]]) -> Needles {
        assert!(needles.len() <= MAX_NEEDLES, "too many needles for one set");
        let mut first = [0u64; 256];
        let mut second = [0u64; 256];
        let mut third = [0u64; 256];
        let mut short = 0u64;
        let mut i = 0;
        while i < needles.len() {
            let needle = needles[i];
            assert!(needle.len() >= 2, "needles are at least two bytes");
            let bit = 1u64 << i;
            first[needle[0].to_ascii_lowercase() as usize] |= bit;
            first[needle[0].to_ascii_uppercase() as usize] |= bit;
            second[needle[1].to_ascii_lowercase() as usize] |= bit;
            second[needle[1].to_ascii_uppercase() as usize] |= bit;
            if needle.len() == 2 {
                short |= bit;
                let mut b = 0;
                while b < 256 {
                    third[b] |= bit;
                    b += 1;
                }
            } else {
                third[needle[2].to_ascii_lowercase() as usize] |= bit;
                third[needle[2].to_ascii_uppercase() as usize] |= bit;
            }
            i += 1;
        }
        Needles {
            needles,
            first,
            second,
            third,
            short,
        }
    }

    /// The needles, in list order.
    #[cfg(test)]
    pub(crate) fn needles(&self) -> &'static [&'static [u8]] {
        self.needles
    }

    /// Which needles occur in `haystack`, ignoring ASCII case.
    pub(crate) fn find_all<'h>(&self, haystack: &'h [u8]) -> Found<'h> {
        let mut mask = 0u64;
        let Some((&head, rest)) = haystack.split_first() else {
            return Found { mask, haystack };
        };
        // Needles that may start at the previous byte, narrowed by the byte after it.
        let mut starting = self.first[usize::from(head)];
        for (pos, &b) in rest.iter().enumerate() {
            let candidates = starting & self.second[usize::from(b)] & !mask;
            starting = self.first[usize::from(b)];
            if candidates != 0 {
                mask |= self.narrow(haystack, pos, candidates);
            }
        }
        Found { mask, haystack }
    }

    /// Which of `candidates` (needles whose first two bytes are at `pos`) start at `pos`.
    fn narrow(&self, haystack: &[u8], pos: usize, candidates: u64) -> u64 {
        // The byte after the pair rules out most candidates before a comparison: a needle of
        // three or more bytes needs its third byte there.
        let candidates = match haystack.get(pos + 2) {
            Some(&c) => candidates & self.third[usize::from(c)],
            None => candidates & self.short,
        };
        if candidates == 0 {
            return 0;
        }
        self.confirm(haystack, pos, candidates)
    }

    /// Which of `candidates` really start at `pos`.
    #[inline(never)]
    fn confirm(&self, haystack: &[u8], pos: usize, mut candidates: u64) -> u64 {
        let mut confirmed = 0;
        while candidates != 0 {
            let index = candidates.trailing_zeros() as usize;
            candidates &= candidates - 1;
            let matches = self.needles.get(index).is_some_and(|needle| {
                haystack
                    .get(pos..pos + needle.len())
                    .is_some_and(|window| window.eq_ignore_ascii_case(needle))
            });
            if matches {
                confirmed |= 1 << index;
            }
        }
        confirmed
    }

    /// The first needle in list order that occurs in `haystack`, and where it first starts.
    pub(crate) fn first_listed(&self, haystack: &[u8]) -> Option<(&'static [u8], usize)> {
        let (_, needle, at) = self.find_all(haystack).iter(self).next()?;
        Some((needle, at))
    }
}

impl Found<'_> {
    /// The needles found, in list order: index in the list, needle, where it first starts.
    pub(crate) fn iter<'s>(
        &'s self,
        set: &'s Needles,
    ) -> impl Iterator<Item = (usize, &'static [u8], usize)> + 's {
        let mut mask = self.mask;
        std::iter::from_fn(move || {
            if mask == 0 {
                return None;
            }
            let index = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            let needle = set.needles.get(index)?;
            // Needles are rarely found: where one first starts is looked up only then.
            let at = find_ci(self.haystack, needle)?;
            Some((index, *needle, at))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static SET: Needles = Needles::new(&[b"etc/passwd", b"id_rsa", b"/.ssh/", b"ss", b"php://"]);

    #[test]
    fn finds_what_one_search_per_needle_finds() {
        for text in [
            "",
            "x",
            "../../ETC/Passwd",
            "a/.SSH/id_RSA and etc/passwd",
            "PHP://filter",
            "sss",
            "/etc/passw",
            "ss/.ssh/",
            "s",
            "et",
            "etc",
            "ETC/PASSWD",
            "php:/",
            "xphp://",
            "id_rs",
            "aid_rsa",
            "/.sshx/.ssh/",
        ] {
            let found: Vec<_> = SET
                .find_all(text.as_bytes())
                .iter(&SET)
                .map(|(_, needle, at)| (needle, at))
                .collect();
            let expected: Vec<_> = SET
                .needles
                .iter()
                .filter_map(|n| find_ci(text.as_bytes(), n).map(|at| (*n, at)))
                .collect();
            assert_eq!(found, expected, "{text}");
        }
    }

    #[test]
    fn the_first_listed_needle_wins_over_the_first_in_the_text() {
        assert_eq!(
            SET.first_listed(b"id_rsa then etc/passwd"),
            Some((&b"etc/passwd"[..], 12))
        );
        assert_eq!(SET.first_listed(b"nothing here"), None);
    }
}
