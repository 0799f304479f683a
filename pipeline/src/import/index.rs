//! What the import remembers across rows to check keys and references: every id seen, and running totals of
//! what has been applied to each document and from each payment or credit note.
//!
//! Ids are remembered as a 128-bit hash (two independent 64-bit SipHashes) instead of the string, so the index
//! costs about 40 bytes per document however long the ids are. Two different ids sharing a 128-bit hash would
//! need about 2^64 ids; see docs/decisions/0003-import-index.md.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use cobro_domain::Currency;

/// Where a row came from, for "first seen at" messages: the file's number and the line, packed in 8 bytes
/// (16 bits of file, 48 bits of line) because the index holds one per document and payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin(u64);

impl Origin {
    /// Packs a file number and a line.
    pub fn new(file: u32, line: u64) -> Self {
        Self((u64::from(file.min(0xFFFF)) << 48) | line.min((1 << 48) - 1))
    }

    /// The file's number.
    pub fn file(self) -> u32 {
        (self.0 >> 48) as u32
    }

    /// The line (or row).
    pub fn line(self) -> u64 {
        self.0 & ((1 << 48) - 1)
    }
}

/// A 128-bit key of an id.
pub type Key = u128;

/// Hashes an id (with the table's namespace) to a key.
pub fn key(namespace: u8, id: &str) -> Key {
    #[allow(deprecated)] // SipHasher is the stable, seedable SipHash; DefaultHasher's algorithm is unspecified.
    fn sip(seed: u64, namespace: u8, id: &str) -> u64 {
        let mut h = std::hash::SipHasher::new_with_keys(seed, !seed);
        namespace.hash(&mut h);
        id.hash(&mut h);
        h.finish()
    }
    (u128::from(sip(0x636f_6272_6f31, namespace, id)) << 64) | u128::from(sip(0x636f_6272_6f32, namespace, id))
}

/// A hasher for keys that are already hashes.
#[derive(Default)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u128(&mut self, i: u128) {
        self.0 = i as u64;
    }
}

type KeyMap<V> = HashMap<Key, V, BuildHasherDefault<KeyHasher>>;

/// A customer seen so far.
#[derive(Debug, Clone, Copy)]
pub struct CustomerEntry {
    /// Where it was first seen.
    pub origin: Origin,
    /// Hash of all its values, to merge identical repeats of derived rows.
    pub row_hash: u64,
}

/// A document seen so far. 32 bytes: the index holds one per document.
#[derive(Debug, Clone, Copy)]
pub struct DocumentEntry {
    /// Where it was first seen.
    pub origin: Origin,
    /// Amount (unscaled `Decimal128(18, 4)`, which always fits an `i64`).
    pub amount: i64,
    /// For an invoice or debit note, what has been applied to it; for a credit note, what has been applied from
    /// it. A document is never both a target and a source, so one total serves.
    pub consumed: i64,
    /// Currency.
    pub currency: Currency,
    /// Is it a credit note.
    pub credit_note: bool,
}

/// A payment seen so far.
#[derive(Debug, Clone, Copy)]
pub struct PaymentEntry {
    /// Where it was first seen.
    pub origin: Origin,
    /// Amount (unscaled).
    pub amount: i64,
    /// Applied from it so far.
    pub used: i64,
    /// Currency.
    pub currency: Currency,
}

/// Keys and running totals across the whole import.
#[derive(Default)]
pub struct Index {
    /// Customers by id.
    pub customers: KeyMap<CustomerEntry>,
    /// Documents by id.
    pub documents: KeyMap<DocumentEntry>,
    /// Payments by id.
    pub payments: KeyMap<PaymentEntry>,
    /// FX rates by (date, currency).
    pub fx: HashMap<(i32, Currency), Origin>,
}

/// Namespaces keep the id spaces of different tables apart.
pub mod ns {
    /// Customers.
    pub const CUSTOMER: u8 = 1;
    /// Documents.
    pub const DOCUMENT: u8 = 2;
    /// Payments.
    pub const PAYMENT: u8 = 3;
}
