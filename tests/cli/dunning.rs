//! `cobro dunning plan` through the binary: the planner fed from a snapshot and the store.

use super::{cobro, import_fixture, ok, repo};

#[test]
fn the_plan_skips_disputed_and_promised_invoices_and_sends_in_each_customers_window() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    ok(import_fixture(dir, &repo().join("data/fixtures/metrics")));
    ok(cobro(dir, &["snapshot", "--as-of", "2024-12-31"]));
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
    let skipped = |doc: &str| -> Vec<String> {
        plan["skipped"]
            .as_array()
            .expect("skipped")
            .iter()
            .filter(|s| s["document_id"] == doc)
            .map(|s| s["reason"].as_str().unwrap_or("").to_owned())
            .collect()
    };
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
