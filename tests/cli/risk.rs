//! Segments, the pay-date back-test and the work queue from the command line (issue 5). The rule edges and the
//! queue arithmetic are golden-tested in tests/sql/segments.slt; these tests cover whole ledgers and the commands.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::{cobro, fixture_snapshots, ibm_snapshots, import_fixture, ok, text};

/// Rows of a CSV output, as maps from column to value.
fn csv_maps(out: &str) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_reader(out.as_bytes());
    let headers = r.headers().expect("header").clone();
    r.records()
        .map(|rec| headers.iter().zip(rec.expect("row").iter()).map(|(h, v)| (h.to_owned(), v.to_owned())).collect())
        .collect()
}

fn num(row: &BTreeMap<String, String>, col: &str) -> f64 {
    row[col].parse().unwrap_or_else(|_| panic!("{col} = `{}` is not a number", row[col]))
}

#[test]
fn on_the_ibm_sample_the_backtest_beats_the_due_date_baseline() {
    let tmp = ibm_snapshots(&["2014-01-31"]);
    let out = ok(cobro(tmp.path(), &["backtest", "--from", "2012-06", "--to", "2013-12", "--format", "csv"]));
    let rows = csv_maps(&out);
    let all = rows.iter().find(|r| r["scope"] == "all").expect("an `all` row");
    let (mae, baseline) = (num(all, "mae_days"), num(all, "baseline_mae_days"));
    eprintln!("IBM back-test 2012-06..2013-12: MAE {mae} days vs baseline {baseline} (scored {})", all["scored"]);
    assert!(mae < baseline, "the model ({mae}) must beat the due-date baseline ({baseline})");
    assert!(num(all, "median_days") <= num(all, "baseline_median_days"));
    // Every prediction is counted once per scope family: the months and the segments each add up to `all`.
    for family in ["month=", "segment=", "source="] {
        let sum: f64 = rows.iter().filter(|r| r["scope"].starts_with(family)).map(|r| num(r, "scored")).sum();
        assert_eq!(sum, num(all, "scored"), "{family} rows add up to all");
    }
    assert_eq!(rows.iter().filter(|r| r["scope"].starts_with("month=")).count(), 19);
    assert!(num(all, "scored") > 1000.0, "{out}");

    // Months on or after the snapshot's date cannot be scored, and say so.
    let late = cobro(tmp.path(), &["backtest", "--from", "2013-12", "--to", "2014-01"]);
    assert_eq!(late.status.code(), Some(1));
    assert!(text(&late).contains("cannot back-test 2014-01: the snapshot is as of 2014-01-31"), "{}", text(&late));
    let bad = cobro(tmp.path(), &["backtest", "--from", "2013-13", "--to", "2014-01"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad).contains("`2013-13` is not a month in YYYY-MM form"), "{}", text(&bad));
}

fn segments_at(data: &Path, as_of: &str) -> BTreeMap<String, (String, String)> {
    let out = ok(cobro(data, &["segments", "--as-of", as_of, "--format", "csv"]));
    csv_maps(&out)
        .into_iter()
        .map(|r| (r["customer_id"].clone(), (r["segment"].clone(), r["overlays"].clone())))
        .collect()
}

