//! The web UI in a real browser: Debian's headless Chromium driven through ChromeDriver (both installed by
//! ci/install.sh), against `cobro serve` as its own process. Each journey is a user's: log in, click, read what
//! the page says, and check it against the API. Screenshots of every main page go to
//! `$CARGO_TARGET_TMPDIR/ui-screenshots/`.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use super::api::{World, world};
use super::{cobro, ok};

/// ChromeDriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Self {
        let bin = std::env::var("COBRO_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".to_owned());
        assert!(
            Path::new(&bin).exists(),
            "{bin} is missing: the browser tests need Debian's chromium and chromium-driver (`bash ci/install.sh` \
             installs them; COBRO_CHROMEDRIVER names another chromedriver)"
        );
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let child = Command::new(&bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "chromedriver did not listen on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { child, url: format!("http://127.0.0.1:{port}") }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn shots_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

/// A browser session on the server, with the steps the journeys are made of.
struct Browser {
    c: Client,
    base: String,
    downloads: PathBuf,
}

impl Browser {
    async fn open(driver: &Driver, base: &str, downloads: &Path) -> Self {
        let chromium = std::env::var("COBRO_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
        let caps = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                         "--disable-background-networking", "--disable-extensions", "--no-first-run",
                         "--window-size=1280,900", "--lang=en-US"],
                "prefs": {"download.default_directory": downloads.display().to_string(),
                          "download.prompt_for_download": false}
            }
        });
        let Value::Object(caps) = caps else { unreachable!("an object") };
        let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .expect("a Chromium session");
        Self { c, base: base.to_owned(), downloads: downloads.to_owned() }
    }

    async fn go(&self, path: &str) {
        self.c.goto(&format!("{}{path}", self.base)).await.expect("goto");
    }

    async fn find(&self, css: &str) -> Element {
        match self.c.wait().at_most(Duration::from_secs(20)).for_element(Locator::Css(css)).await {
            Ok(e) => e,
            Err(e) => {
                let body = self.c.source().await.unwrap_or_default();
                panic!("no `{css}` on {}: {e}\n{body}", self.path().await)
            }
        }
    }

    async fn all(&self, css: &str) -> Vec<Element> {
        self.c.find_all(Locator::Css(css)).await.expect("find_all")
    }

    async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("text")
    }

    /// Waits until `check` of one element's text holds: for text a script fills in after an answer arrives (an
    /// error under a form, say), which is on the page, empty, before then. The page may be between two documents
    /// (a reload): an element not there yet is not an answer, so it looks again.
    async fn text_until(&self, css: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let text = self.text_now(css).await.unwrap_or_default();
            if check(&text) {
                return text;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "timed out waiting for {what}; `{css}` says: {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// The text of `css` as the page is now; `None` when it is not there or went away while being read (a reload
    /// in between).
    async fn text_now(&self, css: &str) -> Option<String> {
        self.c.find(Locator::Css(css)).await.ok()?.text().await.ok()
    }

    async fn path(&self) -> String {
        let url = self.c.current_url().await.expect("url");
        format!("{}{}", url.path(), url.query().map(|q| format!("?{q}")).unwrap_or_default())
    }

    /// Waits until `check` of the page's text holds (after a reload, say).
    async fn until(&self, what: &str, check: impl Fn(&str) -> bool) -> String {
        self.text_until("body", what, check).await
    }

    /// Waits for the confirmation (the toast, which shows after a reload too) to contain `text`.
    async fn toast(&self, text: &str) {
        let started = Instant::now();
        loop {
            let t = self.c.execute("return document.getElementById('toast').textContent", vec![]).await.expect("toast");
            if t.as_str().is_some_and(|t| t.contains(text)) {
                return;
            }
            if started.elapsed() > Duration::from_secs(30) {
                self.shot("failed").await;
                let errors = self
                    .c
                    .execute(
                        "return [...document.querySelectorAll('.error')].map(e => e.textContent).join(' | ')",
                        vec![],
                    )
                    .await
                    .unwrap_or_default();
                panic!("no confirmation `{text}` (toast: {t}); errors on the page: {errors}");
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    async fn set(&self, css: &str, value: &str) {
        // Date inputs take their value through the DOM: typing into them depends on the browser's locale.
        self.c
            .execute(
                "const e = document.querySelector(arguments[0]); e.value = arguments[1];",
                vec![json!(css), json!(value)],
            )
            .await
            .expect("set value");
    }

    async fn login(&self, token: &str) {
        self.logout().await;
        self.go("/login").await;
        self.find("#token").await.send_keys(token).await.expect("type token");
        self.find("form[action='/login'] button[type=submit]").await.click().await.expect("log in");
        self.find("header .who").await;
    }

    async fn logout(&self) {
        self.c.delete_all_cookies().await.expect("cookies");
    }

    async fn shot(&self, name: &str) {
        let png = self.c.screenshot().await.expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(shots_dir().join(format!("{name}.png")), png).expect("write screenshot");
    }

    /// Waits for a file whose name ends with `suffix` in the download directory; returns its bytes.
    async fn downloaded(&self, suffix: &str) -> Vec<u8> {
        let started = Instant::now();
        loop {
            let found = std::fs::read_dir(&self.downloads)
                .expect("downloads")
                .flatten()
                .map(|e| e.path())
                .find(|p| p.to_string_lossy().ends_with(suffix));
            if let Some(p) = found {
                return std::fs::read(p).expect("read download");
            }
            assert!(started.elapsed() < Duration::from_secs(30), "no *{suffix} downloaded");
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }
}

/// The queue's rows as (customer id, rank).
async fn queue_ranks(b: &Browser) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for row in b.all("#queue tbody tr[data-customer]").await {
        let id = row.attr("data-customer").await.expect("attr").unwrap_or_default();
        let rank = row.find(Locator::Css("td")).await.expect("td").text().await.expect("text");
        out.push((id, rank.trim().parse().expect("a rank")));
    }
    out
}

/// A GET of the API with a bearer token (on a thread of its own: the blocking client may not run on the
/// browser's async runtime).
fn api_json(w: &World, path: &str, token: &str) -> Value {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let r = w.server.http.get(format!("{}{path}", w.server.base)).bearer_auth(token).send().expect("GET");
                assert!(r.status().is_success(), "{path}: {}", r.status());
                r.json().expect("json")
            })
            .join()
            .expect("the API call")
    })
}

