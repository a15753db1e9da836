-- Package streams: a package's files, in declared order (seq), travel back to back in a few tus
-- uploads ("streams"). A file sent so is the range [stream_offset, stream_offset + size) of the
-- blob of the stream that starts at file number `stream`; files sent one upload each (packages
-- declared before this) keep stream NULL and a blob of their own.
ALTER TABLE package_members ADD COLUMN seq INTEGER;
ALTER TABLE package_members ADD COLUMN stream INTEGER;
ALTER TABLE package_members ADD COLUMN stream_offset INTEGER NOT NULL DEFAULT 0;
CREATE INDEX package_members_seq ON package_members (asset_id, seq);
