// cobro's web UI: the few things a server-rendered page cannot do alone. Forms marked data-api post their
// fields as JSON to the API (with the session cookie and the header that proves the page is ours), outcome
// buttons open the outcome form, a snapshot build shows its progress, and the SQL console draws its result.
"use strict";

const UI_HEADERS = { "x-requested-with": "cobro-ui" };

function say(text, bad) {
  const t = document.getElementById("toast");
  if (!t) return;
  t.textContent = text;
  t.className = bad ? "bad show" : "show";
  clearTimeout(say.timer);
  say.timer = setTimeout(() => { t.className = ""; }, 6000);
}

async function problemText(r) {
  try {
    const p = await r.json();
    return p.detail || p.title || `${r.status} ${r.statusText}`;
  } catch (_) {
    return `${r.status} ${r.statusText}`;
  }
}

async function api(method, url, body, accept) {
  const headers = Object.assign({ accept: accept || "application/json" }, UI_HEADERS);
  if (body !== undefined) headers["content-type"] = "application/json";
  const r = await fetch(url, { method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body) });
  if (!r.ok) throw new Error(await problemText(r));
  return r;
}

// A form's fields as a JSON object: empty fields are left out, data-array fields are lists (of the ticked
// boxes), data-type="int" and data-type="bool" fields are numbers and booleans.
function formJson(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled || el.closest("fieldset:disabled")) continue;
    if (el.type === "submit" || el.type === "button") continue;
    if ("array" in el.dataset) {
      if (!(el.name in out)) out[el.name] = [];
      if ((el.type !== "checkbox" && el.type !== "radio") || el.checked) out[el.name].push(el.value);
      continue;
    }
    if ((el.type === "checkbox" || el.type === "radio") && !el.checked) continue;
    let v = el.value;
    if (v === "") continue;
    if (el.dataset.type === "int") v = parseInt(v, 10);
    if (el.dataset.type === "bool") v = v === "true";
    out[el.name] = v;
  }
  return out;
}

function showError(form, text) {
  const e = form.querySelector(".error");
  if (e) {
    e.textContent = text;
    if (e.tabIndex >= 0) e.focus();
  } else {
    say(text, true);
  }
}

document.addEventListener("submit", async (ev) => {
  const form = ev.target;
  if (form.dataset.api) {
    ev.preventDefault();
    showError(form, "");
    const button = form.querySelector("[type=submit]");
    if (button) button.disabled = true;
    try {
      const sent = formJson(form);
      const r = await api(form.dataset.method || "POST", form.dataset.api, sent);
      const result = r.status === 204 ? {} : await r.json().catch(() => ({}));
      // {name} in data-done: the answer's field, else the form's.
      const done = (form.dataset.done || "Saved").replace(/\{(\w+)\}/g, (_, k) => String(result[k] ?? sent[k] ?? ""));
      if (form.dataset.then === "reload") {
        sessionStorage.setItem("cobro-toast", done);
        location.reload();
      } else {
        say(done);
      }
    } catch (e) {
      showError(form, e.message);
    } finally {
      if (button) button.disabled = false;
    }
  } else if (form.dataset.job) {
    ev.preventDefault();
    runJob(form);
  } else if (form.id === "sql-form") {
    ev.preventDefault();
    runSql(form);
  }
});

// The outcome buttons: open the form with that outcome chosen and the customer's invoices listed.
function showOutcome(form) {
  for (const fs of form.querySelectorAll("fieldset[data-for]")) {
    const on = fs.dataset.for === form.elements.outcome.value;
    fs.hidden = !on;
    fs.disabled = !on;
  }
}