#[test]
fn a_collector_a_department_a_customer_a_cfo_and_an_admin_use_the_web_ui_in_chromium() {
    let w = world();
    // Collectors work on today's snapshot: what they record today counts in it (a snapshot of an earlier date
    // shows the ledger and the records as they were on that date).
    let today = cobro_domain::clock::Clock::now(&cobro_domain::clock::SystemClock).date_naive().to_string();
    ok(cobro(w._tmp.path(), &["snapshot", "--as-of", &today]));
    let driver = Driver::start();
    let downloads = tempfile::tempdir().expect("downloads");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let b = Browser::open(&driver, &w.server.base, downloads.path()).await;
        collector_records_a_promise_and_the_queue_reranks(&b, &w).await;
        department_resolves_its_dispute(&b, &w).await;
        customer_reports_a_payment_in_the_portal(&b, &w).await;
        cfo_opens_the_dashboard_and_downloads_the_report(&b, &w).await;
        admin_builds_a_snapshot_saves_a_plan_and_queries(&b, &w).await;
        b.c.close().await.expect("close");
    });
    println!("screenshots in {}", shots_dir().display());
}

async fn collector_records_a_promise_and_the_queue_reranks(b: &Browser, w: &World) {
    // Not logged in: the login page, and back to the queue after.
    b.go("/ui/queue").await;
    assert!(b.path().await.starts_with("/login?next="), "{}", b.path().await);
    b.shot("01-login").await;
    b.find("#token").await.send_keys("cobro_not_a_token").await.expect("type");
    b.find("form[action='/login'] button[type=submit]").await.click().await.expect("submit");
    assert_eq!(b.text("#login-error").await, "unknown or revoked token");

    b.login(&w.col01).await;
    assert_eq!(b.path().await, "/ui/queue", "a collector starts on the queue");
    let before = queue_ranks(b).await;
    assert!(!before.is_empty(), "COL01 has customers to chase");
    // Only COL01's customers, in rank order (the API says the same).
    let api = api_json(w, "/api/v1/work-queue", &w.col01);
    let api_ranks: Vec<(String, u32)> = api
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (r["customer_id"].as_str().unwrap_or_default().to_owned(), r["queue_rank"].as_u64().unwrap_or(0) as u32)
        })
        .collect();
    assert_eq!(before, api_ranks);
    b.shot("02-queue").await;

    // One click on the top customer's "Promise" opens the promise form with its past-due invoices ticked.
    let (top, top_rank) = before[0].clone();
    b.find(&format!("tr[data-customer='{top}'] button[data-outcome='promise_to_pay']"))
        .await
        .click()
        .await
        .expect("click");
    b.find("#outcome-dialog[open] .docs input[name=documents]").await;
    assert_eq!(b.find("#outcome").await.prop("value").await.expect("prop").as_deref(), Some("promise_to_pay"));
    assert!(b.find("fieldset[data-for='dispute']").await.attr("hidden").await.expect("attr").is_some());
    let ticked = b.all("#outcome-dialog .docs input[name=documents]:checked").await;
    assert!(!ticked.is_empty(), "the past-due invoices are ticked");
    // A promise is for a day after the call (today, by the real clock).
    let promised = (cobro_domain::clock::Clock::now(&cobro_domain::clock::SystemClock).date_naive()
        + chrono::Days::new(10))
    .to_string();
    b.set("#promised_date", &promised).await;
    b.find("#note").await.send_keys("will pay on the 20th").await.expect("note");
    b.shot("03-outcome-form").await;
    b.find("#outcome-dialog button[type=submit]").await.click().await.expect("record");

    // The page reloads with the queue re-ranked: the promised balance is no longer to chase.
    b.toast(&format!("Recorded for {top}")).await;
    let after = queue_ranks(b).await;
    let new_rank = after.iter().find(|(c, _)| *c == top).map(|(_, r)| *r);
    assert!(new_rank.is_none_or(|r| r > top_rank), "{top} moves down from {top_rank}: {after:?}");
    assert_ne!(after[0].0, top, "someone else is on top now");
    let holds = b.text(&format!("tr[data-customer='{top}'] .holds")).await;
    assert!(holds.contains("promise"), "{holds}");
    b.shot("04-queue-after-promise").await;

    // The account card shows the promise on the timeline.
    b.go(&format!("/ui/customers/{top}")).await;
    let card = b.until("the card", |t| t.contains("Timeline")).await;
    assert!(card.contains("will pay on the 20th") && card.contains("promise"), "{card}");
    b.shot("05-account-card").await;
    // With the keyboard alone: Enter on an outcome button opens its form with focus inside; Escape closes it.
    b.c.execute("document.querySelector('.actions button[data-outcome=\"no_commitment\"]').focus()", vec![])
        .await
        .expect("focus");
    b.c.active_element().await.expect("focused").send_keys(&Key::Enter.to_string()).await.expect("enter");
    b.find("#outcome-dialog[open]").await;
    let focused = b.c.active_element().await.expect("focused").attr("id").await.expect("attr");
    assert_eq!(focused.as_deref(), Some("follow_up_days"), "focus moves to the chosen outcome's first field");
    b.c.active_element().await.expect("focused").send_keys(&Key::Escape.to_string()).await.expect("escape");
    assert!(b.all("#outcome-dialog[open]").await.is_empty(), "Escape closes the form");

    // A collector reaches neither the dashboard nor another portfolio's customer.
    b.go("/ui/dashboard").await;
    assert_eq!(b.find("#problem").await.attr("data-code").await.expect("attr").as_deref(), Some("forbidden"));
    b.go("/ui/customers/000203").await;
    assert_eq!(b.find("#problem").await.attr("data-code").await.expect("attr").as_deref(), Some("not_found"));
    // The session cookie does not let another site's page make changes: without the UI's header, 403.
    let r: Value =
        b.c.execute_async(
            "const done = arguments[0]; fetch('/api/v1/outcomes', {method: 'POST', credentials: 'same-origin', \
             headers: {'content-type': 'application/json'}, body: '{}'}).then(r => r.json()).then(done);",
            vec![],
        )
        .await
        .expect("fetch");
    assert_eq!(r["code"], "csrf", "{r}");
}

