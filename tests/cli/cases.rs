//! The collection workflow end to end through the `cobro` binary, on the `metrics` fixture ledger: outcomes,
//! the daily tick, dispute routing, reminders and resolution, the snapshot export, the alarms, the CSV import,
//! and a crash in the middle of a recording.

use std::path::Path;
use std::process::{Command, Stdio};

use super::{BIN, cobro, import_fixture, ok, repo, sql_rows, text};

/// The metrics fixture ledger, imported and snapshotted at 2024-12-31.
pub(super) fn ledger() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    ok(import_fixture(tmp.path(), &repo().join("data/fixtures/metrics")));
    ok(cobro(tmp.path(), &["snapshot", "--as-of", "2024-12-31"]));
    tmp
}

fn case(dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["case"];
    all.extend_from_slice(args);
    ok(cobro(dir, &all))
}

fn show(dir: &Path, customer: &str) -> serde_json::Value {
    serde_json::from_str(&case(dir, &["show", customer, "--json"])).expect("json")
}

fn status_of(show: &serde_json::Value, doc: &str) -> (String, i64) {
    let d = show["documents"].as_array().expect("documents").iter().find(|d| d["document_id"] == doc).expect("doc");
    (d["status"].as_str().expect("status").to_owned(), d["version"].as_i64().expect("version"))
}

fn kinds(show: &serde_json::Value) -> Vec<String> {
    show["timeline"].as_array().expect("timeline").iter().map(|e| e["kind"].as_str().unwrap_or("").to_owned()).collect()
}

