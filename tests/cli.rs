//! Black-box tests of the `cobro` binary: import, quarantine, snapshots, SQL, the generator and the demo.
//! They run the binary that `cargo test` built, against real files in temporary directories.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rust_decimal::Decimal;

const BIN: &str = env!("CARGO_BIN_EXE_cobro");

#[path = "cli/api.rs"]
mod api;
#[path = "cli/browser.rs"]
mod browser;
#[path = "cli/cases.rs"]
mod cases;
#[path = "cli/delivery.rs"]
mod delivery;
#[path = "cli/dunning.rs"]
mod dunning;
#[path = "cli/metrics.rs"]
mod metrics;
#[path = "cli/object_store.rs"]
mod object_store;
#[path = "cli/risk.rs"]
mod risk;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cobro(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("COBRO_FAILPOINT")
        .output()
        .expect("cobro runs")
}

/// Runs `cobro ARGS` twice at once over one data directory, and asserts that both succeed.
fn twice_at_once(data_dir: &Path, args: &[&str]) {
    let spawn = || {
        Command::new(BIN)
            .arg("--data-dir")
            .arg(data_dir)
            .args(args)
            .env_remove("COBRO_FAILPOINT")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let (a, b) = (spawn(), spawn());
    for o in [a.wait_with_output().expect("a"), b.wait_with_output().expect("b")] {
        assert!(o.status.success(), "{}", text(&o));
    }
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "cobro failed ({:?}):\n{}", o.status.code(), text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn sql_rows(data_dir: &Path, as_of: &str, query: &str) -> Vec<Vec<String>> {
    let out = ok(cobro(data_dir, &["sql", "--as-of", as_of, "--format", "csv", query]));
    let mut r = csv::Reader::from_reader(out.as_bytes());
    r.records().map(|rec| rec.expect("csv row").iter().map(str::to_owned).collect()).collect()
}

fn dec(s: &str) -> Decimal {
    s.parse::<Decimal>().unwrap_or_else(|_| panic!("`{s}` is not a decimal"))
}

fn mapping(name: &str) -> String {
    repo().join("data/mappings").join(name).display().to_string()
}

fn ibm_csv() -> PathBuf {
    repo().join("data/samples/ibm-late-payment/WA_Fn-UseC_-Accounts-Receivable.csv")
}

fn import_fixture(data_dir: &Path, dir: &Path) -> Output {
    let files: Vec<String> = ["customers", "documents", "payments", "allocations", "fx_rates"]
        .iter()
        .map(|t| dir.join(format!("{t}.csv")).display().to_string())
        .collect();
    let mut args = vec!["import", "--mapping"];
    let m = mapping("cobro-canonical.toml");
    args.push(&m);
    args.extend(files.iter().map(String::as_str));
    cobro(data_dir, &args)
}

/// A data directory with the IBM sample imported and snapshotted at each date.
fn ibm_snapshots(dates: &[&str]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    ok(cobro(
        tmp.path(),
        &["import", "--mapping", &mapping("ibm-late-payment.toml"), ibm_csv().to_str().expect("path")],
    ));
    for as_of in dates {
        ok(cobro(tmp.path(), &["snapshot", "--as-of", as_of]));
    }
    tmp
}

/// A data directory with a canonical-format fixture (`data/fixtures/NAME`) imported and snapshotted at each date.
fn fixture_snapshots(name: &str, dates: &[&str]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    ok(import_fixture(tmp.path(), &repo().join("data/fixtures").join(name)));
    for as_of in dates {
        ok(cobro(tmp.path(), &["snapshot", "--as-of", as_of]));
    }
    tmp
}

// ---------------------------------------------------------------------------------------------------------------
// The IBM sample

#[test]
fn ibm_sample_imports_every_row_and_open_items_follow_the_settled_dates() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path();
    let csv_path = ibm_csv();
    let out =
        ok(cobro(data, &["import", "--mapping", &mapping("ibm-late-payment.toml"), csv_path.to_str().expect("path")]));
    assert!(out.contains("documents"), "{out}");

    // The sample itself, read independently of cobro.
    let mut reader = csv::Reader::from_path(&csv_path).expect("sample");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    assert_eq!(rows.len(), 2466);
    let date = |s: &str| chrono::NaiveDate::parse_from_str(s, "%m/%d/%Y").expect("date");
    let total: Decimal = rows.iter().map(|r| dec(&r[6])).sum();
    assert_eq!(total, dec("147703.18"));

    for as_of in ["2012-01-31", "2012-06-30", "2013-06-30", "2013-12-31", "2014-01-31"] {
        ok(cobro(data, &["snapshot", "--as-of", as_of]));
        let counts = sql_rows(
            data,
            as_of,
            "SELECT COUNT(*) AS n, SUM(amount) AS total, (SELECT COUNT(*) FROM customers) AS c, (SELECT COUNT(*) FROM payments) AS p, (SELECT COUNT(*) FROM allocations) AS a FROM documents",
        );
        assert_eq!(counts[0][0], "2466", "as of {as_of}");
        assert_eq!(dec(&counts[0][1]), total, "as of {as_of}");
        assert_eq!((counts[0][2].as_str(), counts[0][3].as_str(), counts[0][4].as_str()), ("100", "2466", "2466"));

        let d = chrono::NaiveDate::parse_from_str(as_of, "%Y-%m-%d").expect("as of");
        let mut want: Vec<(String, Decimal, i64)> = rows
            .iter()
            .filter(|r| date(&r[4]) <= d && d < date(&r[8]))
            .map(|r| (r[3].to_owned(), dec(&r[6]), (d - date(&r[5])).num_days()))
            .collect();
        want.sort();
        let got: Vec<(String, Decimal, i64)> =
            sql_rows(data, as_of, "SELECT document_id, balance, days_past_due FROM open_items ORDER BY document_id")
                .into_iter()
                .map(|r| (r[0].clone(), dec(&r[1]), r[2].parse().expect("days")))
                .collect();
        assert_eq!(got, want, "open items as of {as_of}");
    }
}

#[test]
fn ibm_dispute_flag_and_leading_zeros_survive_the_import() {
    let tmp = ibm_snapshots(&["2013-06-30"]);
    let data = tmp.path();
    let r = sql_rows(
        data,
        "2013-06-30",
        "SELECT document_id, customer_id, disputed, currency FROM documents WHERE document_id = '0000611365'",
    );
    assert_eq!(r, vec![vec!["0000611365".to_owned(), "0379-NEVHP".to_owned(), "false".to_owned(), "USD".to_owned()]]);
    let disputed = sql_rows(data, "2013-06-30", "SELECT COUNT(*) FROM documents WHERE disputed");
    let mut reader = csv::Reader::from_path(ibm_csv()).expect("sample");
    let want = reader.records().filter(|r| r.as_ref().is_ok_and(|r| &r[7] == "Yes")).count();
    assert_eq!(disputed[0][0], want.to_string());
}

// ---------------------------------------------------------------------------------------------------------------
// The hand-computed open-items fixture (data/fixtures/open-items/README.md has the arithmetic)

fn assert_table_matches(data: &Path, as_of: &str, query: &str, expected: &Path) {
    let mut r = csv::Reader::from_path(expected).expect("expected file");
    let header: Vec<String> = r.headers().expect("header").iter().map(str::to_owned).collect();
    let want: Vec<Vec<String>> = r.records().map(|x| x.expect("row").iter().map(str::to_owned).collect()).collect();
    let got = sql_rows(data, as_of, query);
    assert_eq!(got.len(), want.len(), "row count of {} (got {got:?})", expected.display());
    for (g, w) in got.iter().zip(&want) {
        for ((col, gv), wv) in header.iter().zip(g).zip(w) {
            let same = match (gv.parse::<Decimal>(), wv.parse::<Decimal>()) {
                (Ok(a), Ok(b)) => a == b,
                _ => gv == wv,
            };
            assert!(same, "{} as of {as_of}: row {} column {col}: got `{gv}`, want `{wv}`", expected.display(), w[0]);
        }
    }
}

#[test]
fn open_items_and_unapplied_match_the_hand_computed_fixture() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path();
    let fixture = repo().join("data/fixtures/open-items");
    ok(import_fixture(data, &fixture));
    for as_of in ["2024-06-30", "2024-03-31"] {
        ok(cobro(data, &["snapshot", "--as-of", as_of]));
        assert_table_matches(
            data,
            as_of,
            "SELECT document_id, customer_id, kind, issue_date, due_date, currency, amount, balance, balance_rc, days_past_due, bucket, status FROM open_items ORDER BY document_id",
            &fixture.join(format!("expected_open_items_{as_of}.csv")),
        );
        assert_table_matches(
            data,
            as_of,
            "SELECT source_id, source_kind, customer_id, source_date, currency, amount, unapplied FROM unapplied ORDER BY source_id",
            &fixture.join(format!("expected_unapplied_{as_of}.csv")),
        );
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Bad input: every case is rejected with file, line, column and an actionable reason, and nothing is lost.

const CUSTOMERS: &str = "customer_id,name,country,currency,account_group,payment_terms_days,credit_limit,collector_id,sales_rep_id,email,phone,language,timezone,vip,supplier_id\nC1,Uno,ES,EUR,retail,30,1000.00,COL1,REP1,a@b.example,,es,Europe/Madrid,false,\n";
const DOC_HEADER: &str = "document_id,customer_id,kind,issue_date,due_date,currency,amount,reference,disputed\n";
const PAY_HEADER: &str = "payment_id,customer_id,received_date,currency,amount,method,reference\n";
const ALLOC_HEADER: &str = "source_id,document_id,applied_date,amount\n";

struct Ledger {
    dir: tempfile::TempDir,
}

impl Ledger {
    fn new(documents: &[u8], payments: &str, allocations: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("customers.csv"), CUSTOMERS).expect("write");
        std::fs::write(dir.path().join("documents.csv"), documents).expect("write");
        std::fs::write(dir.path().join("payments.csv"), format!("{PAY_HEADER}{payments}")).expect("write");
        std::fs::write(dir.path().join("allocations.csv"), format!("{ALLOC_HEADER}{allocations}")).expect("write");
        std::fs::write(dir.path().join("fx_rates.csv"), "date,currency,rate_to_reporting\n").expect("write");
        Self { dir }
    }

    fn import(&self, data: &Path, extra: &[&str]) -> Output {
        let files: Vec<String> = ["customers", "documents", "payments", "allocations", "fx_rates"]
            .iter()
            .map(|t| self.dir.path().join(format!("{t}.csv")).display().to_string())
            .collect();
        let m = mapping("cobro-canonical.toml");
        let mut args = vec!["import", "--mapping", m.as_str()];
        args.extend_from_slice(extra);
        args.extend(files.iter().map(String::as_str));
        cobro(data, &args)
    }
}

fn docs(lines: &str) -> Vec<u8> {
    format!("{DOC_HEADER}D1,C1,invoice,2024-01-10,2024-02-09,EUR,100.00,,false\n{lines}").into_bytes()
}

/// Imports a ledger that has exactly one bad row, and returns the one reject (file, line, table, column, value,
/// reason) after checking the good rows went through.
fn single_reject(ledger: &Ledger) -> Vec<String> {
    let tmp = tempfile::tempdir().expect("tempdir");
    let o = ledger.import(tmp.path(), &[]);
    assert_eq!(o.status.code(), Some(3), "done with rejects must exit 3:\n{}", text(&o));
    let rejects = std::fs::read_to_string(tmp.path().join("staging/rejects.csv")).expect("rejects.csv");
    let mut r = csv::Reader::from_reader(rejects.as_bytes());
    let rows: Vec<Vec<String>> = r.records().map(|x| x.expect("row").iter().map(str::to_owned).collect()).collect();
    assert_eq!(rows.len(), 1, "exactly one reject expected: {rows:?}");
    // The printed summary names the file and line too.
    let line = format!("{} line {}", rows[0][0], rows[0][1]);
    assert!(text(&o).contains(&line), "summary lacks `{line}`:\n{}", text(&o));
    rows[0].clone()
}

fn assert_reject(r: &[String], file: &str, line: &str, column: &str, value: &str, reason_has: &[&str]) {
    assert_eq!((r[0].as_str(), r[1].as_str(), r[3].as_str(), r[4].as_str()), (file, line, column, value), "{r:?}");
    for part in reason_has {
        assert!(r[5].contains(part), "reason `{}` lacks `{part}`", r[5]);
    }
    assert!(!r[6].is_empty(), "the raw row is kept");
}

#[test]
fn a_malformed_csv_line_is_rejected_with_its_field_count() {
    let l = Ledger::new(&docs("D2,C1,invoice,2024-01-10,2024-02-09,EUR,100.00\n"), "", "");
    let r = single_reject(&l);
    assert_reject(&r, "documents.csv", "3", "", "", &["7 fields but the header has 9", "missing quote"]);
}

#[test]
fn an_unparsable_date_is_rejected_with_the_expected_format() {
    let l = Ledger::new(&docs("D2,C1,invoice,10/01/2024,2024-02-09,EUR,100.00,,false\n"), "", "");
    let r = single_reject(&l);
    assert_reject(&r, "documents.csv", "3", "issue_date", "10/01/2024", &["format `%Y-%m-%d`", "2024-06-30"]);
}

#[test]
fn a_due_date_before_the_issue_date_is_rejected() {
    let l = Ledger::new(&docs("D2,C1,invoice,2024-03-10,2024-02-09,EUR,100.00,,false\n"), "", "");
    let r = single_reject(&l);
    assert_reject(&r, "documents.csv", "3", "due_date", "2024-02-09", &["before the issue date 2024-03-10"]);
}

#[test]
fn a_bad_decimal_is_rejected_with_the_separator_the_mapping_expects() {
    let l = Ledger::new(&docs("D2,C1,invoice,2024-01-10,2024-02-09,EUR,\"1,5\",,false\n"), "", "");
    let r = single_reject(&l);
    assert_reject(&r, "documents.csv", "3", "amount", "1,5", &["not a decimal number", "decimal separator `.`"]);
}

#[test]
fn an_amount_with_more_decimals_than_its_currency_is_rejected() {
    let l = Ledger::new(&docs("D2,C1,invoice,2024-01-10,2024-02-09,JPY,100.50,,false\n"), "", "");
    let r = single_reject(&l);
    assert_reject(&r, "documents.csv", "3", "amount", "100.5", &["JPY has 0"]);
}

#[test]
fn an_unknown_currency_is_rejected() {
    let l = Ledger::new(&docs("D2,C1,invoice,2024-01-10,2024-02-09,EURO,100.00,,false\n"), "", "");
    let r = single_reject(&l);
    assert_reject(&r, "documents.csv", "3", "currency", "EURO", &["ISO 4217"]);
}

#[test]
fn a_duplicate_document_id_is_rejected_naming_the_first_occurrence() {
    let l = Ledger::new(&docs("D1,C1,invoice,2024-01-11,2024-02-10,EUR,50.00,,false\n"), "", "");
    let r = single_reject(&l);
    assert_reject(
        &r,
        "documents.csv",
        "3",
        "document_id",
        "D1",
        &["duplicate document_id", "first seen at documents.csv line 2"],
    );
}

#[test]
fn an_unknown_customer_is_rejected() {
    let l = Ledger::new(&docs("D2,C9,invoice,2024-01-10,2024-02-09,EUR,100.00,,false\n"), "", "");
    let r = single_reject(&l);
    assert_reject(&r, "documents.csv", "3", "customer_id", "C9", &["unknown customer `C9`"]);
}

#[test]
fn an_allocation_to_an_unknown_document_is_rejected() {
    let l = Ledger::new(&docs(""), "P1,C1,2024-02-01,EUR,100.00,transfer,\n", "P1,D7,2024-02-01,100.00\n");
    let r = single_reject(&l);
    assert_reject(&r, "allocations.csv", "2", "document_id", "D7", &["unknown document `D7`"]);
}

#[test]
fn an_allocation_over_the_document_amount_is_rejected_with_the_excess() {
    let l = Ledger::new(
        &docs(""),
        "P1,C1,2024-02-01,EUR,200.00,transfer,\n",
        "P1,D1,2024-02-01,80.00\nP1,D1,2024-02-02,30.00\n",
    );
    let r = single_reject(&l);
    assert_reject(&r, "allocations.csv", "3", "amount", "30", &["over the document amount", "over-apply by 10.00 EUR"]);
}

#[test]
fn a_non_utf8_byte_is_rejected_and_the_windows_1252_setting_is_suggested() {
    let mut d = docs("");
    d.extend_from_slice(b"D2,C1,invoice,2024-01-10,2024-02-09,EUR,100.00,Ferreter\xeda,false\n");
    let l = Ledger::new(&d, "", "");
    let r = single_reject(&l);
    assert_reject(&r, "documents.csv", "3", "reference", "", &["byte 0xED", "windows-1252"]);
}

#[test]
fn an_empty_file_fails_the_import_and_lists_the_expected_columns() {
    let l = Ledger::new(b"", "", "");
    let tmp = tempfile::tempdir().expect("tempdir");
    let o = l.import(tmp.path(), &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("documents.csv is empty") && t.contains("document_id") && t.contains("due_date"), "{t}");
    assert!(!tmp.path().join("staging").exists(), "nothing is staged");
}

#[test]
fn a_wrong_header_fails_the_import_and_lists_expected_and_found_columns() {
    let l = Ledger::new(b"document_id,customer,kind,issue_date,due_date,currency,amount,reference,disputed\n", "", "");
    let tmp = tempfile::tempdir().expect("tempdir");
    let o = l.import(tmp.path(), &[]);
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(
        t.contains("wrong header")
            && t.contains("missing column(s) `customer_id`")
            && t.contains("found: document_id, customer,"),
        "{t}"
    );
}

#[test]
fn max_reject_rate_fails_loudly_keeps_the_rejects_and_leaves_staging_alone() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let good = Ledger::new(&docs(""), "", "");
    ok(good.import(tmp.path(), &[]));
    let before = std::fs::read(tmp.path().join("staging/documents.parquet")).expect("staged");
    let bad = Ledger::new(&docs("D2,C9,invoice,2024-01-10,2024-02-09,EUR,100.00,,false\n"), "", "");
    let o = bad.import(tmp.path(), &["--max-reject-rate", "5"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("over --max-reject-rate 5.00 %") && t.contains("unknown customer"), "{t}");
    assert_eq!(std::fs::read(tmp.path().join("staging/documents.parquet")).expect("staged"), before);
    let kept: Vec<_> = std::fs::read_dir(tmp.path().join("failed-imports")).expect("kept").collect();
    assert_eq!(kept.len(), 1);
}

#[test]
fn a_clean_import_exits_zero_and_counts_every_table() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let l = Ledger::new(&docs(""), "P1,C1,2024-02-01,EUR,100.00,transfer,\n", "P1,D1,2024-02-01,100.00\n");
    let out = ok(l.import(tmp.path(), &[]));
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    for table in ["customers", "documents", "payments", "allocations"] {
        assert!(rows.contains(&vec![table, "1", "1", "0", "0"]), "summary lacks `{table} 1 1 0 0`:\n{out}");
    }
    assert!(rows.contains(&vec!["fx_rates", "0", "0", "0", "0"]), "{out}");
}

