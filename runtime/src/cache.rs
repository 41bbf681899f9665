//! Where Tandem keeps what it can rebuild: unpacked `tandem compile`
//! apps and the compiled code of its embedded Python package.

use std::path::PathBuf;

/// `$TANDEM_CACHE_DIR`, else `$XDG_CACHE_HOME/tandem`, else
/// `~/.cache/tandem`, else `tandem` in the temporary folder.
pub fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("TANDEM_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("tandem")
}
