//! The CFO report (`cobro report`, `GET /api/v1/reports/cfo`): one self-contained HTML page with the KPI tiles and
//! their definitions (the same rows as `cobro metrics`), the month's receivables movement and its drivers, the
//! charts, and the tables behind them. Every figure comes from cobro's own views over one snapshot; the page
//! prints the exact decimals, and the charts (SVG, inline) are pictures of them.

use std::fmt::Write as _;

use cobro_analytics::SnapshotSession;
use cobro_reports::{Series, bars, line_chart, stacked_columns};
use rust_decimal::Decimal;

use crate::ledger::text_rows;

/// One table of the report: a title, its header and its rows as printed.
#[derive(Debug, Clone)]
pub struct Table {
    /// Title.
    pub title: String,
    /// Column names.
    pub header: Vec<String>,
    /// Cells as text (empty for none).
    pub rows: Vec<Vec<String>>,
}

/// The report: the HTML page and the tables it shows (for a spreadsheet of the same figures).
#[derive(Debug, Clone)]
pub struct CfoReport {
    /// The as-of date.
    pub as_of: String,
    /// The reporting currency.
    pub currency: String,
    /// The page.
    pub html: String,
    /// The page's content without its document shell (for the web UI's dashboard, which has its own), styled by
    /// [`STYLE`].
    pub body: String,
    /// KPIs first, then the movement, monthly figures, ageing, segments, disputes and top overdue customers.
    pub tables: Vec<Table>,
    /// The charts in page order: (title, SVG).
    pub charts: Vec<(String, String)>,
}

impl Table {
    /// A row's cell in the column named `name` (a header this module wrote; empty if it were not there).
    fn cell<'a>(&self, row: &'a [String], name: &str) -> &'a str {
        self.header.iter().position(|h| h == name).and_then(|i| row.get(i)).map_or("", String::as_str)
    }
}

/// Months shown in the trend charts.
const TREND_MONTHS: usize = 12;

async fn table(session: &SnapshotSession, title: &str, header: &[&str], sql: &str) -> anyhow::Result<Table> {
    let rows = text_rows(session, sql)
        .await?
        .into_iter()
        .map(|r| r.into_iter().map(Option::unwrap_or_default).collect())
        .collect();
    Ok(Table { title: title.to_owned(), header: header.iter().map(|h| (*h).to_owned()).collect(), rows })
}

fn num(s: &str) -> Option<f64> {
    s.parse::<f64>().ok()
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap_or_default()
}

/// Builds the report over a session opened at the as-of date.
pub async fn cfo(session: &SnapshotSession, company: &str) -> anyhow::Result<CfoReport> {
    let p = session.params();
    let as_of = p.as_of.to_string();
    let currency = p.reporting_currency.clone();
    let kpis = table(
        session,
        "Key figures",
        &["metric", "name", "value", "unit", "definition", "basis"],
        &p.render(cobro_analytics::sql::METRICS_SUMMARY),
    )
    .await?;
    let monthly = table(
        session,
        "Month by month",
        &[
            "month",
            "credit_sales",
            "collections",
            "credits",
            "fx_effect",
            "ar_begin",
            "ar_end",
            "current",
            "past_due",
            "disputed",
            "dso_3m",
            "dso_countback",
            "bpdso_3m",
            "add_3m",
            "cei_pct",
        ],
        "SELECT month, credit_sales, collections, credits, fx_effect, ar_begin, ar_end, ar_end_current_undisputed, \
         ar_end_past_due_undisputed, ar_end_disputed, round(dso_standard_3m, 2), round(dso_countback, 2), \
         round(bpdso_3m, 2), round(add_3m, 2), round(cei_pct, 2) FROM ar_monthly ORDER BY month",
    )
    .await?;
    let ageing = table(
        session,
        "Ageing",
        &["bucket", "open_items", &format!("balance_{currency}")],
        "SELECT bucket, CAST(SUM(open_count) AS BIGINT), SUM(balance_rc) FROM ageing GROUP BY bucket, bucket_order ORDER BY bucket_order",
    )
    .await?;
    let by_month = ageing_by_month(session, &monthly, &currency).await?;
    let segments = table(
        session,
        "Segment mix",
        &["segment", "customers", &format!("open_balance_{currency}"), &format!("past_due_{currency}")],
        "SELECT effective_segment, COUNT(*), SUM(open_balance_rc), SUM(past_due_balance_rc) FROM segments \
         GROUP BY effective_segment ORDER BY effective_segment",
    )
    .await?;
    let disputes = table(
        session,
        "Disputes by department",
        &["department", "disputes", "resolved", "resolved_in_time", "in_time_pct", "goal_pct", "avg_business_days", "open", "open_past_deadline"],
        "SELECT key, disputes, resolved, resolved_in_time, round(in_time_pct, 1), goal_pct, \
         round(avg_resolution_business_days, 1), open, open_past_deadline FROM dispute_sla WHERE dimension = 'department' ORDER BY key",
    )
    .await?;
    let top = table(
        session,
        "Top overdue customers",
        &["customer_id", "name", &format!("past_due_{currency}"), "oldest_days_past_due", "segment", "reasons"],
        "SELECT customer_id, name, past_due_balance_rc, oldest_days_past_due, effective_segment, reasons FROM segments \
         WHERE past_due_balance_rc > 0 ORDER BY past_due_balance_rc DESC, customer_id LIMIT 10",
    )
    .await?;
    let movement = movement(&monthly, &as_of);
    let charts = charts(&monthly, &ageing, &by_month, &segments, &disputes, &top, &currency)?;
    let tables = vec![kpis, movement, monthly, ageing, by_month, segments, disputes, top];
    let body = body(company, &as_of, &currency, &tables, &charts);
    let html = page(&as_of, &body);
    Ok(CfoReport { as_of, currency, html, body, tables, charts })
}

