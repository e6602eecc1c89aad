//! The request as the engine sees it: borrowed views into the gateway's buffers.

/// One request header, borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// The header's name as received (any case).
    pub name: &'a str,
    /// The header's value as received (not necessarily UTF-8).
    pub value: &'a [u8],
}

/// One HTTP request, borrowed: the gateway fills it from its own buffers without copying, the
/// corpus reader from JSONL records.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    /// The method (`GET`, `POST`, ...), as received.
    pub method: &'a str,
    /// The path as received: percent-encoded, without the query.
    pub path: &'a str,
    /// The query string without `?`, as received.
    pub query: Option<&'a str>,
    /// Every header, in order.
    pub headers: &'a [Header<'a>],
    /// The body (up to the route's body limit).
    pub body: &'a [u8],
    /// The `Content-Type`, when the gateway has it at hand; otherwise read from `headers`.
    pub content_type: Option<&'a str>,
}

impl<'a> HttpRequest<'a> {
    /// A request with a method and a path (optionally `?query`), no headers and no body.
    pub fn new(method: &'a str, path_and_query: &'a str) -> Self {
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_and_query, None),
        };
        HttpRequest {
            method,
            path,
            query,
            headers: &[],
            body: &[],
            content_type: None,
        }
    }

    /// The `Content-Type`: the field if set, otherwise the first such header.
    pub fn content_type(&self) -> Option<&'a str> {
        self.content_type.or_else(|| {
            self.headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-type"))
                .and_then(|h| std::str::from_utf8(h.value).ok())
        })
    }
}
