//! The data folder and how files are written into it: atomically, and private keys readable
//! by their owner only.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::PkiError;

/// The environment variable naming the data folder.
pub const DATA_ENV: &str = "WARDGATE_DATA";

/// The data folder used when neither `--data` nor [`DATA_ENV`] names one.
pub const DEFAULT_DATA_DIR: &str = "wardgate-data";

/// The data folder: `--data DIR` if given, else `$WARDGATE_DATA` if set and not empty, else
/// `./wardgate-data`. `wardgate serve` and `wardgate cert` both resolve it here.
pub fn data_dir(from_command_line: Option<PathBuf>) -> PathBuf {
    from_command_line
        .or_else(|| {
            std::env::var_os(DATA_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
}

/// Creates the data folder (mode 0700 on Unix) if it does not exist.
pub fn create_data_dir(dir: &Path) -> Result<(), PkiError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| PkiError::io(dir, e))
}

/// Writes `contents` to `path` through a temporary file and a rename, so a reader never sees
/// half a file. `private` files get mode 0600 from the moment they exist.
pub(crate) fn write_atomically(
    path: &Path,
    contents: &[u8],
    private: bool,
) -> Result<(), PkiError> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, if private { 0o600 } else { 0o644 });
    let result = options
        .open(&temporary)
        .and_then(|mut file| {
            file.write_all(contents)?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&temporary, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&temporary);
        return Err(PkiError::io(path, e));
    }
    Ok(())
}

/// Refuses a private key file that others than its owner may read.
pub(crate) fn check_private(path: &Path) -> Result<(), PkiError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| PkiError::io(path, e))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(PkiError::KeyFileTooOpen {
                path: path.to_owned(),
                mode: mode & 0o777,
            });
        }
    }
    Ok(())
}

/// Reads a text file.
pub(crate) fn read_text(path: &Path) -> Result<String, PkiError> {
    std::fs::read_to_string(path).map_err(|e| PkiError::io(path, e))
}
