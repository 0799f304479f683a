//! Tests of the generator on small ledgers (at most 20,000 invoices), read back through the csv crate.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::OnceLock;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::*;

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|e| panic!("bad date {s:?}: {e}"))
}

fn money(s: &str) -> Decimal {
    let d: Decimal = s.parse().unwrap_or_else(|e| panic!("bad amount {s:?}: {e}"));
    assert_eq!(d.scale(), 2, "amounts have 2 decimals: {s}");
    d
}

fn rows(dir: &Path, name: &str) -> Vec<csv::StringRecord> {
    let mut reader = csv::Reader::from_path(dir.join(name)).unwrap_or_else(|e| panic!("open {name}: {e}"));
    reader.records().map(|r| r.unwrap_or_else(|e| panic!("read {name}: {e}"))).collect()
}

struct Doc {
    customer: String,
    kind: String,
    issue: NaiveDate,
    due: NaiveDate,
    currency: String,
    amount: Decimal,
    reference: String,
    disputed: bool,
}

struct Payment {
    customer: String,
    received: NaiveDate,
    currency: String,
    amount: Decimal,
}

struct Allocation {
    source: String,
    document: String,
    applied: NaiveDate,
    amount: Decimal,
}

/// A generated ledger, read back.
struct Ledger {
    summary: GenerateSummary,
    customers: Vec<csv::StringRecord>,
    truth: BTreeMap<String, String>,
    documents: BTreeMap<String, Doc>,
    document_order: Vec<String>,
    payments: BTreeMap<String, Payment>,
    allocations: Vec<Allocation>,
    fx_rows: usize,
}

fn generate_into(cfg: &GenerateConfig) -> GenerateSummary {
    generate(cfg, &mut |_| {}).unwrap_or_else(|e| panic!("generate failed: {e}"))
}

fn load(customers: u64, invoices: u64, seed: u64) -> Ledger {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let cfg = GenerateConfig::new(customers, invoices, seed, dir.path().to_path_buf());
    let summary = generate_into(&cfg);
    let p = dir.path();
    let mut documents = BTreeMap::new();
    let mut document_order = Vec::new();
    for r in rows(p, "documents.csv") {
        document_order.push(r[0].to_owned());
        let doc = Doc {
            customer: r[1].to_owned(),
            kind: r[2].to_owned(),
            issue: date(&r[3]),
            due: date(&r[4]),
            currency: r[5].to_owned(),
            amount: money(&r[6]),
            reference: r[7].to_owned(),
            disputed: match &r[8] {
                "true" => true,
                "false" => false,
                other => panic!("disputed is {other:?}"),
            },
        };
        assert!(documents.insert(r[0].to_owned(), doc).is_none(), "duplicate document {}", &r[0]);
    }
    let mut payments = BTreeMap::new();
    for r in rows(p, "payments.csv") {
        let pay = Payment {
            customer: r[1].to_owned(),
            received: date(&r[2]),
            currency: r[3].to_owned(),
            amount: money(&r[4]),
        };
        assert!(payments.insert(r[0].to_owned(), pay).is_none(), "duplicate payment {}", &r[0]);
    }
    let allocations = rows(p, "allocations.csv")
        .iter()
        .map(|r| Allocation {
            source: r[0].to_owned(),
            document: r[1].to_owned(),
            applied: date(&r[2]),
            amount: money(&r[3]),
        })
        .collect();
    let truth = rows(p, "customers_truth.csv").iter().map(|r| (r[0].to_owned(), r[1].to_owned())).collect();
    Ledger {
        summary,
        customers: rows(p, "customers.csv"),
        truth,
        documents,
        document_order,
        payments,
        allocations,
        fx_rows: rows(p, "fx_rates.csv").len(),
    }
}

/// The ledger most tests share: 1,000 customers, 20,000 invoices.
fn standard() -> &'static Ledger {
    static LEDGER: OnceLock<Ledger> = OnceLock::new();
    LEDGER.get_or_init(|| load(1_000, 20_000, 42))
}

