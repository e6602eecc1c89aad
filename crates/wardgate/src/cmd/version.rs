//! `wardgate version`.

/// Print the version of this build.
pub fn run() -> anyhow::Result<()> {
    println!("wardgate {}", env!("CARGO_PKG_VERSION"));
    Ok(())
}
