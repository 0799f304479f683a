//! Store-backed tests of the workflow, against a real SQLite file: ledger refusals, two writers on one invoice,
//! and a property test over random command sequences.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;
use sqlx::Row;

use crate::cases::{self, Ctx, Outcome, OutcomeKind};
use crate::config::WorkflowConfig;
use crate::error::CaseError;
use crate::ledger::{Ledger, LedgerCustomer, LedgerDocument};
use crate::status::Status;
use crate::store::Store;
use crate::templates::Templates;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn doc(id: &str, customer: &str, balance: &str, paid: &str, credited: &str) -> LedgerDocument {
    LedgerDocument {
        document_id: id.into(),
        customer_id: customer.into(),
        kind: if id.starts_with("CN") { "credit_note".into() } else { "invoice".into() },
        currency: "EUR".into(),
        amount: Decimal::from_str("1000").unwrap(),
        balance: Decimal::from_str(balance).unwrap(),
        issue_date: d("2024-10-31"),
        due_date: d("2024-11-30"),
        paid: Decimal::from_str(paid).unwrap(),
        credited: Decimal::from_str(credited).unwrap(),
    }
}

/// Customer C1 with four open invoices (D1-D4), one paid (P1), one credited (K1) and a credit note (CN1);
/// customer C2 with one open invoice (E1).
fn ledger() -> Ledger {
    let mut l = Ledger { as_of: d("2024-12-31"), ..Ledger::default() };
    for x in [
        doc("D1", "C1", "1000", "0", "0"),
        doc("D2", "C1", "600", "400", "0"),
        doc("D3", "C1", "1000", "0", "0"),
        doc("D4", "C1", "1000", "0", "0"),
        doc("P1", "C1", "0", "1000", "0"),
        doc("K1", "C1", "0", "0", "1000"),
        doc("CN1", "C1", "0", "0", "0"),
        doc("E1", "C2", "1000", "0", "0"),
    ] {
        l.documents.insert(x.document_id.clone(), x);
    }
    for c in ["C1", "C2"] {
        l.customers.insert(
            c.into(),
            LedgerCustomer {
                customer_id: c.into(),
                name: format!("Customer {c}"),
                collector_id: Some("COL1".into()),
                email: Some(format!("{c}@example.com")),
                language: Some("en".into()),
                ..LedgerCustomer::default()
            },
        );
    }
    l
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-12-02T10:00:00Z").unwrap().with_timezone(&Utc)
}

fn ctx<'a>(store: &'a Store, config: &'a WorkflowConfig, ledger: &'a Ledger, actor: &'a str) -> Ctx<'a> {
    static TEMPLATES: std::sync::OnceLock<Templates> = std::sync::OnceLock::new();
    let templates = TEMPLATES.get_or_init(Templates::builtin);
    Ctx { store, config, ledger, templates, actor, now: now(), on: d("2024-12-02") }
}

fn outcome(docs: &[&str], kind: OutcomeKind) -> Outcome {
    Outcome {
        customer_id: "C1".into(),
        documents: docs.iter().map(|s| (*s).to_owned()).collect(),
        kind,
        note: Some("test".into()),
        delay_reason: None,
        expect: BTreeMap::new(),
    }
}

fn promise() -> OutcomeKind {
    OutcomeKind::PromiseToPay { date: d("2024-12-10"), amount: None }
}

/// A fresh, empty store: SQLite in a temporary directory, or, when `COBRO_TEST_PG_URL` names a PostgreSQL server
/// (and this crate is built with `--features postgres`), a new database created on it for this test alone.
async fn test_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = match std::env::var("COBRO_TEST_PG_URL") {
        Ok(admin) if !admin.is_empty() => {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            sqlx::any::install_default_drivers();
            let name = format!("cobro_test_{}_{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst));
            let pool = sqlx::AnyPool::connect(&admin).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&pool).await.unwrap();
            pool.close().await;
            let base = &admin[..admin.rfind('/').unwrap()];
            Store::open(&format!("{base}/{name}")).await.unwrap()
        }
        _ => Store::open_in(dir.path()).await.unwrap(),
    };
    (dir, store)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

