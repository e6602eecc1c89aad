//! Extraction: the pieces of a request an attack can sit in, each a pure reader of one format.
//!
//! The readers only split and report; decoding is `crate::decode`'s job and judging is the
//! detectors'. Each reader is bounded (depth, parts, header sizes) and linear in its input.

pub mod cookie;
pub mod form;
pub mod json;
pub mod multipart;
pub mod xml;
