-- Zipless packages: a frame folder (with its checksum.txt) delivered as one asset. Each member file
-- is uploaded on its own (a tus upload per file) under the package's key prefix.
ALTER TABLE assets ADD COLUMN package_files INTEGER;
CREATE TABLE package_members (
    asset_id  INTEGER NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
    name      TEXT NOT NULL,
    size      INTEGER NOT NULL,
    upload_id TEXT,
    complete  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (asset_id, name)
);
CREATE INDEX package_members_upload ON package_members (upload_id);
CREATE INDEX package_members_open ON package_members (asset_id, complete, name);
