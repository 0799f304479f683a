//! Snapshots on a real S3-compatible server: moto in server mode (`tests/support/s3_server.py`, installed by
//! ci/install.sh) on 127.0.0.1. `cobro --data-dir s3://bucket/prefix` publishes manifest-last and reads through
//! DataFusion's object store; the answers equal a local data directory's. A build killed before its manifest
//! publishes nothing, two builds at once get two versions, and a bad URL gets a clear error.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use super::{BIN, fixture_snapshots, ok, repo, text};

const BUCKET: &str = "cobro-test";

/// A real S3-compatible server with one empty bucket, stopped when dropped.
struct S3 {
    child: Child,
    port: u16,
}

impl S3 {
    fn start() -> Self {
        let mut child = Command::new("python3")
            .arg(repo().join("tests/support/s3_server.py"))
            .arg(BUCKET)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs (ci/install.sh installs moto[server])");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("the server says its port");
        let port = line.trim().strip_prefix("PORT ").and_then(|p| p.parse().ok()).unwrap_or_else(|| {
            panic!("the S3 server did not start (is moto[server] installed? run ci/install.sh): {line:?}")
        });
        Self { child, port }
    }

    /// `cobro --data-dir s3://cobro-test/<prefix> --work-dir WORK ARGS`, with this server's settings.
    fn command(&self, prefix: &str, work: &Path, args: &[&str]) -> Command {
        self.command_at(&format!("s3://{BUCKET}/{prefix}"), work, args)
    }

    /// `cobro --data-dir DATA_DIR --work-dir WORK ARGS`, with this server's settings.
    fn command_at(&self, data_dir: &str, work: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(["--data-dir", data_dir, "--work-dir"])
            .arg(work)
            .args(args)
            .env_remove("COBRO_FAILPOINT")
            .env("AWS_ENDPOINT", format!("http://127.0.0.1:{}", self.port))
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1");
        c
    }

    fn cobro(&self, prefix: &str, work: &Path, args: &[&str]) -> Output {
        self.command(prefix, work, args).output().expect("cobro runs")
    }

    fn import(&self, prefix: &str, work: &Path, fixture: &str) {
        let dir = repo().join("data/fixtures").join(fixture);
        let files: Vec<String> = ["customers", "documents", "payments", "allocations", "fx_rates"]
            .iter()
            .map(|t| dir.join(format!("{t}.csv")).display().to_string())
            .collect();
        let m = super::mapping("cobro-canonical.toml");
        let mut args = vec!["import", "--mapping", &m];
        args.extend(files.iter().map(String::as_str));
        ok(self.cobro(prefix, work, &args));
    }

    /// The keys under `prefix`, straight from the server (ListObjectsV2), sorted.
    fn keys(&self, prefix: &str) -> Vec<String> {
        let url = format!("http://127.0.0.1:{}/{BUCKET}?list-type=2&prefix={prefix}", self.port);
        let body = reqwest::blocking::get(url).and_then(|r| r.text()).expect("list objects");
        let mut keys: Vec<String> =
            body.split("<Key>").skip(1).filter_map(|s| s.split_once("</Key>").map(|(k, _)| k.to_owned())).collect();
        keys.sort();
        keys
    }

