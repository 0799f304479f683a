//! Long actions run as jobs: the request that starts one returns at once (202, with the job's address), and the
//! caller polls the job for its step and, at the end, its result or its problem. The web UI draws a progress bar
//! from it. Jobs live in the server's memory; the last 100 finished ones are kept.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use cobro_domain::clock::{Clock, SystemClock};
use cobro_workflow::access::Role;
use serde::Serialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::actions::SnapshotRequest;
use crate::auth::Caller;
use crate::problem::ApiError;
use crate::routes::Body;

/// Finished jobs kept for polling.
const KEEP: usize = 100;

/// One job as the caller sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    /// `job-<n>`.
    pub id: String,
    /// What it does (`snapshot`).
    pub kind: &'static str,
    /// `running`, `succeeded` or `failed`.
    pub state: &'static str,
    /// The current step, from 1 (0 before the first).
    pub step: u32,
    /// Steps in all.
    pub steps: u32,
    /// What the current step does.
    pub stage: String,
    /// Who started it.
    pub started_by: String,
    /// When.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Milliseconds from start to end (or to now, while running).
    pub elapsed_ms: i64,
    /// What it made, once succeeded.
    pub result: Option<Value>,
    /// Its problem document, once failed.
    pub error: Option<Value>,
}

/// The server's jobs.
#[derive(Default)]
pub struct Jobs {
    next: AtomicU64,
    all: Mutex<BTreeMap<u64, Job>>,
}

impl Jobs {
    fn start(&self, kind: &'static str, steps: u32, by: String) -> (u64, Job) {
        let n = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let job = Job {
            id: format!("job-{n}"),
            kind,
            state: "running",
            step: 0,
            steps,
            stage: "starting".to_owned(),
            started_by: by,
            started_at: SystemClock.now(),
            finished_at: None,
            elapsed_ms: 0,
            result: None,
            error: None,
        };
        if let Ok(mut all) = self.all.lock() {
            // Forget the oldest finished jobs beyond KEEP.
            let finished: Vec<u64> = all.iter().filter(|(_, j)| j.state != "running").map(|(k, _)| *k).collect();
            for k in finished.iter().take(finished.len().saturating_sub(KEEP)) {
                all.remove(k);
            }
            all.insert(n, job.clone());
        }
        (n, job)
    }

    fn update(&self, n: u64, f: impl FnOnce(&mut Job)) {
        if let Ok(mut all) = self.all.lock()
            && let Some(j) = all.get_mut(&n)
        {
            f(j);
        }
    }

    fn finish(&self, n: u64, outcome: Result<Value, ApiError>) {
        self.update(n, |j| {
            j.finished_at = Some(SystemClock.now());
            match outcome {
                Ok(v) => {
                    j.state = "succeeded";
                    j.result = Some(v);
                }
                Err(e) => {
                    j.state = "failed";
                    j.error = serde_json::to_value(e.document()).ok();
                }
            }
        });
    }

    /// A job by its id, with its elapsed time now.
    pub fn get(&self, id: &str) -> Option<Job> {
        let n: u64 = id.strip_prefix("job-")?.parse().ok()?;
        let mut j = self.all.lock().ok()?.get(&n)?.clone();
        j.elapsed_ms = (j.finished_at.unwrap_or_else(|| SystemClock.now()) - j.started_at).num_milliseconds();
        Some(j)
    }
}

/// Builds a snapshot as a job: 202 at once, with `Location: /api/v1/jobs/{id}`; poll it for the steps and the
/// result (the same as `POST /api/v1/snapshots` returns).
#[utoipa::path(post, path = "/api/v1/jobs/snapshot", tag = "snapshots", request_body = SnapshotRequest, security(("bearer" = [])),
    responses((status = 202, description = "the job, running; poll its Location"), (status = 403, body = crate::problem::Problem)))]
pub async fn snapshot_job(
    State(s): State<Arc<AppState>>,
    caller: Caller,
    Body(req): Body<SnapshotRequest>,
) -> Result<Response, ApiError> {
    let who = caller.require(&[Role::Admin], "build snapshots")?;
    let (n, job) = s.jobs.start("snapshot", cobro_pipeline::snapshot::STEP_COUNT, crate::routes::actor_of(who));
    let state = s.clone();
    tokio::spawn(async move {
        let jobs = state.clone();
        let progress: cobro_pipeline::snapshot::Progress = Arc::new(move |step, steps, what: &str| {
            jobs.jobs.update(n, |j| {
                j.step = step;
                j.steps = steps;
                what.clone_into(&mut j.stage);
            });
        });
        let outcome = crate::actions::snapshot(&state, req.as_of, Some(progress)).await;
        state.sessions.bump();
        state.jobs.finish(n, outcome);
    });
    let mut r = (StatusCode::ACCEPTED, axum::Json(json!(job))).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/jobs/{}", job.id)) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

/// A job: its state, step and, when it has ended, its result or problem.
#[utoipa::path(get, path = "/api/v1/jobs/{id}", tag = "snapshots", params(("id" = String, Path)), security(("bearer" = [])),
    responses((status = 200, description = "the job"), (status = 404, body = crate::problem::Problem)))]
pub async fn job(State(s): State<Arc<AppState>>, caller: Caller, Path(id): Path<String>) -> Result<Response, ApiError> {
    caller.require(&[Role::Admin], "follow jobs")?;
    match s.jobs.get(&id) {
        Some(j) => Ok(axum::Json(j).into_response()),
        None => Err(ApiError::not_found(format!("no job `{id}` (jobs are kept in memory until the server stops)"))),
    }
}
