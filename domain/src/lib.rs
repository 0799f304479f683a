//! cobro's vocabulary, shared by every other crate: identifiers, exact money with an ISO currency, the as-of
//! date, ageing buckets, and the canonical ledger tables (names, columns, logical types).
//!
//! This crate does no IO and must not depend on tokio, DataFusion or axum: it describes the canonical tables as
//! plain data ([`tables`]), and the crates that own Arrow turn those descriptions into Arrow schemas.

pub mod ageing;
pub mod asof;
pub mod calendar;
pub mod clock;
pub mod currency;
pub mod ids;
pub mod metrics;
pub mod money;
pub mod tables;

pub use ageing::{AgeingBuckets, DaysPastDue};
pub use asof::AsOf;
pub use calendar::BusinessCalendar;
pub use currency::Currency;
pub use ids::{CollectorId, CustomerId, DocumentId, PaymentId, SalesRepId};
pub use money::{MONEY_PRECISION, MONEY_SCALE, Money};
