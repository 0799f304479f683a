//! The metric views on whole ledgers: the IBM sample and generated ledgers (a property test). The golden figures
//! on hand-made fixtures are in tests/sql/*.slt; here the checks are identities that must hold in every month, and
//! agreement with the reference formulas in `cobro_domain::metrics` (which carry the published examples).

use std::collections::BTreeMap;

use cobro_domain::metrics::{self, MonthSales};
use proptest::prelude::*;

use super::*;

/// One row of `ar_monthly`, as read back through `cobro sql --format csv`.
#[derive(Debug)]
struct Month {
    month: String,
    days: u32,
    sales: Decimal,
    collections: Decimal,
    credits: Decimal,
    begin: Decimal,
    end: Decimal,
    current: Decimal,
    fx: Decimal,
    dso_1m: Option<f64>,
    dso_3m: Option<f64>,
    countback: f64,
    exhausted: bool,
    bpdso: Option<f64>,
    add: Option<f64>,
    disputed: Option<f64>,
    split: (Option<f64>, Option<f64>),
    cei: Option<f64>,
    unconverted: i64,
}

fn opt_f64(s: &str) -> Option<f64> {
    (!s.is_empty()).then(|| s.parse().unwrap_or_else(|_| panic!("`{s}` is not a number")))
}

fn ar_monthly(data: &Path, as_of: &str) -> Vec<Month> {
    let q = "SELECT month, days_in_month, credit_sales, collections, credits, ar_begin, ar_end, ar_end_current, \
             fx_effect, dso_standard_1m, dso_standard_3m, dso_countback, countback_history_exhausted, bpdso_3m, add_3m, \
             dso_disputed_3m, dso_current_undisputed_3m, dso_past_due_undisputed_3m, cei_pct, unconverted_items \
             FROM ar_monthly ORDER BY month";
    sql_rows(data, as_of, q)
        .iter()
        .map(|r| Month {
            month: r[0].clone(),
            days: r[1].parse().expect("days"),
            sales: dec(&r[2]),
            collections: dec(&r[3]),
            credits: dec(&r[4]),
            begin: dec(&r[5]),
            end: dec(&r[6]),
            current: dec(&r[7]),
            fx: dec(&r[8]),
            dso_1m: opt_f64(&r[9]),
            dso_3m: opt_f64(&r[10]),
            countback: r[11].parse().expect("countback is never null"),
            exhausted: r[12] == "true",
            bpdso: opt_f64(&r[13]),
            add: opt_f64(&r[14]),
            disputed: opt_f64(&r[15]),
            split: (opt_f64(&r[16]), opt_f64(&r[17])),
            cei: opt_f64(&r[18]),
            unconverted: r[19].parse().expect("count"),
        })
        .collect()
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
        _ => false,
    }
}

/// Every identity and every ratio of every month, against the reference formulas. Returns what failed.
fn check_months(months: &[Month]) -> Vec<String> {
    let mut bad = Vec::new();
    let history: Vec<MonthSales> = months.iter().map(|m| MonthSales { sales: m.sales, days: m.days }).collect();
    for (i, m) in months.iter().enumerate() {
        let mut fail = |what: &str| bad.push(format!("{}: {what}: {m:?}", m.month));
        if m.end != m.begin + m.sales - m.collections - m.credits + m.fx {
            fail("roll-forward");
        }
        let previous = if i == 0 { Decimal::ZERO } else { months[i - 1].end };
        if m.begin != previous {
            fail("ar_begin is not the previous ar_end");
        }
        let upto = &history[..=i];
        if !close(m.dso_1m, metrics::standard_dso(m.end, upto, 1)) {
            fail("dso_standard_1m");
        }
        if !close(m.dso_3m, metrics::standard_dso(m.end, upto, 3)) {
            fail("dso_standard_3m");
        }
        if !close(m.bpdso, metrics::standard_dso(m.current, upto, 3)) {
            fail("bpdso_3m");
        }
        if !close(m.add, m.dso_3m.zip(m.bpdso).map(|(d, b)| d - b)) {
            fail("add_3m");
        }
        let cb = metrics::countback_dso(m.end, upto);
        if !close(Some(m.countback), Some(cb.days)) || m.exhausted != cb.history_exhausted {
            fail("countback");
        }
        if !close(m.cei, metrics::cei(m.begin, m.sales, m.end, m.current)) {
            fail("cei_pct");
        }
        let parts = match (m.split, m.disputed) {
            ((Some(a), Some(b)), Some(c)) => Some(a + b + c),
            _ => None,
        };
        if !close(m.dso_3m, parts) {
            fail("DSO split (current + past due + disputed)");
        }
        if m.unconverted != 0 {
            fail("amounts without an exchange rate");
        }
    }
    bad
}

