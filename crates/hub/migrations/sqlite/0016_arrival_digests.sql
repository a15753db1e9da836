-- What the hub read of a package's files as their bytes arrived in a stream: per PATCH, the files
-- it carried whole from their first byte, as digest records (21 bytes a file, as in
-- package_digests) for files first.. (by seq). upto is where in the stream the last of them ends:
-- when a stream's offset goes back below it (the store held less than it had acknowledged, or
-- lost the upload), the row goes. The first validation of the package uses these in place of
-- reading the files back from the store and then deletes them; a revalidation reads every byte.
CREATE TABLE arrival_digests (
    asset_id  INTEGER NOT NULL REFERENCES assets(id) ON DELETE CASCADE,
    upload_id TEXT NOT NULL,
    first     INTEGER NOT NULL,
    upto      INTEGER NOT NULL,
    digests   BLOB NOT NULL
);
CREATE INDEX arrival_digests_asset ON arrival_digests (asset_id);
CREATE INDEX arrival_digests_upload ON arrival_digests (upload_id);
