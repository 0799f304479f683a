//! Where a snapshot's files are: a directory on the local file system, or a prefix in an S3-compatible object
//! store (decision 0015). A session reads both the same way, through DataFusion's object store registry.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::execution::object_store::ObjectStoreUrl;
use futures::TryStreamExt;
use object_store::ObjectStore;
use object_store::path::Path as ObjectPath;

/// A snapshot's directory.
#[derive(Clone, Debug)]
pub enum SnapshotDir {
    /// A local directory.
    Local(PathBuf),
    /// A prefix in an object store.
    Object(ObjectDir),
}

/// A "directory" in an object store: a bucket and a key prefix.
#[derive(Clone, Debug)]
pub struct ObjectDir {
    /// The store (one bucket).
    pub store: Arc<dyn ObjectStore>,
    /// The bucket's URL, `s3://bucket/`: the key DataFusion finds the store under.
    pub base: ObjectStoreUrl,
    /// The prefix inside the bucket, without slashes at either end (`cobro/snapshots`).
    pub path: ObjectPath,
}

impl ObjectDir {
    /// The same bucket, one level down.
    pub fn child(&self, name: &str) -> Self {
        Self { store: Arc::clone(&self.store), base: self.base.clone(), path: self.path.clone().join(name) }
    }

    /// The key of `name` in this directory.
    pub fn key(&self, name: &str) -> ObjectPath {
        self.path.clone().join(name)
    }

    /// The URL of `name` in this directory (`s3://bucket/prefix/name`), as DataFusion reads it.
    pub fn url_of(&self, name: &str) -> String {
        format!("{}{}", self.base.as_str(), self.key(name))
    }

    /// Every object under this directory, at any depth: its key relative to this directory (`a/b.parquet`) and
    /// its size in bytes, sorted by key.
    pub async fn list(&self) -> object_store::Result<Vec<(String, u64)>> {
        let mut out: Vec<(String, u64)> = self
            .store
            .list(Some(&self.path))
            .map_ok(|meta| {
                let rel = meta
                    .location
                    .prefix_match(&self.path)
                    .map(|parts| parts.map(|p| p.as_ref().to_owned()).collect::<Vec<_>>().join("/"));
                (rel.unwrap_or_default(), meta.size)
            })
            .try_collect()
            .await?;
        out.retain(|(rel, _)| !rel.is_empty());
        out.sort();
        Ok(out)
    }
}

impl fmt::Display for SnapshotDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local(p) => write!(f, "{}", p.display()),
            Self::Object(o) => write!(f, "{}{}", o.base.as_str(), o.path),
        }
    }
}

impl PartialEq for SnapshotDir {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Local(a), Self::Local(b)) => a == b,
            (Self::Object(a), Self::Object(b)) => a.base == b.base && a.path == b.path,
            _ => false,
        }
    }
}

impl Eq for SnapshotDir {}

impl From<&Path> for SnapshotDir {
    fn from(p: &Path) -> Self {
        Self::Local(p.to_owned())
    }
}

impl From<PathBuf> for SnapshotDir {
    fn from(p: PathBuf) -> Self {
        Self::Local(p)
    }
}

impl From<&PathBuf> for SnapshotDir {
    fn from(p: &PathBuf) -> Self {
        Self::Local(p.clone())
    }
}

impl From<&SnapshotDir> for SnapshotDir {
    fn from(d: &SnapshotDir) -> Self {
        d.clone()
    }
}

impl SnapshotDir {
    /// The tables in this directory: the stems of its `<name>.parquet` files, sorted.
    pub async fn tables(&self) -> Result<Vec<String>, String> {
        let names: Vec<String> = match self {
            Self::Local(dir) => {
                let mut names = Vec::new();
                for entry in std::fs::read_dir(dir).map_err(|e| e.to_string())? {
                    names.push(entry.map_err(|e| e.to_string())?.file_name().to_string_lossy().into_owned());
                }
                names
            }
            Self::Object(o) => o.list().await.map_err(|e| e.to_string())?.into_iter().map(|(k, _)| k).collect(),
        };
        let mut tables: Vec<String> = names
            .iter()
            .filter_map(|n| n.strip_suffix(".parquet"))
            .filter(|n| !n.is_empty() && !n.contains('/'))
            .map(str::to_owned)
            .collect();
        tables.sort();
        Ok(tables)
    }

    /// Where `name` in this directory is, as DataFusion reads it: a local path or an object URL.
    pub fn location_of(&self, name: &str) -> String {
        match self {
            Self::Local(dir) => dir.join(name).to_string_lossy().into_owned(),
            Self::Object(o) => o.url_of(name),
        }
    }
}
