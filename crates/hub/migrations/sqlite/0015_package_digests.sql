-- What validation read of a package's files, as one value per package: 21 bytes per file in the
-- package's order (seq, name), a byte saying whether the file was read, its md5 (16 bytes) and its
-- CRC-32 (4 bytes, big-endian). Written once per validation in place of a row update per file
-- (250,000 updates took 0.7 s on SQLite and 4-6 s on PostgreSQL); the md5 and crc32 columns of
-- package_members keep what validations before this recorded.
CREATE TABLE package_digests (
    asset_id INTEGER PRIMARY KEY REFERENCES assets(id) ON DELETE CASCADE,
    digests  BLOB NOT NULL
);