/// Receivables at each of the last months' ends by ageing bucket (days past due at that month end), in the
/// reporting currency: `ar_document_months`, the rows `ar_monthly` sums, bucketed. One row per month, one column
/// per bucket in bucket order; a bucket with nothing open is 0.
async fn ageing_by_month(session: &SnapshotSession, monthly: &Table, currency: &str) -> anyhow::Result<Table> {
    let p = session.params();
    let first = monthly.rows.iter().rev().take(TREND_MONTHS).next_back().map(|r| r[0].clone()).unwrap_or_default();
    let sql = p.render(&format!(
        "SELECT month, {{{{bucket_case_dpd}}}} AS bucket, CAST(SUM(balance_rc) AS DECIMAL(38, 4)) AS balance \
         FROM ar_document_months WHERE month >= '{first}' GROUP BY month, {{{{bucket_case_dpd}}}} ORDER BY month"
    ));
    let buckets = session.params().buckets.labels();
    let mut rows: Vec<Vec<String>> = Vec::new();
    for r in text_rows(session, &sql).await? {
        let (Some(month), Some(bucket)) = (r[0].clone(), r[1].clone()) else { continue };
        if rows.last().is_none_or(|l| l[0] != month) {
            let mut row = vec![month];
            row.extend(buckets.iter().map(|_| "0".to_owned()));
            rows.push(row);
        }
        if let (Some(i), Some(last)) = (buckets.iter().position(|b| *b == bucket), rows.last_mut()) {
            last[i + 1] = r[2].clone().unwrap_or_default();
        }
    }
    let mut header = vec!["month".to_owned()];
    header.extend(buckets.iter().cloned());
    Ok(Table { title: format!("Ageing at each month end ({currency})"), header, rows })
}

/// The as-of month against the month before: AR at the start, what moved it, AR at the end; and how the overdue
/// and disputed parts changed.
fn movement(monthly: &Table, as_of: &str) -> Table {
    let month = as_of.get(..7).unwrap_or_default();
    let at = monthly.rows.iter().position(|r| r[0] == month);
    let mut rows = Vec::new();
    if let Some(i) = at {
        let r = &monthly.rows[i];
        let prev = i.checked_sub(1).map(|j| &monthly.rows[j]);
        let line =
            |name: &str, v: Decimal, note: &str| vec![name.to_owned(), v.round_dp(2).to_string(), note.to_owned()];
        let v = |row: &[String], name: &str| dec(monthly.cell(row, name));
        rows.push(line("receivables at the start of the month", v(r, "ar_begin"), "ar_begin"));
        rows.push(line("+ credit sales", v(r, "credit_sales"), "invoices and debit notes issued"));
        rows.push(line("− collections", v(r, "collections"), "payments applied"));
        rows.push(line("− credits", v(r, "credits"), "credit notes applied"));
        rows.push(line("± exchange-rate effect", v(r, "fx_effect"), "revaluation of foreign-currency balances"));
        rows.push(line("= receivables at the end", v(r, "ar_end"), "ar_end"));
        if let Some(q) = prev {
            for (name, k) in
                [("past due (undisputed)", "past_due"), ("disputed", "disputed"), ("current (undisputed)", "current")]
            {
                let (before, after) = (v(q, k), v(r, k));
                rows.push(line(
                    &format!("change in {name}"),
                    after - before,
                    &format!("{} → {}", before.round_dp(2), after.round_dp(2)),
                ));
            }
        }
    }
    Table {
        title: format!("Receivables movement in {month}"),
        header: vec!["line".into(), "amount".into(), "what".into()],
        rows,
    }
}

