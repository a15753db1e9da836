-- Resumable uploads (tus). The bytes live in the blob store as a multipart upload; what is not yet
-- a whole part waits in a "pending" blob whose key changes with every acknowledged PATCH, so that a
-- crash between storing parts and recording the new offset never loses acknowledged data.
CREATE TABLE uploads (
    id            TEXT PRIMARY KEY,
    project_id    INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    bucket        TEXT NOT NULL,
    created_by    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    length        INTEGER,
    upload_offset INTEGER NOT NULL,
    metadata      TEXT NOT NULL,
    part_size     INTEGER NOT NULL,
    multipart_id  TEXT,
    parts         TEXT NOT NULL,
    pending_key   TEXT,
    pending_size  INTEGER NOT NULL,
    blob_key      TEXT NOT NULL,
    completed     INTEGER NOT NULL DEFAULT 0,
    created_ms    INTEGER NOT NULL,
    expires_ms    INTEGER NOT NULL
);
CREATE INDEX uploads_by_expiry ON uploads (completed, expires_ms);
