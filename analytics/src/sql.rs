//! The SQL that cobro runs, loaded from `analytics/sql/*.sql`. Files are templates: `{{name}}` placeholders are
//! replaced with values that were parsed and typed first (dates, integers, generated `CASE` expressions), never
//! with raw user text.

use cobro_domain::{AgeingBuckets, AsOf};

/// The open items at the end of the as-of date (DESIGN §2.1).
pub const OPEN_ITEMS: &str = include_str!("../sql/open_items.sql");
/// Unapplied cash and credits at the end of the as-of date.
pub const UNAPPLIED: &str = include_str!("../sql/unapplied.sql");

/// Parameters every snapshot query is rendered with.
#[derive(Debug, Clone)]
pub struct SqlParams {
    /// The as-of date.
    pub as_of: AsOf,
    /// Ageing bucket edges.
    pub buckets: AgeingBuckets,
    /// The reporting currency code.
    pub reporting_currency: String,
}

impl SqlParams {
    /// Renders a template.
    pub fn render(&self, template: &str) -> String {
        let currency: String = self.reporting_currency.chars().filter(char::is_ascii_alphabetic).collect();
        template
            .replace("{{as_of}}", &format!("DATE '{}'", self.as_of))
            .replace("{{bucket_case_dpd}}", &self.buckets.sql_case("days_past_due"))
            .replace("{{reporting_currency}}", &format!("'{currency}'"))
    }
}
