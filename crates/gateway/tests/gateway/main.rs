//! The gateway on real sockets with real TLS: proxying, limits, admission, mTLS, the record,
//! metrics, reload and shutdown.

mod access;
mod firewall;
mod identity;
mod lifecycle;
mod limits;
mod proxy;
mod support;
mod wire;
