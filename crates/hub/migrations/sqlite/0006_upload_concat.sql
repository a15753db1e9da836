-- tus concatenation: 'partial', or 'final;URL URL ...' for an upload made of partial ones.
ALTER TABLE uploads ADD COLUMN concat TEXT;
