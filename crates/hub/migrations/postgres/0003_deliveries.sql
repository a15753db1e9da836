-- Deliveries: a batch of files into one bucket, created first, uploaded, then delivered at once.
ALTER TABLE assets ADD COLUMN blob_key TEXT;

CREATE TABLE deliveries (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id   BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    bucket       TEXT NOT NULL,
    created_by   BIGINT REFERENCES users(id) ON DELETE SET NULL,
    state        TEXT NOT NULL,
    created_ms   BIGINT NOT NULL,
    delivered_ms BIGINT
);

CREATE TABLE delivery_files (
    delivery_id  BIGINT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    asset_id     BIGINT NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
    upload_id    TEXT NOT NULL,
    PRIMARY KEY (delivery_id, asset_id)
);