/// The day each document's balance reached zero, if it did by the extract date.
fn settled_dates(l: &Ledger) -> HashMap<&str, NaiveDate> {
    let mut by_doc: HashMap<&str, Vec<(NaiveDate, Decimal)>> = HashMap::new();
    for a in &l.allocations {
        by_doc.entry(a.document.as_str()).or_default().push((a.applied, a.amount));
    }
    let mut settled = HashMap::new();
    for (doc, mut allocs) in by_doc {
        allocs.sort();
        let mut paid = Decimal::ZERO;
        for (day, amount) in allocs {
            paid += amount;
            if paid == l.documents[doc].amount {
                settled.insert(doc, day);
            }
        }
    }
    settled
}

#[test]
fn same_config_writes_byte_identical_files() {
    let a = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let b = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let sa = generate_into(&GenerateConfig::new(300, 5_000, 7, a.path().to_path_buf()));
    let sb = generate_into(&GenerateConfig::new(300, 5_000, 7, b.path().to_path_buf()));
    assert_eq!(sa, sb);
    for name in
        ["customers.csv", "customers_truth.csv", "documents.csv", "payments.csv", "allocations.csv", "fx_rates.csv"]
    {
        let fa = std::fs::read(a.path().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let fb = std::fs::read(b.path().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(fa.len() > 40, "{name} has rows");
        assert!(fa == fb, "{name} differs between two runs of the same config");
    }
    let leftovers: Vec<_> = std::fs::read_dir(a.path())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "no .partial files remain");
}

#[test]
fn a_different_seed_writes_a_different_ledger() {
    let a = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let b = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    generate_into(&GenerateConfig::new(100, 1_000, 1, a.path().to_path_buf()));
    generate_into(&GenerateConfig::new(100, 1_000, 2, b.path().to_path_buf()));
    let read = |d: &Path| std::fs::read(d.join("documents.csv")).unwrap_or_default();
    assert_ne!(read(a.path()), read(b.path()));
}

#[test]
fn more_invoices_keep_the_same_customers() {
    let a = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let b = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    generate_into(&GenerateConfig::new(100, 1_000, 3, a.path().to_path_buf()));
    generate_into(&GenerateConfig::new(100, 2_000, 3, b.path().to_path_buf()));
    let truth = |d: &Path| std::fs::read(d.join("customers_truth.csv")).unwrap_or_default();
    assert_eq!(truth(a.path()), truth(b.path()));
}

#[test]
fn allocations_never_exceed_the_document_or_the_payment() {
    let l = standard();
    let mut per_doc: HashMap<&str, Decimal> = HashMap::new();
    let mut per_source: HashMap<&str, Decimal> = HashMap::new();
    for a in &l.allocations {
        assert!(a.amount > Decimal::ZERO, "allocation amounts are positive");
        *per_doc.entry(&a.document).or_default() += a.amount;
        *per_source.entry(&a.source).or_default() += a.amount;
    }
    for (doc, total) in per_doc {
        assert!(total <= l.documents[doc].amount, "{doc} is allocated {total} of {}", l.documents[doc].amount);
    }
    for (source, total) in per_source {
        let limit = match l.payments.get(source) {
            Some(p) => p.amount,
            None => l.documents[source].amount,
        };
        assert!(total <= limit, "{source} allocates {total} of {limit}");
    }
}

#[test]
fn every_allocation_references_an_emitted_document_and_source() {
    let l = standard();
    for a in &l.allocations {
        let doc = l.documents.get(&a.document).unwrap_or_else(|| panic!("{} is not in documents.csv", a.document));
        assert!(doc.kind == "invoice" || doc.kind == "debit_note", "{} is allocated to a {}", a.document, doc.kind);
        if let Some(p) = l.payments.get(&a.source) {
            assert_eq!(p.customer, doc.customer, "{} pays another customer's document", a.source);
            assert_eq!(p.currency, doc.currency, "{} pays in another currency", a.source);
            assert!(a.applied >= p.received, "{} is applied before it arrived", a.source);
            assert!(a.applied <= p.received + chrono::Days::new(3));
        } else {
            let note = l.documents.get(&a.source).unwrap_or_else(|| panic!("{} is not emitted", a.source));
            assert_eq!(note.kind, "credit_note");
            assert_eq!(note.customer, doc.customer);
            assert_eq!(note.reference, a.document, "a credit note is applied to the invoice it references");
            assert_eq!(a.applied, note.issue, "a credit note is applied on its issue date");
        }
        assert!(a.applied >= doc.issue);
    }
}

#[test]
fn due_dates_are_never_before_issue_dates_and_nothing_is_dated_after_the_extract() {
    let l = standard();
    let extract = l.summary.extract_date;
    assert_eq!(extract, date("2025-12-31"));
    for (id, d) in &l.documents {
        assert!(d.due >= d.issue, "{id} is due before it is issued");
        assert!(d.issue >= date("2024-01-01") && d.issue <= extract, "{id} issued on {}", d.issue);
        assert!(d.amount > Decimal::ZERO, "{id} has a positive amount");
    }
    for (id, p) in &l.payments {
        assert!(p.received <= extract, "{id} arrives after the extract");
        assert!(p.amount > Decimal::ZERO);
    }
    assert!(l.allocations.iter().all(|a| a.applied <= extract));
}

#[test]
fn payments_never_arrive_before_the_document_is_issued() {
    let l = standard();
    for a in &l.allocations {
        if let Some(p) = l.payments.get(&a.source) {
            assert!(p.received >= l.documents[&a.document].issue, "{} pays {} early", a.source, a.document);
        }
    }
}

#[test]
fn behaviour_classes_follow_the_documented_mix() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    generate_into(&GenerateConfig::new(20_000, 100, 11, dir.path().to_path_buf()));
    let truth = rows(dir.path(), "customers_truth.csv");
    let share = |class: &str| truth.iter().filter(|r| &r[1] == class).count() as f64 / truth.len() as f64;
    for (class, expected) in [("prompt", 0.55), ("occasional", 0.25), ("chronic", 0.15), ("defaulter", 0.05)] {
        assert!((share(class) - expected).abs() < 0.015, "{class} is {:.3} of customers", share(class));
    }
    let customers = rows(dir.path(), "customers.csv");
    let vip = customers.iter().filter(|r| &r[13] == "true").count() as f64 / customers.len() as f64;
    assert!((0.015..0.05).contains(&vip), "VIP share {vip}");
    for r in &customers {
        assert_eq!(&r[4] == "VIP", &r[13] == "true", "account group VIP iff vip=true");
        assert!(["30", "45", "60", "90"].contains(&&r[5]));
        assert!(["EUR", "USD", "GBP"].contains(&&r[3]));
        assert!(["es", "en"].contains(&&r[11]));
    }
    let eur = customers.iter().filter(|r| &r[3] == "EUR").count() as f64 / customers.len() as f64;
    assert!((eur - 0.70).abs() < 0.02, "EUR share {eur}");
    let collectors: std::collections::BTreeSet<&str> = customers.iter().map(|r| r.get(7).unwrap_or("")).collect();
    assert_eq!(collectors.len(), 10, "one collector per 2,000 customers");
}

