-- API access (DESIGN §7). A token is shown once, when it is created; only its SHA-256 is kept, so a copy of the
-- store does not give anyone access. A collector token sees that collector's portfolio, a department token the
-- disputes routed to that department.
CREATE TABLE api_tokens (
    token_id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'cfo', 'analyst', 'collector', 'department')),
    collector_id TEXT,
    department TEXT,
    label TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at TEXT
);

-- Installation secrets made on first use (the key that signs customer portal links).
CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
