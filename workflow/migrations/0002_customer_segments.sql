-- The last segment the daily tick saw for each customer, so that a change of segment is recorded as an event
-- (DESIGN §5: "A segment change is an event").
CREATE TABLE customer_segments (
    customer_id TEXT PRIMARY KEY,
    segment TEXT NOT NULL,
    overlays TEXT NOT NULL,
    effective_segment TEXT NOT NULL,
    since_date TEXT NOT NULL,
    reasons TEXT
);
