//! Everything a workflow command can refuse, each with what, where and what to do.

use chrono::NaiveDate;

use crate::status::{IllegalTransition, Status};

/// Why a workflow command did not change anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaseError {
    /// The store could not be opened, migrated or written.
    #[error("operational store {url}: {message}")]
    Store {
        /// Store URL (password hidden).
        url: String,
        /// Cause.
        message: String,
    },
    /// The document is not in the ledger snapshot.
    #[error(
        "document `{document_id}` is not in the ledger snapshot as of {as_of}; check the id (ids keep their leading zeros) or build a newer snapshot"
    )]
    UnknownDocument {
        /// Document.
        document_id: String,
        /// Snapshot date.
        as_of: NaiveDate,
    },
    /// The customer is not in the ledger snapshot.
    #[error("customer `{customer_id}` is not in the ledger snapshot as of {as_of}")]
    UnknownCustomer {
        /// Customer.
        customer_id: String,
        /// Snapshot date.
        as_of: NaiveDate,
    },
    /// The document belongs to someone else.
    #[error(
        "document `{document_id}` belongs to customer `{owner}`, not `{customer_id}`; one outcome covers documents of one customer"
    )]
    WrongCustomer {
        /// Document.
        document_id: String,
        /// Customer named in the command.
        customer_id: String,
        /// Its real customer.
        owner: String,
    },
    /// Paid or credited documents are never chased.
    #[error(
        "document `{document_id}` is already {how} (balance 0 at {as_of}); paid and credited documents are never chased, so no outcome is recorded"
    )]
    Settled {
        /// Document.
        document_id: String,
        /// `paid`, `credited` or `paid and credited`.
        how: String,
        /// Snapshot date.
        as_of: NaiveDate,
    },
    /// Credit notes are not collected.
    #[error("document `{document_id}` is a {kind}; only invoices and debit notes are collected")]
    NotReceivable {
        /// Document.
        document_id: String,
        /// Its kind.
        kind: String,
    },
    /// The state machine refuses the change.
    #[error("document `{document_id}`: {refused}")]
    Illegal {
        /// Document.
        document_id: String,
        /// Why.
        refused: IllegalTransition,
    },
    /// Someone else changed the document since this command read it.
    #[error(
        "document `{document_id}` changed while this was being recorded: it is now `{now}` (version {version}, by {by} at {at}); nothing was written, reload it and decide again"
    )]
    Conflict {
        /// Document.
        document_id: String,
        /// Its status now.
        now: Status,
        /// Its version now.
        version: i64,
        /// Who changed it.
        by: String,
        /// When.
        at: String,
    },
    /// A field of the command is wrong.
    #[error("{field}: {message}")]
    Invalid {
        /// The field (`--amount`, `promised_date`, ...).
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// A record id that does not exist.
    #[error("no {what} `{id}` in the operational store")]
    NotFound {
        /// `dispute`, `promise`, `task`, ...
        what: &'static str,
        /// Id.
        id: String,
    },
}

impl CaseError {
    /// A field error.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid { field: field.to_owned(), message: message.into() }
    }
}

impl From<crate::templates::TemplateError> for CaseError {
    fn from(e: crate::templates::TemplateError) -> Self {
        Self::Invalid { field: "templates".into(), message: e.to_string() }
    }
}
