//! Admission: rate limits, connection limits, bans, load shedding.
#![forbid(unsafe_code)]
