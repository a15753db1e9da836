-- Pieces: a big file sent as parallel uploads, each writing its range of the file in place (a
-- range of the file on the local disk, a run of multipart parts on S3), so that nothing is copied
-- when they are done. A piece names the upload of the file it belongs to (`piece_of`, the
-- "whole") and where in it it starts (`piece_at`).
ALTER TABLE uploads ADD COLUMN piece_of TEXT;
ALTER TABLE uploads ADD COLUMN piece_at INTEGER;
CREATE INDEX uploads_piece_of ON uploads (piece_of);