    /// Runs `code` in Python with `s3` (a boto3 client of this server), `bucket` and `args` (the rest of `args`)
    /// defined, and returns what it printed. For what the server refuses unsigned (reading, writing or deleting an
    /// object), as a tool other than cobro would do it.
    fn boto(&self, code: &str, args: &[&str]) -> String {
        let script = format!(
            "import sys, boto3\ns3 = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='test', \
             aws_secret_access_key='test', region_name='us-east-1')\nbucket = sys.argv[2]\nargs = sys.argv[3:]\n{code}"
        );
        let o = Command::new("python3")
            .args(["-c", &script, &format!("http://127.0.0.1:{}", self.port), BUCKET])
            .args(args)
            .output()
            .expect("python3 runs");
        assert!(o.status.success(), "{code} {args:?}: {}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// An object's text.
    fn get(&self, key: &str) -> String {
        self.boto("print(s3.get_object(Bucket=bucket, Key=args[0])['Body'].read().decode(), end='')", &[key])
    }

    /// Replaces (or creates) an object with a local file's bytes.
    fn put(&self, key: &str, file: &Path) {
        self.boto(
            "s3.put_object(Bucket=bucket, Key=args[0], Body=open(args[1], 'rb').read())",
            &[key, &file.display().to_string()],
        );
    }

    /// Deletes objects.
    fn delete(&self, keys: &[String]) {
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        self.boto("for k in args: s3.delete_object(Bucket=bucket, Key=k)", &keys);
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn names(keys: &[String], dir: &str) -> Vec<String> {
    keys.iter().filter_map(|k| k.strip_prefix(dir)).map(str::to_owned).collect()
}

#[test]
fn a_snapshot_published_to_s3_answers_like_the_same_snapshot_on_disk() {
    let s3 = S3::start();
    let work = tempfile::tempdir().expect("tempdir");
    s3.import("acme", work.path(), "metrics");
    let built = ok(s3.cobro("acme", work.path(), &["snapshot", "--as-of", "2024-12-31"]));
    let url = format!("s3://{BUCKET}/acme/snapshots/as_of=2024-12-31/v=1");
    let dir = "acme/snapshots/as_of=2024-12-31/v=1/";
    assert!(built.starts_with(&format!("snapshot as of 2024-12-31 version 1 written to {url}\n")), "{built}");

    // What is in the bucket: the claim, the manifest and the 15 tables, and nothing else anywhere.
    let keys = s3.keys("acme/");
    let files = names(&keys, dir);
    assert_eq!(files.len(), keys.len(), "only v=1 was written: {keys:?}");
    assert_eq!(files.len(), 17, "{files:?}");
    for f in ["_claim.json", "manifest.json", "documents.parquet", "open_items.parquet", "promises.parquet"] {
        assert!(files.iter().any(|n| n == f), "{f} missing: {files:?}");
    }
    // The staged ledger stays in the work directory, and the local build directory is removed after the upload.
    assert!(work.path().join("staging/documents.parquet").is_file());
    assert!(!work.path().join("snapshots").exists(), "nothing is published locally");
    let left: Vec<_> = std::fs::read_dir(work.path().join(".snapshot-build")).expect("build dir").collect();
    assert!(left.is_empty(), "the local copy is removed once uploaded: {left:?}");

    // The same inputs on disk give the same data files, byte for byte (same sha256 in both manifests).
    let local = fixture_snapshots("metrics", &["2024-12-31"]);
    let on_disk: serde_json::Value = serde_json::from_slice(
        &std::fs::read(local.path().join("snapshots/as_of=2024-12-31/v=1/manifest.json")).expect("manifest"),
    )
    .expect("json");
    let in_s3: serde_json::Value = serde_json::from_str(&s3.get(&format!("{dir}manifest.json"))).expect("json");
    assert_eq!(in_s3["files"], on_disk["files"], "the data files differ between S3 and disk");
    assert_eq!(in_s3["version"], 1);
    assert_eq!(in_s3["control_totals"], on_disk["control_totals"]);

    // Every KPI and a checked query read the same from S3 as from disk: straight from the store, and from the
    // checked local copy (the default).
    let kpis = ["metrics", "--as-of", "2024-12-31", "--format", "json"];
    let from_s3 = ok(s3.command("acme", work.path(), &kpis).env("COBRO_SNAPSHOT_CACHE", "off").output().expect("runs"));
    assert!(!work.path().join("snapshot-cache").exists(), "off means no copy");
    assert_eq!(from_s3, ok(super::cobro(local.path(), &kpis)));
    assert_eq!(from_s3, ok(s3.cobro("acme", work.path(), &kpis)));
    assert!(work.path().join("snapshot-cache").join(BUCKET).join(dir).join("manifest.json").is_file());
    assert!(from_s3.contains("\"dso\""), "{from_s3}");
    let q =
        ["sql", "--format", "csv", "SELECT COUNT(*) AS n, SUM(amount) AS total FROM documents WHERE kind = 'invoice'"];
    let rows = ok(s3.cobro("acme", work.path(), &q));
    assert_eq!(rows, ok(super::cobro(local.path(), &q)));
    assert!(rows.lines().nth(1).is_some_and(|l| !l.starts_with("0,")), "{rows}");

    // The listing says where each snapshot is.
    let list = ok(s3.cobro("acme", work.path(), &["snapshot", "--list"]));
    assert!(list.starts_with("2024-12-31  v=1 ") && list.trim_end().ends_with(&url), "{list}");

    // The server reads the bucket too: the API's snapshot list and SQL, and psql over the wire protocol.
    let analyst = ok(s3.cobro("acme", work.path(), &["token", "create", "--role", "analyst", "--label", "bi"]));
    let analyst = analyst.lines().last().expect("token line").trim().to_owned();
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a port").port();
    let pgwire = format!("127.0.0.1:{port}");
    let mut server = Killed(
        s3.command("acme", work.path(), &["serve", "--listen", "127.0.0.1:0", "--pgwire", &pgwire])
            .stdout(Stdio::piped())
            .spawn()
            .expect("cobro serve"),
    );
    let mut stdout = BufReader::new(server.0.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("the server says where");
    let base = line.split_whitespace().find(|w| w.starts_with("http://")).expect("address").to_owned();
    let http = reqwest::blocking::Client::new();
    let listed: serde_json::Value =
        http.get(format!("{base}/api/v1/snapshots")).bearer_auth(&analyst).send().and_then(|r| r.json()).expect("list");
    assert_eq!(listed, serde_json::json!([{ "as_of": "2024-12-31", "version": 1 }]));
    let counted: serde_json::Value = http
        .post(format!("{base}/api/v1/sql"))
        .bearer_auth(&analyst)
        .json(&serde_json::json!({ "sql": "SELECT COUNT(*) AS n FROM open_items" }))
        .send()
        .and_then(|r| r.json())
        .expect("sql");
    let n = super::sql_rows(local.path(), "2024-12-31", "SELECT COUNT(*) FROM open_items")[0][0].clone();
    assert_eq!(counted[0]["n"].to_string(), n, "{counted}");
    let psql = super::api::psql(port, &analyst, &["SELECT COUNT(*) FROM open_items"]);
    assert_eq!(String::from_utf8_lossy(&psql.stdout).trim(), n, "{}", text(&psql));
}

/// Runs two of `command` at once and waits for both.
fn both_at_once(mut command: impl FnMut() -> Command) -> [Output; 2] {
    let mut spawn = || command().stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    let (a, b) = (spawn(), spawn());
    [a.wait_with_output().expect("the first"), b.wait_with_output().expect("the second")]
}

/// A child process killed when dropped, also when the test fails (it would hold the test's output open).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_build_killed_before_its_manifest_publishes_nothing_and_two_builds_at_once_get_two_versions() {
    let s3 = S3::start();
    let work = tempfile::tempdir().expect("tempdir");
    let (prefix, date) = ("crash", "crash/snapshots/as_of=2024-06-30/");
    s3.import(prefix, work.path(), "open-items");
    ok(s3.cobro(prefix, work.path(), &["snapshot", "--as-of", "2024-06-30"]));

    // Killed after the data files went up, before the manifest: v=2 is claimed and holds data, but is not a
    // snapshot. Readers keep reading v=1.
    let o = s3
        .command(prefix, work.path(), &["snapshot", "--as-of", "2024-06-30"])
        .env("COBRO_FAILPOINT", "snapshot-before-manifest")
        .output()
        .expect("runs");
    assert!(!o.status.success(), "the simulated crash must kill the process: {}", text(&o));
    let v2 = names(&s3.keys(&format!("{date}v=2/")), &format!("{date}v=2/"));
    assert!(v2.contains(&"_claim.json".to_owned()) && v2.contains(&"open_items.parquet".to_owned()), "{v2:?}");
    assert!(!v2.contains(&"manifest.json".to_owned()), "{v2:?}");
    let list = ok(s3.cobro(prefix, work.path(), &["snapshot", "--list"]));
    assert_eq!(list.lines().count(), 1, "{list}");
    assert!(list.contains("v=1"), "{list}");
    let n = ok(s3.cobro(prefix, work.path(), &["sql", "--format", "csv", "SELECT COUNT(*) AS n FROM open_items"]));
    assert_eq!(n, "n\n14\n");

    // Killed before anything went up: nothing changes in the bucket.
    let before = s3.keys(prefix);
    let o = s3
        .command(prefix, work.path(), &["snapshot", "--as-of", "2024-06-30"])
        .env("COBRO_FAILPOINT", "snapshot-before-publish")
        .output()
        .expect("runs");
    assert!(!o.status.success());
    assert_eq!(s3.keys(prefix), before);

    // The next build skips the claimed version.
    let built = ok(s3.cobro(prefix, work.path(), &["snapshot", "--as-of", "2024-06-30"]));
    assert!(built.contains("version 3 written to"), "{built}");

    // Two builds at once claim different versions; both publish whole snapshots.
    let mut versions = Vec::new();
    for o in both_at_once(|| s3.command(prefix, work.path(), &["snapshot", "--as-of", "2024-06-30"])) {
        let out = ok(o);
        versions.push(out.split("version ").nth(1).and_then(|r| r.split(' ').next()).unwrap_or("").to_owned());
    }
    versions.sort();
    assert_eq!(versions, ["4", "5"]);
    for v in ["4", "5"] {
        let m: serde_json::Value =
            serde_json::from_str(&s3.get(&format!("{date}v={v}/manifest.json"))).expect("manifest");
        assert_eq!(m["version"].to_string(), v);
        assert_eq!(m["files"]["open_items"]["rows"], 14);
        let files = names(&s3.keys(&format!("{date}v={v}/")), &format!("{date}v={v}/"));
        assert_eq!(files.len(), 17, "v={v}: {files:?}");
    }
    let list = ok(s3.cobro(prefix, work.path(), &["snapshot", "--list"]));
    let listed: Vec<&str> = list.lines().filter_map(|l| l.split_whitespace().nth(1)).collect();
    assert_eq!(listed, ["v=1", "v=3", "v=4", "v=5"], "{list}");

    // The local copies: v=1 (read above) and v=5 (read now). Only the latest of the date is kept by a prune.
    let n = ok(s3.cobro(prefix, work.path(), &["sql", "--format", "csv", "SELECT COUNT(*) AS n FROM open_items"]));
    assert_eq!(n, "n\n14\n");
    let copies = work.path().join("snapshot-cache").join(BUCKET).join(date);
    assert!(copies.join("v=1/manifest.json").is_file() && copies.join("v=5/manifest.json").is_file());
    let pruned = ok(s3.cobro(prefix, work.path(), &["snapshot", "--prune-cache"]));
    assert!(pruned.starts_with(&format!("removed {}", copies.join("v=1").display())), "{pruned}");
    assert_eq!(pruned.lines().count(), 1, "{pruned}");
    assert!(!copies.join("v=1").exists() && copies.join("v=5/manifest.json").is_file());
    let again = ok(s3.cobro(prefix, work.path(), &["snapshot", "--prune-cache"]));
    assert!(again.starts_with("no local copies to remove"), "{again}");
    let o = s3
        .command(prefix, work.path(), &["snapshot", "--prune-cache"])
        .env("COBRO_SNAPSHOT_CACHE", "off")
        .output()
        .expect("runs");
    assert!(!o.status.success() && text(&o).contains("no snapshot cache to prune"), "{}", text(&o));

    // The unfinished v=2 is pruned once its build is surely over, and nothing published is touched.
    let v2 = format!("s3://{BUCKET}/{date}v=2");
    let kept = ok(s3.cobro(prefix, work.path(), &["snapshot", "--prune-unfinished"]));
    assert!(kept.starts_with(&format!("kept {v2}  16 objects")) && kept.contains("may still be uploading"), "{kept}");
    assert_eq!(names(&s3.keys(&format!("{date}v=2/")), &format!("{date}v=2/")).len(), 16, "kept whole");
    let pruned = ok(s3.cobro(prefix, work.path(), &["snapshot", "--prune-unfinished", "--grace-minutes", "0"]));
    assert!(pruned.starts_with(&format!("removed {v2}  16 objects")), "{pruned}");
    assert!(s3.keys(&format!("{date}v=2/")).is_empty());
    assert_eq!(ok(s3.cobro(prefix, work.path(), &["snapshot", "--list"])), list);
    let again = ok(s3.cobro(prefix, work.path(), &["snapshot", "--prune-unfinished", "--grace-minutes", "0"]));
    assert_eq!(again, format!("no unfinished versions in s3://{BUCKET}/{prefix}/snapshots\n"));
}

#[test]
fn the_demo_on_a_bucket_says_how_to_reach_it_again() {
    let s3 = S3::start();
    let work = tempfile::tempdir().expect("tempdir");
    let out = ok(s3.cobro("demo", work.path(), &["demo", "--no-serve"]));
    let again = format!("cobro --data-dir s3://{BUCKET}/demo --work-dir {} metrics --as-of", work.path().display());
    assert!(out.contains(&again), "{out}");
    assert!(s3.keys("demo/snapshots/").iter().any(|k| k.ends_with("/manifest.json")), "the snapshot is in the bucket");
}

#[test]
fn a_data_dir_url_cobro_cannot_use_gets_an_error_that_says_what_to_do() {
    let s3 = S3::start();
    let work = tempfile::tempdir().expect("tempdir");
    let run = |data_dir: &str| {
        let o = s3.command_at(data_dir, work.path(), &["sql", "SELECT 1"]).output().expect("runs");
        assert!(!o.status.success(), "{data_dir}: {}", text(&o));
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let e = run("gs://bucket/acme");
    assert!(e.contains("only S3-compatible object stores are supported: use s3://bucket/prefix"), "{e}");
    let e = run("s3:///acme");
    assert!(e.contains("names no bucket"), "{e}");
    let e = run("s3://no-such-bucket/acme");
    assert!(e.contains("s3://no-such-bucket/acme/snapshots"), "{e}");
    // An empty prefix of an existing bucket: no snapshot yet, and how to build one.
    let e = run(&format!("s3://{BUCKET}/empty"));
    assert!(
        e.contains(&format!("no snapshot in s3://{BUCKET}/empty/snapshots: build one with `cobro snapshot")),
        "{e}"
    );
}

#[test]
fn a_snapshot_in_s3_is_read_from_a_checked_local_copy_that_follows_the_bucket() {
    let s3 = S3::start();
    let work = tempfile::tempdir().expect("tempdir");
    let (prefix, dir) = ("copy", "copy/snapshots/as_of=2024-06-30/v=1/");
    s3.import(prefix, work.path(), "open-items");
    ok(s3.cobro(prefix, work.path(), &["snapshot", "--as-of", "2024-06-30"]));
    let count = ["sql", "--format", "csv", "SELECT COUNT(*) AS n FROM open_items"];
    assert_eq!(ok(s3.cobro(prefix, work.path(), &count)), "n\n14\n");

    // The copy: the manifest as the bucket has it, and every data file with the manifest's sha256.
    let copy = work.path().join("snapshot-cache").join(BUCKET).join(dir);
    let manifest = s3.get(&format!("{dir}manifest.json"));
    assert_eq!(std::fs::read_to_string(copy.join("manifest.json")).expect("copied manifest"), manifest);
    let listed: serde_json::Value = serde_json::from_str(&manifest).expect("json");
    let files = listed["files"].as_object().expect("files");
    let mut copied: Vec<String> = std::fs::read_dir(&copy)
        .expect("copy")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into())
        .collect();
    copied.sort();
    let mut expected: Vec<String> =
        files.keys().map(|t| format!("{t}.parquet")).chain(["manifest.json".into()]).collect();
    expected.sort();
    assert_eq!(copied, expected, "exactly the manifest's files, nothing half-written");
    for (table, f) in files {
        let bytes = std::fs::read(copy.join(format!("{table}.parquet"))).expect("copied file");
        assert_eq!(
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
            f["sha256"].as_str().expect("sha"),
            "{table}"
        );
    }

    // Queries read the copy: with the documents gone from the bucket, they still answer; read straight from the
    // store they cannot, and the error names the table.
    let documents = ["sql", "--format", "csv", "SELECT COUNT(*) AS n, SUM(amount) AS total FROM documents"];
    let before = ok(s3.cobro(prefix, work.path(), &documents));
    assert!(before.starts_with("n,total\n") && !before.contains("\n0,"), "{before}");
    s3.delete(&[format!("{dir}documents.parquet")]);
    assert_eq!(ok(s3.cobro(prefix, work.path(), &documents)), before);
    let o = s3.command(prefix, work.path(), &documents).env("COBRO_SNAPSHOT_CACHE", "off").output().expect("runs");
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("table 'cobro.snapshot.documents' not found"), "{}", text(&o));

    // A file changed behind the manifest's back is refused on copying, naming it, and no copy is left to read.
    s3.put(&format!("{dir}documents.parquet"), &work.path().join("staging/customers.parquet"));
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let o =
        s3.command(prefix, work.path(), &count).env("COBRO_SNAPSHOT_CACHE", elsewhere.path()).output().expect("runs");
    assert!(!o.status.success(), "{}", text(&o));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains(&format!("s3://{BUCKET}/{dir}documents.parquet is not the file the snapshot's manifest lists")),
        "{e}"
    );
    let fresh = elsewhere.path().join(BUCKET).join(dir);
    assert!(!fresh.join("manifest.json").exists(), "an unchecked copy is never complete");
    let parts = std::fs::read_dir(&fresh)
        .expect("dir")
        .filter(|e| e.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".part")));
    assert_eq!(parts.count(), 0, "no temporary file is left behind");

