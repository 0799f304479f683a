-- The outbox worker (DESIGN §6): a queued message is claimed with a lease (state `sending`, lease_until), sent,
-- then marked `sent` in one statement. A worker that dies between the send and that statement leaves the lease to
-- run out; the next worker sends again under the same rfc_message_id, so a receiver can drop the copy. Failed
-- attempts wait until next_attempt_at (exponential backoff); last_error keeps what the server said.
ALTER TABLE messages ADD COLUMN rfc_message_id TEXT;
ALTER TABLE messages ADD COLUMN lease_until TEXT;
ALTER TABLE messages ADD COLUMN next_attempt_at TEXT;
ALTER TABLE messages ADD COLUMN last_error TEXT;
ALTER TABLE messages ADD COLUMN sent_at TEXT;
ALTER TABLE messages ADD COLUMN delivered_via TEXT;
ALTER TABLE messages ADD COLUMN bounced_at TEXT;
ALTER TABLE messages ADD COLUMN bounce_reason TEXT;
CREATE INDEX messages_due ON messages (state, send_after);

-- Addresses that bounced. Keyed on the address, not the customer: when the ERP sends a corrected address, the
-- customer is chased again without anyone clearing a flag.
CREATE TABLE contact_bounces (
    address TEXT PRIMARY KEY,
    customer_id TEXT,
    message_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    bounced_at TEXT NOT NULL
);

-- Customers whose automatic dunning a person paused (until a date, or until resumed), with why.
CREATE TABLE dunning_pauses (
    customer_id TEXT PRIMARY KEY,
    until_date TEXT,
    reason TEXT NOT NULL,
    actor TEXT NOT NULL,
    at TEXT NOT NULL
);

-- Saved plans waiting for approval (`dunning plan --save`, `dunning approve`, `dunning run --plan`). A plan is the
-- list of idempotency keys it would fire; the run fires only those that are still due when it runs.
CREATE TABLE dunning_plans (
    plan_id TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'executed')),
    as_of TEXT NOT NULL,
    planned_at TEXT NOT NULL,
    planned_by TEXT NOT NULL,
    decided_by TEXT,
    decided_at TEXT,
    action_keys TEXT NOT NULL,
    summary TEXT NOT NULL
);
