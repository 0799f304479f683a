//! A verified local copy of snapshots that live in an object store (decision 0016).
//!
//! A published snapshot never changes: its manifest is created once, conditionally, and lists every data file with
//! its sha256. So a reader can copy a snapshot to local disk once, check every byte against the manifest, and answer
//! every later query from the copy: no request per query and per table (DataFusion asks the store for each file's
//! size and reads its pages again on every scan), and no way for an object changed behind the manifest's back to
//! reach a number.
//!
//! The copy mirrors the bucket's layout under the cache directory (`<cache>/<bucket>/<prefix>/snapshots/as_of=D/v=N`)
//! and is itself committed manifest-last: the data files are downloaded to temporary names, checked and renamed,
//! and the manifest is written last. A copy whose manifest is byte-for-byte the one in the store is complete and
//! current; anything else (no manifest, a different one because the bucket was emptied and rebuilt, a file of the
//! wrong size) is copied again. Two processes copying at once both end with the same files.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use cobro_analytics::object_store::ObjectStoreExt;
use cobro_analytics::{ObjectDir, SnapshotDir};
use futures::StreamExt;
use sha2::{Digest, Sha256};

use crate::fsutil;
use crate::snapshot::{
    DataFile, MANIFEST, SnapshotError, SnapshotManifest, SnapshotRef, SnapshotRoot, io, object, parse_date_dir,
    parse_manifest, parse_version_dir,
};

/// Files downloaded at once.
const PARALLEL: usize = 4;

/// Where local copies of object-store snapshots are kept.
#[derive(Debug, Clone)]
pub struct SnapshotCache {
    root: PathBuf,
}

impl SnapshotCache {
    /// A cache in `root` (created on first use).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The snapshot `snap` where it can be read fastest, with its manifest: a snapshot on local disk as it is; one
    /// in an object store from its local copy, made (or brought up to date) first.
    ///
    /// Costs one GET of the manifest when the copy is current.
    pub async fn local(&self, snap: &SnapshotRef) -> Result<(SnapshotRef, SnapshotManifest), SnapshotError> {
        let SnapshotDir::Object(remote) = &snap.dir else {
            let manifest = crate::snapshot::read_manifest(&snap.dir).await?;
            return Ok((snap.clone(), manifest));
        };
        let place = remote.url_of(MANIFEST);
        let get = remote.store.get(&remote.key(MANIFEST)).await.map_err(object(&place))?;
        let text = get.bytes().await.map_err(object(&place))?;
        let manifest = parse_manifest(&text, &place)?;
        let dir = self.dir_of(remote);
        let here = dir.join(MANIFEST);
        let current = fs::read(&here).is_ok_and(|t| t == text)
            && manifest.files.iter().all(|(table, f)| file_size(&dir, table) == Some(f.bytes));
        if !current {
            tracing::info!("copying {} to {}", SnapshotDir::Object(remote.clone()), dir.display());
            copy(remote, &dir, &manifest).await?;
            let tmp = temporary(&here);
            fsutil::write_synced(&tmp, &text).map_err(io(&tmp))?;
            fs::rename(&tmp, &here).map_err(io(&here))?;
            fsutil::sync_dir(&dir).map_err(io(&dir))?;
        }
        Ok((SnapshotRef { as_of: snap.as_of, version: snap.version, dir: SnapshotDir::Local(dir) }, manifest))
    }

    /// Removes the copies cobro no longer reads: of versions that are not the latest published one of their date
    /// in `root` (readers always take the latest), or that are gone from it. Returns each removed directory with
    /// its bytes. Run it when no reader is on an older version: a query that had already opened one of its files
    /// keeps reading it, but one that had not fails.
    pub async fn prune(&self, root: &SnapshotRoot) -> Result<Vec<(PathBuf, u64)>, SnapshotError> {
        let SnapshotRoot::Object(remote) = root else {
            return Ok(Vec::new());
        };
        let mut latest: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
        for s in root.list().await? {
            // Oldest first, so the last one seen for a date is its latest.
            latest.insert(format!("as_of={}", s.as_of), format!("v={}", s.version));
        }
        let base = self.dir_of(remote);
        let mut removed = Vec::new();
        let Ok(dates) = fs::read_dir(&base) else {
            return Ok(removed);
        };
        for date in dates.flatten() {
            let date_name = date.file_name().to_string_lossy().into_owned();
            if parse_date_dir(&date_name).is_none() {
                continue;
            }
            for version in fs::read_dir(date.path()).map_err(io(&date.path()))?.flatten() {
                let name = version.file_name().to_string_lossy().into_owned();
                if parse_version_dir(&name).is_none() || latest.get(&date_name) == Some(&name) {
                    continue;
                }
                let path = version.path();
                let bytes = fs::read_dir(&path)
                    .map(|files| files.flatten().filter_map(|f| f.metadata().ok()).map(|m| m.len()).sum())
                    .unwrap_or(0);
                fs::remove_dir_all(&path).map_err(io(&path))?;
                removed.push((path, bytes));
            }
        }
        removed.sort();
        Ok(removed)
    }

