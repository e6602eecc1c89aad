//! One module per subcommand.

pub mod cert;
pub mod check;
pub mod keys;
pub mod serve;
pub mod service;
pub mod user;
pub mod version;
pub mod waf;
