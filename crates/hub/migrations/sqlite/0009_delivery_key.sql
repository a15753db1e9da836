-- A client's own key for a declaration, so that a declaration retried after a lost answer (the
-- hub restarted, the connection dropped) finds the delivery it made instead of making another.
ALTER TABLE deliveries ADD COLUMN client_key TEXT;
CREATE UNIQUE INDEX deliveries_client_key ON deliveries (created_by, client_key);
