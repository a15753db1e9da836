-- API tokens get a scope (read, deliver, manage) and may expire. Tokens made before keep the
-- full power they had.
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'manage';
ALTER TABLE api_tokens ADD COLUMN expires_ms BIGINT;