#[test]
fn paid_credited_unknown_and_foreign_documents_are_refused_with_the_reason() {
    rt().block_on(async {
        let (_dir, store) = test_store().await;
        let (config, ledger) = (WorkflowConfig::builtin(), ledger());
        let c = ctx(&store, &config, &ledger, "ana");
        let err = |docs: &[&str]| {
            let o = outcome(docs, OutcomeKind::NoContact);
            async move { cases::record_outcome(&c, &o).await.unwrap_err().to_string() }
        };
        assert_eq!(
            err(&["P1"]).await,
            "document `P1` is already paid (balance 0 at 2024-12-31); paid and credited documents are never chased, so no outcome is recorded"
        );
        assert!(err(&["K1"]).await.contains("is already credited"));
        assert!(err(&["CN1"]).await.contains("is a credit_note; only invoices and debit notes are collected"));
        assert!(err(&["E1"]).await.contains("belongs to customer `C2`, not `C1`"));
        assert!(err(&["ZZ"]).await.contains("`ZZ` is not in the ledger snapshot as of 2024-12-31"));
        assert!(err(&["D1", "D1"]).await.contains("`D1` is listed twice"));
        // A refused outcome on several documents writes nothing for any of them.
        assert!(err(&["D1", "P1"]).await.contains("`P1` is already paid"));
        let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events").fetch_one(store.pool()).await.unwrap();
        assert_eq!(events, 0);
        // Amounts: spread oldest due first, and refused when they cannot cover every named document.
        let o = outcome(&["D1", "D2"], OutcomeKind::PromiseToPay { date: d("2024-12-10"), amount: Some(Decimal::from(900)) });
        let e = cases::record_outcome(&c, &o).await.unwrap_err().to_string();
        assert!(e.contains("900 is used up by the older documents before `D2`"), "{e}");
        let o = outcome(&["D1"], OutcomeKind::PromiseToPay { date: d("2024-11-30"), amount: None });
        assert!(cases::record_outcome(&c, &o).await.unwrap_err().to_string().contains("is before the day of the call"));
        let o = outcome(&["D1", "D2"], OutcomeKind::Dispute { dispute_type: "delivery".into(), amount: Some(Decimal::ONE), owner: None });
        assert!(cases::record_outcome(&c, &o).await.unwrap_err().to_string().contains("a partial amount disputes one document"));
        let o = outcome(&["D1"], OutcomeKind::Dispute { dispute_type: "weather".into(), amount: None, owner: None });
        assert!(cases::record_outcome(&c, &o).await.unwrap_err().to_string().contains("unknown dispute type `weather`"));
        store.close().await;
    });
}

#[test]
fn two_writers_on_one_invoice_one_wins_the_other_gets_a_conflict_and_nothing_is_lost() {
    rt().block_on(async {
        let (_dir, store) = test_store().await;
        let config = Arc::new(WorkflowConfig::builtin());
        let ledger = Arc::new(ledger());
        // Both collectors look at D1 (version 0) and decide at the same moment: one promise, one dispute.
        for round in 0..5 {
            let doc = ["D1", "D2", "D3", "D4", "D1"][round];
            // Round 4 replays round 0's decision: both writers still believe D1 is at version 0.
            let seen = if round == 4 {
                0
            } else {
                cases::states(&store, &[doc.to_owned()]).await.unwrap().get(doc).map(|s| s.version).unwrap_or(0)
            };
            let barrier = Arc::new(tokio::sync::Barrier::new(2));
            let mut handles = Vec::new();
            for (who, kind) in [
                ("ana", promise()),
                ("luis", OutcomeKind::Dispute { dispute_type: "delivery".into(), amount: None, owner: None }),
            ] {
                let (store, config, ledger, barrier) = (store.clone(), config.clone(), ledger.clone(), barrier.clone());
                handles.push(tokio::spawn(async move {
                    let mut o = outcome(&[doc], kind);
                    o.expect.insert(doc.to_owned(), seen);
                    barrier.wait().await;
                    let c = ctx(&store, &config, &ledger, who);
                    cases::record_outcome(&c, &o).await
                }));
            }
            let mut results = Vec::new();
            for h in handles {
                results.push(h.await.unwrap());
            }
            if round == 4 {
                // D1 is no longer at the version both read: both are refused, neither overwrites.
                assert!(results.iter().all(|r| matches!(r, Err(CaseError::Conflict { .. }))), "{results:?}");
                continue;
            }
            let wins = results.iter().filter(|r| r.is_ok()).count();
            assert_eq!(wins, 1, "round {round}: {results:?}");
            let lost = results.iter().find_map(|r| r.as_ref().err()).unwrap();
            assert!(matches!(lost, CaseError::Conflict { .. }), "{lost}");
            assert!(lost.to_string().contains("changed while this was being recorded"), "{lost}");
            // Exactly one status event for the document, and the live status is the winner's.
            let events: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE document_id = $1 AND before_status IS NOT NULL")
                    .bind(doc)
                    .fetch_one(store.pool())
                    .await
                    .unwrap();
            assert_eq!(events, 1);
            let state = &cases::states(&store, &[doc.to_owned()]).await.unwrap()[doc];
            assert_eq!(state.version, 1);
            let won = results.iter().find_map(|r| r.as_ref().ok()).unwrap();
            assert_eq!(state.status, won.changes[0].after);
        }
        assert_invariants(&store).await;
        store.close().await;
    });
}

