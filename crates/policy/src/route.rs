//! From a request's method and path to the department and settings that apply to it.
//!
//! Deny by default: a path that no department claims, or a path that is not in normal form
//! (dot segments, empty segments, encoded slashes or dots, which an upstream might decode
//! into another department's path), resolves to nothing.

use crate::model::{Department, Policy, Route, RouteSettings, UpstreamTarget};

/// What applies to one request: the department, the finer route if one matched, and the
/// settings in effect. Borrowed from the policy, so resolving allocates nothing.
#[derive(Debug, Clone, Copy)]
pub struct ResolvedRoute<'p> {
    /// The department that owns the path.
    pub department: &'p Department,
    /// The finer route that matched, if any.
    pub route: Option<&'p Route>,
    /// Limits, rate limit, WAF settings and mTLS requirement in effect.
    pub settings: &'p RouteSettings,
}

/// Why a client's device certificate (or its absence) does not let it reach a department.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DeviceRefusal {
    /// The route requires a device certificate and the client presented none.
    #[error("this route requires a device certificate")]
    CertificateRequired,
    /// The client's certificate belongs to a zone the department does not allow.
    #[error("devices of this zone may not reach this department")]
    ZoneNotAllowed,
}

impl<'p> ResolvedRoute<'p> {
    /// The department's name.
    pub fn department_name(&self) -> &'p str {
        &self.department.name
    }

    /// Where to forward the request.
    pub fn upstream(&self) -> &'p UpstreamTarget {
        &self.department.upstream
    }

    /// Whether a client with a device certificate of `zone` (or without one: `None`) may use
    /// this route. The certificate itself must already have been verified against the CA.
    pub fn admit_device(&self, zone: Option<&str>) -> Result<(), DeviceRefusal> {
        match zone {
            None if self.settings.require_mtls => Err(DeviceRefusal::CertificateRequired),
            None => Ok(()),
            Some(zone) if self.department.zones.iter().any(|z| z == zone) => Ok(()),
            Some(_) => Err(DeviceRefusal::ZoneNotAllowed),
        }
    }
}

impl Policy {
    /// The department and settings for `method` `path` (the path without its query), or
    /// `None` when no department claims it: the request must be refused.
    ///
    /// The department whose prefix the path starts with, then the most specific (longest)
    /// route inside it that allows the method.
    pub fn route(&self, method: &str, path: &str) -> Option<ResolvedRoute<'_>> {
        let path = path.split_once('?').map_or(path, |(p, _)| p);
        if !is_normal_path(path) {
            return None;
        }
        // Prefixes are `/{name}/` (checked at load), so the first segment names the one
        // department whose prefix can match: a map lookup, not a scan.
        let first_segment = path[1..].split('/').next()?;
        let department = self.departments.get(first_segment)?;
        if !path.starts_with(department.prefix.as_str()) {
            return None;
        }
        let route = department.routes.iter().find(|r| r.matches(method, path));
        Some(ResolvedRoute {
            department,
            route,
            settings: route.map_or(&department.effective, |r| &r.effective),
        })
    }
}

/// Whether `path` is absolute and in normal form: no empty, `.` or `..` segment, and no
/// percent-encoded `/`, `\`, `.` or NUL that a server behind us might decode into one.
pub fn is_normal_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    // One pass over the bytes (this runs on every request): each `/` ends a segment, which
    // must be neither empty nor a dot segment; the last segment may be empty (a trailing
    // slash) but not a dot segment.
    let bytes = rest.as_bytes();
    let mut segment_start = 0;
    for (at, &byte) in bytes.iter().enumerate() {
        match byte {
            b'/' => {
                if at == segment_start || is_dot_segment(&bytes[segment_start..at]) {
                    return false;
                }
                segment_start = at + 1;
            }
            b'\\' => return false,
            b'%' if encodes_separator(bytes.get(at + 1..at + 3)) => return false,
            _ => {}
        }
    }
    !is_dot_segment(&bytes[segment_start..])
}