    // The bucket emptied and the date rebuilt from another ledger: v=1 again, with another manifest. The copy
    // follows it instead of answering from the old one.
    s3.delete(&s3.keys(prefix));
    s3.import(prefix, work.path(), "metrics");
    ok(s3.cobro(prefix, work.path(), &["snapshot", "--as-of", "2024-06-30"]));
    let on_disk = fixture_snapshots("metrics", &["2024-06-30"]);
    let n = ok(super::cobro(on_disk.path(), &count));
    assert_ne!(n, "n\n14\n");
    assert_eq!(ok(s3.cobro(prefix, work.path(), &count)), n);
    assert_eq!(
        std::fs::read_to_string(copy.join("manifest.json")).expect("manifest"),
        s3.get(&format!("{dir}manifest.json"))
    );

    // Two processes copying the same snapshot at once both answer, and leave one whole copy.
    let shared = tempfile::tempdir().expect("tempdir");
    let mut copying = || {
        let mut c = s3.command(prefix, work.path(), &count);
        c.env("COBRO_SNAPSHOT_CACHE", shared.path());
        c
    };
    for o in both_at_once(&mut copying) {
        assert_eq!(ok(o), n);
    }
    let whole = shared.path().join(BUCKET).join(dir);
    let mut left: Vec<String> = std::fs::read_dir(&whole)
        .expect("copy")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into())
        .collect();
    left.sort();
    assert_eq!(left, expected, "one whole copy, no temporary files");
}