#[test]
fn ibm_ar_monthly_rolls_forward_and_matches_the_reference_formulas_in_every_month() {
    let tmp = ibm_snapshots(&["2013-06-30", "2014-01-31"]);
    let data = tmp.path();
    for as_of in ["2013-06-30", "2014-01-31"] {
        let months = ar_monthly(data, as_of);
        // From the first invoice month (2012-01) to the as-of month.
        assert_eq!(months.first().map(|m| m.month.as_str()), Some("2012-01"));
        assert_eq!(months.last().map(|m| &m.month[..]), Some(&as_of[..7]));
        let bad = check_months(&months);
        assert!(bad.is_empty(), "as of {as_of}:\n{}", bad.join("\n"));
        // One currency: the FX effect is 0 in every month, so AR_end = AR_begin + sales − collections − credits.
        assert!(months.iter().all(|m| m.fx.is_zero()), "a single-currency ledger has no FX effect");
        let sales: Decimal = months.iter().map(|m| m.sales).sum();
        assert!(sales > Decimal::ZERO);
    }
    // Every invoice was settled by 2014-01-09: nothing is open at 2014-01-31.
    let last = ar_monthly(data, "2014-01-31");
    assert_eq!(last.last().map(|m| m.end), Some(Decimal::ZERO));
}

#[test]
fn ibm_days_late_and_days_to_settle_match_the_sample_columns() {
    let tmp = ibm_snapshots(&["2014-01-31"]);
    let data = tmp.path();
    let rows = sql_rows(
        data,
        "2014-01-31",
        "SELECT document_id, days_late, days_to_settle, settled_by FROM settled_documents ORDER BY document_id",
    );
    let got: BTreeMap<String, (String, String, String)> =
        rows.into_iter().map(|r| (r[0].clone(), (r[1].clone(), r[2].clone(), r[3].clone()))).collect();
    let mut reader = csv::Reader::from_path(ibm_csv()).expect("IBM CSV");
    let headers = reader.headers().expect("header").clone();
    let col = |name: &str| headers.iter().position(|h| h == name).expect("IBM column");
    let (inv, late, settle) = (col("invoiceNumber"), col("DaysLate"), col("DaysToSettle"));
    let mut n = 0;
    for rec in reader.records() {
        let rec = rec.expect("row");
        let (days_late, days_to_settle, by) =
            got.get(&rec[inv]).unwrap_or_else(|| panic!("invoice {} is not settled in cobro", &rec[inv]));
        assert_eq!((days_late.as_str(), days_to_settle.as_str()), (&rec[late], &rec[settle]), "invoice {}", &rec[inv]);
        assert_eq!(by, "payment");
        n += 1;
    }
    assert_eq!((n, got.len()), (2466, 2466), "every invoice of the sample is settled once");
}

