//! Listeners, TLS, the request pipeline, forwarding, admin endpoints.
#![forbid(unsafe_code)]