#[test]
fn segment_rules_recover_most_behaviour_classes() {
    // 400 customers with 20,000 invoices: enough settled invoices per customer to measure a late share.
    let l = load(400, 20_000, 5);
    let extract = l.summary.extract_date;
    let window_start = extract - chrono::Months::new(12);
    let settled = settled_dates(&l);
    // Per customer: (settled in the trailing 12 months, of which late, oldest days past due of open items).
    let mut stats: HashMap<&str, (u32, u32, i64)> = HashMap::new();
    for (id, d) in &l.documents {
        if d.kind == "credit_note" {
            continue;
        }
        let entry = stats.entry(d.customer.as_str()).or_default();
        match settled.get(id.as_str()) {
            Some(&day) if day > window_start => {
                entry.0 += 1;
                entry.1 += u32::from(day > d.due);
            }
            Some(_) => {}
            None => entry.2 = entry.2.max((extract - d.due).num_days()),
        }
    }
    let mut hits: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    for (customer, class) in &l.truth {
        let Some(&(n, late, oldest)) = stats.get(customer.as_str()) else {
            continue;
        };
        let share = f64::from(late) / f64::from(n.max(1));
        let recovered = match class.as_str() {
            "prompt" => share <= 0.10,
            "occasional" => share > 0.10 && share <= 0.50,
            "chronic" => share > 0.50,
            // Defaulters surface through the `critical` overlay: open items more than 90 days past due.
            _ => oldest > 90,
        };
        if n >= 8 || class == "defaulter" {
            let h = hits.entry(class.as_str()).or_default();
            h.0 += u32::from(recovered);
            h.1 += 1;
        }
    }
    for (class, minimum) in [("prompt", 0.85), ("occasional", 0.70), ("chronic", 0.85), ("defaulter", 0.85)] {
        let (ok, n) = hits.get(class).copied().unwrap_or_default();
        assert!(n >= 5, "too few {class} customers measured: {n}");
        let rate = f64::from(ok) / f64::from(n);
        assert!(rate >= minimum, "{class}: {ok} of {n} recovered ({rate:.2})");
    }
}

