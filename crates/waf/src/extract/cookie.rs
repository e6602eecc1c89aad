//! The `Cookie` request header (RFC 6265 section 5.4, read leniently as browsers send it).

/// One cookie: name and value, quotes around the value removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cookie<'a> {
    /// The cookie's name.
    pub name: &'a str,
    /// The cookie's value.
    pub value: &'a str,
}

/// The cookies of one `Cookie` header value, in order.
pub fn cookies(header: &str) -> impl Iterator<Item = Cookie<'_>> {
    header.split(';').filter_map(|piece| {
        let piece = piece.trim();
        if piece.is_empty() {
            return None;
        }
        let (name, value) = piece.split_once('=').unwrap_or(("", piece));
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        Some(Cookie {
            name: name.trim(),
            value,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_split_trim_and_unquote() {
        let got: Vec<_> = cookies(" session=abc; theme=\"dark\" ;;lone").collect();
        assert_eq!(
            got,
            vec![
                Cookie {
                    name: "session",
                    value: "abc"
                },
                Cookie {
                    name: "theme",
                    value: "dark"
                },
                Cookie {
                    name: "",
                    value: "lone"
                },
            ]
        );
    }
}