#[test]
fn an_appending_import_adds_to_the_staged_ledger_checks_against_it_and_keeps_the_earlier_rejects() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // The first extract: D1, and D2 for an unknown customer (one reject).
    let first = Ledger::new(&docs("D2,C9,invoice,2024-01-10,2024-02-09,EUR,100.00,,false\n"), "", "");
    assert_eq!(first.import(tmp.path(), &[]).status.code(), Some(3));
    // The increment: a new invoice, D1 again (a duplicate of a staged row), and a payment applied to the staged D1.
    let inc = tempfile::tempdir().expect("tempdir");
    let file = |name: &str, body: String| {
        let p = inc.path().join(name);
        std::fs::write(&p, body).expect("write");
        p.display().to_string()
    };
    let d = file(
        "documents-2024-02.csv",
        format!(
            "{DOC_HEADER}D3,C1,invoice,2024-02-10,2024-03-11,EUR,40.00,,false\nD1,C1,invoice,2024-01-10,2024-02-09,EUR,100.00,,false\n"
        ),
    );
    let p = file("payments-2024-02.csv", format!("{PAY_HEADER}P1,C1,2024-02-05,EUR,60.00,transfer,\n"));
    let a = file("allocations-2024-02.csv", format!("{ALLOC_HEADER}P1,D1,2024-02-05,60.00\n"));
    let m = mapping("cobro-canonical.toml");
    let o = cobro(tmp.path(), &["import", "--append", "--mapping", &m, &d, &p, &a]);
    assert_eq!(o.status.code(), Some(3), "the duplicate makes it exit 3:\n{}", text(&o));
    let out = text(&o);
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert!(rows.contains(&vec!["documents", "2", "1", "0", "1"]), "the batch's own counts:\n{out}");
    assert!(rows.contains(&vec!["allocations", "1", "1", "0", "0"]), "{out}");
    assert!(
        out.contains("documents-2024-02.csv line 3") && out.contains("the staged ledger's documents.parquet"),
        "{out}"
    );
    assert!(out.contains("2 rejected in all"), "{out}");
    ok(cobro(tmp.path(), &["snapshot", "--as-of", "2024-02-29"]));
    let q = |sql: &str| sql_rows(tmp.path(), "2024-02-29", sql);
    assert_eq!(q("SELECT document_id FROM documents ORDER BY document_id"), [["D1"], ["D3"]]);
    assert_eq!(
        q("SELECT file, line FROM rejects ORDER BY file"),
        [["documents-2024-02.csv", "3"], ["documents.csv", "3"]]
    );
    assert_eq!(q("SELECT CAST(SUM(balance) AS VARCHAR) FROM open_items"), [["80.0000"]], "D1 100 − 60 + D3 40");
    // A mapping in another reporting currency cannot append.
    let usd = inc.path().join("usd.toml");
    std::fs::write(
        &usd,
        std::fs::read_to_string(&m)
            .expect("mapping")
            .replace("reporting_currency = \"EUR\"", "reporting_currency = \"USD\""),
    )
    .expect("write");
    let o = cobro(tmp.path(), &["import", "--append", "--mapping", &usd.display().to_string(), &d]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("the staged ledger reports in EUR but this mapping reports in USD"), "{}", text(&o));
}

