-- A project may ask for proxies without fast start to be remuxed (moov first) instead of refused;
-- the asset then keeps its original bytes under original_blob_key.
ALTER TABLE projects ADD COLUMN fast_start_remux INTEGER NOT NULL DEFAULT 0;
ALTER TABLE assets ADD COLUMN original_blob_key TEXT;
-- The expired-upload reaper finds the asset an upload carries.
CREATE INDEX delivery_files_upload ON delivery_files (upload_id);
