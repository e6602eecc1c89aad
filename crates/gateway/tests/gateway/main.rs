//! The gateway on real sockets with real TLS: proxying, limits, admission, mTLS, the record,
//! metrics, reload and shutdown.

mod access;
mod firewall;
mod h2_limits;
mod identity;
mod lifecycle;
mod limits;
mod proxy;
mod support;
mod wire;
