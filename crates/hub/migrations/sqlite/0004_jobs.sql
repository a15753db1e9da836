-- Background jobs (validation), claimed by workers with heartbeats; and validation results.
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,
    asset_id     INTEGER NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    run_after_ms INTEGER NOT NULL,
    worker       TEXT,
    heartbeat_ms INTEGER,
    last_error   TEXT,
    created_ms   INTEGER NOT NULL
);
CREATE INDEX jobs_ready ON jobs (state, run_after_ms, id);

CREATE TABLE validation_results (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    asset_id   INTEGER NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
    check_name TEXT NOT NULL,
    passed     INTEGER NOT NULL,
    detail     TEXT NOT NULL,
    files      TEXT NOT NULL,
    at_ms      INTEGER NOT NULL
);
CREATE INDEX validation_by_asset ON validation_results (asset_id, id);
