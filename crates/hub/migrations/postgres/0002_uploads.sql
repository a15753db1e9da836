-- Resumable uploads (tus). The bytes live in the blob store as a multipart upload; what is not yet
-- a whole part waits in a "pending" blob whose key changes with every acknowledged PATCH, so that a
-- crash between storing parts and recording the new offset never loses acknowledged data.
CREATE TABLE uploads (
    id            TEXT PRIMARY KEY,
    project_id    BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    bucket        TEXT NOT NULL,
    created_by    BIGINT REFERENCES users(id) ON DELETE SET NULL,
    length        BIGINT,
    upload_offset BIGINT NOT NULL,
    metadata      TEXT NOT NULL,
    part_size     BIGINT NOT NULL,
    multipart_id  TEXT,
    parts         TEXT NOT NULL,
    pending_key   TEXT,
    pending_size  BIGINT NOT NULL,
    blob_key      TEXT NOT NULL,
    completed     BOOLEAN NOT NULL DEFAULT FALSE,
    created_ms    BIGINT NOT NULL,
    expires_ms    BIGINT NOT NULL
);
CREATE INDEX uploads_by_expiry ON uploads (completed, expires_ms);
