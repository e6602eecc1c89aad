//! Path normalisation: what a file system makes of `a/./b/../c`, `a\b` and `a//b`.

use std::borrow::Cow;

/// Normalise a path: backslashes read as `/`, empty and `.` segments dropped, `..` resolved
/// against the segment before it. A `..` that would climb above the start is kept, since that
/// is what a traversal looks like. Borrows when the path is already normal.
pub fn normalise_path(path: &str) -> Cow<'_, str> {
    if !needs_normalising(path.as_bytes()) {
        return Cow::Borrowed(path);
    }
    let absolute = path.starts_with(['/', '\\']);
    let mut kept: Vec<&str> = Vec::new();
    for segment in path.split(['/', '\\']) {
        match segment {
            "" | "." => {}
            ".." => match kept.last() {
                Some(&last) if last != ".." => {
                    kept.pop();
                }
                _ => kept.push(".."),
            },
            other => kept.push(other),
        }
    }
    let trailing = path.ends_with(['/', '\\']) && !kept.is_empty();
    let mut out = String::with_capacity(path.len());
    if absolute {
        out.push('/');
    }
    out.push_str(&kept.join("/"));
    if trailing {
        out.push('/');
    }
    if out == path {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(out)
    }
}

fn needs_normalising(bytes: &[u8]) -> bool {
    memchr::memchr(b'\\', bytes).is_some()
        || memchr::memmem::find(bytes, b"//").is_some()
        || memchr::memmem::find(bytes, b"/.").is_some()
        || bytes.starts_with(b".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_backslashes_and_doubled_slashes_resolve() {
        assert_eq!(
            normalise_path("/static/img/../../etc/passwd"),
            "/etc/passwd"
        );
        assert_eq!(normalise_path("/a/./b//c/"), "/a/b/c/");
        assert_eq!(
            normalise_path("..\\..\\windows\\win.ini"),
            "../../windows/win.ini"
        );
        assert_eq!(normalise_path("/../../etc/passwd"), "/../../etc/passwd");
        assert_eq!(normalise_path("a/b/../../../x"), "../x");
    }

    #[test]
    fn normal_paths_borrow() {
        assert!(matches!(
            normalise_path("/emergency/fhir/Patient/1"),
            Cow::Borrowed(_)
        ));
        assert!(matches!(normalise_path("/../etc"), Cow::Borrowed(_)));
    }
}
