//! Delivery through real servers: an SMTP server (Python aiosmtpd, `tests/support/smtp_sink.py`, installed by
//! ci/install.sh) and an HTTP server for the webhook channel, both listening on 127.0.0.1; `cobro dunning run`
//! and `cobro dunning deliver` as separate processes, including two at once and one killed mid-delivery.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use super::{BIN, cobro, ok, repo, text};

/// The run of every test: 2024-12-31 09:00 UTC, over the metrics fixture's snapshot of 2024-12-31. Three customer
/// emails are due in Madrid's window (000201, 000202, 000204); 000203's waits for 09:00 in Chicago (15:00 UTC).
const AT: &str = "2024-12-31T09:00:00Z";

/// A real SMTP server, killed when dropped.
struct Sink {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

/// One message as the server received and decoded it.
#[derive(Debug, Clone, serde::Deserialize)]
struct Received {
    envelope_to: Vec<String>,
    to: String,
    from: String,
    subject: String,
    message_id: String,
    body: String,
}

impl Sink {
    fn start(fail_first: u32) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut child = Command::new("python3")
            .arg(repo().join("tests/support/smtp_sink.py"))
            .arg(dir.path())
            .args(["--fail-first", &fail_first.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs (ci/install.sh installs aiosmtpd)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("the sink says its port");
        let port = line.trim().strip_prefix("PORT ").and_then(|p| p.parse().ok()).unwrap_or_else(|| {
            panic!("the SMTP sink did not start (is aiosmtpd installed? run ci/install.sh): {line:?}")
        });
        Self { child, dir, port }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, in arrival order.
    fn received(&self) -> Vec<Received> {
        let mut files: Vec<(u32, std::path::PathBuf)> = std::fs::read_dir(self.dir.path())
            .expect("sink dir")
            .filter_map(|e| {
                let p = e.ok()?.path();
                let n = p.file_name()?.to_str()?.strip_suffix(".json")?.parse().ok()?;
                Some((n, p))
            })
            .collect();
        files.sort();
        files
            .iter()
            .map(|(_, p)| serde_json::from_slice(&std::fs::read(p).expect("read")).expect("sink json"))
            .collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dunning(dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["dunning"];
    all.extend_from_slice(args);
    ok(cobro(dir, &all))
}

fn messages(dir: &Path) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(&dunning(dir, &["messages", "--format", "json"])).expect("json");
    v.as_array().expect("rows").clone()
}

fn field<'a>(m: &'a serde_json::Value, k: &str) -> &'a str {
    m[k].as_str().unwrap_or("")
}

/// Message-ID → how many copies arrived.
fn copies(got: &[Received]) -> BTreeMap<String, usize> {
    let mut n = BTreeMap::new();
    for r in got {
        *n.entry(r.message_id.clone()).or_default() += 1;
    }
    n
}

#[test]
fn smtp_delivery_sends_each_email_once_with_recipients_subject_invoice_lines_and_totals() {
    let tmp = super::cases::ledger();
    let dir = tmp.path();
    let sink = Sink::start(0);
    let out = dunning(dir, &["run", "--at", AT, "--channel", "smtp", "--smtp-url", &sink.url()]);
    assert!(out.contains("3 sent, 2 in-app alert(s) posted, 0 to retry, 0 failed"), "{out}");
    let got = sink.received();
    let mut to: Vec<&str> = got.iter().map(|r| r.to.as_str()).collect();
    to.sort_unstable();
    assert_eq!(
        to,
        ["admin@talleres-levante.example", "ap@distribuciones-sur.example", "pagos@ferreteria-norte.example"]
    );
    // 000201 is Spanish: the action notice lists its two invoices (worked out in docs/dunning.md) and the total.
    let norte = got.iter().find(|r| r.to == "pagos@ferreteria-norte.example").expect("000201's notice");
    assert_eq!(norte.envelope_to, ["pagos@ferreteria-norte.example"]);
    assert_eq!(norte.from, "\"Cobro Demo S.L.\" <cobros@example.com>");
    assert_eq!(norte.subject, "Último aviso antes de acciones: 765.00 EUR con 90 días de retraso");
    for line in [
        "Factura | Emisión | Vencimiento | Días de retraso | Importe pendiente",
        "INV-4021 | 2024-09-17 | 2024-10-02 | 90 | 310.00 EUR",
        "INV-4030 | 2024-11-15 | 2024-11-30 | 31 | 455.00 EUR",
        "Total EUR: 765.00",
        "ES91 2100 0418 4502 0005 1332",
    ] {
        assert!(norte.body.contains(line), "missing {line:?} in\n{}", norte.body);
    }
    // The store has the same Message-ID the server received.
    let stored = messages(dir);
    let m = stored.iter().find(|m| field(m, "recipient") == "pagos@ferreteria-norte.example").expect("stored");
    assert_eq!((field(m, "state"), field(m, "rfc_message_id")), ("sent", norte.message_id.as_str()));

    // 000203 is in Chicago and English: its notice goes at 09:00 there, not before.
    let early =
        dunning(dir, &["deliver", "--at", "2024-12-31T14:59:00Z", "--channel", "smtp", "--smtp-url", &sink.url()]);
    assert!(early.contains("0 sent"), "{early}");
    dunning(dir, &["deliver", "--at", "2024-12-31T15:00:00Z", "--channel", "smtp", "--smtp-url", &sink.url()]);
    let got = sink.received();
    let maple = got.iter().find(|r| r.to == "ap@maplehardware.example").expect("000203's notice");
    assert_eq!(maple.subject, "Final notice before action: 2307.50 USD overdue 91 days");
    assert!(maple.body.contains("Total USD: 2307.50"), "{}", maple.body);
    assert!(maple.body.starts_with("Dear Maple Hardware Inc.,"), "{}", maple.body);

    // Later runs the same day send nothing again.
    dunning(dir, &["run", "--at", "2024-12-31T16:00:00Z", "--channel", "smtp", "--smtp-url", &sink.url()]);
    let got = sink.received();
    assert_eq!(got.len(), 4);
    assert!(copies(&got).values().all(|n| *n == 1), "{:?}", copies(&got));
}

#[test]
fn two_dunning_runs_at_once_deliver_every_email_exactly_once() {
    let tmp = super::cases::ledger();
    let dir = tmp.path();
    let sink = Sink::start(0);
    let url = sink.url();
    super::twice_at_once(dir, &["dunning", "run", "--at", AT, "--channel", "smtp", "--smtp-url", &url]);
    let got = sink.received();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(copies(&got).values().all(|n| *n == 1), "{:?}", copies(&got));
    let stored = messages(dir);
    let sent: Vec<&serde_json::Value> =
        stored.iter().filter(|m| field(m, "state") == "sent" && field(m, "channel") == "email").collect();
    assert_eq!(sent.len(), 3);
    assert!(sent.iter().all(|m| field(m, "attempts") == "1"), "{sent:?}");
}

#[test]
fn a_worker_killed_between_send_and_record_repeats_at_most_that_one_email_with_the_same_message_id() {
    let tmp = super::cases::ledger();
    let dir = tmp.path();
    let sink = Sink::start(0);
    let url = sink.url();
    let killed = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(["dunning", "run", "--at", AT, "--channel", "smtp", "--smtp-url", &url])
        .env("COBRO_FAILPOINT", "delivery-after-send")
        .output()
        .expect("run");
    assert!(!killed.status.success(), "the failpoint stops the worker: {}", text(&killed));
    let first = sink.received();
    assert_eq!(first.len(), 1, "one email went out before the crash");
    let stranded =
        messages(dir).into_iter().find(|m| field(m, "state") == "sending").expect("one message left claimed");
    assert_eq!(field(&stranded, "rfc_message_id"), first[0].message_id);

    // Within the lease (300 s) another worker leaves the claimed message alone and sends the rest.
    dunning(dir, &["deliver", "--at", "2024-12-31T09:01:00Z", "--channel", "smtp", "--smtp-url", &url]);
    let got = sink.received();
    assert_eq!(got.len(), 3);
    assert!(copies(&got).values().all(|n| *n == 1));
    // After it, the claimed message goes again, under the Message-ID it first went with.
    dunning(dir, &["deliver", "--at", "2024-12-31T09:06:00Z", "--channel", "smtp", "--smtp-url", &url]);
    let got = sink.received();
    assert_eq!(got.len(), 4);
    let n = copies(&got);
    assert_eq!(n.len(), 3, "three distinct messages: {n:?}");
    assert_eq!(n.get(&first[0].message_id), Some(&2), "only the one in flight at the crash is repeated: {n:?}");
    assert!(
        messages(dir)
            .iter()
            .filter(|m| field(m, "channel") == "email")
            .all(|m| { field(m, "state") == "sent" || field(m, "recipient") == "ap@maplehardware.example" })
    );
}

#[test]
fn a_transient_smtp_failure_is_retried_after_the_backoff() {
    let tmp = super::cases::ledger();
    let dir = tmp.path();
    let sink = Sink::start(1);
    let url = sink.url();
    let out = dunning(dir, &["run", "--at", AT, "--channel", "smtp", "--smtp-url", &url]);
    assert!(out.contains("2 sent") && out.contains("1 to retry") && out.contains("451"), "{out}");
    // The first retry waits 60 s.
    let soon = dunning(dir, &["deliver", "--at", "2024-12-31T09:00:59Z", "--channel", "smtp", "--smtp-url", &url]);
    assert!(soon.contains("0 sent"), "{soon}");
    let later = dunning(dir, &["deliver", "--at", "2024-12-31T09:01:00Z", "--channel", "smtp", "--smtp-url", &url]);
    assert!(later.contains("1 sent"), "{later}");
    assert_eq!(sink.received().len(), 3);
    let retried = messages(dir).into_iter().filter(|m| field(m, "attempts") == "2").collect::<Vec<_>>();
    assert_eq!(retried.len(), 1);
    assert_eq!((field(&retried[0], "state"), field(&retried[0], "last_error")), ("sent", ""));
}

/// A real HTTP server on 127.0.0.1 that answers the first `fail` requests 503 and the rest 200, and keeps every
/// request (head and body).
/// Requests a test server received: (head, body).
type Requests = Arc<Mutex<Vec<(String, String)>>>;

fn webhook_server(fail: usize) -> (String, Requests) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hooks/sms", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let keep = seen.clone();
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(mut s) = stream else { continue };
            let mut r = BufReader::new(s.try_clone().expect("clone"));
            let mut head = String::new();
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0; len];
            let _ = r.read_exact(&mut body);
            keep.lock().expect("lock").push((head, String::from_utf8_lossy(&body).into_owned()));
            let status = if i < fail { "503 Service Unavailable" } else { "200 OK" };
            let _ = write!(s, "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, seen)
}

#[test]
fn the_webhook_channel_posts_signed_json_with_the_idempotency_key_and_retries_a_503() {
    use hmac::Mac;
    let tmp = super::cases::ledger();
    let dir = tmp.path();
    let (url, seen) = webhook_server(1);
    let run = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(["dunning", "run", "--at", AT, "--channel", "webhook", "--webhook-url", &url])
        .env("COBRO_WEBHOOK_SECRET", "s3cret")
        .env_remove("COBRO_FAILPOINT")
        .output()
        .expect("run");
    let out = ok(run);
    assert!(out.contains("2 sent") && out.contains("1 to retry") && out.contains("503"), "{out}");
    let retry = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(["dunning", "deliver", "--at", "2024-12-31T09:01:00Z", "--channel", "webhook", "--webhook-url", &url])
        .env("COBRO_WEBHOOK_SECRET", "s3cret")
        .output()
        .expect("deliver");
    assert!(ok(retry).contains("1 sent"));
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 4, "3 messages, one of them twice (503 then 200)");
    for (head, body) in &seen {
        let json: serde_json::Value = serde_json::from_str(body).expect("json body");
        let key = json["idempotency_key"].as_str().expect("key");
        assert!(
            head.to_ascii_lowercase().contains(&format!("idempotency-key: {}", key.to_ascii_lowercase())),
            "{head}"
        );
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").expect("key");
        mac.update(body.as_bytes());
        let want = format!("x-cobro-signature: sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert!(head.to_ascii_lowercase().contains(&want), "{head}");
        assert_eq!(json["recipient_role"], "customer");
        assert!(json["body"].as_str().is_some_and(|b| b.contains("Total")), "{json}");
    }
}

#[test]
fn a_bounce_holds_the_address_and_tasks_the_collector_and_a_pause_stops_the_customer() {
    let tmp = super::cases::ledger();
    let dir = tmp.path();
    dunning(dir, &["run", "--at", AT]);
    // The file channel wrote the emails as .eml files under the data directory.
    let eml = std::fs::read_dir(dir.join("outbox")).expect("outbox").count();
    assert_eq!(eml, 3);
    let norte =
        messages(dir).into_iter().find(|m| field(m, "customer_id") == "000201" && field(m, "channel") == "email");
    let norte = norte.expect("000201's email");
    let out =
        dunning(dir, &["bounce", field(&norte, "rfc_message_id"), "--reason", "550 5.1.1 user unknown", "--as", "ops"]);
    assert!(out.contains("pagos@ferreteria-norte.example is held") && out.contains("task"), "{out}");
    // Reported twice: nothing changes.
    let again = dunning(dir, &["bounce", field(&norte, "message_id"), "--reason", "550 5.1.1 user unknown"]);
    assert!(again.contains("already marked bounced"), "{again}");
    let tasks = ok(cobro(dir, &["case", "tasks", "--assignee", "COL01"]));
    assert!(tasks.contains("fix_contact"), "{tasks}");

    dunning(
        dir,
        &[
            "pause",
            "000202",
            "--until",
            "2025-01-15",
            "--reason",
            "CFO negotiating a payment plan",
            "--as",
            "cfo",
            "--at",
            AT,
        ],
    );
    // Two days later (the feed is still fresh): 000201's customer emails are held for the bounced address (the
    // D+7 reminder of DN-4902 the daily cap held back on the 31st); 000202 is paused.
    let plan: serde_json::Value = serde_json::from_str(&dunning(
        dir,
        &["plan", "--at", "2025-01-02T09:00:00Z", "--as-of", "2024-12-31", "--format", "json"],
    ))
    .expect("json");
    let reasons = |c: &str| super::dunning::reasons(&plan, "customer_id", c);
    let held = ["paused", "paid", "already_sent"];
    assert!(reasons("000202").iter().all(|r| held.contains(&r.as_str())), "{:?}", reasons("000202"));
    assert!(reasons("000202").contains(&"paused".to_owned()));
    let actions = plan["actions"].as_array().expect("actions");
    assert!(!actions.iter().any(|a| a["customer_id"] == "000202"), "paused: nothing at all for 000202");
    assert!(
        !actions.iter().any(|a| a["customer_id"] == "000201" && a["to"] == "customer"),
        "no customer email to a bounced address"
    );
    assert!(reasons("000201").contains(&"bounced_address".to_owned()), "{:?}", reasons("000201"));
    dunning(dir, &["resume", "000202"]);
    let show = ok(cobro(dir, &["case", "show", "000202", "--json"]));
    assert!(show.contains("dunning_paused") && show.contains("dunning_resumed"), "{show}");
}

#[test]
fn with_approval_required_only_an_approved_plan_runs_and_not_by_whoever_planned_it() {
    let tmp = super::cases::ledger();
    let dir = tmp.path();
    let wf = dir.join("workflow.toml");
    let base = std::fs::read_to_string(repo().join("data/strategies/workflow.toml")).expect("workflow.toml");
    std::fs::write(&wf, base.replace("approval_required = false", "approval_required = true")).expect("write");
    let w = wf.display().to_string();
    let refused = cobro(dir, &["--workflow", &w, "dunning", "run", "--at", AT]);
    assert!(!refused.status.success() && text(&refused).contains("approval_required"), "{}", text(&refused));
    let saved = ok(cobro(dir, &["--workflow", &w, "dunning", "plan", "--at", AT, "--save", "--as", "alice"]));
    assert!(saved.contains("Saved for approval as PLAN-1"), "{saved}");
    let own = cobro(dir, &["--workflow", &w, "dunning", "approve", "PLAN-1", "--as", "alice"]);
    assert!(!own.status.success() && text(&own).contains("four eyes"), "{}", text(&own));
    let unapproved = cobro(dir, &["--workflow", &w, "dunning", "run", "--plan", "PLAN-1", "--at", AT]);
    assert!(!unapproved.status.success() && text(&unapproved).contains("pending"), "{}", text(&unapproved));
    ok(cobro(dir, &["--workflow", &w, "dunning", "approve", "PLAN-1", "--as", "bob"]));
    let run = ok(cobro(dir, &["--workflow", &w, "dunning", "run", "--plan", "PLAN-1", "--at", AT]));
    assert!(run.contains("6 message(s) queued, 5 task(s) created"), "{run}");
    assert_eq!(messages(dir).len(), 6);
}