#[test]
fn segments_diff_lists_exactly_the_customers_whose_segment_changed() {
    let tmp = ibm_snapshots(&["2013-03-31", "2013-06-30"]);
    let (before, after) = (segments_at(tmp.path(), "2013-03-31"), segments_at(tmp.path(), "2013-06-30"));
    let expected: BTreeSet<String> = after
        .iter()
        .filter(|(id, seg)| before.get(*id) != Some(seg))
        .map(|(id, _)| id.clone())
        .chain(before.keys().filter(|id| !after.contains_key(*id)).cloned())
        .collect();
    let out =
        ok(cobro(tmp.path(), &["segments", "diff", "--from", "2013-03-31", "--to", "2013-06-30", "--format", "csv"]));
    let rows = csv_maps(&out);
    let listed: BTreeSet<String> = rows.iter().map(|r| r["customer_id"].clone()).collect();
    assert!(!expected.is_empty(), "the sample has segment changes over a quarter");
    assert_eq!(listed, expected);
    for r in &rows {
        assert_eq!(before[&r["customer_id"]].0, r["from_base"]);
        assert_eq!(after[&r["customer_id"]].0, r["to_base"]);
        assert!(!r["reasons"].is_empty());
    }
    let backwards = cobro(tmp.path(), &["segments", "diff", "--from", "2013-06-30", "--to", "2013-03-31"]);
    assert_eq!(backwards.status.code(), Some(1));
    assert!(text(&backwards).contains("must be before"), "{}", text(&backwards));
    let missing = cobro(tmp.path(), &["segments", "diff", "--from", "2013-01-31", "--to", "2013-06-30"]);
    assert!(text(&missing).contains("no snapshot as of 2013-01-31"), "{}", text(&missing));
}

#[test]
fn the_queue_is_deterministic_and_a_collector_sees_their_part_in_the_same_order() {
    let tmp = fixture_snapshots("segments", &["2024-12-31"]);
    let queue = |extra: &[&str]| {
        let mut args = vec!["queue", "--format", "csv"];
        args.extend_from_slice(extra);
        ok(cobro(tmp.path(), &args))
    };
    let all = queue(&[]);
    assert_eq!(all, queue(&[]), "the same snapshot gives the same queue, byte for byte");
    let all = csv_maps(&all);
    assert!(all.len() > 5, "{all:?}");
    let mine = csv_maps(&queue(&["--collector", "COL1"]));
    let expected: Vec<&String> =
        all.iter().filter(|r| r["collector_id"] == "COL1").map(|r| &r["customer_id"]).collect();
    assert_eq!(mine.iter().map(|r| &r["customer_id"]).collect::<Vec<_>>(), expected);
    let ranks: Vec<String> = mine.iter().map(|r| r["rank"].clone()).collect();
    assert_eq!(ranks, (1..=mine.len()).map(|i| i.to_string()).collect::<Vec<_>>());
    // A collector id is data, never SQL; an id nobody has is reported with the ones that exist.
    assert!(csv_maps(&queue(&["--collector", "x' OR '1'='1"])).is_empty());
    let typo = cobro(tmp.path(), &["queue", "--collector", "COL9"]);
    assert!(
        text(&typo).contains("no customer has collector_id `COL9` in this snapshot; collectors: COL1, COL2"),
        "{}",
        text(&typo)
    );
    let top = csv_maps(&queue(&["--limit", "2"]));
    assert_eq!(top.len(), 2);
}

#[test]
fn segment_rules_come_from_a_file_and_bad_ones_are_refused_naming_the_rule_and_field() {
    let tmp = fixture_snapshots("segments", &["2024-12-31"]);
    let builtin = std::fs::read_to_string(super::repo().join("data/strategies/segments.toml")).expect("rules");
    let queue = &builtin[builtin.find("[queue]").expect("a [queue] section")..];
    let rules = tmp.path().join("rules.toml");
    std::fs::write(
        &rules,
        format!(
            "[[segment]]\nname = \"slow\"\nall = [{{ field = \"wadl\", op = \">\", value = 4 }}]\n\
             [[segment]]\nname = \"rest\"\n{queue}"
        ),
    )
    .expect("write");
    let out = ok(cobro(tmp.path(), &["--segments", rules.to_str().expect("path"), "segments", "--format", "csv"]));
    let segs: BTreeMap<String, String> =
        csv_maps(&out).into_iter().map(|r| (r["customer_id"].clone(), r["reasons"].clone())).collect();
    assert_eq!(segs["S03"], "slow: wadl 5.0 > 4");
    assert_eq!(segs["S01"], "rest: no other segment matched");

    std::fs::write(
        &rules,
        format!("[[segment]]\nname = \"slow\"\nall = [{{ field = \"lateness\", op = \">\", value = 1 }}]\n{queue}"),
    )
    .expect("write");
    let bad = cobro(tmp.path(), &["--segments", rules.to_str().expect("path"), "queue"]);
    assert_eq!(bad.status.code(), Some(1));
    let msg = text(&bad);
    assert!(msg.contains("rules.toml: segment \"slow\": field `lateness` is not a customer_behaviour field"), "{msg}");
    assert!(msg.contains("share_paid_late"), "the message lists the fields to use: {msg}");

    std::fs::write(&rules, "[[segment]\nname = 1\n").expect("write");
    let broken = text(&cobro(tmp.path(), &["--segments", rules.to_str().expect("path"), "segments"]));
    assert!(broken.contains("rules.toml") && broken.contains("line 1"), "{broken}");
}

