-- The reaper asks, for each finished upload past its time, whether a delivery uses it.
CREATE INDEX delivery_files_by_upload ON delivery_files (upload_id);
