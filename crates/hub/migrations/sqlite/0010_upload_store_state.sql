-- An upload's storage state is its blob store's business: one opaque column instead of the
-- multipart columns only S3 used. What they held moves into it, in the store's own format.
ALTER TABLE uploads ADD COLUMN store_state TEXT NOT NULL DEFAULT '';
UPDATE uploads SET store_state = json_object(
    'part_size', part_size, 'multipart', multipart_id, 'parts', json(parts),
    'pending', pending_key, 'pending_size', pending_size)
WHERE multipart_id IS NOT NULL OR pending_key IS NOT NULL;
ALTER TABLE uploads DROP COLUMN part_size;
ALTER TABLE uploads DROP COLUMN multipart_id;
ALTER TABLE uploads DROP COLUMN parts;
ALTER TABLE uploads DROP COLUMN pending_key;
ALTER TABLE uploads DROP COLUMN pending_size;
