-- Every file of a validated package (a frame-sequence ZIP or a zipless package) as its latest
-- validation found it: one JSON array per package of [name, size, md5 or null, ok, result],
-- sorted by name, written once per validation (a ZIP's files have no rows of their own).
CREATE TABLE package_files (
    asset_id INTEGER PRIMARY KEY REFERENCES assets(id) ON DELETE CASCADE,
    files    TEXT NOT NULL
);