// ---------------------------------------------------------------------------------------------------------------
// Snapshots: versions, atomic publish, byte-identical rebuilds

fn data_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("snapshot dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
        .map(|p| (p.file_name().expect("name").to_string_lossy().into_owned(), std::fs::read(&p).expect("read")))
        .collect();
    files.sort();
    files
}

#[test]
fn a_damaged_manifest_is_named_with_the_line_and_column_where_it_breaks() {
    let data = fixture_snapshots("open-items", &["2024-06-30"]);
    let manifest = data.path().join("snapshots/as_of=2024-06-30/v=1/manifest.json");
    std::fs::write(&manifest, "{\n  \"schema_version\": 1,\n  \"as_of\": oops\n}").expect("write");
    let o = cobro(data.path(), &["sql", "SELECT COUNT(*) FROM open_items"]);
    assert!(!o.status.success(), "{}", text(&o));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains(&format!("{} is not a snapshot manifest cobro can read", manifest.display())), "{e}");
    assert!(e.contains("line 3 column"), "{e}");
}

#[test]
fn rebuilding_the_same_inputs_gives_byte_identical_data_files_in_a_new_version() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path();
    ok(import_fixture(data, &repo().join("data/fixtures/open-items")));
    ok(cobro(data, &["snapshot", "--as-of", "2024-06-30"]));
    // A second import of the same files, then a second snapshot.
    ok(import_fixture(data, &repo().join("data/fixtures/open-items")));
    ok(cobro(data, &["snapshot", "--as-of", "2024-06-30"]));
    let root = data.join("snapshots/as_of=2024-06-30");
    let v1 = data_files(&root.join("v=1"));
    let v2 = data_files(&root.join("v=2"));
    // The five ledger tables, rejects, open_items, and the eight collection tables (disputes, promises,
    // payment_reports, tasks, messages, collection_actions empty without a store; objectives and delay_reasons
    // from the built-in configuration).
    assert_eq!(v1.len(), 15, "{:?}", v1.iter().map(|f| &f.0).collect::<Vec<_>>());
    assert_eq!(v1, v2, "data files differ between rebuilds");
    // Reading without a version picks the latest.
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("v=2/manifest.json")).expect("manifest"))
            .expect("json");
    assert_eq!(m["version"], 2);
    assert_eq!(m["files"]["documents"]["rows"], 27);
    assert_eq!(m["sources"].as_array().map(Vec::len), Some(5));
    assert!(m["sources"][0]["sha256"].as_str().is_some_and(|s| s.len() == 64));
}

