//! The inspection engine: decode, extract, detect, score, verdict. No I/O, no async.
#![forbid(unsafe_code)]

pub mod detect;
