//! The staged ledger: `<data_dir>/staging/` holds the last successful import as canonical Parquet tables plus
//! `import.json`. It is replaced as a whole: a new import is written next to it and swapped in by renames.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::import::ImportManifest;

/// Version of the staging and snapshot layout; bump it when a table's schema changes.
pub const SCHEMA_VERSION: u32 = 1;

/// The staging directory of a data directory.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("staging")
}

/// A fresh temporary directory next to staging (same filesystem, so the swap is a rename).
pub fn temp_dir(data_dir: &Path) -> std::io::Result<PathBuf> {
    fs::create_dir_all(data_dir)?;
    let tmp = data_dir.join(format!(".staging-tmp-{}", std::process::id()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp)?;
    }
    fs::create_dir(&tmp)?;
    Ok(tmp)
}

/// Holds the data directory's staging lock until dropped, so that imports (the CLI's and the API's ledger
/// pushes) run one at a time: an appending import reads the staged ledger and must not lose a concurrent one's rows.
pub fn lock(data_dir: &Path) -> std::io::Result<fs::File> {
    fs::create_dir_all(data_dir)?;
    let f = fs::OpenOptions::new().create(true).truncate(false).write(true).open(data_dir.join(".staging.lock"))?;
    f.lock()?;
    Ok(f)
}

/// Writes `import.json`.
pub fn write_manifest(dir: &Path, manifest: &ImportManifest) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(manifest).map_err(std::io::Error::other)?;
    crate::fsutil::write_synced(&dir.join("import.json"), text.as_bytes())
}

/// Reads `import.json` of the current staging.
pub fn read_manifest(data_dir: &Path) -> std::io::Result<ImportManifest> {
    let text = fs::read_to_string(dir(data_dir).join("import.json"))?;
    serde_json::from_str(&text).map_err(std::io::Error::other)
}

/// Swaps a finished temporary directory in as the staging directory.
pub fn publish(data_dir: &Path, tmp: &Path) -> std::io::Result<PathBuf> {
    crate::fsutil::sync_dir(tmp)?;
    let target = dir(data_dir);
    let old = data_dir.join(format!(".staging-old-{}", std::process::id()));
    if target.exists() {
        fs::rename(&target, &old)?;
    }
    fs::rename(tmp, &target)?;
    crate::fsutil::sync_dir(data_dir)?;
    if old.exists() {
        fs::remove_dir_all(&old)?;
    }
    Ok(target)
}

/// Keeps the output of a failed import (its rejects above all) under `<data_dir>/failed-imports/`.
pub fn keep_failed(data_dir: &Path, tmp: &Path, now: DateTime<Utc>) -> std::io::Result<PathBuf> {
    let root = data_dir.join("failed-imports");
    fs::create_dir_all(&root)?;
    let target = root.join(format!("{}-{}", now.format("%Y%m%dT%H%M%SZ"), std::process::id()));
    fs::rename(tmp, &target)?;
    Ok(target)
}
