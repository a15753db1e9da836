-- One PATCH at a time per upload, across instances: a lease taken with a compare-and-set.
ALTER TABLE uploads ADD COLUMN lease_until_ms BIGINT;