async fn department_resolves_its_dispute(b: &Browser, w: &World) {
    // Accounting has no disputes; logistics has DSP-1.
    b.login(&w.accounting).await;
    assert_eq!(b.path().await, "/ui/disputes");
    assert!(b.all("article.card").await.is_empty(), "accounting sees no logistics dispute");
    b.login(&w.logistics).await;
    assert_eq!(b.path().await, "/ui/disputes");
    let card = b.text("#dispute-DSP-1-INV-4030").await;
    assert!(card.contains("Delivery") || card.contains("delivery"), "{card}");
    b.shot("06-disputes-board").await;
    // First the response the customer is owed, then the resolution.
    b.find("#fr-DSP-1-INV-4030").await.send_keys("checking the delivery note").await.expect("answer");
    b.find("#dispute-DSP-1-INV-4030 form.respond button[type=submit]").await.click().await.expect("respond");
    b.toast("DSP-1 answered").await;
    assert!(b.text("#dispute-DSP-1-INV-4030").await.contains("(answered "), "the first response is shown");
    assert!(b.all("#fr-DSP-1-INV-4030").await.is_empty(), "once only");
    b.find("#res-DSP-1-INV-4030").await.select_by_value("credit_note").await.expect("select");
    b.find("#rn-DSP-1-INV-4030").await.send_keys("credit note CN-9 issued").await.expect("note");
    b.find("#dispute-DSP-1-INV-4030 form:not(.respond) button[type=submit]").await.click().await.expect("resolve");
    b.toast("DSP-1 resolved").await;
    assert!(b.all("#dispute-DSP-1-INV-4030").await.is_empty(), "no longer open");
    let all = api_json(w, "/api/v1/disputes?all=true", &w.admin);
    let d = all.as_array().expect("rows").iter().find(|d| d["dispute_id"] == "DSP-1").expect("DSP-1").clone();
    assert_eq!(d["resolution"], "credit_note", "{d}");
    // A department reaches neither the queue nor the dunning page.
    b.go("/ui/queue").await;
    assert_eq!(b.find("#problem").await.attr("data-code").await.expect("attr").as_deref(), Some("forbidden"));
}