#[test]
fn credit_notes_are_present_and_credit_their_own_invoice() {
    let l = standard();
    let notes: Vec<(&String, &Doc)> = l.documents.iter().filter(|(_, d)| d.kind == "credit_note").collect();
    let share = notes.len() as f64 / l.summary.invoices as f64;
    assert!((0.012..0.03).contains(&share), "credit notes are {share:.4} of invoices");
    assert_eq!(notes.len() as u64, l.summary.credit_notes);
    for (id, note) in notes {
        let invoice = &l.documents[&note.reference];
        assert_eq!(invoice.kind, "invoice");
        assert!(note.amount <= invoice.amount);
        assert!(note.issue > invoice.issue);
        let applied: Vec<&Allocation> = l.allocations.iter().filter(|a| &a.source == id).collect();
        assert_eq!(applied.len(), 1, "{id} is allocated once");
        assert_eq!(applied[0].amount, note.amount);
    }
    let debit_notes = l.documents.values().filter(|d| d.kind == "debit_note").count();
    assert!(debit_notes > 30, "a few debit notes: {debit_notes}");
}

#[test]
fn disputed_invoices_are_about_three_percent_and_pay_late_more_often() {
    let l = standard();
    let invoices: Vec<(&String, &Doc)> = l.documents.iter().filter(|(_, d)| d.kind == "invoice").collect();
    let disputed = invoices.iter().filter(|(_, d)| d.disputed).count() as f64 / invoices.len() as f64;
    assert!((0.02..0.04).contains(&disputed), "disputed share {disputed}");
    let settled = settled_dates(l);
    let late_share = |flag: bool| {
        let (late, n) = invoices
            .iter()
            .filter(|(_, d)| d.disputed == flag)
            .filter_map(|(id, d)| settled.get(id.as_str()).map(|s| s > &d.due))
            .fold((0, 0), |(l, n), late| (l + u32::from(late), n + 1));
        f64::from(late) / f64::from(n)
    };
    assert!(late_share(true) > late_share(false) + 0.2, "{} vs {}", late_share(true), late_share(false));
}

