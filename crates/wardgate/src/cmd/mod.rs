//! One module per subcommand.

pub mod check;
pub mod keys;
pub mod version;
pub mod waf;
