-- cobro's operational store: the collection records cobro is the source of truth for (DESIGN §2.2).
-- Portable SQL: the same file runs on SQLite (embedded default) and PostgreSQL. Dates are ISO text
-- (YYYY-MM-DD), instants RFC 3339 UTC text, money exact decimal text: no float ever holds an amount.

-- Named counters for ids and the event order, bumped inside the writing transaction.
CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    next_value BIGINT NOT NULL
);

-- One row per document that has ever been touched by the workflow: its live collection status. The primary key
-- makes "a document in two statuses" impossible; `version` makes concurrent writers conflict instead of
-- overwriting each other.
CREATE TABLE invoice_cases (
    document_id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('normal', 'promise', 'payment_reported', 'dispute')),
    case_ref TEXT,
    version BIGINT NOT NULL,
    updated_at TEXT NOT NULL,
    updated_by TEXT NOT NULL
);
CREATE INDEX invoice_cases_customer ON invoice_cases (customer_id);

-- The event log: every change, with who, when, before and after. Written in the same transaction as the change.
CREATE TABLE events (
    event_id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL UNIQUE,
    customer_id TEXT NOT NULL,
    document_id TEXT,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    at TEXT NOT NULL,
    on_date TEXT NOT NULL,
    before_status TEXT,
    after_status TEXT,
    ref_id TEXT,
    outcome_id TEXT,
    currency TEXT,
    amount TEXT,
    delay_reason TEXT,
    note TEXT
);
CREATE INDEX events_customer ON events (customer_id, seq);
CREATE INDEX events_document ON events (document_id, seq);

CREATE TABLE promises (
    promise_id TEXT NOT NULL,
    document_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    collector_id TEXT,
    made_date TEXT NOT NULL,
    promised_date TEXT NOT NULL,
    grace_days BIGINT NOT NULL,
    currency TEXT NOT NULL,
    amount TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'kept', 'broken', 'superseded', 'cancelled')),
    closed_date TEXT,
    PRIMARY KEY (promise_id, document_id)
);
CREATE INDEX promises_pending ON promises (state, document_id);

CREATE TABLE payment_reports (
    report_id TEXT NOT NULL,
    document_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    collector_id TEXT,
    reported_date TEXT NOT NULL,
    paid_date TEXT,
    reference TEXT,
    state TEXT NOT NULL CHECK (state IN ('open', 'credited', 'reopened', 'superseded')),
    closed_date TEXT,
    PRIMARY KEY (report_id, document_id)
);

CREATE TABLE disputes (
    dispute_id TEXT NOT NULL,
    document_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    collector_id TEXT,
    dispute_type TEXT NOT NULL,
    department TEXT NOT NULL,
    owner TEXT,
    currency TEXT NOT NULL,
    amount TEXT NOT NULL,
    opened_date TEXT NOT NULL,
    deadline_date TEXT NOT NULL,
    response_due_date TEXT,
    first_response_date TEXT,
    escalated_date TEXT,
    resolved_date TEXT,
    resolution TEXT CHECK (resolution IS NULL OR resolution IN ('credit_note', 'corrected_invoice', 'rejected')),
    PRIMARY KEY (dispute_id, document_id)
);

CREATE TABLE tasks (
    task_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    document_ids TEXT,
    assignee_role TEXT NOT NULL,
    assignee TEXT,
    due_date TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'done', 'cancelled')),
    origin TEXT NOT NULL,
    origin_ref TEXT,
    created_date TEXT NOT NULL,
    closed_date TEXT,
    note TEXT
);
CREATE INDEX tasks_open ON tasks (state, assignee);

-- The outbox: messages to deliver. The unique idempotency key is what makes a reminder go out at most once.
CREATE TABLE messages (
    message_id TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL,
    recipient TEXT,
    recipient_role TEXT NOT NULL,
    template TEXT NOT NULL,
    customer_id TEXT,
    document_ids TEXT,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    created_date TEXT NOT NULL,
    origin_ref TEXT
);

-- Rows of an imported disputes or promises file that were refused, with where and why. Never dropped.
CREATE TABLE import_rejects (
    batch_id TEXT NOT NULL,
    file TEXT NOT NULL,
    line BIGINT NOT NULL,
    column_name TEXT,
    value TEXT,
    reason TEXT NOT NULL,
    at TEXT NOT NULL
);