#[test]
fn a_crash_mid_snapshot_leaves_the_previous_snapshot_readable_and_publishes_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path();
    ok(import_fixture(data, &repo().join("data/fixtures/open-items")));
    ok(cobro(data, &["snapshot", "--as-of", "2024-06-30"]));
    for point in ["snapshot-after-copy", "snapshot-mid-write", "snapshot-before-publish"] {
        let o = Command::new(BIN)
            .arg("--data-dir")
            .arg(data)
            .args(["snapshot", "--as-of", "2024-06-30"])
            .env("COBRO_FAILPOINT", point)
            .output()
            .expect("runs");
        assert!(!o.status.success(), "{point}: the simulated crash must kill the process");
        let versions: Vec<_> = std::fs::read_dir(data.join("snapshots/as_of=2024-06-30")).expect("dir").collect();
        assert_eq!(versions.len(), 1, "{point}: no half snapshot may be published");
        let r = sql_rows(data, "2024-06-30", "SELECT COUNT(*) FROM open_items");
        assert_eq!(r[0][0], "14", "{point}: the previous snapshot still reads");
    }
    // The next build succeeds, and cleans the dead builds' temporary directories.
    ok(cobro(data, &["snapshot", "--as-of", "2024-06-30"]));
    let leftovers: Vec<_> = std::fs::read_dir(data.join("snapshots"))
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary directories of crashed builds are removed");
    assert!(data.join("snapshots/as_of=2024-06-30/v=2/manifest.json").is_file());
}

