//! `name=value` lists: query strings and `application/x-www-form-urlencoded` bodies.

/// One `name=value` pair, still percent-encoded as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair<'a> {
    /// The name as sent.
    pub name: &'a str,
    /// The value as sent (empty when there is no `=`).
    pub value: &'a str,
}

/// The pairs of a query string or form body, in order; empty pieces (`a=1&&b=2`) are skipped.
pub fn pairs(input: &str) -> impl Iterator<Item = Pair<'_>> {
    input
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| match piece.split_once('=') {
            Some((name, value)) => Pair { name, value },
            None => Pair {
                name: piece,
                value: "",
            },
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_split_on_ampersand_and_first_equals() {
        let got: Vec<_> = pairs("a=1&&b=x=y&flag&=v").collect();
        assert_eq!(
            got,
            vec![
                Pair {
                    name: "a",
                    value: "1"
                },
                Pair {
                    name: "b",
                    value: "x=y"
                },
                Pair {
                    name: "flag",
                    value: ""
                },
                Pair {
                    name: "",
                    value: "v"
                },
            ]
        );
    }
}
