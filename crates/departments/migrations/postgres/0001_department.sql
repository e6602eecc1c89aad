-- One department's store. Everything that could identify a patient is sealed (body, meta,
-- file) or a blind token (res_key, token, *_key); only resource types, version numbers and
-- the order of writes are in the clear.
CREATE TABLE keys (
    purpose TEXT NOT NULL,
    key_id BIGINT NOT NULL,
    state TEXT NOT NULL,
    master_id TEXT NOT NULL,
    wrapped BYTEA NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (purpose, key_id)
);

CREATE TABLE versions (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rtype TEXT NOT NULL,
    res_key BYTEA NOT NULL,
    version BIGINT NOT NULL,
    deleted BIGINT NOT NULL,
    key_id BIGINT NOT NULL,
    body BYTEA NOT NULL,
    UNIQUE (rtype, res_key, version)
);
CREATE INDEX versions_key ON versions (key_id);

CREATE TABLE current (
    rtype TEXT NOT NULL,
    res_key BYTEA NOT NULL,
    version BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    deleted BIGINT NOT NULL,
    PRIMARY KEY (rtype, res_key)
);

CREATE TABLE search_index (
    rtype TEXT NOT NULL,
    res_key BYTEA NOT NULL,
    token BYTEA NOT NULL
);
CREATE INDEX search_index_token ON search_index (rtype, token);
CREATE INDEX search_index_res ON search_index (rtype, res_key);

CREATE TABLE snapshots (
    snap_key BYTEA PRIMARY KEY,
    expires BIGINT NOT NULL,
    key_id BIGINT NOT NULL,
    body BYTEA NOT NULL
);

CREATE TABLE dicom_instances (
    sop_key BYTEA PRIMARY KEY,
    study_key BYTEA NOT NULL,
    series_key BYTEA NOT NULL,
    key_id BIGINT NOT NULL,
    meta BYTEA NOT NULL,
    file BYTEA NOT NULL
);
CREATE INDEX dicom_instances_study ON dicom_instances (study_key);
CREATE INDEX dicom_instances_key ON dicom_instances (key_id);
