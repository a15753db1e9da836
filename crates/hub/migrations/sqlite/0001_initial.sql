-- Times are milliseconds since the Unix epoch; metadata is JSON text. The same names and columns
-- exist in migrations/postgres/0001_initial.sql.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    site_admin    INTEGER NOT NULL DEFAULT 0,
    created_ms    INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_ms   INTEGER NOT NULL,
    last_used_ms INTEGER,
    revoked_ms   INTEGER
);

CREATE TABLE projects (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    code       TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);

CREATE TABLE members (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    buckets    TEXT,
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX members_by_user ON members (user_id, project_id);

CREATE TABLE requests (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    bucket      TEXT NOT NULL,
    title       TEXT NOT NULL,
    state       TEXT NOT NULL,
    metadata    TEXT NOT NULL,
    reason      TEXT,
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL
);
CREATE INDEX requests_by_bucket ON requests (project_id, bucket, state, id);

CREATE TABLE assets (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    bucket      TEXT NOT NULL,
    name        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    state       TEXT NOT NULL,
    size        INTEGER NOT NULL,
    md5         TEXT,
    metadata    TEXT NOT NULL,
    request_id  INTEGER REFERENCES requests(id) ON DELETE SET NULL,
    created_by  INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL,
    UNIQUE (project_id, bucket, name, version)
);
-- Listing: every sort is keyset-paged on (key, id) within one bucket, optionally one state.
CREATE INDEX assets_by_name ON assets (project_id, bucket, name, id);
CREATE INDEX assets_by_state_name ON assets (project_id, bucket, state, name, id);
CREATE INDEX assets_by_updated ON assets (project_id, bucket, updated_ms, id);
CREATE INDEX assets_by_request ON assets (request_id);

CREATE TABLE history (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    asset_id   INTEGER REFERENCES assets(id) ON DELETE CASCADE,
    request_id INTEGER REFERENCES requests(id) ON DELETE CASCADE,
    user_id    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    action     TEXT NOT NULL,
    detail     TEXT NOT NULL,
    at_ms      INTEGER NOT NULL
);
CREATE INDEX history_by_asset ON history (asset_id, id);
CREATE INDEX history_by_request ON history (request_id, id);
