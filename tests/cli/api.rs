//! The HTTP API, black box: `cobro serve` on port 0 as its own process, a real HTTP client, tokens made with
//! `cobro token create`. Every role sees what it should, and every denial is checked.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use reqwest::StatusCode;
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{Value, json};

use super::{BIN, cobro, dec, ok, sql_rows};

/// A running `cobro serve`, stopped when dropped.
pub(super) struct Server {
    child: Child,
    /// The server's stdout, kept open: closing it would make the server's next line fail.
    _stdout: BufReader<std::process::ChildStdout>,
    pub(super) base: String,
    pub(super) http: Client,
}

impl Server {
    fn start(dir: &Path) -> Self {
        Self::start_with(dir, &[])
    }

    fn start_with(dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::start_args(dir, env, &[])
    }

    fn start_args(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Self {
        let mut child = Command::new(BIN)
            .arg("--data-dir")
            .arg(dir)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove("COBRO_FAILPOINT")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cobro serve");
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        stdout.read_line(&mut line).expect("the server says where");
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        Self { child, _stdout: stdout, base, http: Client::new() }
    }

    fn get(&self, path: &str, token: Option<&str>) -> RequestBuilder {
        let r = self.http.get(format!("{}{path}", self.base));
        match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    fn post(&self, path: &str, token: &str, body: &Value) -> Response {
        self.http.post(format!("{}{path}", self.base)).bearer_auth(token).json(body).send().expect("POST")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(super) fn token(dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["token", "create"];
    all.extend_from_slice(args);
    let out = ok(cobro(dir, &all));
    out.lines().last().expect("token line").trim().to_owned()
}

/// A problem document's status and code.
fn problem(r: Response) -> (StatusCode, String, String) {
    let status = r.status();
    let ct = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert_eq!(ct, "application/problem+json", "status {status}");
    let v: Value = r.json().expect("problem json");
    (status, v["code"].as_str().unwrap_or("").to_owned(), v["detail"].as_str().unwrap_or("").to_owned())
}

fn json_of(r: Response) -> Value {
    assert!(r.status().is_success(), "{}: {:?}", r.status(), r.text());
    r.json().expect("json")
}

/// The metrics fixture at 2024-12-31 with a dispute (DSP-1, logistics) on 000201's INV-4030 and a token per role.
pub(super) struct World {
    pub(super) _tmp: tempfile::TempDir,
    pub(super) server: Server,
    pub(super) admin: String,
    pub(super) cfo: String,
    pub(super) analyst: String,
    pub(super) col01: String,
    pub(super) col02: String,
    pub(super) logistics: String,
    pub(super) accounting: String,
}

pub(super) fn world() -> World {
    let tmp = super::cases::ledger();
    let dir = tmp.path();
    ok(cobro(
        dir,
        &[
            "case",
            "dispute",
            "--customer",
            "000201",
            "--invoices",
            "INV-4030",
            "--type",
            "delivery",
            "--as-of",
            "2024-12-31",
        ],
    ));
    World {
        admin: token(dir, &["--role", "admin", "--label", "ops"]),
        cfo: token(dir, &["--role", "cfo", "--label", "cfo"]),
        analyst: token(dir, &["--role", "analyst", "--label", "bi"]),
        col01: token(dir, &["--role", "collector", "--collector", "COL01", "--label", "ana"]),
        col02: token(dir, &["--role", "collector", "--collector", "COL02", "--label", "luis"]),
        logistics: token(dir, &["--role", "department", "--department", "logistics", "--label", "log"]),
        accounting: token(dir, &["--role", "department", "--department", "accounting", "--label", "acc"]),
        server: Server::start(dir),
        _tmp: tmp,
    }
}

#[test]
fn every_role_sees_what_it_should_and_each_denial_is_a_problem_document() {
    let w = world();
    let s = &w.server;
    // No token, a made-up token.
    assert_eq!(problem(s.get("/api/v1/metrics", None).send().unwrap()).1, "unauthorized");
    assert_eq!(problem(s.get("/api/v1/metrics", Some("cobro_nope")).send().unwrap()).1, "unauthorized");

    // Metrics: the readers, not collectors or departments.
    for t in [&w.admin, &w.cfo, &w.analyst] {
        let m = json_of(s.get("/api/v1/metrics?as_of=2024-12-31", Some(t)).send().unwrap());
        assert!(m.as_array().is_some_and(|a| a.iter().any(|r| r["metric"] == "dso_countback")), "{m}");
    }
    for t in [&w.col01, &w.logistics] {
        let (status, code, _) = problem(s.get("/api/v1/metrics", Some(t)).send().unwrap());
        assert_eq!((status, code.as_str()), (StatusCode::FORBIDDEN, "forbidden"));
    }

    // The work queue: a collector gets its own portfolio only, and cannot ask for another's.
    let q = json_of(s.get("/api/v1/work-queue", Some(&w.col01)).send().unwrap());
    let rows = q.as_array().expect("rows");
    assert!(!rows.is_empty() && rows.iter().all(|r| r["collector_id"] == "COL01"), "{q}");
    // Pages of it, in rank order.
    let first = json_of(s.get("/api/v1/work-queue?limit=1", Some(&w.col01)).send().unwrap());
    let second = json_of(s.get("/api/v1/work-queue?offset=1&limit=1", Some(&w.col01)).send().unwrap());
    assert_eq!((first.as_array().map(Vec::len), &first[0]), (Some(1), &rows[0]));
    assert_eq!(second[0], rows[1], "{second}");
    let all = json_of(s.get("/api/v1/work-queue", Some(&w.admin)).send().unwrap());
    assert!(all.as_array().expect("rows").iter().any(|r| r["collector_id"] == "COL02"), "{all}");
    let (status, ..) = problem(s.get("/api/v1/work-queue?collector=COL02", Some(&w.col01)).send().unwrap());
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(problem(s.get("/api/v1/work-queue", Some(&w.logistics)).send().unwrap()).0, StatusCode::FORBIDDEN);

    // The account card: the collector's own customer, not another's (404: not even confirmed to exist).
    let card = json_of(s.get("/api/v1/customers/000201", Some(&w.col01)).send().unwrap());
    assert_eq!(card["customer"]["name"], "Ferretería Norte S.L.");
    assert!(card["open_items"].as_array().is_some_and(|a| a.iter().any(|d| d["document_id"] == "INV-4030")));
    assert_eq!(card["records"]["disputes"][0]["dispute_id"], "DSP-1");
    assert_eq!(problem(s.get("/api/v1/customers/000201", Some(&w.col02)).send().unwrap()).0, StatusCode::NOT_FOUND);
    assert_eq!(problem(s.get("/api/v1/customers/NOPE", Some(&w.admin)).send().unwrap()).0, StatusCode::NOT_FOUND);
    assert_eq!(
        problem(s.get("/api/v1/customers/000201", Some(&w.accounting)).send().unwrap()).0,
        StatusCode::FORBIDDEN
    );

    // Outcomes: a collector on its own customers; an analyst writes nothing.
    let promise = json!({"customer_id": "000202", "documents": ["INV-4026"], "outcome": "promise_to_pay", "promised_date": "2099-01-01", "as_of": "2024-12-31"});
    assert_eq!(problem(s.post("/api/v1/outcomes", &w.analyst, &promise)).0, StatusCode::FORBIDDEN);
    assert_eq!(problem(s.post("/api/v1/outcomes", &w.col02, &promise)).0, StatusCode::NOT_FOUND);
    let too_far = s.post("/api/v1/outcomes", &w.col01, &promise);
    let (status, code, detail) = problem(too_far);
    assert_eq!((status, code.as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid"), "{detail}");
    // A promise the collector records shows in the next queue at once (the cached queue is keyed by the store's
    // records). Promises count from the day they are made, so this part reads a snapshot as of today.
    let today = cobro_domain::clock::Clock::now(&cobro_domain::clock::SystemClock).date_naive();
    ok(cobro(w._tmp.path(), &["snapshot", "--as-of", &today.to_string()]));
    let queue_row = || {
        let q = json_of(s.get(&format!("/api/v1/work-queue?as_of={today}"), Some(&w.col01)).send().unwrap());
        q.as_array().and_then(|a| a.iter().find(|r| r["customer_id"] == "000202").cloned()).expect("000202 is COL01's")
    };
    let before = queue_row();
    let ok_promise = json!({"customer_id": "000202", "documents": ["INV-4026"], "outcome": "promise_to_pay",
        "promised_date": (today + chrono::Days::new(7)).to_string(), "as_of": today.to_string()});
    let r = s.post("/api/v1/outcomes", &w.col01, &ok_promise);
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text());
    let after = queue_row();
    assert_eq!((before["live_promises"].as_i64(), after["live_promises"].as_i64()), (Some(0), Some(1)), "{after}");
    assert_ne!(before["blocked_balance_rc"], after["blocked_balance_rc"], "{before} vs {after}");

    // Disputes: each department its own; resolving another department's is a 404.
    let mine = json_of(s.get("/api/v1/disputes", Some(&w.logistics)).send().unwrap());
    assert_eq!(mine.as_array().map(Vec::len), Some(1), "{mine}");
    let none = json_of(s.get("/api/v1/disputes", Some(&w.accounting)).send().unwrap());
    assert_eq!(none.as_array().map(Vec::len), Some(0), "{none}");
    // The first response: its own department only, once.
    let answer = json!({"note": "checking the delivery note"});
    assert_eq!(problem(s.post("/api/v1/disputes/DSP-1/respond", &w.accounting, &answer)).0, StatusCode::NOT_FOUND);
    assert_eq!(problem(s.post("/api/v1/disputes/DSP-1/respond", &w.col01, &answer)).0, StatusCode::FORBIDDEN);
    assert!(s.post("/api/v1/disputes/DSP-1/respond", &w.logistics, &answer).status().is_success());
    let (status, _, detail) = problem(s.post("/api/v1/disputes/DSP-1/respond", &w.logistics, &answer));
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{detail}");
    assert!(detail.contains("already has its first response"), "{detail}");
    let resolve = json!({"resolution": "rejected", "note": "delivered: signed proof of delivery"});
    assert_eq!(problem(s.post("/api/v1/disputes/DSP-1/resolve", &w.accounting, &resolve)).0, StatusCode::NOT_FOUND);
    assert_eq!(problem(s.post("/api/v1/disputes/DSP-1/resolve", &w.col01, &resolve)).0, StatusCode::FORBIDDEN);
    let done = s.post("/api/v1/disputes/DSP-1/resolve", &w.logistics, &resolve);
    assert_eq!(done.status(), StatusCode::OK, "{:?}", done.text());

    // SQL: analysts (and CFOs, admins) run queries; collectors do not; nothing but queries runs.
    let r = s.post("/api/v1/sql", &w.analyst, &json!({"sql": "SELECT COUNT(*) AS n FROM open_items"}));
    assert_eq!(json_of(r)[0]["n"], 15);
    assert_eq!(problem(s.post("/api/v1/sql", &w.col01, &json!({"sql": "SELECT 1"}))).0, StatusCode::FORBIDDEN);
    for bad in [
        "DROP TABLE documents",
        "CREATE TABLE x AS SELECT 1",
        "INSERT INTO documents SELECT * FROM documents",
        "COPY (SELECT 1) TO '/tmp/x.csv'",
        "SET datafusion.execution.batch_size = 1",
    ] {
        let (status, code, detail) = problem(s.post("/api/v1/sql", &w.analyst, &json!({"sql": bad})));
        assert_eq!((status, code.as_str()), (StatusCode::FORBIDDEN, "sql_forbidden"), "{bad}: {detail}");
    }
    let (status, code, _) = problem(s.post("/api/v1/sql", &w.analyst, &json!({"sql": "SELECT * FROM nowhere"})));
    assert_eq!((status, code.as_str()), (StatusCode::BAD_REQUEST, "sql_invalid"));

    // The portal: the signed link reaches that customer's statement and nothing else.
    let dir = w._tmp.path();
    let page = ok(cobro(dir, &["portal", "link", "000201", "--base-url", &w.server.base])).trim().to_owned();
    // The link opens the portal's page; the API's statement takes the same query.
    let link = page.replacen("/portal?", "/api/v1/portal/statement?", 1);
    assert_ne!(link, page, "{page}");
    let st = json_of(s.http.get(&link).send().unwrap());
    assert_eq!(st["customer"]["customer_id"], "000201");
    assert!(st["open_items"].as_array().is_some_and(|a| !a.is_empty()));
    let other = link.replace("customer=000201", "customer=000202");
    let (status, code, _) = problem(s.http.get(&other).send().unwrap());
    assert_eq!((status, code.as_str()), (StatusCode::FORBIDDEN, "portal_link_invalid"));
    let expired = {
        let exp: i64 = link
            .split("expires=")
            .nth(1)
            .and_then(|r| r.split('&').next())
            .and_then(|e| e.parse().ok())
            .expect("expires");
        link.replace(&format!("expires={exp}"), "expires=1")
    };
    assert_eq!(
        problem(s.http.get(&expired).send().unwrap()).1,
        "portal_link_invalid",
        "an altered expiry is a bad signature"
    );
}

#[test]
fn bad_input_over_http_gets_a_precise_4xx_and_never_a_500() {
    let w = world();
    let s = &w.server;
    let raw = |body: &str, ct: &str| {
        s.http
            .post(format!("{}/api/v1/sql", s.base))
            .bearer_auth(&w.analyst)
            .header("content-type", ct)
            .body(body.to_owned())
            .send()
            .unwrap()
    };
    let (status, code, detail) = problem(raw("{\"sql\": ", "application/json"));
    assert_eq!((status, code.as_str()), (StatusCode::BAD_REQUEST, "invalid_json"), "{detail}");
    let (status, code, detail) = problem(raw("{\"sql\": 42}", "application/json"));
    assert_eq!((status, code.as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"), "{detail}");
    assert!(detail.contains("sql"), "{detail}");
    let (status, code, detail) = problem(raw("{\"sql\": \"SELECT 1\", \"limit\": 5}", "application/json"));
    assert_eq!((status, code.as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"));
    assert!(detail.contains("unknown field `limit`"), "{detail}");
    let (status, code, _) = problem(raw("{\"sql\": \"SELECT 1\"}", "text/plain"));
    assert_eq!((status, code.as_str()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"));
    let big = format!("{{\"sql\": \"SELECT '{}'\"}}", "x".repeat(2 * 1024 * 1024));
    // On its own connection: the server answers 413 and closes it before reading the rest of the body, so a pooled
    // connection would be unusable for the next request.
    let r = Client::new()
        .post(format!("{}/api/v1/sql", s.base))
        .bearer_auth(&w.analyst)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let (status, code, detail) = problem(s.get("/api/v1/metrics?as_of=2024-02-30", Some(&w.cfo)).send().unwrap());
    assert_eq!((status, code.as_str()), (StatusCode::BAD_REQUEST, "invalid_query"), "{detail}");
    let (status, code, _) = problem(s.get("/api/v1/metrics?as_of=2020-01-31", Some(&w.cfo)).send().unwrap());
    assert_eq!((status, code.as_str()), (StatusCode::NOT_FOUND, "not_found"));
    let (status, code, _) = problem(s.get("/api/v1/metrics?as_of=2024-12-31&x=1", Some(&w.cfo)).send().unwrap());
    assert_eq!((status, code.as_str()), (StatusCode::BAD_REQUEST, "invalid_query"));
    let (status, code, _) = problem(s.get("/api/v1/nothing-here", Some(&w.cfo)).send().unwrap());
    assert_eq!((status, code.as_str()), (StatusCode::NOT_FOUND, "not_found"));
    let (status, code, _) =
        problem(s.get("/api/v1/metrics", Some(&w.cfo)).header("accept", "image/png").send().unwrap());
    assert_eq!((status, code.as_str()), (StatusCode::NOT_ACCEPTABLE, "not_acceptable"));
    let o =
        json!({"customer_id": "000201", "documents": ["INV-4030"], "outcome": "promise_to_pay", "as_of": "2024-12-31"});
    let (status, _, detail) = problem(s.post("/api/v1/outcomes", &w.col01, &o));
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(detail.contains("`promised_date` is required"), "{detail}");
    let o = json!({"customer_id": "000201", "documents": ["INV-4030"], "outcome": "promise_to_pay", "promised_date": "soon"});
    assert_eq!(problem(s.post("/api/v1/outcomes", &w.col01, &o)).1, "invalid_body");
    let o = json!({"customer_id": "000201", "documents": ["NOPE-1"], "outcome": "no_contact", "as_of": "2024-12-31"});
    assert_eq!(problem(s.post("/api/v1/outcomes", &w.col01, &o)).0, StatusCode::NOT_FOUND);
}

#[test]
fn tabular_endpoints_negotiate_csv_arrow_and_parquet_and_the_openapi_document_lists_the_routes() {
    let w = world();
    let s = &w.server;
    let get = |accept: &str| {
        s.get("/api/v1/ar-monthly?as_of=2024-12-31", Some(&w.cfo)).header("accept", accept).send().unwrap()
    };
    let csv = get("text/csv");
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(csv.headers().contains_key("x-request-id"));
    let text = csv.text().unwrap();
    assert!(text.starts_with("month,"), "{text}");
    let arrow = get("application/vnd.apache.arrow.stream").bytes().unwrap();
    assert!(
        arrow.len() > 8 && arrow[..4] == [0xFF, 0xFF, 0xFF, 0xFF],
        "an Arrow IPC stream starts with a continuation marker"
    );
    let parquet = get("application/vnd.apache.parquet").bytes().unwrap();
    assert_eq!(&parquet[..4], b"PAR1");
    let doc = json_of(s.get("/api/v1/openapi.json", None).send().unwrap());
    for p in [
        "/healthz",
        "/api/v1/sql",
        "/api/v1/metrics",
        "/api/v1/work-queue",
        "/api/v1/customers/{id}",
        "/api/v1/outcomes",
        "/api/v1/portal/statement",
        "/api/v1/portal/statement/download",
        "/api/v1/portal/payment-reports",
        "/api/v1/portal/disputes",
        "/api/v1/portal/messages",
        "/api/v1/ledger/{table}",
        "/api/v1/snapshots",
        "/api/v1/segments",
        "/api/v1/alarms/{name}",
        "/api/v1/tasks/{id}/complete",
        "/api/v1/dunning/plans",
        "/api/v1/dunning/plans/{id}/approve",
        "/api/v1/dunning/run",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} missing from the OpenAPI document");
    }
    assert_eq!(s.get("/healthz", None).send().unwrap().text().unwrap(), "ok");
}

#[test]
fn dunning_over_http_previews_the_plan_lists_the_outbox_and_takes_bounce_callbacks() {
    let tmp = super::cases::ledger();
    let dir = tmp.path();
    ok(cobro(dir, &["dunning", "run", "--at", "2024-12-31T09:00:00Z"]));
    let admin = token(dir, &["--role", "admin", "--label", "provider callbacks"]);
    let col01 = token(dir, &["--role", "collector", "--collector", "COL01", "--label", "ana"]);
    let s = Server::start(dir);
    // The plan after the run: nothing left to fire today, every item with its reason.
    let plan =
        json_of(s.get("/api/v1/dunning/plan?as_of=2024-12-31&at=2024-12-31T10:00:00Z", Some(&admin)).send().unwrap());
    let skipped = plan["skipped"].as_array().expect("skipped");
    assert!(skipped.iter().any(|x| x["reason"] == "already_sent"), "{plan}");
    assert_eq!(problem(s.get("/api/v1/dunning/plan", Some(&col01)).send().unwrap()).0, StatusCode::FORBIDDEN);
    let sent = json_of(s.get("/api/v1/dunning/messages?state=sent", Some(&admin)).send().unwrap());
    let norte = sent
        .as_array()
        .expect("rows")
        .iter()
        .find(|m| m["recipient"] == "pagos@ferreteria-norte.example")
        .expect("000201's email")
        .clone();
    // The provider reports the bounce by the Message-ID it saw.
    let mid = norte["rfc_message_id"].as_str().expect("message id");
    let r = s.post("/api/v1/dunning/bounces", &admin, &json!({"message": mid, "reason": "550 5.1.1 user unknown"}));
    let rec = json_of(r);
    assert!(rec["summary"][0].as_str().is_some_and(|t| t.contains("is held")), "{rec}");
    let bounced = json_of(s.get("/api/v1/dunning/messages?state=bounced", Some(&admin)).send().unwrap());
    assert_eq!(bounced[0]["message_id"], norte["message_id"]);
    let tasks = json_of(s.get("/api/v1/tasks", Some(&col01)).send().unwrap());
    assert!(
        tasks.as_array().expect("tasks").iter().any(|t| t["kind"] == "fix_contact"),
        "the collector has the task: {tasks}"
    );
    let unknown = s.post("/api/v1/dunning/bounces", &admin, &json!({"message": "MSG-999", "reason": "550"}));
    assert_eq!(problem(unknown).0, StatusCode::NOT_FOUND);
    assert_eq!(
        problem(s.post("/api/v1/dunning/bounces", &col01, &json!({"message": mid, "reason": "x"}))).0,
        StatusCode::FORBIDDEN
    );
}

#[test]
fn a_ledger_push_replayed_with_the_same_idempotency_key_stages_nothing_twice() {
    let w = world();
    let s = &w.server;
    let dir = w._tmp.path();
    let push = |key: &str, body: &Value| {
        s.http
            .post(format!("{}/api/v1/ledger/documents", s.base))
            .bearer_auth(&w.admin)
            .header("idempotency-key", key)
            .json(body)
            .send()
            .unwrap()
    };
    let rows = json!([
        {"document_id": "INV-5001", "customer_id": "000201", "kind": "invoice", "issue_date": "2024-12-20",
         "due_date": "2025-01-19", "currency": "EUR", "amount": "150.00", "reference": "push", "disputed": "false"},
        {"document_id": "INV-5002", "customer_id": "NOBODY", "kind": "invoice", "issue_date": "2024-12-20",
         "due_date": "2025-01-19", "currency": "EUR", "amount": "99.00", "reference": "push", "disputed": "false"}
    ]);
    let first = push("batch-1", &rows);
    assert_eq!(first.status(), StatusCode::CREATED);
    let a: Value = first.json().unwrap();
    assert_eq!(
        (a["read"].as_u64(), a["accepted"].as_u64(), a["rejected"].as_u64()),
        (Some(2), Some(1), Some(1)),
        "{a}"
    );
    assert!(
        a["rejects"][0]["reason"].as_str().is_some_and(|r| r.contains("NOBODY")),
        "the unknown customer is named: {a}"
    );
    let again = push("batch-1", &rows);
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replay"], "true");
    assert_eq!(again.json::<Value>().unwrap(), a);
    let (status, code, _) = problem(push("batch-1", &json!([])));
    assert_eq!((status, code.as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused"));
    let missing =
        s.http.post(format!("{}/api/v1/ledger/documents", s.base)).bearer_auth(&w.admin).json(&rows).send().unwrap();
    assert_eq!(problem(missing).1, "idempotency_key_required");
    let analyst = s
        .http
        .post(format!("{}/api/v1/ledger/documents", s.base))
        .bearer_auth(&w.analyst)
        .header("idempotency-key", "x")
        .json(&rows)
        .send()
        .unwrap();
    assert_eq!(problem(analyst).0, StatusCode::FORBIDDEN);
    // A payment for it as CSV, with only the columns it has, and its allocation.
    let csv = |table: &str, key: &str, body: &str| {
        s.http
            .post(format!("{}/api/v1/ledger/{table}", s.base))
            .bearer_auth(&w.admin)
            .header("idempotency-key", key)
            .header("content-type", "text/csv")
            .body(body.to_owned())
            .send()
            .unwrap()
    };
    let p = json_of(csv(
        "payments",
        "pay-1",
        "payment_id,customer_id,received_date,currency,amount\nPAY-9001,000201,2024-12-28,EUR,150.00\n",
    ));
    assert_eq!(p["accepted"], 1, "{p}");
    let a = json_of(csv(
        "allocations",
        "alloc-1",
        "source_id,document_id,applied_date,amount\nPAY-9001,INV-5001,2024-12-28,150.00\n",
    ));
    assert_eq!(a["accepted"], 1, "{a}");
    // The same allocation under a new key is checked against the staged ledger: it would over-apply.
    let again = json_of(csv(
        "allocations",
        "alloc-2",
        "source_id,document_id,applied_date,amount\nPAY-9001,INV-5001,2024-12-28,150.00\n",
    ));
    assert_eq!((again["accepted"].as_u64(), again["rejected"].as_u64()), (Some(0), Some(1)), "{again}");
    // Bodies that are not rows of the table: refused whole, with what and where.
    let bad = |table: &str, body: Value| {
        let r = s
            .http
            .post(format!("{}/api/v1/ledger/{table}", s.base))
            .bearer_auth(&w.admin)
            .header("idempotency-key", format!("bad-{body}"))
            .json(&body)
            .send()
            .unwrap();
        problem(r)
    };
    let (st, code, detail) = bad("documents", json!([{"document_id": "X", "colour": "red"}]));
    assert_eq!((st, code.as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "ledger_rejected"));
    assert!(detail.contains("unknown column `colour` in element 1"), "{detail}");
    let (_, _, detail) = bad(
        "payments",
        json!([{"payment_id": "P", "customer_id": "000201", "received_date": "2024-12-28", "currency": "EUR", "amount": 1.5}]),
    );
    assert!(detail.contains("(field `amount`): expected a decimal as a string"), "{detail}");
    assert_eq!(bad("invoices", json!([])).0, StatusCode::NOT_FOUND);
    let xml = s
        .http
        .post(format!("{}/api/v1/ledger/documents", s.base))
        .bearer_auth(&w.admin)
        .header("idempotency-key", "x")
        .header("content-type", "application/xml")
        .body("<a/>")
        .send()
        .unwrap();
    assert_eq!(problem(xml).0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // The next snapshot has the pushed invoice once, settled by the pushed payment; the rejects are all kept.
    ok(cobro(dir, &["snapshot", "--as-of", "2024-12-31"]));
    let q = |sql: &str| sql_rows(dir, "2024-12-31", sql);
    assert_eq!(q("SELECT COUNT(*) FROM documents WHERE document_id = 'INV-5001'"), [["1"]]);
    assert_eq!(q("SELECT COUNT(*) FROM open_items WHERE document_id = 'INV-5001'"), [["0"]]);
    let rejects = q("SELECT file, line FROM rejects WHERE file LIKE '%push%' ORDER BY file");
    assert_eq!(rejects.len(), 2, "{rejects:?}");
    assert!(
        rejects[0][0].starts_with("allocations-push-alloc-2-") && rejects[1][0].starts_with("documents-push-batch-1-"),
        "{rejects:?}"
    );
}

#[test]
fn snapshots_segments_alarms_tasks_the_dunning_approval_flow_and_the_portal_actions_over_http() {
    let w = world();
    let s = &w.server;
    let dir = w._tmp.path();
    // Snapshot builds: admins only. The dispute was opened today, so the alarms below read a snapshot of today.
    let r = s.post("/api/v1/snapshots", &w.admin, &json!({"as_of": "2024-12-31"}));
    assert_eq!(r.status(), StatusCode::CREATED);
    let built: Value = r.json().unwrap();
    assert!(built["version"].as_u64().is_some_and(|v| v >= 2), "a new version of the same date: {built}");
    let today = cobro_domain::clock::Clock::now(&cobro_domain::clock::SystemClock).date_naive().to_string();
    assert_eq!(s.post("/api/v1/snapshots", &w.admin, &json!({"as_of": today})).status(), StatusCode::CREATED);
    assert_eq!(
        problem(s.post("/api/v1/snapshots", &w.analyst, &json!({"as_of": "2024-12-31"}))).0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        problem(s.post("/api/v1/snapshots", &w.admin, &json!({"as_of": "31/12/2024"}))).0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // The CFO report: the readers get the page, a collector does not.
    let page = s.get("/api/v1/reports/cfo?as_of=2024-12-31", Some(&w.cfo)).send().unwrap();
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let page = page.text().unwrap();
    assert!(page.contains("id=\"kpi-dso_countback\"") && page.contains("<svg"), "the report page");
    assert_eq!(problem(s.get("/api/v1/reports/cfo", Some(&w.col01)).send().unwrap()).0, StatusCode::FORBIDDEN);

    // Segments: a collector's own customers only.
    let mine = json_of(s.get("/api/v1/segments", Some(&w.col01)).send().unwrap());
    let mine = mine.as_array().expect("rows");
    assert!(
        !mine.is_empty() && mine.iter().all(|r| r["collector_id"] == "COL01" && r["reasons"].is_string()),
        "{mine:?}"
    );
    let all = json_of(s.get("/api/v1/segments", Some(&w.cfo)).send().unwrap());
    assert!(all.as_array().expect("rows").len() > mine.len());

    // Alarms: a department reads its open disputes, not the others' alarms; unknown names are 404.
    let disputes =
        json_of(s.get(&format!("/api/v1/alarms/open-disputes?as_of={today}"), Some(&w.logistics)).send().unwrap());
    assert_eq!(disputes[0]["dispute_id"], "DSP-1", "{disputes}");
    let none =
        json_of(s.get(&format!("/api/v1/alarms/open-disputes?as_of={today}"), Some(&w.accounting)).send().unwrap());
    assert_eq!(none.as_array().map(Vec::len), Some(0), "{none}");
    assert_eq!(
        problem(s.get("/api/v1/alarms/action-needed", Some(&w.logistics)).send().unwrap()).0,
        StatusCode::FORBIDDEN
    );
    let (status, _, detail) = problem(s.get("/api/v1/alarms/fire", Some(&w.admin)).send().unwrap());
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(detail.contains("action-needed, broken-promises"), "{detail}");
    let action = json_of(s.get("/api/v1/alarms/action-needed", Some(&w.col01)).send().unwrap());
    assert!(action.as_array().expect("rows").iter().all(|r| r["collector_id"] == "COL01"), "{action}");

    // Tasks: a no-contact outcome gives the collector a call task; only that collector (or an admin) completes it.
    let nc =
        json!({"customer_id": "000201", "documents": ["INV-4021"], "outcome": "no_contact", "as_of": "2024-12-31"});
    let rec: Value = s.post("/api/v1/outcomes", &w.col01, &nc).json().unwrap();
    let task = rec["task_id"].as_str().expect("a call task").to_owned();
    let path = format!("/api/v1/tasks/{task}/complete");
    assert_eq!(problem(s.post(&path, &w.col02, &json!({}))).0, StatusCode::NOT_FOUND);
    assert_eq!(problem(s.post(&path, &w.analyst, &json!({}))).0, StatusCode::FORBIDDEN);
    let done = json_of(s.post(&path, &w.col01, &json!({"note": "called, left a voicemail"})));
    assert_eq!(done["kind"], "task_done");
    let (status, _, detail) = problem(s.post(&path, &w.col01, &json!({})));
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{detail}");
    // A department's tasks are its owner's: logistics completes the dispute's task, accounting cannot see it.
    let theirs = json_of(s.get("/api/v1/tasks", Some(&w.logistics)).send().unwrap());
    let dept_task = theirs[0]["task_id"].as_str().expect("the dispute gave logistics a task").to_owned();
    let path = format!("/api/v1/tasks/{dept_task}/complete");
    assert_eq!(problem(s.post(&path, &w.accounting, &json!({}))).0, StatusCode::NOT_FOUND);
    assert_eq!(json_of(s.post(&path, &w.logistics, &json!({})))["kind"], "task_done");

    // Dunning: save, four eyes, approve, run the approved plan.
    let at = json!({"as_of": "2024-12-31", "at": "2024-12-31T09:00:00Z"});
    let r = s.post("/api/v1/dunning/plans", &w.admin, &at);
    assert_eq!(r.status(), StatusCode::CREATED);
    let saved: Value = r.json().unwrap();
    let plan = saved["plan_id"].as_str().expect("plan id").to_owned();
    assert!(saved["actions"].as_u64().is_some_and(|n| n > 0), "{saved}");
    let approve = format!("/api/v1/dunning/plans/{plan}/approve");
    let (status, _, detail) = problem(s.post(&approve, &w.admin, &json!({})));
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "the planner cannot approve its own plan: {detail}");
    assert_eq!(problem(s.post(&approve, &w.col01, &json!({}))).0, StatusCode::FORBIDDEN);
    assert_eq!(json_of(s.post(&approve, &w.cfo, &json!({})))["state"], "approved");
    assert_eq!(problem(s.post("/api/v1/dunning/run", &w.cfo, &at)).0, StatusCode::FORBIDDEN);
    let mut run = at.clone();
    run["plan"] = json!(plan);
    let ran = json_of(s.post("/api/v1/dunning/run", &w.admin, &run));
    let queued = ran["messages"].as_array().expect("messages").len();
    assert!(queued > 0 && ran["delivery"]["sent"].as_array().is_some_and(|a| !a.is_empty()), "{ran}");
    let again = json_of(s.post("/api/v1/dunning/run", &w.admin, &run));
    assert_eq!(again["messages"].as_array().map(Vec::len), Some(0), "nothing is sent twice: {again}");

    // The portal: download, report a payment, raise a dispute, write; only on the customer's own invoices.
    let link = ok(cobro(dir, &["portal", "link", "000201", "--base-url", &s.base])).trim().to_owned();
    let creds = link.split_once('?').expect("query").1.to_owned();
    let portal = |path: &str| format!("{}/api/v1/portal/{path}?{creds}", s.base);
    let csv = s.http.get(format!("{}&format=csv", portal("statement/download"))).send().unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(csv.headers()["content-disposition"].to_str().unwrap().contains("statement-000201.csv"));
    let text = csv.text().unwrap();
    assert!(text.starts_with("document_id,kind,issue_date") && text.contains("INV-4021,invoice,2024-09-17"), "{text}");
    let html = s.http.get(format!("{}&format=html", portal("statement/download"))).send().unwrap().text().unwrap();
    assert!(html.contains("<td>INV-4021</td>") && html.contains("Ferretería Norte"), "{html}");
    let post = |path: &str, body: Value| s.http.post(portal(path)).json(&body).send().unwrap();
    let r =
        post("payment-reports", json!({"documents": ["INV-4021"], "paid_date": "2024-12-30", "reference": "TRF-77"}));
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text());
    assert_eq!(
        problem(post("payment-reports", json!({"documents": ["INV-4026"], "paid_date": "2024-12-30"}))).0,
        StatusCode::NOT_FOUND,
        "000202's invoice"
    );
    let r =
        post("disputes", json!({"documents": ["DN-4902"], "dispute_type": "price", "note": "interest charged twice"}));
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text());
    let d: Value = r.json().unwrap();
    assert!(d["record_id"].as_str().is_some_and(|id| id.starts_with("DSP-")), "{d}");
    assert_eq!(
        problem(post("disputes", json!({"documents": ["INV-4021"], "dispute_type": "bogus"}))).0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let r = post("messages", json!({"text": "We paid INV-4021 on the 30th, see TRF-77."}));
    assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text());
    let thread = json_of(s.http.get(portal("messages")).send().unwrap());
    let rows = thread.as_array().expect("thread");
    assert!(
        rows.iter()
            .any(|m| m["direction"] == "from_customer" && m["body"].as_str().is_some_and(|b| b.contains("TRF-77"))),
        "{thread}"
    );
    assert!(
        rows.iter().any(|m| m["direction"] == "to_customer"),
        "the dunning email sent above is in the thread: {thread}"
    );
    let tasks = json_of(s.get("/api/v1/tasks", Some(&w.col01)).send().unwrap());
    assert!(tasks.as_array().expect("tasks").iter().any(|t| t["kind"] == "reply_customer"), "{tasks}");
    let forged = portal("messages").replace("customer=000201", "customer=000202");
    assert_eq!(problem(s.http.get(forged).send().unwrap()).1, "portal_link_invalid");
    assert_eq!(
        problem(s.http.get(format!("{}/api/v1/portal/messages", s.base)).send().unwrap()).1,
        "portal_link_invalid"
    );
}

#[test]
fn one_sql_query_cannot_take_more_than_its_memory_or_time_bound_over_http_or_the_postgres_wire_protocol() {
    let tmp = super::cases::ledger();
    let dir = tmp.path();
    let analyst = token(dir, &["--role", "analyst", "--label", "bi"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a port").port();
    let s = Server::start_args(
        dir,
        &[("COBRO_SQL_MEMORY_MB", "1"), ("COBRO_SQL_TIMEOUT_SECONDS", "1")],
        &["--pgwire", &format!("127.0.0.1:{port}")],
    );
    let big = "SELECT array_agg(v) FROM generate_series(1, 3000000) t(v)";
    // 10^12 rows through a cross join whose build side (10,000 rows) fits in the 1 MB: it would run for hours.
    let long = "SELECT SUM(a.value + b.value) AS s FROM generate_series(1, 10000) a CROSS JOIN generate_series(1, 100000000) b";
    let (status, code, detail) = problem(s.post("/api/v1/sql", &analyst, &json!({ "sql": big })));
    assert_eq!((status, code.as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "sql_memory"), "{detail}");
    assert!(detail.contains("more than the 1 MB"), "{detail}");
    let (status, code, detail) = problem(s.post("/api/v1/sql", &analyst, &json!({ "sql": long })));
    assert_eq!((status, code.as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "sql_timeout"), "{detail}");
    assert!(detail.contains("the query ran longer than 1 s"), "{detail}");

    // The same bounds over the PostgreSQL wire protocol (psql is run under `timeout`, so a missing bound fails).
    let text = |o: &std::process::Output| {
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
    };
    let o = psql(port, &analyst, &[big]);
    assert!(!o.status.success() && text(&o).contains("Resources exhausted"), "{}", text(&o));
    let o = psql(port, &analyst, &[long]);
    assert!(!o.status.success() && text(&o).contains("the query ran longer than 1 s"), "{}", text(&o));

    // Small queries still run, and the server is fine afterwards.
    let r = s.post("/api/v1/sql", &analyst, &json!({"sql": "SELECT COUNT(*) AS n FROM open_items"}));
    assert_eq!(json_of(r)[0]["n"], 15);
    let o = psql(port, &analyst, &["SELECT COUNT(*) FROM open_items"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "15", "{}", text(&o));
}

#[test]
fn a_token_revoked_by_another_process_is_refused_within_the_recheck_interval() {
    let tmp = super::cases::ledger();
    let dir = tmp.path();
    let out = ok(cobro(dir, &["token", "create", "--role", "analyst", "--label", "leaver"]));
    let id = out.split_whitespace().next().expect("token id").to_owned();
    let t = out.lines().last().expect("token").trim().to_owned();
    let s = Server::start(dir);
    assert_eq!(s.get("/api/v1/snapshots", Some(&t)).send().unwrap().status(), StatusCode::OK);
    ok(cobro(dir, &["token", "revoke", &id]));
    // The server remembers a known token for at most RECHECK (2 s) when nothing was written through it.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(problem(s.get("/api/v1/snapshots", Some(&t)).send().unwrap()).1, "unauthorized");
}

#[test]
fn the_web_uis_cookie_needs_the_ui_header_for_changes_and_a_snapshot_job_reports_its_steps() {
    let w = world();
    let s = &w.server;
    let manual = Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let login = format!("{}/login", s.base);

    // Log-in: a made-up token is refused on the page; a real one sets an HttpOnly, SameSite=Strict cookie and
    // goes to the role's start page, never to another site named in `next`.
    let r = manual.post(&login).form(&[("token", "cobro_0000")]).send().unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().unwrap().contains("unknown or revoked token"));
    let r = manual.post(&login).form(&[("token", w.col01.as_str()), ("next", "//evil.example/")]).send().unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/ui/queue");
    let set = r.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"), "{set}");
    let cookie = set.split(';').next().unwrap().to_owned();
    assert_eq!(cookie, format!("cobro_session={}", w.col01));

    // Pages: without the cookie, to the log-in page and back; with it, what the role may see.
    let r = manual.get(format!("{}/ui/queue?offset=0", s.base)).send().unwrap();
    assert_eq!(r.headers()["location"], "/login?next=/ui/queue%3Foffset%3D0");
    let page = |path: &str| manual.get(format!("{}{path}", s.base)).header("cookie", &cookie).send().unwrap();
    let q = page("/ui/queue");
    assert_eq!(q.status(), StatusCode::OK);
    let html = q.text().unwrap();
    assert!(html.contains("data-customer=\"000201\"") && !html.contains("data-customer=\"000203\""), "COL01's only");
    assert_eq!(page("/ui/dashboard").status(), StatusCode::FORBIDDEN);
    assert_eq!(page("/ui/sql").status(), StatusCode::FORBIDDEN);
    assert_eq!(page("/ui/customers/000203").status(), StatusCode::NOT_FOUND);
    let docs = page("/ui/customers/000201/documents").text().unwrap();
    assert!(docs.contains("value=\"INV-4021\"") && docs.contains("EUR 310.00"), "{docs}");

    // The API takes the cookie for reading; a change made with it needs the UI's header.
    let get = manual.get(format!("{}/api/v1/work-queue", s.base)).header("cookie", &cookie).send().unwrap();
    assert_eq!(get.status(), StatusCode::OK);
    let body = json!({"customer_id": "000201", "documents": [], "outcome": "nonsense"});
    let post = |ui: bool| {
        let r = manual.post(format!("{}/api/v1/outcomes", s.base)).header("cookie", &cookie).json(&body);
        if ui { r.header("x-requested-with", "cobro-ui") } else { r }.send().unwrap()
    };
    let (status, code, _) = problem(post(false));
    assert_eq!((status, code.as_str()), (StatusCode::FORBIDDEN, "csrf"));
    let (status, code, _) = problem(post(true));
    assert_eq!((status, code.as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid"), "past the checks");

    // A snapshot build as a job: 202 with its address, then its steps and its result.
    let (status, _, _) = problem(s.post("/api/v1/jobs/snapshot", &w.col01, &json!({"as_of": "2024-12-31"})));
    assert_eq!(status, StatusCode::FORBIDDEN);
    let r = s.post("/api/v1/jobs/snapshot", &w.admin, &json!({"as_of": "2024-12-31"}));
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let started: Value = r.json().unwrap();
    assert_eq!(location, format!("/api/v1/jobs/{}", started["id"].as_str().unwrap()));
    let job = loop {
        let j = json_of(s.get(&location, Some(&w.admin)).send().unwrap());
        if j["state"] != "running" {
            break j;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(
        (job["step"].as_u64(), job["steps"].as_u64(), job["stage"].as_str()),
        (Some(6), Some(6), Some("publishing"))
    );
    assert_eq!((job["result"]["as_of"].as_str(), job["result"]["version"].as_u64()), (Some("2024-12-31"), Some(2)));
    assert_eq!(problem(s.get(&location, Some(&w.cfo)).send().unwrap()).0, StatusCode::FORBIDDEN);
    assert_eq!(problem(s.get("/api/v1/jobs/job-999", Some(&w.admin)).send().unwrap()).0, StatusCode::NOT_FOUND);

    // The report as a workbook, for the readers.
    let x = s.get("/api/v1/reports/cfo?format=xlsx", Some(&w.cfo)).send().unwrap();
    assert_eq!(x.status(), StatusCode::OK);
    assert!(x.headers()["content-disposition"].to_str().unwrap().contains("cobro-report-2024-12-31.xlsx"));
    assert!(x.bytes().unwrap().starts_with(b"PK"));
    let (status, code, _) = problem(s.get("/api/v1/reports/cfo?format=pdf", Some(&w.cfo)).send().unwrap());
    assert_eq!((status, code.as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid"));
}

/// psql, the real client, against `cobro serve --pgwire`; stopped after two minutes (a query that should have been
/// cut short fails the test instead of hanging it).
pub(super) fn psql(port: u16, password: &str, commands: &[&str]) -> std::process::Output {
    psql_with(port, password, commands, &[])
}

/// [`psql`] with more libpq settings (`PGSSLMODE`, say).
fn psql_with(port: u16, password: &str, commands: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut c = Command::new("timeout");
    c.args(["120", "psql", "-h", "127.0.0.1", "-p", &port.to_string(), "-U", "bi", "-d", "cobro", "-X", "-A", "-t"])
        .args(["-v", "ON_ERROR_STOP=1"]);
    for cmd in commands {
        c.args(["-c", cmd]);
    }
    c.env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "10")
        .envs(env.iter().copied())
        .output()
        .expect("psql runs (apt postgresql-client)")
}

#[test]
fn psql_lists_the_tables_runs_a_checked_query_and_is_refused_a_drop_over_the_postgres_wire_protocol() {
    let tmp = super::cases::ledger();
    let dir = tmp.path();
    let analyst = token(dir, &["--role", "analyst", "--label", "bi"]);
    let collector = token(dir, &["--role", "collector", "--collector", "COL01", "--label", "ana"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a port").port();
    let _server = Server::start_args(dir, &[], &["--pgwire", &format!("127.0.0.1:{port}")]);
    let text = |o: &std::process::Output| {
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
    };

    let listed = psql(port, &analyst, &["\\dt"]);
    assert!(listed.status.success(), "{}", text(&listed));
    for table in ["documents", "customers", "open_items", "payments"] {
        assert!(text(&listed).contains(&format!("|{table}|")), "\\dt lacks {table}: {}", text(&listed));
    }
    let counted = psql(port, &analyst, &["SELECT COUNT(*), SUM(amount) FROM documents WHERE kind = 'invoice'"]);
    let expected = sql_rows(
        dir,
        "2024-12-31",
        "SELECT COUNT(*), CAST(SUM(amount) AS VARCHAR) FROM documents WHERE kind = 'invoice'",
    );
    let got = text(&counted);
    let (n, sum) = got.trim().split_once('|').expect("two columns");
    assert_eq!((n, dec(sum)), (expected[0][0].as_str(), dec(&expected[0][1])), "{got}");

    let dropped = psql(port, &analyst, &["DROP VIEW ar_monthly"]);
    assert!(!dropped.status.success());
    assert!(text(&dropped).contains("only queries run here"), "{}", text(&dropped));
    let set = psql(port, &analyst, &["SET datafusion.execution.batch_size = 1"]);
    assert!(!set.status.success(), "{}", text(&set));
    assert!(psql(port, &analyst, &["SELECT COUNT(*) FROM ar_monthly"]).status.success(), "the view is still there");

    let wrong = psql(port, "cobro_not_a_token", &["SELECT 1"]);
    assert!(
        !wrong.status.success() && text(&wrong).to_lowercase().contains("password authentication failed"),
        "{}",
        text(&wrong)
    );
    let refused = psql(port, &collector, &["SELECT 1"]);
    assert!(!refused.status.success() && text(&refused).contains("may not run SQL"), "{}", text(&refused));
}

#[test]
fn with_a_certificate_the_wire_protocol_is_encrypted_and_refuses_clients_that_do_not_ask_for_tls() {
    let tmp = super::cases::ledger();
    let dir = tmp.path();
    let analyst = token(dir, &["--role", "analyst", "--label", "bi"]);
    // A self-signed certificate for 127.0.0.1, which the client is told to trust (verify-full checks the name).
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=cobro test"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(made.status.success(), "{}", super::text(&made));
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a port").port();
    let (cert_arg, key_arg) = (cert.display().to_string(), key.display().to_string());
    let listen = format!("127.0.0.1:{port}");
    let args = ["--pgwire", &listen, "--pgwire-tls-cert", &cert_arg, "--pgwire-tls-key", &key_arg];
    let _server = Server::start_args(dir, &[], &args);
    let text = |o: &std::process::Output| {
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
    };

    let verified = [("PGSSLMODE", "verify-full"), ("PGSSLROOTCERT", cert_arg.as_str())];
    let o = psql_with(port, &analyst, &["\\conninfo", "SELECT COUNT(*) FROM open_items"], &verified);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("SSL connection"), "{}", text(&o));
    assert!(text(&o).trim_end().ends_with("\n15"), "{}", text(&o));
    let o = psql_with(port, &analyst, &["SELECT 1"], &[("PGSSLMODE", "disable")]);
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("this server takes connections over TLS only"), "{}", text(&o));

    // A key that is not a key stops the server at start, naming the file.
    std::fs::write(dir.join("bad.pem"), "not a key").expect("write");
    let o = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(["serve", "--listen", "127.0.0.1:0", "--pgwire", "127.0.0.1:0", "--pgwire-tls-cert", &cert_arg])
        .arg("--pgwire-tls-key")
        .arg(dir.join("bad.pem"))
        .output()
        .expect("runs");
    assert!(!o.status.success());
    assert!(text(&o).contains("cannot read the private key") && text(&o).contains("bad.pem"), "{}", text(&o));
}