document.addEventListener("click", async (ev) => {
  const close = ev.target.closest("[data-close]");
  if (close) {
    close.closest("dialog").close();
    return;
  }
  const example = ev.target.closest("[data-sql]");
  if (example) {
    document.getElementById("sql").value = example.dataset.sql;
    return;
  }
  if (ev.target.id === "sql-csv") {
    downloadCsv(document.getElementById("sql-form"));
    return;
  }
  const b = ev.target.closest("[data-outcome]");
  if (!b) return;
  const dialog = document.getElementById("outcome-dialog");
  const form = dialog.querySelector("form");
  form.reset();
  showError(form, "");
  form.elements.customer_id.value = b.dataset.customer;
  form.elements.outcome.value = b.dataset.outcome;
  showOutcome(form);
  dialog.querySelector(".who").textContent = `${b.dataset.name} (${b.dataset.customer})`;
  const docs = dialog.querySelector(".docs");
  docs.textContent = "Loading invoices…";
  dialog.showModal();
  const first = form.querySelector(`fieldset[data-for="${b.dataset.outcome}"] input, fieldset[data-for="${b.dataset.outcome}"] select`);
  (first || form.elements.outcome).focus();
  const r = await fetch(`/ui/customers/${encodeURIComponent(b.dataset.customer)}/documents`, { credentials: "same-origin" });
  // The fragment is rendered (and escaped) by the server.
  docs.innerHTML = r.ok ? await r.text() : "The invoices could not be loaded.";
});

document.addEventListener("change", (ev) => {
  if (ev.target.name === "outcome" && ev.target.form) showOutcome(ev.target.form);
});

// A snapshot build: start the job, then follow it step by step.
async function runJob(form) {
  const box = form.querySelector(".progress");
  const bar = box.querySelector("progress");
  const stage = box.querySelector(".stage");
  const button = form.querySelector("[type=submit]");
  showError(form, "");
  button.disabled = true;
  box.hidden = false;
  bar.removeAttribute("value");
  stage.textContent = "Starting…";
  try {
    let job = await (await api("POST", form.dataset.job, formJson(form))).json();
    while (job.state === "running") {
      bar.max = job.steps;
      if (job.step > 0) bar.value = job.step;
      stage.textContent = `Step ${job.step} of ${job.steps}: ${job.stage} (${(job.elapsed_ms / 1000).toFixed(1)} s)`;
      await new Promise((ok) => setTimeout(ok, 400));
      job = await (await api("GET", `/api/v1/jobs/${encodeURIComponent(job.id)}`)).json();
    }
    if (job.state === "succeeded") {
      bar.value = bar.max;
      const r = job.result;
      stage.innerHTML = "";
      stage.append(`Done in ${(job.elapsed_ms / 1000).toFixed(1)} s: snapshot ${r.as_of} version ${r.version}. `);
      const a = document.createElement("a");
      a.href = `/ui/dashboard?as_of=${encodeURIComponent(r.as_of)}`;
      a.textContent = "Show it";
      a.id = "build-done";
      stage.append(a);
    } else {
      stage.textContent = "Failed.";
      showError(form, job.error ? job.error.detail : "the build failed");
    }
  } catch (e) {
    stage.textContent = "";
    showError(form, e.message);
  } finally {
    button.disabled = false;
  }
}

// The SQL console.
async function runSql(form) {
  const meta = document.getElementById("sql-meta");
  const table = document.getElementById("sql-result");
  showError(form, "");
  meta.textContent = "Running…";
  table.replaceChildren();
  const started = performance.now();
  try {
    const r = await api("POST", "/api/v1/sql", formJson(form));
    const rows = await r.json();
    const cut = r.headers.get("cobro-truncated");
    const ms = Math.round(performance.now() - started);
    meta.textContent = `${rows.length} row${rows.length === 1 ? "" : "s"} in ${ms} ms${cut ? ` (cut at ${cut}; download the CSV or narrow the query for all)` : ""}`;
    if (!rows.length) return;
    const cols = Object.keys(rows[0]);
    const head = table.createTHead().insertRow();
    for (const c of cols) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = c;
      head.append(th);
    }
    const body = table.createTBody();
    for (const row of rows) {
      const tr = body.insertRow();
      for (const c of cols) {
        const td = tr.insertCell();
        const v = row[c];
        td.textContent = v === null ? "" : String(v);
        if (typeof v === "number") td.className = "n";
      }
    }
  } catch (e) {
    meta.textContent = "";
    showError(form, e.message);
  }
}

async function downloadCsv(form) {
  showError(form, "");
  try {
    const r = await api("POST", "/api/v1/sql", formJson(form), "text/csv");
    const url = URL.createObjectURL(await r.blob());
    const a = document.createElement("a");
    a.href = url;
    a.download = "cobro-query.csv";
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (e) {
    showError(form, e.message);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const t = sessionStorage.getItem("cobro-toast");
  if (t) {
    sessionStorage.removeItem("cobro-toast");
    say(t);
  }
});