/// What a random command does.
#[derive(Debug, Clone)]
enum Op {
    Promise(Vec<usize>),
    NoCommitment(Vec<usize>),
    Reported(Vec<usize>),
    Dispute(Vec<usize>),
    NoContact(Vec<usize>),
    CancelPromise(u8),
    ReopenReport(u8),
    ResolveDispute(u8),
}

fn docs_strategy() -> impl Strategy<Value = Vec<usize>> {
    proptest::sample::subsequence(vec![0, 1, 2, 3], 1..=3)
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        docs_strategy().prop_map(Op::Promise),
        docs_strategy().prop_map(Op::NoCommitment),
        docs_strategy().prop_map(Op::Reported),
        docs_strategy().prop_map(Op::Dispute),
        docs_strategy().prop_map(Op::NoContact),
        (1u8..6).prop_map(Op::CancelPromise),
        (1u8..6).prop_map(Op::ReopenReport),
        (1u8..6).prop_map(Op::ResolveDispute),
    ]
}

/// The store's invariants: every document is in exactly one status; the status events of a document form an
/// unbroken chain from `normal` to its live status, one per version; the live record behind each status exists
/// and is the only live one.
async fn assert_invariants(store: &Store) {
    let cases = sqlx::query("SELECT document_id, status, case_ref, version FROM invoice_cases")
        .fetch_all(store.pool())
        .await
        .unwrap();
    for c in &cases {
        let doc: String = c.get(0);
        let status: String = c.get(1);
        let case_ref: Option<String> = c.get(2);
        let version: i64 = c.get(3);
        let events = sqlx::query("SELECT before_status, after_status FROM events WHERE document_id = $1 AND before_status IS NOT NULL ORDER BY seq")
            .bind(&doc)
            .fetch_all(store.pool())
            .await
            .unwrap();
        let mut at = "normal".to_owned();
        for e in &events {
            let before: String = e.get(0);
            assert_eq!(before, at, "{doc}: an event starts from {before} but the document was {at}");
            at = e.get(1);
        }
        assert_eq!(at, status, "{doc}: the events end in {at}, the store says {status}");
        assert_eq!(events.len() as i64, version, "{doc}: one status event per version");
        let live = |sql: &'static str| {
            let doc = doc.clone();
            async move { sqlx::query_scalar::<_, String>(sql).bind(doc).fetch_all(store.pool()).await.unwrap() }
        };
        let promises = live("SELECT promise_id FROM promises WHERE document_id = $1 AND state = 'pending'").await;
        let reports = live("SELECT report_id FROM payment_reports WHERE document_id = $1 AND state = 'open'").await;
        let disputes = live("SELECT dispute_id FROM disputes WHERE document_id = $1 AND resolved_date IS NULL").await;
        let expect = |s: &str| if status == s { case_ref.clone().into_iter().collect::<Vec<_>>() } else { Vec::new() };
        assert_eq!(promises, expect("promise"), "{doc} in {status}: pending promises");
        assert_eq!(reports, expect("payment_reported"), "{doc} in {status}: open reports");
        assert_eq!(disputes, expect("dispute"), "{doc} in {status}: open disputes");
        assert!(Status::parse(&status).is_some());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// No sequence of commands leaves a document in two states or loses an event: after every sequence the
    /// invariants hold, and every command either changed the store with its events or changed nothing.
    #[test]
    fn no_sequence_of_commands_breaks_the_store(ops in proptest::collection::vec(op_strategy(), 1..14)) {
        rt().block_on(async {
            let (_dir, store) = test_store().await;
            let (config, ledger) = (WorkflowConfig::builtin(), ledger());
            let c = ctx(&store, &config, &ledger, "prop");
            let names = ["D1", "D2", "D3", "D4"];
            for op in &ops {
                let before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events").fetch_one(store.pool()).await.unwrap();
                let pick = |ix: &Vec<usize>| ix.iter().map(|i| names[*i]).collect::<Vec<_>>();
                let r = match op {
                    Op::Promise(ix) => cases::record_outcome(&c, &outcome(&pick(ix), promise())).await,
                    Op::NoCommitment(ix) => cases::record_outcome(&c, &outcome(&pick(ix), OutcomeKind::NoCommitment { follow_up_days: None })).await,
                    Op::Reported(ix) => cases::record_outcome(&c, &outcome(&pick(ix), OutcomeKind::ReportedPaid { paid_date: None, reference: None })).await,
                    Op::Dispute(ix) => cases::record_outcome(&c, &outcome(&pick(ix), OutcomeKind::Dispute { dispute_type: "price".into(), amount: None, owner: None })).await,
                    Op::NoContact(ix) => cases::record_outcome(&c, &outcome(&pick(ix), OutcomeKind::NoContact)).await,
                    Op::CancelPromise(n) => cases::cancel_promise(&c, &format!("PRM-{n}"), None).await,
                    Op::ReopenReport(n) => cases::reopen_report(&c, &format!("RPT-{n}"), None).await,
                    Op::ResolveDispute(n) => cases::resolve_dispute(&c, &format!("DSP-{n}"), "rejected", None).await,
                };
                let after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events").fetch_one(store.pool()).await.unwrap();
                match &r {
                    Ok(rec) => assert!(after >= before + rec.changes.len() as i64, "{op:?}: events missing"),
                    Err(e) => {
                        assert_eq!(after, before, "{op:?} failed ({e}) but wrote events");
                        assert!(matches!(e, CaseError::Illegal { .. } | CaseError::NotFound { .. } | CaseError::Invalid { .. }), "{op:?}: {e}");
                    }
                }
                assert_invariants(&store).await;
            }
            store.close().await;
        });
    }
}