fn is_dot_segment(segment: &[u8]) -> bool {
    matches!(segment, b"." | b"..")
}

/// Whether the two hex digits after a `%` encode `/`, `\`, `.` or NUL.
fn encodes_separator(digits: Option<&[u8]>) -> bool {
    matches!(
        digits,
        Some([b'2', b'f' | b'F' | b'e' | b'E'] | [b'5', b'c' | b'C'] | [b'0', b'0'])
    )
}

#[cfg(test)]
mod tests {
    use super::is_normal_path;

    /// The form this check had before its one pass (three scans and a split), kept to test
    /// the one pass against.
    fn is_normal_path_by_scans(path: &str) -> bool {
        let Some(rest) = path.strip_prefix('/') else {
            return false;
        };
        let bytes = rest.as_bytes();
        if bytes.contains(&b'\\') {
            return false;
        }
        let encoded_separator = bytes.windows(3).any(|w| {
            w[0] == b'%'
                && matches!(
                    [w[1].to_ascii_lowercase(), w[2].to_ascii_lowercase()],
                    [b'2', b'f'] | [b'5', b'c'] | [b'2', b'e'] | [b'0', b'0']
                )
        });
        if encoded_separator {
            return false;
        }
        let mut segments = rest.split('/').peekable();
        while let Some(segment) = segments.next() {
            let last = segments.peek().is_none();
            if matches!(segment, "." | "..") || (segment.is_empty() && !last) {
                return false;
            }
        }
        true
    }

    #[test]
    fn the_one_pass_judges_every_short_path_as_the_scans_did() {
        // Every path of `/` and up to five characters over the characters that matter
        // (separators, dots, percent escapes in both cases, ordinary ones), plus samples.
        const ALPHABET: &[u8] = b"/.%\\2fFeE5cC0ax";
        let mut normal = 0usize;
        let mut judged = 0usize;
        let mut path = String::new();
        for length in 0..=5u32 {
            for mut n in 0..ALPHABET.len().pow(length) {
                path.clear();
                path.push('/');
                for _ in 0..length {
                    path.push(char::from(ALPHABET[n % ALPHABET.len()]));
                    n /= ALPHABET.len();
                }
                let one_pass = is_normal_path(&path);
                assert_eq!(one_pass, is_normal_path_by_scans(&path), "{path:?}");
                normal += usize::from(one_pass);
                judged += 1;
            }
        }
        // Both answers occur many times (the comparison is not of constants).
        assert!(
            normal > 10_000 && judged - normal > 10_000,
            "{normal} of {judged}"
        );
        for path in [
            "",
            "emergency/fhir",
            "/emergency/fhir/Patient/1",
            "/emergency/fhir/Patient/1/",
            "/a/b/c/../d",
            "/a/b/c/..",
            "/a/b/c/.",
            "/a/b/c/...",
            "/a/b/c/.x",
            "/a/%2",
            "/a/%",
            "/a/%2F",
            "/a/%5C",
            "/a/%00/b",
            "/a/%41/b",
            "/\u{e9}/\u{fc}%2e",
        ] {
            assert_eq!(
                is_normal_path(path),
                is_normal_path_by_scans(path),
                "{path:?}"
            );
        }
    }

    #[test]
    fn normal_paths_only() {
        assert!(is_normal_path("/emergency/fhir/Patient/1"));
        assert!(is_normal_path("/emergency/"));
        assert!(is_normal_path("/"));
        assert!(!is_normal_path("emergency/fhir"));
        assert!(!is_normal_path("/emergency/../radiology/"));
        assert!(!is_normal_path("/emergency/./fhir"));
        assert!(!is_normal_path("/emergency//fhir"));
        assert!(!is_normal_path("/emergency/%2e%2e/radiology/"));
        assert!(!is_normal_path("/emergency%2Ffhir"));
        assert!(!is_normal_path("/emergency\\..\\radiology"));
    }
}