#[test]
fn cobro_metrics_prints_each_kpi_with_its_definition_and_basis() {
    let tmp = fixture_snapshots("metrics", &["2024-12-31", "2024-12-15"]);
    let data = tmp.path();
    let out = ok(cobro(data, &["metrics", "--as-of", "2024-12-31", "--format", "csv"]));
    let mut r = csv::Reader::from_reader(out.as_bytes());
    let rows: BTreeMap<String, Vec<String>> = r
        .records()
        .map(|rec| {
            let rec = rec.expect("row");
            (rec[0].to_owned(), rec.iter().map(str::to_owned).collect())
        })
        .collect();
    // Values from data/fixtures/metrics/expected_ar_monthly.csv (2024-12) and its ageing file.
    let expect = [
        ("dso", "82.92"),
        ("dso_countback", "82.29"),
        ("bpdso", "36.45"),
        ("add", "46.47"),
        ("cei", "36.39"),
        ("dso_disputed", "5.77"),
        // current 7,896.80 / 17,964.88; over 90 days: INV-4019 486.18 + INV-4016 1,250.00 + INV-4014 1,420.00.
        ("current_pct", "43.96"),
        ("over_90_pct", "17.57"),
    ];
    for (metric, value) in expect {
        let row = rows.get(metric).unwrap_or_else(|| panic!("no `{metric}` row in:\n{out}"));
        assert_eq!(row[2], value, "{metric}");
        assert!(!row[4].is_empty() && !row[5].is_empty(), "{metric} has a definition and a basis: {row:?}");
    }
    // No disputes or promises recorded yet: undefined, not 0.
    assert_eq!(rows["dispute_sla_pct"][2], "");
    assert_eq!(rows["promise_keeping_pct"][2], "");
    assert!(rows["dso"][5].contains("17964.88"), "the basis shows the AR figure: {:?}", rows["dso"]);

    // A date inside a month says that the month is month to date.
    let o = cobro(data, &["metrics", "--as-of", "2024-12-15"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("month to date"), "{}", text(&o));
}

#[test]
fn ageing_bucket_edges_can_be_changed_per_query() {
    let tmp = fixture_snapshots("metrics", &["2024-12-31"]);
    let data = tmp.path();
    let q = "SELECT bucket, CAST(SUM(open_count) AS BIGINT) AS n FROM ageing GROUP BY bucket, bucket_order ORDER BY bucket_order";
    let out = ok(cobro(data, &["sql", "--as-of", "2024-12-31", "--buckets", "60,120", "--format", "csv", q]));
    // Days past due at 2024-12-31 (fixture README §8): current 5; 1-60: 1, 1, 30, 31, 60 → 5; 61-120: 61, 90, 91,
    // 120 → 4; 120+: 121 → 1.
    assert_eq!(out, "bucket,n\ncurrent,5\n1-60,5\n61-120,4\n120+,1\n");
    let bad = cobro(data, &["sql", "--buckets", "60,30", q]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(text(&bad).contains("strictly increasing"), "{}", text(&bad));
}

/// Generates, imports and snapshots a small ledger; returns its monthly series and per-currency rows.
fn generated(seed: u64, customers: u32, invoices: u32, months: u32) -> (tempfile::TempDir, String, Vec<Month>) {
    let tmp = tempfile::tempdir().expect("tmp");
    let gen_dir = tmp.path().join("gen");
    let data = tmp.path().join("data");
    let (seed, customers, invoices, months_s) =
        (seed.to_string(), customers.to_string(), invoices.to_string(), months.to_string());
    let gen_args = [
        "generate",
        "--customers",
        &customers,
        "--invoices",
        &invoices,
        "--seed",
        &seed,
        "--months",
        &months_s,
        "--out",
    ];
    let mut args: Vec<&str> = gen_args.to_vec();
    let g = gen_dir.display().to_string();
    args.push(&g);
    ok(cobro(&data, &args));
    ok(import_fixture(&data, &gen_dir));
    // The extract date is the last day of the `months`-th month from 2024-01 (docs/generator.md).
    let last = chrono::NaiveDate::from_ymd_opt(2024, 1, 1)
        .and_then(|d| d.checked_add_months(chrono::Months::new(months)))
        .and_then(|d| d.pred_opt())
        .expect("date");
    let as_of = last.format("%Y-%m-%d").to_string();
    ok(cobro(&data, &["snapshot", "--as-of", &as_of]));
    let series = ar_monthly(&data, &as_of);
    (tmp, as_of, series)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, failure_persistence: None, ..ProptestConfig::default() })]

    /// For every month of a generated multi-currency ledger: the roll-forward identity (in each document currency
    /// exactly, and in the reporting currency with the FX effect), the DSO split, and every ratio against the
    /// reference formulas.
    #[test]
    fn generated_ledgers_roll_forward_and_split_dso_in_every_month(
        seed in 0u64..1_000_000,
        customers in 3u32..40,
        invoices in 50u32..600,
        months in 3u32..15,
    ) {
        let (tmp, as_of, series) = generated(seed, customers, invoices, months);
        let data = tmp.path().join("data");
        prop_assert_eq!(series.len(), months as usize, "one row per month");
        let bad = check_months(&series);
        prop_assert!(bad.is_empty(), "{}", bad.join("\n"));
        // Per currency, in the currency itself: no FX term at all.
        let per_currency = sql_rows(&data, &as_of,
            "SELECT currency, month, credit_sales, collections, credits, ar_begin, ar_end, fx_effect_rc \
             FROM ar_monthly_by_currency ORDER BY currency, month");
        for r in &per_currency {
            let (s, c, cr, b, e) = (dec(&r[2]), dec(&r[3]), dec(&r[4]), dec(&r[5]), dec(&r[6]));
            prop_assert_eq!(e, b + s - c - cr, "{} {}: per-currency roll-forward", &r[0], &r[1]);
            if r[0] == "EUR" {
                prop_assert!(dec(&r[7]).is_zero(), "the reporting currency has no FX effect: {:?}", r);
            }
        }
        // The as-of month's AR is what open_items holds at the as-of date.
        let open = sql_rows(&data, &as_of, "SELECT CAST(COALESCE(SUM(balance_rc), 0) AS DECIMAL(28, 4)) FROM open_items");
        prop_assert_eq!(series.last().map(|m| m.end), Some(dec(&open[0][0])));
    }
}

