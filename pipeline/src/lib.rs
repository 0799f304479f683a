//! cobro's ingest: mapping files, streaming validation with quarantine, the staged ledger, immutable Parquet
//! snapshots with their manifest, and the synthetic ledger generator.
//!
//! Must not depend on axum. Arrow and Parquet come through `cobro_analytics`'s re-exports.

pub mod fsutil;
pub mod generate;
pub mod import;
pub mod mapping;
pub mod parquet_io;
pub mod parse;
pub mod snapshot;
pub mod snapshot_cache;
pub mod staging;