// ---------------------------------------------------------------------------------------------------------------
// SQL

#[test]
fn sql_errors_name_the_unknown_table_or_column() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path();
    ok(import_fixture(data, &repo().join("data/fixtures/open-items")));
    ok(cobro(data, &["snapshot", "--as-of", "2024-06-30"]));
    let o = cobro(data, &["sql", "SELECT * FROM invoices"]);
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(t.contains("invoices") && t.contains("tables in this snapshot") && t.contains("open_items"), "{t}");
    let o = cobro(data, &["sql", "SELECT amount_due FROM documents"]);
    let t = text(&o);
    assert!(t.contains("amount_due") && t.contains("documents.amount"), "{t}");
    let o = cobro(data, &["sql", "--as-of", "2020-01-01", "SELECT 1"]);
    let t = text(&o);
    assert!(t.contains("no snapshot as of 2020-01-01") && t.contains("available: 2024-06-30"), "{t}");
}

#[test]
fn sql_writes_table_csv_json_and_parquet() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path();
    ok(import_fixture(data, &repo().join("data/fixtures/open-items")));
    ok(cobro(data, &["snapshot", "--as-of", "2024-06-30"]));
    let q = "SELECT customer_id, COUNT(*) AS n FROM open_items GROUP BY customer_id ORDER BY customer_id";
    let table = ok(cobro(data, &["sql", q]));
    assert!(table.contains("| customer_id | n "), "{table}");
    let json = ok(cobro(data, &["sql", "--format", "json", q]));
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(v[0]["customer_id"], "000101");
    let out = tmp.path().join("o.parquet");
    ok(cobro(data, &["sql", "--format", "parquet", "--out", out.to_str().expect("path"), q]));
    let bytes = std::fs::read(&out).expect("parquet");
    assert_eq!(&bytes[..4], b"PAR1");
    // Results are written with Parquet 1.0 pages: under 2.0 a wide decimal column whose dictionary overflows falls
    // back to DELTA_BYTE_ARRAY, which Polars 2.1 cannot read (seen on 10M invoices).
    let reader =
        cobro_analytics::parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&out).expect("o"))
            .expect("a readable Parquet file");
    use cobro_analytics::parquet::file::reader::FileReader as _;
    assert_eq!(reader.metadata().file_metadata().version(), 1);
    let empty = ok(cobro(data, &["sql", "SELECT * FROM open_items WHERE 1 = 0"]));
    assert!(empty.contains("no rows"), "{empty}");
}

