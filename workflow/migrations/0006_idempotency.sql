-- Requests made idempotent by an `Idempotency-Key` header (the ledger push): the first request with a key runs and
-- its response is kept; a retry with the same key and the same body gets that response again and changes nothing.
CREATE TABLE idempotency_keys (
    idem_key TEXT PRIMARY KEY,
    request_sha256 TEXT NOT NULL,
    status BIGINT,
    body TEXT,
    created_at TEXT NOT NULL
);