#[test]
fn promise_broken_then_dispute_routed_reminded_and_resolved_by_a_credit_note() {
    let tmp = ledger();
    let dir = tmp.path();
    // 1. 2024-11-04: the customer promises INV-4021 (310.00, due 2024-10-02) for 2024-11-08. Grace is 3 days.
    let out = case(
        dir,
        &[
            "promise",
            "--customer",
            "000201",
            "--invoices",
            "INV-4021",
            "--date",
            "2024-11-08",
            "--on",
            "2024-11-04",
            "--by",
            "ana",
            "--reason",
            "payment_run",
            "--note",
            "pays Friday",
        ],
    );
    assert!(out.contains("INV-4021: normal → promise (version 1)"), "{out}");
    assert!(
        out.contains("promise PRM-1: 310 EUR by 2024-11-08 on INV-4021; broken if not applied by 2024-11-11"),
        "{out}"
    );

    // 2. The daily tick at the snapshot's date: nothing was applied to INV-4021, so the promise is broken and the
    //    invoice is back in collection, with a call task.
    let out = case(dir, &["tick"]);
    assert!(out.contains("promise_broken INV-4021: promise → normal"), "{out}");
    assert!(out.contains("Promise PRM-1 broken: call the customer today"), "{out}");
    let s = show(dir, "000201");
    assert_eq!(status_of(&s, "INV-4021"), ("normal".to_owned(), 2));
    // Running it again changes nothing.
    let out = case(dir, &["tick"]);
    assert!(out.contains("0 action(s)"), "{out}");

    // The broken-promises alarm lists it for the collector.
    let alarms = ok(cobro(dir, &["alarms", "--only", "broken-promises", "--format", "csv"]));
    assert!(alarms.contains("COL01,000201,PRM-1,2024-11-08,2024-11-11"), "{alarms}");

    // 3. 2024-12-02: the customer disputes it: goods never delivered. Routed to logistics; 10 business days with
    //    the 2024-12-06 holiday make the deadline 2024-12-17, and the first response is due 2024-12-04.
    let out = case(
        dir,
        &[
            "dispute",
            "--customer",
            "000201",
            "--invoices",
            "INV-4021",
            "--type",
            "delivery",
            "--on",
            "2024-12-02",
            "--by",
            "ana",
        ],
    );
    assert!(
        out.contains("dispute DSP-1 (delivery) routed to logistics (owner logistics-owner); first response due 2024-12-04, resolution due 2024-12-17"),
        "{out}"
    );
    // A promise on a disputed invoice is refused, and says what to do.
    let refused = cobro(
        dir,
        &[
            "case",
            "promise",
            "--customer",
            "000201",
            "--invoices",
            "INV-4021",
            "--date",
            "2024-12-20",
            "--on",
            "2024-12-03",
        ],
    );
    assert!(!refused.status.success());
    assert!(
        text(&refused).contains("it is in dispute; the department must resolve the dispute (`cobro case resolve`)"),
        "{}",
        text(&refused)
    );

    // 4. The tick two business days before the deadline (Friday 12-13) sends the owner a reminder, once.
    let out = case(dir, &["tick", "--on", "2024-12-13"]);
    assert!(out.contains("DSP-1: dispute_reminder_before to logistics-owner"), "{out}");
    let out = case(dir, &["tick", "--on", "2024-12-13"]);
    assert!(!out.contains("dispute_reminder_before"), "a reminder goes out once: {out}");

    // 5. Logistics answers and resolves it with a credit note on 2024-12-16; the invoice re-enters collection.
    case(dir, &["respond", "DSP-1", "--on", "2024-12-03", "--by", "logistics-owner"]);
    let out = case(
        dir,
        &["resolve", "DSP-1", "--resolution", "credit_note", "--on", "2024-12-16", "--by", "logistics-owner"],
    );
    assert!(out.contains("INV-4021: dispute → normal"), "{out}");
    assert!(out.contains("1 open task(s) closed"), "{out}");
    let s = show(dir, "000201");
    assert_eq!(status_of(&s, "INV-4021"), ("normal".to_owned(), 4));
    assert_eq!(
        kinds(&s),
        [
            "promise_to_pay",
            "promise_broken",
            "task_created",
            "dispute",
            "task_created",
            "message_queued",
            "message_queued",
            "dispute_response",
            "dispute_resolved"
        ]
    );

    // 6. A new snapshot carries the records; the metric library reads the resolution from them: 14 calendar days
    //    (12-02 → 12-16), 9 business days in the workflow calendar (after Monday 12-02 up to Monday 12-16:
    //    Tue-Thu 3 (Friday 12-06 is a holiday) + 5 + 1), in time (12-16 ≤ 12-17).
    ok(cobro(dir, &["snapshot", "--as-of", "2024-12-31"]));
    let rows = sql_rows(
        dir,
        "2024-12-31",
        "SELECT dispute_id, department, resolution_days, resolution_business_days, CAST(resolved_in_time AS VARCHAR) \
         FROM dispute_resolution",
    );
    assert_eq!(rows, [["DSP-1", "logistics", "14", "9", "true"]]);
    let rows = sql_rows(
        dir,
        "2024-12-31",
        "SELECT disputes, resolved, resolved_in_time, CAST(in_time_pct AS DECIMAL(5, 2)) FROM dispute_sla WHERE dimension = 'department' AND key = 'logistics'",
    );
    assert_eq!(rows, [["1", "1", "1", "100.00"]]);
    let rows = sql_rows(
        dir,
        "2024-12-31",
        "SELECT kind, before_status, after_status FROM collection_actions WHERE document_id = 'INV-4021' ORDER BY seq",
    );
    assert_eq!(
        rows,
        [
            ["promise_to_pay", "normal", "promise"],
            ["promise_broken", "promise", "normal"],
            ["dispute", "normal", "dispute"],
            ["dispute_resolved", "dispute", "normal"]
        ]
    );
    let rows = sql_rows(dir, "2024-12-31", "SELECT state, COUNT(*) FROM promises GROUP BY state");
    assert_eq!(rows, [["broken", "1"]]);
    let rows = sql_rows(dir, "2024-12-31", "SELECT template, state FROM messages ORDER BY message_id");
    assert_eq!(rows, [["dispute_opened", "queued"], ["dispute_reminder_before", "queued"]]);
}