// ---------------------------------------------------------------------------------------------------------------
// JSON and Parquet inputs

#[test]
fn json_and_parquet_exports_import_through_a_mapping() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path();
    // Canonical tables as JSON lines, mapped with a small mapping.
    let dir = tmp.path().join("in");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(
        dir.join("customers.json"),
        "[{\"id\": \"C1\", \"cur\": \"EUR\"}, {\"id\": \"C2\", \"cur\": \"USD\"}]",
    )
    .expect("write");
    std::fs::write(
        dir.join("docs.ndjson"),
        "{\"no\": \"F-1\", \"cust\": \"C1\", \"d\": \"31.01.2024\", \"due\": \"01.03.2024\", \"total\": \"1.234,50\"}\n{\"no\": \"F-2\", \"cust\": \"C3\", \"d\": \"31.01.2024\", \"due\": \"01.03.2024\", \"total\": \"10,00\"}\n",
    )
    .expect("write");
    let m = tmp.path().join("m.toml");
    std::fs::write(
        &m,
        r#"
name = "json-erp"
reporting_currency = "EUR"
[defaults]
currency = "EUR"
date_format = "%d.%m.%Y"
decimal_separator = ","
thousands_separator = "."
[[inputs]]
match = "customers.json"
format = "json"
  [[inputs.emit]]
  table = "customers"
  [inputs.emit.columns]
  customer_id = "id"
  currency = "cur"
[[inputs]]
match = "*.ndjson"
format = "json"
  [[inputs.emit]]
  table = "documents"
  [inputs.emit.columns]
  document_id = "no"
  customer_id = "cust"
  kind = { const = "invoice" }
  issue_date = "d"
  due_date = "due"
  amount = "total"
"#,
    )
    .expect("write");
    let o = cobro(
        data,
        &[
            "import",
            "--mapping",
            m.to_str().expect("p"),
            dir.join("customers.json").to_str().expect("p"),
            dir.join("docs.ndjson").to_str().expect("p"),
        ],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("docs.ndjson line 2 (documents, column customer_id): unknown customer `C3`"),
        "{}",
        text(&o)
    );
    ok(cobro(data, &["snapshot", "--as-of", "2024-02-01"]));
    let r = sql_rows(data, "2024-02-01", "SELECT document_id, amount, due_date FROM documents");
    assert_eq!(r, vec![vec!["F-1".to_owned(), "1234.5000".to_owned(), "2024-03-01".to_owned()]]);

    // The snapshot's documents.parquet is itself a valid Parquet export for a Parquet mapping.
    let snap = data.join("snapshots/as_of=2024-02-01/v=1");
    let pm = tmp.path().join("pm.toml");
    std::fs::write(
        &pm,
        r#"
name = "parquet-erp"
reporting_currency = "EUR"
[[inputs]]
match = "customers.parquet"
format = "parquet"
  [[inputs.emit]]
  table = "customers"
  [inputs.emit.columns]
  customer_id = "customer_id"
  currency = "currency"
[[inputs]]
match = "documents.parquet"
format = "parquet"
  [[inputs.emit]]
  table = "documents"
  [inputs.emit.columns]
  document_id = "document_id"
  customer_id = "customer_id"
  kind = "kind"
  issue_date = "issue_date"
  due_date = "due_date"
  currency = "currency"
  amount = "amount"
"#,
    )
    .expect("write");
    let data2 = tmp.path().join("d2");
    ok(cobro(
        &data2,
        &[
            "import",
            "--mapping",
            pm.to_str().expect("p"),
            snap.join("customers.parquet").to_str().expect("p"),
            snap.join("documents.parquet").to_str().expect("p"),
        ],
    ));
    ok(cobro(&data2, &["snapshot", "--as-of", "2024-02-01"]));
    assert_eq!(
        sql_rows(&data2, "2024-02-01", "SELECT document_id, amount FROM documents"),
        vec![vec!["F-1".to_owned(), "1234.5000".to_owned()]]
    );
}

