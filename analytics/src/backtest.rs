//! The pay-date back-test (DESIGN §5): replay month ends over one snapshot, predict the pay date of every receivable
//! open at each month end with only what was effective by then, and score the predictions and the "pays on the due
//! date" baseline against what the snapshot says happened.

use crate::location::SnapshotDir;
use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use cobro_domain::AsOf;
use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::cells;
use crate::error::QueryError;
use crate::session::SnapshotSession;
use crate::sql::{self, SqlParams};

/// Errors of one scope (all, a segment, an offset source, a month).
#[derive(Debug, Default, Clone, PartialEq)]
struct Scope {
    model: Vec<i64>,
    baseline: Vec<i64>,
    open: i64,
    credited: i64,
}

/// One line of the result.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopeResult {
    /// `all`, `segment=…`, `source=…` or `month=YYYY-MM`.
    pub scope: String,
    /// Predictions scored (documents paid by the snapshot date).
    pub scored: i64,
    /// Predictions not scored because the document is still open at the snapshot date.
    pub still_open: i64,
    /// Predictions not scored because credit notes cancelled the document.
    pub credited: i64,
    /// Mean absolute error of the model, days.
    pub mae: Option<f64>,
    /// Mean absolute error of the baseline, days.
    pub baseline_mae: Option<f64>,
    /// Median absolute error of the model, days.
    pub median: Option<f64>,
    /// Median absolute error of the baseline, days.
    pub baseline_median: Option<f64>,
}

/// The month ends from `first` to `last` (both month ends), inclusive.
pub fn month_ends(first: NaiveDate, last: NaiveDate) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    let mut d = cobro_domain::asof::month_end(first);
    while d <= last {
        out.push(d);
        match d.succ_opt() {
            Some(next) => d = cobro_domain::asof::month_end(next),
            None => break,
        }
    }
    out
}

/// Runs the back-test over the snapshot in `dir` (whose date is `params.as_of`) for the given month ends, each of
/// which must be before the snapshot's date.
pub async fn run(dir: &SnapshotDir, params: &SqlParams, months: &[NaiveDate]) -> Result<Vec<ScopeResult>, QueryError> {
    let known_until = params.as_of;
    if let Some(month_end) = months.iter().find(|m| **m >= known_until.date()) {
        return Err(QueryError::Plan {
            message: format!(
                "cannot back-test {}: the snapshot is as of {known_until}, so nothing after it is known; \
                 replay month ends before {known_until}, or use a later snapshot (--as-of)",
                month_end.format("%Y-%m")
            ),
        });
    }
    // What happened: settlement as of the snapshot's date, computed once and shared by every month.
    let now = SnapshotSession::open(dir, params.clone()).await?;
    let df = now.sql("SELECT document_id, settled_date, settled_by FROM settled_documents").await?;
    let actual_schema = df.schema().inner().clone();
    let actual = df.collect().await.map_err(|source| QueryError::Execute { source })?;
    drop(now);
    let mut scopes: BTreeMap<(u8, String), Scope> = BTreeMap::new();
    for &month_end in months {
        let at = params.at(AsOf::new(month_end));
        let mut session = SnapshotSession::open_replay(dir, at.clone()).await?;
        session.register_batches("actual_settlement", actual_schema.clone(), actual.clone())?;
        let batches = session.collect(&at.render(sql::BACKTEST)).await?;
        let month = format!("month={}", month_end.format("%Y-%m"));
        for batch in &batches {
            let col = |name: &str| {
                batch
                    .column_by_name(name)
                    .cloned()
                    .ok_or_else(|| QueryError::Plan { message: format!("the back-test query has no column {name}") })
            };
            let segment = cells::strings(&col("segment")?)?;
            let source = cells::strings(&col("offset_source")?)?;
            let outcome = cells::strings(&col("outcome")?)?;
            let error = cells::ints(&col("error_days")?)?;
            let baseline = cells::ints(&col("baseline_error_days")?)?;
            for i in 0..batch.num_rows() {
                let keys = [
                    (0, "all".to_owned()),
                    (1, format!("segment={}", segment.value(i))),
                    (2, format!("source={}", source.value(i))),
                    (3, month.clone()),
                ];
                for key in keys {
                    let s = scopes.entry(key).or_default();
                    match outcome.value(i) {
                        "paid" => {
                            s.model.push(error.value(i));
                            s.baseline.push(baseline.value(i));
                        }
                        "credited" => s.credited += 1,
                        _ => s.open += 1,
                    }
                }
            }
        }
    }
    Ok(scopes.into_iter().map(|((_, scope), s)| summarise(scope, s)).collect())
}

fn summarise(scope: String, mut s: Scope) -> ScopeResult {
    ScopeResult {
        scope,
        scored: s.model.len() as i64,
        still_open: s.open,
        credited: s.credited,
        mae: mean(&s.model),
        baseline_mae: mean(&s.baseline),
        median: median(&mut s.model),
        baseline_median: median(&mut s.baseline),
    }
}

fn mean(v: &[i64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<i64>() as f64 / v.len() as f64)
}

/// The median; the mean of the two middle values when the count is even.
fn median(v: &mut [i64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] as f64 } else { (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0 })
}

/// The results as one Arrow batch (for the CLI's formats and the API).
pub fn to_batch(rows: &[ScopeResult]) -> Result<(SchemaRef, RecordBatch), QueryError> {
    let round = |v: Option<f64>| v.map(|x| (x * 100.0).round() / 100.0);
    let improvement = |r: &ScopeResult| match (r.mae, r.baseline_mae) {
        (Some(m), Some(b)) if b > 0.0 => Some(((b - m) / b * 1000.0).round() / 10.0),
        _ => None,
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("scope", DataType::Utf8, false),
        Field::new("scored", DataType::Int64, false),
        Field::new("still_open", DataType::Int64, false),
        Field::new("credited", DataType::Int64, false),
        Field::new("mae_days", DataType::Float64, true),
        Field::new("baseline_mae_days", DataType::Float64, true),
        Field::new("median_days", DataType::Float64, true),
        Field::new("baseline_median_days", DataType::Float64, true),
        Field::new("mae_improvement_pct", DataType::Float64, true),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.scope.as_str()))),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.scored))),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.still_open))),
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.credited))),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| round(r.mae)))),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| round(r.baseline_mae)))),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.median))),
        Arc::new(Float64Array::from_iter(rows.iter().map(|r| r.baseline_median))),
        Arc::new(Float64Array::from_iter(rows.iter().map(improvement))),
    ];
    let batch =
        RecordBatch::try_new(schema.clone(), columns).map_err(|e| QueryError::Plan { message: e.to_string() })?;
    Ok((schema, batch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_month_ends() {
        assert_eq!(median(&mut [5, 1, 3]), Some(3.0));
        assert_eq!(median(&mut [4, 1, 3, 10]), Some(3.5));
        assert_eq!(median(&mut []), None);
        assert_eq!(mean(&[1, 2]), Some(1.5));
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default();
        assert_eq!(
            month_ends(d("2024-01-01"), d("2024-03-31")),
            vec![d("2024-01-31"), d("2024-02-29"), d("2024-03-31")]
        );
    }
}