#[test]
fn some_payments_are_split_and_some_cash_is_left_unapplied() {
    let l = standard();
    let mut applied: HashMap<&str, Decimal> = HashMap::new();
    let mut payments_per_doc: HashMap<&str, u32> = HashMap::new();
    for a in &l.allocations {
        if l.payments.contains_key(&a.source) {
            *applied.entry(&a.source).or_default() += a.amount;
            *payments_per_doc.entry(&a.document).or_default() += 1;
        }
    }
    let unapplied =
        l.payments.iter().filter(|(id, p)| applied.get(id.as_str()).copied().unwrap_or_default() < p.amount).count()
            as f64
            / l.payments.len() as f64;
    assert!((0.005..0.025).contains(&unapplied), "unapplied share {unapplied}");
    let split = payments_per_doc.values().filter(|&&n| n == 2).count() as f64 / payments_per_doc.len() as f64;
    assert!((0.06..0.14).contains(&split), "split share {split}");
}

#[test]
fn recent_invoices_stay_open_at_the_extract() {
    let l = standard();
    let settled = settled_dates(l);
    let december = date("2025-12-01");
    let (open_recent, recent) = l
        .documents
        .iter()
        .filter(|(_, d)| d.kind == "invoice" && d.issue >= december)
        .fold((0, 0), |(o, n), (id, _)| (o + u32::from(!settled.contains_key(id.as_str())), n + 1));
    assert!(recent > 500 && open_recent * 10 > recent * 9, "{open_recent} of {recent} December invoices open");
    // Invoices still open nine months after issue are almost all defaulters'.
    let old_open: Vec<&str> = l
        .documents
        .iter()
        .filter(|(id, d)| d.kind == "invoice" && d.issue < date("2025-03-01") && !settled.contains_key(id.as_str()))
        .map(|(_, d)| l.truth[&d.customer].as_str())
        .collect();
    let by_defaulters = old_open.iter().filter(|c| **c == "defaulter").count();
    assert!(old_open.len() > 20, "defaulters leave old invoices open: {}", old_open.len());
    assert!(by_defaulters * 100 >= old_open.len() * 95, "{by_defaulters} of {} old open invoices", old_open.len());
}

#[test]
fn invoice_volume_is_concentrated_in_few_customers() {
    let l = standard();
    let mut per_customer: HashMap<&str, u32> = HashMap::new();
    for d in l.documents.values().filter(|d| d.kind == "invoice") {
        *per_customer.entry(&d.customer).or_default() += 1;
    }
    let mut counts: Vec<u32> = per_customer.into_values().collect();
    counts.resize(l.customers.len(), 0);
    counts.sort_unstable_by(|a, b| b.cmp(a));
    let top: u32 = counts[..counts.len() / 5].iter().sum();
    let share = f64::from(top) / l.summary.invoices as f64;
    assert!(share > 0.6, "the top 20 % of customers get {share:.2} of invoices");
}

#[test]
fn summary_counts_match_the_rows_written() {
    let l = standard();
    let s = &l.summary;
    assert_eq!(s.customers, l.customers.len() as u64);
    assert_eq!(s.customers, l.truth.len() as u64);
    assert_eq!(s.invoices, 20_000);
    assert_eq!(s.invoices, l.documents.values().filter(|d| d.kind == "invoice").count() as u64);
    assert_eq!(s.payments, l.payments.len() as u64);
    assert_eq!(s.allocations, l.allocations.len() as u64);
    assert_eq!(s.fx_rates, l.fx_rows as u64);
    assert_eq!(s.fx_rates, 731 * 3, "EUR, GBP and USD for each of 731 days");
}