// ---------------------------------------------------------------------------------------------------------------
// The generator, end to end

#[test]
fn a_generated_ledger_imports_without_rejects_and_keeps_its_totals() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let gen_dir = tmp.path().join("gen");
    let out = ok(cobro(
        tmp.path(),
        &[
            "generate",
            "--customers",
            "300",
            "--invoices",
            "20000",
            "--seed",
            "7",
            "--out",
            gen_dir.to_str().expect("p"),
        ],
    ));
    assert!(out.contains("20000 invoices"), "{out}");
    let data = tmp.path().join("data");
    let o = import_fixture(&data, &gen_dir);
    assert_eq!(o.status.code(), Some(0), "a generated ledger must import cleanly:\n{}", text(&o));
    ok(cobro(&data, &["snapshot", "--as-of", "2025-12-31"]));
    let r = sql_rows(&data, "2025-12-31", "SELECT COUNT(*) FROM documents WHERE kind = 'invoice'");
    assert_eq!(r[0][0], "20000");
    // Spread that later metrics need: open items in several buckets, several currencies, disputes, VIPs.
    let r = sql_rows(&data, "2025-12-31", "SELECT COUNT(DISTINCT bucket), COUNT(DISTINCT currency) FROM open_items");
    assert!(r[0][0].parse::<i64>().expect("n") >= 5 && r[0][1] == "3", "{r:?}");
    let r = sql_rows(&data, "2025-12-31", "SELECT COUNT(*) FROM customers WHERE vip");
    assert!(r[0][0].parse::<i64>().expect("n") > 0);
    // Same seed, same bytes.
    let again = tmp.path().join("gen2");
    ok(cobro(
        tmp.path(),
        &["generate", "--customers", "300", "--invoices", "20000", "--seed", "7", "--out", again.to_str().expect("p")],
    ));
    for f in ["customers.csv", "documents.csv", "payments.csv", "allocations.csv", "fx_rates.csv"] {
        assert_eq!(std::fs::read(gen_dir.join(f)).expect("a"), std::fs::read(again.join(f)).expect("b"), "{f}");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The demo and the help

#[test]
fn demo_imports_the_bundled_sample_and_prints_the_ageing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = ok(cobro(tmp.path(), &["demo", "--no-serve"]));
    for part in
        ["2466", "snapshot as of 2013-06-30 version 1", "current", "open_count", "dso_countback", "cei", "dunning plan"]
    {
        assert!(out.contains(part), "demo output lacks `{part}`:\n{out}");
    }
}

