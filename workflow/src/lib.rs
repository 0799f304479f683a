//! cobro's collections workflow (DESIGN §2.2): the operational store, the invoice collection status and its
//! state machine, the five contact outcomes of seed 003, disputes routed to departments with deadlines and
//! reminders, promises kept or broken against the ledger, tasks, the outbox of messages, and the export of all
//! of it into each snapshot.
//!
//! The ledger is read by the caller and handed in as plain rows ([`ledger`]); this crate never names the query
//! engine.

pub mod access;
pub mod cases;
pub mod config;
pub mod delivery;
pub mod error;
pub mod executor;
pub mod export;
pub mod idempotency;
pub mod import;
pub mod ledger;
pub mod planner;
pub mod status;
pub mod store;
pub mod strategy;
pub mod templates;
pub mod tick;
pub mod views;

#[cfg(test)]
mod tests;

pub use cases::{Ctx, Outcome, OutcomeKind, Recorded};
pub use config::WorkflowConfig;
pub use error::CaseError;
pub use ledger::{Ledger, LedgerCustomer, LedgerDocument};
pub use status::{Status, Transition};
pub use store::Store;

/// Stops the process at a named point when `COBRO_FAILPOINT` names it: how the fault tests kill a command
/// between two writes (or between a send and its record).
pub(crate) fn failpoint(name: &str) {
    if std::env::var("COBRO_FAILPOINT").is_ok_and(|v| v == name) {
        std::process::abort();
    }
}
