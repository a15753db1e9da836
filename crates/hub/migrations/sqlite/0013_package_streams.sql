-- Package streams: a package's files, in declared order (seq), travel back to back in a few tus
-- uploads ("streams"). A file sent so is the range [stream_offset, stream_offset + size) of the
-- blob of its stream's upload (upload_id), and `stream` is the stream's first file; files sent one
-- upload each (packages declared before this) keep stream NULL and a blob of their own.
ALTER TABLE package_members ADD COLUMN seq INTEGER;
-- Where the file starts in the package (the sizes of the files before it), set when declared.
ALTER TABLE package_members ADD COLUMN place INTEGER;
ALTER TABLE package_members ADD COLUMN stream INTEGER;
ALTER TABLE package_members ADD COLUMN stream_offset INTEGER NOT NULL DEFAULT 0;
-- What validation found of each file (hex md5, CRC-32), which the package's ZIP download is made of.
ALTER TABLE package_members ADD COLUMN md5 TEXT;
ALTER TABLE package_members ADD COLUMN crc32 INTEGER;
CREATE INDEX package_members_seq ON package_members (asset_id, seq);
