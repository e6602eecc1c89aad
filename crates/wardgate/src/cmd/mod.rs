//! One module per subcommand.

pub mod keys;
pub mod version;
pub mod waf;
