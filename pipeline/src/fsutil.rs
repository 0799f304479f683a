//! Durable file-system steps: write-and-sync, directory sync.

use std::fs::File;
use std::io::Write;
use std::path::Path;

/// Writes a file and syncs it to disk.
pub fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Syncs a directory, so that the names in it (after a create or rename) survive a crash.
pub fn sync_dir(path: &Path) -> std::io::Result<()> {
    File::open(path)?.sync_all()
}
