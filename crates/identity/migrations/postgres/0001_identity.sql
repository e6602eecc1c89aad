-- Identity store: accounts, MFA, brute-force counters, sessions, refresh tokens, signing keys,
-- replay guards and break-the-glass grants. Times are Unix seconds.
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    password_hash TEXT,
    disabled BIGINT NOT NULL DEFAULT 0,
    sealed BIGINT NOT NULL DEFAULT 0,
    mfa_required BIGINT NOT NULL DEFAULT 1,
    totp_secret BYTEA,
    totp_confirmed BIGINT NOT NULL DEFAULT 0,
    totp_last_step BIGINT,
    training_valid_until BIGINT,
    cert_fingerprint TEXT UNIQUE,
    jwks TEXT,
    zone TEXT,
    roles TEXT NOT NULL DEFAULT '',
    departments TEXT NOT NULL DEFAULT '',
    revoked_before BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE recovery_codes (
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    PRIMARY KEY (account_id, code_hash)
);

CREATE TABLE failures (
    key TEXT PRIMARY KEY,
    count BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE mfa_challenges (
    ticket_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    expires_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    amr TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    break_glass_id TEXT,
    revoked_at BIGINT
);
CREATE INDEX sessions_revoked ON sessions (revoked_at);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    alg TEXT NOT NULL,
    sealed_private BYTEA NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    signs_from BIGINT NOT NULL
);

CREATE TABLE seen_jti (
    key TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);

CREATE TABLE break_glass (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    reason TEXT NOT NULL,
    patient TEXT,
    started_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ended_at BIGINT
);
