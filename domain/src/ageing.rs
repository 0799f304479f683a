//! Days past due and ageing buckets (DESIGN §4).

use serde::{Deserialize, Serialize};

/// Days past due at the as-of date: as-of − due date. Negative when not yet due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DaysPastDue(pub i64);

/// Ageing bucket edges on days past due. With upper edges `[30, 60, 90, 120]` the buckets are `current` (≤ 0),
/// `1-30`, `31-60`, `61-90`, `91-120` and `120+`: day 30 is in `1-30` and day 31 in `31-60`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgeingBuckets {
    upper_edges: Vec<i64>,
}

/// Why a list of edges cannot define buckets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ageing bucket edges must be positive and strictly increasing, got {edges:?} (for example [30, 60, 90, 120])")]
pub struct BucketEdgesError {
    /// The edges given.
    pub edges: Vec<i64>,
}

impl Default for AgeingBuckets {
    fn default() -> Self {
        Self { upper_edges: vec![30, 60, 90, 120] }
    }
}

impl AgeingBuckets {
    /// Buckets from upper edges (each edge is the last day of its bucket).
    pub fn new(upper_edges: Vec<i64>) -> Result<Self, BucketEdgesError> {
        let ok = upper_edges.first().is_some_and(|first| *first > 0) && upper_edges.windows(2).all(|w| w[0] < w[1]);
        if ok { Ok(Self { upper_edges }) } else { Err(BucketEdgesError { edges: upper_edges }) }
    }

    /// The upper edges.
    pub fn upper_edges(&self) -> &[i64] {
        &self.upper_edges
    }

    /// Every bucket label, in order.
    pub fn labels(&self) -> Vec<String> {
        let mut labels = vec!["current".to_owned()];
        let mut lower = 1;
        for edge in &self.upper_edges {
            labels.push(format!("{lower}-{edge}"));
            lower = edge + 1;
        }
        if let Some(last) = self.upper_edges.last() {
            labels.push(format!("{last}+"));
        }
        labels
    }

    /// The bucket label of a days-past-due value.
    pub fn label(&self, dpd: DaysPastDue) -> String {
        let labels = self.labels();
        let index = if dpd.0 <= 0 { 0 } else { 1 + self.upper_edges.iter().take_while(|edge| dpd.0 > **edge).count() };
        labels.get(index).cloned().unwrap_or_default()
    }

    /// A SQL `CASE` expression mapping the integer expression `dpd` to its bucket's position (0 for `current`),
    /// for sorting rows in bucket order rather than alphabetically.
    pub fn sql_order_case(&self, dpd: &str) -> String {
        let mut sql = format!("CASE WHEN {dpd} <= 0 THEN 0");
        for (i, edge) in self.upper_edges.iter().enumerate() {
            sql.push_str(&format!(" WHEN {dpd} <= {edge} THEN {}", i + 1));
        }
        sql.push_str(&format!(" ELSE {} END", self.upper_edges.len() + 1));
        sql
    }

    /// Labels of the same edges applied to days since issue (never negative): `0-30`, `31-60`, …, `120+`.
    pub fn issue_labels(&self) -> Vec<String> {
        let mut labels = self.labels();
        labels.remove(0);
        if let (Some(first), Some(edge)) = (labels.first_mut(), self.upper_edges.first()) {
            *first = format!("0-{edge}");
        }
        labels
    }

    /// A SQL `CASE` expression mapping days since issue to its issue-date bucket label ([`Self::issue_labels`]).
    pub fn sql_issue_case(&self, days: &str) -> String {
        let labels = self.issue_labels();
        let mut sql = "CASE".to_owned();
        for (edge, label) in self.upper_edges.iter().zip(labels.iter()) {
            sql.push_str(&format!(" WHEN {days} <= {edge} THEN '{label}'"));
        }
        if let Some(last) = labels.last() {
            sql.push_str(&format!(" ELSE '{last}' END"));
        }
        sql
    }

    /// A SQL `CASE` expression mapping the integer expression `dpd` to its bucket label. The metric SQL uses it,
    /// so that configured edges and the Rust [`AgeingBuckets::label`] can never disagree.
    pub fn sql_case(&self, dpd: &str) -> String {
        let labels = self.labels();
        let mut sql = format!("CASE WHEN {dpd} <= 0 THEN '{}'", labels[0]);
        for (edge, label) in self.upper_edges.iter().zip(labels.iter().skip(1)) {
            sql.push_str(&format!(" WHEN {dpd} <= {edge} THEN '{label}'"));
        }
        if let Some(last) = labels.last() {
            sql.push_str(&format!(" ELSE '{last}' END"));
        }
        sql
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_bucket_edges_put_day_30_in_1_30_and_day_31_in_31_60() {
        let b = AgeingBuckets::default();
        let cases = [
            (-5, "current"),
            (0, "current"),
            (1, "1-30"),
            (30, "1-30"),
            (31, "31-60"),
            (60, "31-60"),
            (61, "61-90"),
            (90, "61-90"),
            (91, "91-120"),
            (120, "91-120"),
            (121, "120+"),
        ];
        for (days, want) in cases {
            assert_eq!(b.label(DaysPastDue(days)), want, "day {days}");
        }
    }

    #[test]
    fn bucket_edges_must_increase() {
        assert!(AgeingBuckets::new(vec![30, 30]).is_err());
        assert!(AgeingBuckets::new(vec![0, 30]).is_err());
        assert!(AgeingBuckets::new(vec![]).is_err());
        assert_eq!(
            AgeingBuckets::new(vec![15, 45]).map(|b| b.labels()).ok(),
            Some(vec!["current".into(), "1-15".into(), "16-45".into(), "45+".into()])
        );
    }

    #[test]
    fn sql_case_lists_every_edge() {
        let sql = AgeingBuckets::default().sql_case("d");
        assert!(sql.starts_with("CASE WHEN d <= 0 THEN 'current' WHEN d <= 30 THEN '1-30'"));
        assert!(sql.ends_with("ELSE '120+' END"));
        let order = AgeingBuckets::default().sql_order_case("d");
        assert_eq!(
            order,
            "CASE WHEN d <= 0 THEN 0 WHEN d <= 30 THEN 1 WHEN d <= 60 THEN 2 WHEN d <= 90 THEN 3 WHEN d <= 120 THEN 4 ELSE 5 END"
        );
    }

    #[test]
    fn issue_date_buckets_start_at_day_zero() {
        let b = AgeingBuckets::default();
        assert_eq!(b.issue_labels(), vec!["0-30", "31-60", "61-90", "91-120", "120+"]);
        assert_eq!(
            b.sql_issue_case("d"),
            "CASE WHEN d <= 30 THEN '0-30' WHEN d <= 60 THEN '31-60' WHEN d <= 90 THEN '61-90' WHEN d <= 120 THEN '91-120' ELSE '120+' END"
        );
    }
}