async fn customer_reports_a_payment_in_the_portal(b: &Browser, w: &World) {
    b.logout().await;
    let dir = w._tmp.path();
    let link = ok(cobro(dir, &["portal", "link", "000201", "--base-url", &w.server.base])).trim().to_owned();
    assert!(link.contains("/portal?customer=000201"), "{link}");
    b.c.goto(&link).await.expect("portal");
    let page = b.until("the statement", |t| t.contains("Statement")).await;
    assert!(page.contains("Ferretería Norte") && page.contains("INV-4021"), "{page}");
    assert!(!page.contains("Distribuciones Sur"), "nothing of another customer");
    b.shot("07-portal").await;
    b.find("#pay-form input[value='INV-4021']").await.click().await.expect("tick");
    b.set("#pay-date", "2024-12-30").await;
    b.find("#pay-ref").await.send_keys("TRF-2024-991").await.expect("ref");
    b.find("#pay-form button[type=submit]").await.click().await.expect("report");
    b.toast("we will look for your payment").await;
    let row = b.text("#statement tbody tr:first-child").await;
    assert!(row.contains("INV-4021") && row.contains("you told us it is paid"), "{row}");
    let card = api_json(w, "/api/v1/customers/000201", &w.admin);
    let reports = card["records"]["payment_reports"].as_array().expect("reports");
    assert!(reports.iter().any(|r| r["reference"] == "TRF-2024-991" && r["document_id"] == "INV-4021"), "{reports:?}");
    // A message to the collector.
    b.find("#msg-text").await.send_keys("Could you send INV-4030 again?").await.expect("type");
    b.find("#message-form button[type=submit]").await.click().await.expect("send");
    b.until("the thread", |t| t.contains("from you") && t.contains("Could you send INV-4030 again?")).await;
    // Another customer's page is out of reach with this link.
    b.c.goto(&link.replace("customer=000201", "customer=000202")).await.expect("goto");
    assert_eq!(b.find("#problem").await.attr("data-code").await.expect("attr").as_deref(), Some("portal_link_invalid"));
    b.shot("08-portal-other-customer").await;
}