#[test]
fn cobro_metrics_warns_when_amounts_have_no_exchange_rate() {
    // data/fixtures/edge-cases: INV-3 is in GBP and the ledger has no GBP rate.
    let tmp = fixture_snapshots("edge-cases", &["2024-03-31"]);
    let o = cobro(tmp.path(), &["metrics", "--as-of", "2024-03-31"]);
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    // Its sale in 2024-02 and its open balance at the ends of 2024-02 and 2024-03.
    assert!(err.contains("warning: 3 conversions"), "{err}");
    // The manifest's reporting-currency total leaves INV-3 out, and says that one item is left out.
    let manifest = std::fs::read_dir(tmp.path().join("snapshots/as_of=2024-03-31"))
        .expect("versions")
        .map(|e| e.expect("entry").path().join("manifest.json"))
        .next()
        .expect("a version");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(manifest).expect("manifest")).expect("json");
    assert_eq!(m["control_totals"]["open_items.unconverted_count"], "1", "{}", m["control_totals"]);
}

#[test]
fn the_cfo_report_shows_the_same_kpis_as_cobro_metrics_with_charts_and_no_external_assets() {
    let tmp = ibm_snapshots(&["2013-06-30"]);
    let dir = tmp.path();
    let html_path = dir.join("report.html");
    ok(cobro(dir, &["report", "--as-of", "2013-06-30", "--out", &html_path.display().to_string()]));
    let html = std::fs::read_to_string(&html_path).expect("report");
    let kpis = ok(cobro(dir, &["metrics", "--as-of", "2013-06-30", "--format", "csv"]));
    let mut r = csv::Reader::from_reader(kpis.as_bytes());
    let mut checked = 0;
    for row in r.records() {
        let row = row.expect("row");
        let (metric, value, unit) = (&row[0], &row[2], &row[3]);
        let tile = html.split(&format!("id=\"kpi-{metric}\"")).nth(1).expect("a tile per KPI");
        let tile = tile.split("</div></div>").next().unwrap_or_default();
        let shown = if value.is_empty() { "n/a".to_owned() } else { format!("{value} {unit}") };
        assert!(tile.contains(&format!("<div class=\"v\">{shown}</div>")), "{metric}: {shown} not in {tile}");
        checked += 1;
    }
    assert!(checked >= 10, "{checked} KPIs");
    // The month's movement ties out: 6918.35 + 5849.59 − 7648.09 − 0 + 0 = 5119.85 (ar_monthly, 2013-06).
    for line in [
        "<td class=\"n\">6918.35</td>",
        "<td class=\"n\">5849.59</td>",
        "<td class=\"n\">7648.09</td>",
        "<td class=\"n\">5119.85</td>",
    ] {
        assert!(html.contains(line), "movement lacks {line}");
    }
    assert_eq!(
        html.matches("<svg").count(),
        7,
        "DSO, states, ageing by month, CEI, ageing, segments, top overdue (no disputes here)"
    );
    // Ageing at each month end ties out to ar_monthly's receivables: the buckets of a month add up to ar_end.
    let section =
        html.split("<h2>Ageing at each month end (USD)</h2>").nth(1).expect("the table").split("</table>").next();
    let ar_end: std::collections::BTreeMap<String, Decimal> =
        sql_rows(dir, "2013-06-30", "SELECT month, CAST(ar_end AS VARCHAR) FROM ar_monthly")
            .into_iter()
            .map(|r| (r[0].clone(), dec(&r[1])))
            .collect();
    let mut months = 0;
    for row in section.unwrap_or_default().split("<tr>").skip(2) {
        let cells: Vec<&str> = row
            .split("<td")
            .skip(1)
            .filter_map(|c| c.split_once('>').map(|(_, t)| t.split('<').next().unwrap_or("")))
            .collect();
        let total: Decimal = cells[1..].iter().map(|c| dec(c)).sum();
        assert_eq!(total, ar_end[cells[0]], "{}: buckets {:?}", cells[0], &cells[1..]);
        months += 1;
    }
    assert_eq!(months, 12, "the last 12 month ends");
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "no external assets");
    assert!(!html.contains("<script") && !html.contains("<link"), "self-contained");
    let xlsx = dir.join("report.xlsx");
    let charts = dir.join("charts");
    let said = ok(cobro(
        dir,
        &[
            "report",
            "--as-of",
            "2013-06-30",
            "--format",
            "xlsx",
            "--out",
            &xlsx.display().to_string(),
            "--charts",
            &charts.display().to_string(),
        ],
    ));
    assert!(said.contains("7 charts written"), "{said}");
    let png = std::fs::read(charts.join("03-ageing-by-month.png")).expect("the ageing chart as PNG");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    let svg = std::fs::read_to_string(charts.join("03-ageing-by-month.svg")).expect("and as SVG");
    assert!(svg.contains("Ageing at each month end") && html.contains(&svg), "the same chart as on the page");
    assert_eq!(&std::fs::read(&xlsx).expect("xlsx")[..2], b"PK", "an xlsx is a zip");
}