/// (title, svg) of every chart.
fn charts(
    monthly: &Table,
    ageing: &Table,
    by_month: &Table,
    segments: &Table,
    disputes: &Table,
    top: &Table,
    currency: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let recent: Vec<&Vec<String>> = monthly.rows.iter().rev().take(TREND_MONTHS).rev().collect();
    let months: Vec<String> = recent.iter().map(|r| r[0].clone()).collect();
    let col = |name: &str| recent.iter().map(|r| num(monthly.cell(r, name))).collect::<Vec<_>>();
    let mut out = Vec::new();
    let dso = line_chart(
        "DSO trend: standard, countback and best possible, with ADD shaded",
        &months,
        "days",
        &[
            Series::new("DSO (3 months)", col("dso_3m")),
            Series::new("countback DSO", col("dso_countback")),
            Series::new("BPDSO (3 months)", col("bpdso_3m")),
        ],
        Some(&Series::new("ADD: days delinquent", col("add_3m"))),
    )?;
    out.push(("DSO trend".to_owned(), dso));
    let states = stacked_columns(
        "Receivables by state at each month end",
        &months,
        currency,
        &[
            Series::new("current", col("current")),
            Series::new("past due", col("past_due")),
            Series::new("disputed", col("disputed")),
        ],
    )?;
    out.push(("Receivables by state".to_owned(), states));
    if !by_month.rows.is_empty() {
        let parts: Vec<Series> = by_month.header[1..]
            .iter()
            .enumerate()
            .map(|(i, b)| Series::new(b, by_month.rows.iter().map(|r| num(&r[i + 1])).collect()))
            .collect();
        let months: Vec<String> = by_month.rows.iter().map(|r| r[0].clone()).collect();
        let chart = stacked_columns("Ageing at each month end", &months, currency, &parts)?;
        out.push(("Ageing by month".to_owned(), chart));
    }
    let cei = line_chart("Collection effectiveness index", &months, "%", &[Series::new("CEI", col("cei_pct"))], None)?;
    out.push(("CEI trend".to_owned(), cei));
    let buckets: Vec<String> = ageing.rows.iter().map(|r| r[0].clone()).collect();
    let ageing_bars = bars(
        "Ageing of open receivables",
        &buckets,
        currency,
        &Series::new("open balance", ageing.rows.iter().map(|r| num(&r[2])).collect()),
        None,
    )?;
    out.push(("Ageing".to_owned(), ageing_bars));
    let seg_labels: Vec<String> = segments.rows.iter().map(|r| r[0].clone()).collect();
    let mix = bars(
        "Segment mix: open balance by segment",
        &seg_labels,
        currency,
        &Series::new("open balance", segments.rows.iter().map(|r| num(&r[2])).collect()),
        Some(&Series::new("past due", segments.rows.iter().map(|r| num(&r[3])).collect())),
    )?;
    out.push(("Segment mix".to_owned(), mix));
    if !disputes.rows.is_empty() {
        let depts: Vec<String> = disputes.rows.iter().map(|r| r[0].clone()).collect();
        let sla = bars(
            "Disputes resolved by their deadline, per department",
            &depts,
            "% of resolved disputes",
            &Series::new("resolved in time", disputes.rows.iter().map(|r| num(&r[4])).collect()),
            Some(&Series::new("goal", disputes.rows.iter().map(|r| num(&r[5])).collect())),
        )?;
        out.push(("Dispute resolution".to_owned(), sla));
    }
    let names: Vec<String> = top
        .rows
        .iter()
        .map(|r| if r[1].is_empty() { r[0].clone() } else { format!("{} {}", r[0], r[1]).chars().take(28).collect() })
        .collect();
    let overdue = bars(
        "Top overdue customers",
        &names,
        currency,
        &Series::new("past due balance", top.rows.iter().map(|r| num(&r[2])).collect()),
        None,
    )?;
    out.push(("Top overdue customers".to_owned(), overdue));
    Ok(out)
}