#[test]
fn files_have_the_canonical_headers_and_ids_keep_leading_zeros() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    generate_into(&GenerateConfig::new(20, 200, 9, dir.path().to_path_buf()));
    let first_lines = |name: &str| -> Vec<String> {
        std::fs::read_to_string(dir.path().join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .lines()
            .take(2)
            .map(str::to_owned)
            .collect()
    };
    let customers = first_lines("customers.csv");
    assert_eq!(customers[0], CUSTOMERS_HEADER);
    assert!(customers[1].starts_with("C000001,"), "{}", customers[1]);
    let documents = first_lines("documents.csv");
    assert_eq!(documents[0], DOCUMENTS_HEADER);
    assert!(documents[1].starts_with("INV0000001,C0000"), "{}", documents[1]);
    let payments = first_lines("payments.csv");
    assert_eq!(payments[0], PAYMENTS_HEADER);
    assert!(payments[1].starts_with("P0000001,C0000"), "{}", payments[1]);
    assert_eq!(first_lines("allocations.csv")[0], ALLOCATIONS_HEADER);
    assert_eq!(first_lines("fx_rates.csv"), [FX_HEADER, "2024-01-01,EUR,1.000000"]);
    assert_eq!(first_lines("customers_truth.csv")[0], TRUTH_HEADER);
}

#[test]
fn fx_rates_wander_around_their_documented_levels() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    generate_into(&GenerateConfig::new(5, 10, 13, dir.path().to_path_buf()));
    for r in rows(dir.path(), "fx_rates.csv") {
        let rate: f64 = r[2].parse().unwrap_or_else(|e| panic!("rate {:?}: {e}", &r[2]));
        assert_eq!(r[2].split('.').nth(1).map(str::len), Some(6), "6 decimals: {}", &r[2]);
        let (lo, hi) = match &r[1] {
            "EUR" => (1.0, 1.0),
            "USD" => (0.80, 1.05),
            "GBP" => (1.02, 1.33),
            other => panic!("unexpected currency {other}"),
        };
        assert!((lo..=hi).contains(&rate), "{} {} at {rate}", &r[0], &r[1]);
    }
}

#[test]
fn invalid_settings_are_rejected_with_the_field_named() {
    let out = std::env::temp_dir().join("cobro-generate-never-created");
    let field = |cfg: GenerateConfig| match generate(&cfg, &mut |_| {}) {
        Err(GenerateError::InvalidConfig { field, .. }) => field,
        other => panic!("expected InvalidConfig, got {other:?}"),
    };
    assert_eq!(field(GenerateConfig::new(0, 10, 1, out.clone())), "customers");
    assert_eq!(field(GenerateConfig { months: 0, ..GenerateConfig::new(1, 10, 1, out.clone()) }), "months");
    let far = GenerateConfig { start: NaiveDate::MAX, ..GenerateConfig::new(1, 10, 1, out.clone()) };
    assert_eq!(field(far), "start");
    assert!(!out.exists(), "nothing is created for an invalid config");
}

#[test]
fn an_unwritable_output_directory_is_reported_with_its_path() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap_or_else(|e| panic!("{e}"));
    let cfg = GenerateConfig::new(1, 1, 1, file.join("sub"));
    match generate(&cfg, &mut |_| {}) {
        Err(GenerateError::CreateOutput { path, .. }) => assert_eq!(path, file.join("sub")),
        other => panic!("expected CreateOutput, got {other:?}"),
    }
}

#[test]
fn progress_is_reported_every_ten_thousand_invoices() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let mut seen = Vec::new();
    generate(&GenerateConfig::new(50, 20_000, 1, dir.path().to_path_buf()), &mut |n| seen.push(n))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(seen, [10_000, 20_000]);
    let mut seen = Vec::new();
    generate(&GenerateConfig::new(50, 25, 1, dir.path().to_path_buf()), &mut |n| seen.push(n))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(seen, [25]);
}

#[test]
fn documents_are_written_in_issue_order_of_their_invoices() {
    let l = standard();
    let invoice_days: Vec<NaiveDate> =
        l.document_order.iter().filter(|id| id.starts_with("INV")).map(|id| l.documents[id].issue).collect();
    assert!(invoice_days.windows(2).all(|w| w[0] <= w[1]));
}
