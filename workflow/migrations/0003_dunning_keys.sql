-- The dunning executor's ledger of step keys (DOC|STEP|ANCHOR|RECIPIENT:TEMPLATE): a key is recorded once, when
-- its action is queued (`fired`) or when catch-up passes over it (`superseded`). The primary key is what makes a
-- strategy step fire at most once, however many runs there are and however many run at once.
CREATE TABLE dunning_keys (
    step_key TEXT PRIMARY KEY,
    state TEXT NOT NULL CHECK (state IN ('fired', 'superseded')),
    idempotency_key TEXT,
    run_at TEXT NOT NULL
);

-- When a queued message may go out (UTC) and the customer's local date it counts against the daily cap; empty for
-- messages that go at once.
ALTER TABLE messages ADD COLUMN send_after TEXT;
ALTER TABLE messages ADD COLUMN send_date TEXT;
