//! The hospital certificate authority: development CA, server and device certificates.
#![forbid(unsafe_code)]