    /// `<cache>/<bucket>/<key prefix>`.
    fn dir_of(&self, remote: &ObjectDir) -> PathBuf {
        let bucket = remote.base.as_str().split_once("://").map_or("", |(_, rest)| rest).trim_end_matches('/');
        let mut dir = self.root.join(bucket);
        for part in remote.path.parts() {
            dir.push(part.as_ref());
        }
        dir
    }
}

fn file_size(dir: &Path, table: &str) -> Option<u64> {
    fs::metadata(dir.join(format!("{table}.parquet"))).ok().map(|m| m.len())
}

/// A name next to `path` that no other process uses.
fn temporary(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.{}-{}.part", std::process::id(), rand::random::<u32>()))
}

/// Makes `dir` hold exactly the manifest's data files, each checked against its sha256: the old manifest goes
/// first (so a copy cut short is never taken for a whole one), files already there with the right size and hash
/// stay, the rest are downloaded, and files the manifest does not list are removed.
async fn copy(remote: &ObjectDir, dir: &Path, manifest: &SnapshotManifest) -> Result<(), SnapshotError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let old = dir.join(MANIFEST);
    if old.exists() {
        fs::remove_file(&old).map_err(io(&old))?;
    }
    for entry in fs::read_dir(dir).map_err(io(dir))?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let listed = name.strip_suffix(".parquet").is_some_and(|t| manifest.files.contains_key(t));
        if !listed && !name.ends_with(".part") {
            let path = entry.path();
            fs::remove_file(&path).map_err(io(&path))?;
        }
    }
    // A few at a time, in groups (a stream of borrowing futures would not be `Send` for the server's tasks).
    let files: Vec<(&String, &DataFile)> = manifest.files.iter().collect();
    for group in files.chunks(PARALLEL) {
        // Every download of the group runs to its end (a cancelled one would leave its temporary file behind).
        let downloads: Vec<_> = group.iter().map(|(table, file)| download(remote, dir, table, file)).collect();
        futures::future::join_all(downloads).await.into_iter().collect::<Result<Vec<()>, _>>()?;
    }
    Ok(())
}

/// Downloads one data file unless a checked copy is already there.
async fn download(remote: &ObjectDir, dir: &Path, table: &str, file: &DataFile) -> Result<(), SnapshotError> {
    let name = format!("{table}.parquet");
    let path = dir.join(&name);
    if file_size(dir, table) == Some(file.bytes)
        && crate::import::source::sha256_file(&path).is_ok_and(|(sha, _)| sha == file.sha256)
    {
        return Ok(());
    }
    let place = remote.url_of(&name);
    let tmp = temporary(&path);
    let result = async {
        let get = remote.store.get(&remote.key(&name)).await.map_err(object(&place))?;
        let mut stream = get.into_stream();
        let mut out = fs::File::create(&tmp).map_err(io(&tmp))?;
        let mut hasher = Sha256::new();
        let mut bytes = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(object(&place))?;
            hasher.update(&chunk);
            bytes += chunk.len() as u64;
            out.write_all(&chunk).map_err(io(&tmp))?;
        }
        out.sync_all().map_err(io(&tmp))?;
        let sha256 = hex::encode(hasher.finalize());
        if sha256 != file.sha256 || bytes != file.bytes {
            return Err(SnapshotError::Tampered {
                place: place.clone(),
                expected: format!("{} bytes, sha256 {}", file.bytes, file.sha256),
                found: format!("{bytes} bytes, sha256 {sha256}"),
            });
        }
        fs::rename(&tmp, &path).map_err(io(&path))
    }
    .await;
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