fn esc(t: &str) -> String {
    t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn html_table(out: &mut String, t: &Table) {
    let _ = write!(out, "<h2>{}</h2><table><thead><tr>", esc(&t.title));
    for h in &t.header {
        let _ = write!(out, "<th>{}</th>", esc(&h.replace('_', " ")));
    }
    out.push_str("</tr></thead><tbody>");
    for r in &t.rows {
        out.push_str("<tr>");
        for c in r {
            let class = if c.parse::<f64>().is_ok() { " class=\"n\"" } else { "" };
            let _ = write!(out, "<td{class}>{}</td>", esc(c));
        }
        out.push_str("</tr>");
    }
    if t.rows.is_empty() {
        let _ = write!(out, "<tr><td colspan=\"{}\">none</td></tr>", t.header.len());
    }
    out.push_str("</tbody></table>");
}

/// The report's style sheet (its classes: `tiles`, `tile`, `n`), shared with the web UI.
pub const STYLE: &str = "\
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(240px,1fr));gap:.75rem}\
.tile{border:1px solid #ccc;border-radius:6px;padding:.75rem}.tile .v{font-size:1.8rem;font-weight:600}\
.tile .d{font-size:.8rem;color:#555}.tile .b{font-size:.75rem;color:#666;margin-top:.3rem}\
table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.85rem}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}figure{margin:1rem 0}figure svg{max-width:100%;height:auto}";

fn page(as_of: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Receivables report {as_of}</title><style>body{{font-family:system-ui,sans-serif;margin:1.5rem;color:#222;max-width:1100px}}{STYLE}</style>\
         </head><body>{body}</body></html>",
        as_of = esc(as_of),
    )
}

fn body(company: &str, as_of: &str, currency: &str, tables: &[Table], charts: &[(String, String)]) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<h1>Receivables report: {company}</h1><p>As of {as_of}; amounts in {currency}. \
         Every figure is defined in the tiles below and computed by cobro from one snapshot.</p><div class=\"tiles\">",
        as_of = esc(as_of),
        company = esc(company),
        currency = esc(currency),
    );
    if let Some(k) = tables.first() {
        for r in &k.rows {
            let value = if r[2].is_empty() { "n/a".to_owned() } else { format!("{} {}", r[2], r[3]) };
            let _ = write!(
                out,
                "<div class=\"tile\" id=\"kpi-{}\"><div>{}</div><div class=\"v\">{}</div><div class=\"d\">{}</div><div class=\"b\">{}</div></div>",
                esc(&r[0]),
                esc(&r[1]),
                esc(&value),
                esc(&r[4]),
                esc(&r[5])
            );
        }
    }
    out.push_str("</div>");
    if let Some(m) = tables.get(1) {
        html_table(&mut out, m);
    }
    for (title, svg) in charts {
        let _ = write!(out, "<figure aria-label=\"{}\">{svg}</figure>", esc(title));
    }
    for t in tables.iter().skip(2) {
        html_table(&mut out, t);
    }
    out
}

/// Writes every chart into `dir` as `NN-name.svg` and `NN-name.png` (twice the SVG's size); returns the paths.
pub fn write_charts(report: &CfoReport, dir: &std::path::Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (i, (title, svg)) in report.charts.iter().enumerate() {
        let slug: String = title
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect::<String>()
            .split('-')
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join("-");
        let base = dir.join(format!("{:02}-{slug}", i + 1));
        let (svg_path, png_path) = (base.with_extension("svg"), base.with_extension("png"));
        std::fs::write(&svg_path, svg)?;
        std::fs::write(&png_path, cobro_reports::png(svg, 2.0)?)?;
        written.extend([svg_path, png_path]);
    }
    Ok(written)
}

/// Writes the report's tables as an Excel workbook, one sheet per table, numbers as numbers.
pub fn write_xlsx(report: &CfoReport, path: &std::path::Path) -> anyhow::Result<()> {
    std::fs::write(path, xlsx(report)?)?;
    Ok(())
}

/// The report's tables as an Excel workbook's bytes (see [`write_xlsx`]).
pub fn xlsx(report: &CfoReport) -> anyhow::Result<Vec<u8>> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    for t in &report.tables {
        // Sheet names: at most 31 characters, none of []:*?/\.
        let name: String = t.title.chars().filter(|c| !"[]:*?/\\".contains(*c)).take(31).collect();
        let sheet = book.add_worksheet().set_name(&name)?;
        for (c, h) in t.header.iter().enumerate() {
            sheet.write_string_with_format(0, u16::try_from(c)?, h, &bold)?;
        }
        for (r, row) in t.rows.iter().enumerate() {
            let r = u32::try_from(r + 1)?;
            for (c, cell) in row.iter().enumerate() {
                let c = u16::try_from(c)?;
                // Exact decimals are written as numbers (Excel's own doubles) only when the text round-trips.
                match cell.parse::<f64>() {
                    Ok(v) if v.is_finite() && v.to_string().parse::<Decimal>().ok() == cell.parse::<Decimal>().ok() => {
                        sheet.write_number(r, c, v)?;
                    }
                    _ => {
                        sheet.write_string(r, c, cell)?;
                    }
                }
            }
        }
    }
    Ok(book.save_to_buffer()?)
}