/// The outbox worker on the store itself (SQLite here, PostgreSQL under ci/postgres.sh): two workers at once
/// deliver each message once, and a message whose worker died mid-send goes again after the lease, under the
/// Message-ID it first went with.
#[test]
fn two_workers_deliver_each_message_once_and_a_stranded_one_goes_again_with_its_message_id() {
    use crate::delivery::{self, Channel};
    rt().block_on(async {
        let (dir, store) = test_store().await;
        let (config, ledger) = (WorkflowConfig::builtin(), ledger());
        let c = ctx(&store, &config, &ledger, "ana");
        for doc in ["D1", "D3", "D4"] {
            cases::record_outcome(&c, &outcome(&[doc], OutcomeKind::NoContact)).await.unwrap();
        }
        let outbox = dir.path().join("outbox");
        let channel = Channel::File(outbox.clone());
        let (a, b) = tokio::join!(
            delivery::deliver(&store, &config, &channel, now(), None),
            delivery::deliver(&store, &config, &channel, now(), None)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.sent.len() + b.sent.len(), 3, "{a:?} {b:?}");
        let mut ids: Vec<String> = a.sent.iter().chain(&b.sent).cloned().collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 3);
        let attempts: Vec<i64> = sqlx::query_scalar("SELECT attempts FROM messages ORDER BY message_id")
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert_eq!(attempts, [1, 1, 1]);
        // As if a worker had claimed MSG-1, sent it and died: `sending`, with a lease.
        let lease = crate::store::instant(now() + chrono::Duration::seconds(300));
        sqlx::query("UPDATE messages SET state = 'sending', lease_until = $1 WHERE message_id = 'MSG-1'")
            .bind(&lease)
            .execute(store.pool())
            .await
            .unwrap();
        let before: String = sqlx::query_scalar("SELECT rfc_message_id FROM messages WHERE message_id = 'MSG-1'")
            .fetch_one(store.pool())
            .await
            .unwrap();
        let within =
            delivery::deliver(&store, &config, &channel, now() + chrono::Duration::seconds(299), None).await.unwrap();
        assert!(within.sent.is_empty(), "the lease holds: {within:?}");
        let after =
            delivery::deliver(&store, &config, &channel, now() + chrono::Duration::seconds(301), None).await.unwrap();
        assert_eq!(after.sent, ["MSG-1"]);
        let eml = std::fs::read_to_string(outbox.join("MSG-1.eml")).unwrap();
        assert!(eml.contains(&format!("Message-ID: {before}")), "{eml}");
        store.close().await;
    });
}