/// The README's first command end to end: the demo ends serving the API, with a token that works.
#[test]
fn the_demo_ends_serving_the_api_with_a_working_admin_token_and_portal_link() {
    use std::io::{BufRead, BufReader};
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(tmp.path())
        .args(["demo", "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("demo");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let (mut token, mut portal, mut base) = (String::new(), String::new(), String::new());
    for line in lines.by_ref() {
        let line = line.expect("line");
        if let Some(t) = line.trim().strip_prefix("admin token (shown once): ") {
            token = t.to_owned();
        }
        if line.trim().starts_with("portal link for ") {
            portal = line.split_whitespace().last().unwrap_or_default().to_owned();
        }
        if line.starts_with("cobro listening on ") {
            base = line.split_whitespace().nth(3).unwrap_or_default().to_owned();
            break;
        }
    }
    let http = reqwest::blocking::Client::new();
    let metrics = http.get(format!("{base}/api/v1/metrics")).bearer_auth(&token).send().expect("metrics");
    assert_eq!(metrics.status(), 200);
    assert!(metrics.text().expect("body").contains("dso_countback"));
    // With port 0 the demo prints the link's path; it is under the `listening on` address.
    let query = portal.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let st = http.get(format!("{base}/api/v1/portal/statement?{query}")).send().expect("portal");
    assert_eq!(st.status(), 200);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn every_command_has_help_with_examples() {
    for cmd in ["demo", "generate", "import", "snapshot", "sql"] {
        let o = Command::new(BIN).args([cmd, "--help"]).output().expect("runs");
        let t = text(&o);
        assert!(o.status.success() && t.contains("Examples:"), "{cmd} --help:\n{t}");
    }
    let o = Command::new(BIN).args(["snapshot", "--as-of", "2024-13-01"]).output().expect("runs");
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("not a date in YYYY-MM-DD form"), "{}", text(&o));
}

#[test]
fn a_reader_that_closes_the_pipe_early_does_not_crash_cobro() {
    use std::io::{BufRead, BufReader};
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path();
    ok(cobro(data, &["import", "--mapping", &mapping("ibm-late-payment.toml"), ibm_csv().to_str().expect("path")]));
    ok(cobro(data, &["snapshot", "--as-of", "2013-06-30"]));
    // Like `cobro sql … | head -1`: read one line, then close the pipe while cobro still has rows to write.
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(["sql", "--format", "csv", "SELECT * FROM documents CROSS JOIN (SELECT 1 AS k UNION ALL SELECT 2) t"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut first = String::new();
    BufReader::new(stdout).read_line(&mut first).expect("one line");
    assert!(first.starts_with("document_id,"), "{first}");
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}
