//! What the gateway reads from a department's answer on a pooled keep-alive connection
//! (`h1_client`): the response head (httparse, header count and size bounded, 1xx answers
//! skipped), its framing (Content-Length, chunked, to the connection's end; the smuggler's
//! Transfer-Encoding with Content-Length never reused) and a chunked body (extensions and
//! trailers bounded). Never panics; a body is never longer than the bytes it came from, and
//! one framed by a Content-Length is read to exactly that length or refused; reading the
//! answer in two pieces split anywhere gives the same result as reading it whole.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wardgate_gateway::upstream_answer::{Answer, read_answer};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, data)) = data.split_first() else {
        return;
    };
    let head_request = selector & 1 == 1;
    let whole = read_answer(data, head_request, data.len());
    if let Ok(Answer { body, length, .. }) = &whole {
        assert!(body.len() <= data.len());
        if let Some(length) = length {
            assert_eq!(body.len() as u64, *length);
        }
    }
    // The same bytes arriving in two reads, split where the selector says. (A head of more
    // than the client's limit is refused when a read leaves it incomplete there, and read
    // when it is whole in the first: only shorter answers must read alike.)
    if data.len() >= 400 * 1024 {
        return;
    }
    let split = usize::from(selector >> 1) * data.len() / 128;
    let pieces = read_answer(data, head_request, split);
    assert_eq!(
        whole.as_ref().map_err(|_| ()),
        pieces.as_ref().map_err(|_| ()),
        "split at {split}"
    );
});
