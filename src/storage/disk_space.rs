//! Free space and writability of the export and work directories.

use std::path::Path;

/// Bytes available to an unprivileged writer on the filesystem of `path`.
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    let st = rustix::fs::statvfs(path).map_err(std::io::Error::from)?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Creates `dir` if needed and proves it is writable by writing a probe file.
pub fn is_writable(dir: &Path) -> std::io::Result<()> {
    super::private_fs::create_dir_all(dir)?;
    let probe = dir.join(format!(".stackmigrate-probe-{}", std::process::id()));
    std::io::Write::write_all(&mut super::private_fs::create_file(&probe)?, b"probe")?;
    std::fs::remove_file(&probe)
}