#[test]
fn paid_and_credited_invoices_are_refused_and_the_other_outcomes_create_their_tasks() {
    let tmp = ledger();
    let dir = tmp.path();
    // INV-4010 was settled by a credit note (800.00) and a payment (1,500.00).
    let o = cobro(dir, &["case", "no-contact", "--customer", "000204", "--invoices", "INV-4010", "--on", "2024-12-02"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("document `INV-4010` is already paid and credited (balance 0 at 2024-12-31); paid and credited documents are never chased"),
        "{}",
        text(&o)
    );
    // No contact: an email listing the invoices with the per-currency total, and a call on the next business day
    // (Friday 2024-12-06 is a holiday, so Thursday's call-back is on Monday 12-09).
    let out =
        case(dir, &["no-contact", "--customer", "000202", "--invoices", "INV-4014,INV-4018", "--on", "2024-12-05"]);
    assert!(out.contains("call-back task TSK-1 due 2024-12-09"), "{out}");
    let s = show(dir, "000202");
    assert_eq!(s["messages"][0]["template"], "no_contact");
    assert_eq!(s["messages"][0]["recipient"], "ap@distribuciones-sur.example");
    // No commitment: a follow-up in 3 days (Saturday 12-07 → Monday 12-09).
    let out = case(dir, &["no-commitment", "--customer", "000201", "--invoices", "INV-4030", "--on", "2024-12-04"]);
    assert!(out.contains("follow-up call TSK-2 due 2024-12-09"), "{out}");
    // Reported paid: out of the reminders; on the alarm once older than 5 days and still open.
    case(
        dir,
        &[
            "reported-paid",
            "--customer",
            "000203",
            "--invoices",
            "INV-4019",
            "--reference",
            "TR-99",
            "--on",
            "2024-12-02",
        ],
    );
    let alarms = ok(cobro(dir, &["alarms", "--only", "reported-not-credited", "--format", "csv"]));
    assert!(alarms.contains("COL02,000203,RPT-1,INV-4019,2024-12-02,29"), "{alarms}");
    let tasks = case(dir, &["tasks"]);
    assert!(tasks.contains("TSK-1") && tasks.contains("TSK-2"), "{tasks}");
    case(dir, &["task-done", "TSK-1", "--on", "2024-12-09"]);
    let tasks = case(dir, &["tasks"]);
    assert!(!tasks.contains("TSK-1"), "{tasks}");
    // The delay reason recorded with an outcome is counted, with the amount it covered.
    case(
        dir,
        &[
            "no-commitment",
            "--customer",
            "000201",
            "--invoices",
            "INV-4033",
            "--reason",
            "cash_flow",
            "--on",
            "2024-12-04",
        ],
    );
    let report = ok(cobro(dir, &["case", "report", "--format", "csv"]));
    assert!(report.contains("cash_flow,Cash-flow trouble,true,1,1,1,640.00"), "{report}");
    // An unknown delay reason is refused with the known ones.
    let o =
        cobro(dir, &["case", "no-commitment", "--customer", "000201", "--invoices", "INV-4033", "--reason", "weather"]);
    assert!(
        text(&o).contains("unknown delay reason `weather`; known: cash_flow, invoice_not_received"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_crash_between_the_status_change_and_the_event_leaves_nothing_half_written() {
    let tmp = ledger();
    let dir = tmp.path();
    let args = [
        "case",
        "promise",
        "--customer",
        "000201",
        "--invoices",
        "INV-4021,INV-4030",
        "--date",
        "2024-12-20",
        "--on",
        "2024-12-02",
    ];
    let crashed = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env("COBRO_FAILPOINT", "case-after-status")
        .output()
        .expect("cobro runs");
    assert!(!crashed.status.success(), "the failpoint aborts the process");
    let s = show(dir, "000201");
    for d in ["INV-4021", "INV-4030"] {
        assert_eq!(status_of(&s, d), ("normal".to_owned(), 0), "{d} is untouched");
    }
    assert!(kinds(&s).is_empty(), "no event: {s}");
    assert_eq!(s["promises"].as_array().map(Vec::len), Some(0));
    // The same command, run again, goes through whole.
    let out = ok(cobro(dir, &args));
    assert!(out.contains("INV-4030: normal → promise (version 1)"), "{out}");
    assert_eq!(kinds(&show(dir, "000201")), ["promise_to_pay", "promise_to_pay"]);
}

#[test]
fn disputes_and_promises_import_from_csv_with_rejects_kept_and_explained() {
    let tmp = ledger();
    let dir = tmp.path();
    let disputes = dir.join("disputes.csv");
    std::fs::write(
        &disputes,
        "dispute_id,customer_id,document_id,dispute_type,opened_date,amount,resolved_date,resolution\n\
         OLD-1,000204,INV-4016,delivery,2024-09-10,,,\n\
         OLD-2,000204,INV-4010,billing_error,2024-05-20,800.00,2024-06-25,credit_note\n\
         OLD-3,000204,INV-9999,delivery,2024-09-10,,,\n\
         OLD-4,000204,INV-4022,weather,2024-09-10,,,\n\
         OLD-5,000204,INV-4022,price,2024-31-10,,,\n\
         OLD-6,000201,INV-4022,price,2024-10-10,,,\n",
    )
    .expect("write");
    let promises = dir.join("promises.csv");
    std::fs::write(
        &promises,
        "promise_id,customer_id,document_id,made_date,promised_date,amount\n\
         P-1,000202,INV-4014,2024-12-01,2024-12-05,1420.00\n\
         P-2,000204,INV-4016,2024-12-01,2024-12-05,100\n\
         P-3,000202,INV-4018,2024-12-01,2024-11-05,100\n",
    )
    .expect("write");
    let o = cobro(
        dir,
        &["case", "import", "--disputes", disputes.to_str().expect("p"), "--promises", promises.to_str().expect("p")],
    );
    let out = text(&o);
    assert_eq!(o.status.code(), Some(3), "done with rejects: {out}");
    assert!(out.contains("disputes.csv: 6 row(s) read, 2 applied, 4 rejected"), "{out}");
    assert!(
        out.contains("line 4, column document_id = `INV-9999`: is not in the ledger snapshot as of 2024-12-31"),
        "{out}"
    );
    assert!(out.contains("line 5, column dispute_type = `weather`: is not a configured type"), "{out}");
    assert!(out.contains("line 6, column opened_date = `2024-31-10`: is not a date (YYYY-MM-DD)"), "{out}");
    assert!(
        out.contains("line 7, column customer_id = `000201`: document INV-4022 belongs to customer 000204"),
        "{out}"
    );
    assert!(out.contains("promises.csv: 3 row(s) read, 1 applied, 2 rejected"), "{out}");
    // INV-4016 is in the imported open dispute: a promise on it is refused by the state machine.
    assert!(
        out.contains(
            "line 3, column document_id = `INV-4016`: promise_to_pay is not allowed on a document in status `dispute`"
        ),
        "{out}"
    );
    assert!(out.contains("line 4, column promised_date = `2024-11-05`: is before made_date 2024-12-01"), "{out}");
    let s = show(dir, "000204");
    assert_eq!(status_of(&s, "INV-4016"), ("dispute".to_owned(), 1));
    // The same file again: everything already there is refused, nothing is applied twice.
    let again = cobro(dir, &["case", "import", "--disputes", disputes.to_str().expect("p"), "--max-reject-rate", "50"]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(text(&again).contains("OLD-1 on INV-4016 is already in the store (imported before?)"), "{}", text(&again));
    assert!(text(&again).contains("more than --max-reject-rate 50 %"), "{}", text(&again));
}

#[test]
fn a_segment_change_between_two_ticks_is_an_event_on_the_customers_timeline() {
    let tmp = ledger();
    let dir = tmp.path();
    ok(cobro(dir, &["snapshot", "--as-of", "2024-03-31"]));
    // At 2024-03-31 every customer has fewer than 3 settled invoices: `new`. The first tick only remembers that.
    let out = case(dir, &["tick", "--as-of", "2024-03-31"]);
    assert!(out.contains("0 segment change(s)"), "{out}");
    let out = case(dir, &["tick", "--as-of", "2024-12-31"]);
    assert!(out.contains("4 segment change(s)"), "{out}");
    let s = show(dir, "000204");
    let e = s["timeline"].as_array().expect("timeline").iter().find(|e| e["kind"] == "segment_changed").expect("event");
    assert_eq!((e["before_status"].as_str(), e["after_status"].as_str()), (Some("new"), Some("chronic+critical")));
    assert_eq!(e["note"], "chronic: share_paid_late 0.6 > 0.5; critical: oldest_days_past_due 120 > 90");
    // Nothing changed since: a third tick records nothing.
    let out = case(dir, &["tick", "--as-of", "2024-12-31"]);
    assert!(out.contains("0 segment change(s)"), "{out}");
}

#[test]
fn two_processes_recording_on_one_invoice_at_once_one_wins_the_other_is_told_why() {
    let tmp = ledger();
    let dir = tmp.path();
    // Both collectors saw INV-4021 at version 0 and record different outcomes at the same moment.
    let spawn = |args: &[&str]| {
        Command::new(BIN)
            .arg("--data-dir")
            .arg(dir)
            .args(args)
            .env_remove("COBRO_FAILPOINT")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let common =
        ["--customer", "000201", "--invoices", "INV-4021", "--expect-version", "INV-4021=0", "--on", "2024-12-02"];
    let mut a: Vec<&str> = vec!["case", "promise", "--date", "2024-12-10", "--by", "ana"];
    a.extend_from_slice(&common);
    let mut b: Vec<&str> = vec!["case", "dispute", "--type", "delivery", "--by", "luis"];
    b.extend_from_slice(&common);
    let (pa, pb) = (spawn(&a), spawn(&b));
    let (ra, rb) = (pa.wait_with_output().expect("a"), pb.wait_with_output().expect("b"));
    let wins = [&ra, &rb].iter().filter(|o| o.status.success()).count();
    assert_eq!(wins, 1, "exactly one wins:\n{}\n{}", text(&ra), text(&rb));
    let lost = if ra.status.success() { &rb } else { &ra };
    assert!(text(lost).contains("changed while this was being recorded"), "{}", text(lost));
    let s = show(dir, "000201");
    assert_eq!(status_of(&s, "INV-4021").1, 1);
    assert_eq!(kinds(&s).iter().filter(|k| *k == "promise_to_pay" || *k == "dispute").count(), 1);
}

#[test]
fn a_snapshot_written_before_the_collection_columns_were_added_still_opens() {
    use cobro_analytics::arrow::datatypes::{DataType, Field, Schema};
    use cobro_analytics::arrow::record_batch::RecordBatch;
    use cobro_analytics::parquet::arrow::ArrowWriter;
    let tmp = ledger();
    let dir = tmp.path();
    // Rewrite the snapshot's promises and payment_reports with the columns they had before this workflow existed.
    let snap = dir.join("snapshots/as_of=2024-12-31/v=1");
    let old = |path: &Path, cols: &[(&str, DataType)]| {
        let schema = std::sync::Arc::new(Schema::new(
            cols.iter().map(|(n, t)| Field::new(*n, t.clone(), true)).collect::<Vec<_>>(),
        ));
        let mut w =
            ArrowWriter::try_new(std::fs::File::create(path).expect("create"), schema.clone(), None).expect("w");
        w.write(&RecordBatch::new_empty(schema)).expect("write");
        w.close().expect("close");
    };
    let money = DataType::Decimal128(18, 4);
    old(
        &snap.join("promises.parquet"),
        &[
            ("promise_id", DataType::Utf8),
            ("document_id", DataType::Utf8),
            ("customer_id", DataType::Utf8),
            ("collector_id", DataType::Utf8),
            ("made_date", DataType::Date32),
            ("promised_date", DataType::Date32),
            ("grace_days", DataType::Int32),
            ("currency", DataType::Utf8),
            ("amount", money),
        ],
    );
    old(
        &snap.join("payment_reports.parquet"),
        &[
            ("report_id", DataType::Utf8),
            ("document_id", DataType::Utf8),
            ("customer_id", DataType::Utf8),
            ("reported_date", DataType::Date32),
            ("paid_date", DataType::Date32),
            ("reference", DataType::Utf8),
        ],
    );
    let rows = sql_rows(dir, "2024-12-31", "SELECT COUNT(*), COUNT(state) FROM promises");
    assert_eq!(rows, [["0", "0"]]);
    ok(cobro(dir, &["queue", "--limit", "1"]));
    ok(cobro(dir, &["alarms", "--only", "broken-promises"]));
}
