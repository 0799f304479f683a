//! `cobro dunning plan` through the binary: the planner fed from a snapshot and the store.

use super::{cobro, ok};

/// The reasons of a plan's skipped items whose `key` is `value` (a document or a customer), in plan order.
pub(super) fn reasons(plan: &serde_json::Value, key: &str, value: &str) -> Vec<String> {
    plan["skipped"]
        .as_array()
        .expect("skipped")
        .iter()
        .filter(|s| s[key] == value)
        .map(|s| s["reason"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[test]
fn the_plan_skips_disputed_and_promised_invoices_and_sends_in_each_customers_window() {
    let tmp = super::cases::ledger();
    let dir = tmp.path();
    // A promise recorded in the store takes INV-4021 out of the plan at once.
    ok(cobro(
        dir,
        &[
            "case",
            "promise",
            "--customer",
            "000201",
            "--invoices",
            "INV-4021",
            "--date",
            "2025-01-10",
            "--on",
            "2024-12-31",
        ],
    ));
    let out = ok(cobro(dir, &["dunning", "plan", "--at", "2024-12-31T09:00:00Z", "--format", "json"]));
    let plan: serde_json::Value = serde_json::from_str(&out).expect("json");
    let skipped = |doc: &str| reasons(&plan, "document_id", doc);
    // INV-4016 carries the ERP's dispute flag and has no dispute record; INV-4021 is promised; INV-4023 is paid.
    assert_eq!(skipped("INV-4016"), ["dispute"]);
    assert_eq!(skipped("INV-4021"), ["promise"]);
    assert_eq!(skipped("INV-4023"), ["paid"]);
    let actions = plan["actions"].as_array().expect("actions");
    assert!(actions.iter().all(|a| a["idempotency_key"].as_str().is_some_and(|k| !k.is_empty())));
    // 000203 is in America/Chicago: its action notice waits for 09:00 there (15:00 UTC); Madrid's goes at once.
    let notice = |c: &str| {
        actions
            .iter()
            .find(|a| a["customer_id"] == c && a["template"] == "action_notice")
            .map(|a| a["send_at"].as_str().unwrap_or("").to_owned())
    };
    assert_eq!(notice("000203").as_deref(), Some("2024-12-31T15:00:00Z"));
    assert_eq!(notice("000202").as_deref(), Some("2024-12-31T09:00:00Z"));
    // Nothing listed for the promised invoice.
    assert!(actions.iter().all(|a| !a["documents"].as_array().expect("docs").iter().any(|d| d == "INV-4021")));
}

#[test]
fn two_dunning_runs_at_once_record_every_action_once_and_a_rerun_records_nothing() {
    let tmp = super::cases::ledger();
    let dir = tmp.path();
    let plan: serde_json::Value =
        serde_json::from_str(&ok(cobro(dir, &["dunning", "plan", "--at", "2024-12-31T09:00:00Z", "--format", "json"])))
            .expect("json");
    let planned = plan["actions"].as_array().map(Vec::len).unwrap_or(0);
    assert!(planned > 5, "{plan}");
    super::twice_at_once(dir, &["dunning", "run", "--at", "2024-12-31T09:00:00Z"]);
    // A third run, later the same day, finds everything recorded.
    let out = ok(cobro(dir, &["dunning", "run", "--at", "2024-12-31T10:00:00Z"]));
    assert!(out.contains(": 0 message(s) queued, 0 task(s) created"), "{out}");
    ok(cobro(dir, &["snapshot", "--as-of", "2024-12-31"]));
    let count = |sql: &str| super::sql_rows(dir, "2024-12-31", sql)[0][0].parse::<usize>().expect("count");
    let recorded = count("SELECT COUNT(*) FROM messages WHERE origin_ref LIKE 'strategy:%'")
        + count("SELECT COUNT(*) FROM tasks WHERE origin LIKE 'strategy:%'");
    let listing = ok(cobro(dir, &["sql", "SELECT origin_ref, template, document_ids FROM messages"]))
        + &ok(cobro(dir, &["sql", "SELECT origin, kind, document_ids FROM tasks"]));
    assert_eq!(recorded, planned, "every planned action exactly once:\n{listing}");
    assert_eq!(count("SELECT COUNT(*) - COUNT(DISTINCT idempotency_key) FROM messages"), 0);
}

#[test]
fn a_snapshot_whose_open_items_no_longer_tie_out_to_its_control_totals_chases_nobody() {
    let tmp = super::cases::ledger();
    let dir = tmp.path();
    let manifest = dir.join("snapshots/as_of=2024-12-31/v=1/manifest.json");
    let text = std::fs::read_to_string(&manifest).expect("manifest");
    // As if open_items.parquet had been swapped for another file after the snapshot was built: the manifest's
    // EUR balance (13,742.50 in the files) no longer matches.
    let damaged = text.replace("\"open_items.balance.EUR\": \"13742.5\"", "\"open_items.balance.EUR\": \"13000\"");
    assert_ne!(text, damaged, "the fixture's EUR control total moved: {text}");
    std::fs::write(&manifest, damaged).expect("write");
    let out = ok(cobro(dir, &["dunning", "plan", "--at", "2024-12-31T09:00:00Z"]));
    assert!(
        out.contains("control totals do not tie out (open_items.balance.EUR: manifest 13000 vs files 13742.5)"),
        "{out}"
    );
    assert!(out.contains("\n0 action(s)"), "{out}");
    let plan: serde_json::Value =
        serde_json::from_str(&ok(cobro(dir, &["dunning", "plan", "--at", "2024-12-31T09:00:00Z", "--format", "json"])))
            .expect("json");
    // Every open, undisputed invoice is held for the stale feed (paid and disputed ones keep their own reason).
    let open_skips: Vec<&serde_json::Value> = plan["skipped"]
        .as_array()
        .expect("skipped")
        .iter()
        .filter(|s| s["reason"] != "paid" && s["reason"] != "dispute")
        .collect();
    assert_eq!(open_skips.len(), 14, "{plan}");
    assert!(open_skips.iter().all(|s| s["reason"] == "stale_feed"), "{plan}");
}