async fn cfo_opens_the_dashboard_and_downloads_the_report(b: &Browser, w: &World) {
    b.login(&w.cfo).await;
    assert_eq!(b.path().await, "/ui/dashboard");
    // Every KPI tile shows the value the API's metrics give.
    let metrics = api_json(w, "/api/v1/metrics", &w.cfo);
    let mut checked = 0;
    for m in metrics.as_array().expect("rows") {
        let id = m["metric"].as_str().expect("metric");
        let tile = b.text(&format!("#kpi-{id} .v")).await;
        match &m["value"] {
            Value::Null => assert_eq!(tile, "n/a", "{id}"),
            v => {
                let want: f64 = v.as_f64().expect("a number");
                let shown: f64 = tile.split_whitespace().next().and_then(|t| t.parse().ok()).expect("a figure");
                assert!((want - shown).abs() < 1e-9, "{id}: tile {tile}, API {v}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 5, "{checked} tiles with figures");
    assert!(b.all("article.report figure svg").await.len() >= 4, "the charts are drawn");
    b.shot("09-dashboard").await;
    b.find("#download-xlsx").await.click().await.expect("excel");
    let xlsx = b.downloaded(".xlsx").await;
    assert!(xlsx.starts_with(b"PK"), "an xlsx is a zip");
    b.find("#download-html").await.click().await.expect("html");
    let html = String::from_utf8(b.downloaded(".html").await).expect("utf-8");
    assert!(html.contains("Receivables report") && !html.contains("<script"), "self-contained");
    // A CFO may preview the dunning plan but not run it.
    b.go("/ui/dunning").await;
    b.find("#plan-summary").await;
}

async fn admin_builds_a_snapshot_saves_a_plan_and_queries(b: &Browser, w: &World) {
    b.login(&w.admin).await;
    // The snapshot build shows its steps, then offers the new version.
    b.go("/ui/dashboard").await;
    b.find("details.panel summary").await.click().await.expect("open");
    b.set("#build-date", "2024-12-31").await;
    b.find("#build button[type=submit]").await.click().await.expect("build");
    let done = b.find("#build-done").await;
    let stage = b.text("#build .stage").await;
    assert!(stage.contains("snapshot 2024-12-31 version 2"), "{stage}");
    assert_eq!(b.find("#build progress").await.attr("value").await.expect("attr").as_deref(), Some("6"));
    b.shot("10-snapshot-built").await;
    done.click().await.expect("show it");
    b.find("article.report").await;

    // Dunning: the admin saves the plan; the CFO approves it (four eyes), not the admin.
    b.go("/ui/dunning?as_of=2024-12-31&at=2024-12-31T09:00:00Z").await;
    let summary = b.text("#plan-summary").await;
    assert!(!summary.contains("Nothing to send"), "{summary}");
    b.find("form[data-api='/api/v1/dunning/plans'] button[type=submit]").await.click().await.expect("save");
    b.toast("saved: someone else approves it").await;
    let row = b.text("#plans tbody tr").await;
    assert!(row.contains("pending") && row.contains("Waiting for someone else"), "{row}");
    b.shot("11-dunning").await;
    b.login(&w.cfo).await;
    b.go("/ui/dunning").await;
    b.find("#plans tbody tr form button[type=submit]").await.click().await.expect("approve");
    b.toast("approved").await;
    assert!(b.text("#plans tbody tr").await.contains("approved"));

    // The SQL console: a query's rows, a refused statement, and the CSV.
    b.login(&w.analyst).await;
    b.go("/ui/sql").await;
    let sql = b.find("#sql").await;
    sql.clear().await.expect("clear");
    sql.send_keys("SELECT bucket, currency, balance FROM ageing ORDER BY bucket_order, currency").await.expect("type");
    b.find("#sql-form button[type=submit]").await.click().await.expect("run");
    let meta = b.until("the result", |t| t.contains(" rows in ") || t.contains(" row in ")).await;
    let cells = b.all("#sql-result tbody tr").await.len();
    assert!(cells > 0, "{meta}");
    b.shot("12-sql").await;
    b.find("#sql-csv").await.click().await.expect("csv");
    let csv = String::from_utf8(b.downloaded("cobro-query.csv").await).expect("utf-8");
    assert!(csv.starts_with("bucket,currency,balance"), "{csv}");
    assert_eq!(csv.lines().count(), cells + 1, "{csv}");
    sql.clear().await.expect("clear");
    sql.send_keys("DROP TABLE ageing").await.expect("type");
    b.find("#sql-form button[type=submit]").await.click().await.expect("run");
    // The error paragraph is on the page (empty) before the answer comes: wait for its text.
    b.text_until("#sql-form .error", "the refusal", |t| t.contains("only queries run here")).await;

    // On a phone: the queue still reads and its buttons still work.
    b.login(&w.col02).await;
    b.c.set_window_size(390, 844).await.expect("phone size");
    b.go("/ui/queue").await;
    b.find("#queue").await;
    b.shot("13-queue-phone").await;
    b.c.set_window_size(1280, 900).await.expect("laptop size");
}