/// The generator draws each customer's behaviour class (docs/generator.md); the segments should recover it from
/// the ledger alone. Prints the confusion table (run with `--nocapture` to see it).
#[test]
fn segments_recover_the_generators_behaviour_classes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (gen_dir, data) = (tmp.path().join("gen"), tmp.path().join("data"));
    let g = gen_dir.display().to_string();
    ok(cobro(&data, &["generate", "--customers", "400", "--invoices", "40000", "--seed", "11", "--out", &g]));
    ok(import_fixture(&data, &gen_dir));
    ok(cobro(&data, &["snapshot", "--as-of", "2025-12-31"]));
    let truth: BTreeMap<String, String> = {
        let mut r = csv::Reader::from_path(gen_dir.join("customers_truth.csv")).expect("truth");
        r.records().map(|rec| rec.expect("row")).map(|rec| (rec[0].to_owned(), rec[1].to_owned())).collect()
    };
    let out = ok(cobro(&data, &["segments", "--format", "csv"]));
    let mut table: BTreeMap<(String, String), u32> = BTreeMap::new();
    for r in csv_maps(&out) {
        let class = truth[&r["customer_id"]].clone();
        let found =
            if r["overlays"].is_empty() { r["segment"].clone() } else { format!("{}+{}", r["segment"], r["overlays"]) };
        *table.entry((class, found)).or_default() += 1;
    }
    let classes = ["prompt", "occasional", "chronic", "defaulter"];
    let found: BTreeSet<&String> = table.keys().map(|(_, f)| f).collect();
    let mut report =
        format!("| class \\ segment | {} |\n", found.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" | "));
    for c in classes {
        let cells: Vec<String> =
            found.iter().map(|f| table.get(&(c.to_owned(), (*f).clone())).unwrap_or(&0).to_string()).collect();
        report.push_str(&format!("| {c} | {} |\n", cells.join(" | ")));
    }
    eprintln!("confusion table (400 customers, 40,000 invoices, seed 11, as of 2025-12-31):\n{report}");
    // Share of each class whose base segment matches it (customers the rules could judge: not `new`), and the
    // share of defaulters the critical overlay catches.
    let share = |class: &str, hit: &dyn Fn(&str) -> bool| {
        let rows: Vec<(&String, &u32)> =
            table.iter().filter(|((c, f), _)| c == class && !f.starts_with("new")).map(|((_, f), n)| (f, n)).collect();
        let total: u32 = rows.iter().map(|(_, n)| **n).sum();
        let hits: u32 = rows.iter().filter(|(f, _)| hit(f)).map(|(_, n)| **n).sum();
        f64::from(hits) / f64::from(total.max(1))
    };
    for class in ["prompt", "occasional", "chronic"] {
        let recovered = share(class, &|f| f.split('+').next() == Some(class));
        eprintln!("{class}: {:.1} % recovered", recovered * 100.0);
        assert!(recovered >= 0.75, "{class}: only {recovered:.2} recovered\n{report}");
    }
    let defaulters = share("defaulter", &|f| f.contains("critical"));
    eprintln!("defaulter: {:.1} % flagged critical", defaulters * 100.0);
    assert!(defaulters >= 0.75, "defaulters flagged critical: {defaulters:.2}\n{report}");
}
