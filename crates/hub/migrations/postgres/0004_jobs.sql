-- Background jobs (validation), claimed by workers with heartbeats; and validation results.
CREATE TABLE jobs (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         TEXT NOT NULL,
    asset_id     BIGINT NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
    state        TEXT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    run_after_ms BIGINT NOT NULL,
    worker       TEXT,
    heartbeat_ms BIGINT,
    last_error   TEXT,
    created_ms   BIGINT NOT NULL
);
CREATE INDEX jobs_ready ON jobs (state, run_after_ms, id);

CREATE TABLE validation_results (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    asset_id   BIGINT NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
    check_name TEXT NOT NULL,
    passed     BOOLEAN NOT NULL,
    detail     TEXT NOT NULL,
    files      TEXT NOT NULL,
    at_ms      BIGINT NOT NULL
);
CREATE INDEX validation_by_asset ON validation_results (asset_id, id);
