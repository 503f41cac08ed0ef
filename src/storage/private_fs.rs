//! Files and directories that only the operator may read: exports hold
//! tenants' disks, the work dir the project's inventory, journal, reports and
//! usage. Everything stackmigrate creates goes through here, so the modes do
//! not depend on the umask (0700 directories, 0600 files).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Mode of every directory stackmigrate creates.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file stackmigrate creates.
pub const FILE_MODE: u32 = 0o600;

/// `mkdir -p` with mode 0700 for each directory it creates (existing ones
/// keep their mode; [`shared_dirs_warning`] reports them).
/// Each directory it makes is made durable in its parent (fsync'd), so a
/// power loss cannot take away a directory that files inside it were synced into.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    let missing: Vec<&Path> = dir
        .ancestors()
        .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
        .collect();
    std::fs::DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)?;
    for made in missing.iter().rev() {
        if let Some(parent) = made.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
    }
    Ok(())
}

/// fsyncs directory `dir`: what was created, renamed or unlinked in it
/// outlasts a power loss.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Deletes `path` and makes the deletion durable (its directory fsync'd)
/// before anything may record it; `Ok(false)` when it was already gone.
pub fn remove_durably(path: &Path) -> io::Result<bool> {
    let removed = match std::fs::remove_file(path) {
        Ok(()) => true,
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => return Err(e),
    };
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        sync_dir_or_warn(dir);
    }
    Ok(removed)
}

/// [`sync_dir`] after a change that is done whatever it answers (an unlink,
/// a rename): a file system that cannot sync a directory is warned about,
/// not taken for a failed change.
fn sync_dir_or_warn(dir: &Path) {
    if let Err(e) = sync_dir(dir) {
        tracing::warn!(
            "{}: the directory could not be synced ({e}); a power loss now may undo its last change",
            dir.display()
        );
    }
}

/// Open options that create a file with mode 0600; the caller adds the access flags.
pub fn options() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.mode(FILE_MODE);
    o
}

/// Creates (or truncates) `path` for writing, mode 0600: a file already
/// there (a crashed run's `.tmp` or `.partial`, made by an earlier version
/// with the umask's mode) is made 0600 while still empty, before anything is
/// written, so the rename that publishes it publishes a private file.
pub fn create_file(path: &Path) -> io::Result<File> {
    let file = options().write(true).create(true).truncate(true).open(path)?;
    make_private(&file)?;
    Ok(file)
}

/// Makes an existing file 0600 if group or others could read it (one an
/// earlier version, or another tool, created with the umask's mode).
pub fn make_private(file: &File) -> io::Result<()> {
    if file.metadata()?.permissions().mode() & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    }
    Ok(())
}

/// Opens (creating, 0600) `path` for appending and takes an exclusive
/// `flock` on it, held until the file is dropped; `None` when another
/// process holds it. Locks one project's journal, and its usage archive.
pub fn open_locked(path: &Path) -> io::Result<Option<File>> {
    let file = options().create(true).append(true).open(path)?;
    match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(Some(file)),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Temporary file (0600), fsync, rename, fsync of the directory: a crash
/// leaves the old file or the new one, never half of one, and once this
/// returns a power loss keeps the new one. Parent directories are created 0700.
pub fn write_atomic(path: &Path, text: &str) -> Result<(), (PathBuf, io::Error)> {
    use std::io::Write;
    let err = |e| (path.to_path_buf(), e);
    if let Some(dir) = path.parent() {
        create_dir_all(dir).map_err(err)?;
    }
    let tmp = path.with_extension("tmp");
    let mut f = create_file(&tmp).map_err(err)?;
    f.write_all(text.as_bytes()).map_err(err)?;
    f.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)?;
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        sync_dir_or_warn(dir);
    }
    Ok(())
}

/// Directories already warned about in this process: the dashboard sets up
/// a run more than once (plan, then start) and should say it once.
static WARNED: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

/// One warning naming those of `dirs` that exist and that group or others can
/// enter or read, each at most once per process; `None` when there are none.
pub fn shared_dirs_warning(dirs: &[&Path]) -> Option<String> {
    let shared: Vec<(PathBuf, u32)> = dirs
        .iter()
        .filter_map(|d| {
            let mode = std::fs::metadata(d).ok()?.permissions().mode() & 0o777;
            (mode & 0o077 != 0).then(|| (d.to_path_buf(), mode))
        })
        .collect();
    let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
    let warned = warned.get_or_insert_with(HashSet::new);
    let fresh: Vec<(PathBuf, u32)> = shared.into_iter().filter(|(d, _)| warned.insert(d.clone())).collect();
    if fresh.is_empty() {
        return None;
    }
    let list: Vec<String> = fresh
        .iter()
        .map(|(d, m)| format!("{} (mode {m:o})", d.display()))
        .collect();
    let paths: Vec<String> = fresh.iter().map(|(d, _)| d.display().to_string()).collect();
    Some(format!(
        "{} can be read by group or others and will hold tenants' data; run: chmod 700 {}",
        list.join(", "),
        paths.join(" ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).expect("meta").permissions().mode() & 0o777
    }

    #[test]
    fn created_private_whatever_the_umask_allows() {
        let tmp = tempfile::tempdir().expect("tmp");
        let deep = tmp.path().join("a/b");
        create_dir_all(&deep).expect("mkdir");
        assert_eq!((mode(&tmp.path().join("a")), mode(&deep)), (0o700, 0o700));
        create_file(&deep.join("f")).expect("create");
        assert_eq!(mode(&deep.join("f")), 0o600);
    }

    #[test]
    fn an_open_directory_is_named_once() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (open, closed) = (tmp.path().join("open"), tmp.path().join("closed"));
        create_dir_all(&open).expect("mkdir");
        create_dir_all(&closed).expect("mkdir");
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let w = shared_dirs_warning(&[&open, &closed]).expect("warned");
        assert!(w.contains("open (mode 755)") && !w.contains("closed"), "{w}");
        assert_eq!(shared_dirs_warning(&[&open, &closed]), None, "once");
    }

    /// A leftover temporary file with a wider mode is made private before
    /// it is written and renamed into place.
    #[test]
    fn a_leftover_temporary_file_is_made_private_before_it_is_published() {
        let dir = tempfile::tempdir().expect("tmp");
        let report = dir.path().join("report.json");
        let tmp = dir.path().join("report.tmp");
        std::fs::write(&tmp, b"old").expect("leftover");
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        write_atomic(&report, "tenant inventory").expect("write");
        assert_eq!(mode(&report), 0o600);
        let partial = dir.path().join("volume-v.partial");
        std::fs::write(&partial, b"old").expect("leftover");
        std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        drop(create_file(&partial).expect("reopen"));
        assert_eq!(mode(&partial), 0o600);
    }
}
