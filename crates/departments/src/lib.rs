//! Built-in department services: FHIR R4 and DICOMweb, each department on its own encrypted
//! store.
//!
//! Owns: the FHIR R4 interactions (read, vread, create, update, delete, history, search,
//! batch, transaction, capabilities) and DICOMweb (STOW-RS, QIDO-RS, WADO-RS) of the built-in
//! departments, their storage (SQLite by default, PostgreSQL behind the same trait) and their
//! encryption at rest. Must not know about: HTTP servers and sockets, TLS, authentication or
//! authorization, the firewall: the gateway has decided all that before it calls
//! [`DepartmentService::handle`] with a path relative to the department.
//!
//! # Segmentation down to the disk
//!
//! Each department has its own store (one SQLite file, or one PostgreSQL schema) and its own
//! keys. A [`Department`] holds exactly one store handle and its own keyring; no code path
//! lets one department reach another's store.
//!
//! # Encryption at rest and its leakage
//!
//! - A master key (the file `master.key` in the data directory, 32 random bytes created with
//!   mode 0600 on first run, or derived from a passphrase with Argon2id) wraps each
//!   department's keys with AES-256-GCM; the wrapped keys live in the department's own
//!   `keys` table.
//! - Each department has a data key (versioned) and an index key. Every resource version,
//!   DICOM file, DICOM metadata and paging snapshot is sealed with AES-256-GCM under the data
//!   key, with the department and the record's identity (type, blind id, version) as
//!   associated data, so a sealed row moved to another row or database does not open.
//! - Resource ids and DICOM UIDs are stored only as blind keys (HMAC-SHA-256 under the index
//!   key). Search runs on blind index tokens: HMAC of normalised values (see
//!   [`fhir::search`] for each parameter type), then exact matching after decryption.
//! - What a copied database reveals without the keys: resource types and how many of each,
//!   version counts, the order of writes, and equality patterns of the blind tokens (which
//!   rows share a code, a reference, a birth year or a name prefix, without their values).
//!   Rotating the data key re-encrypts; the index key is not rotated by `keys rotate`.
//!
//! # Using it
//!
//! Build a [`Departments`] with [`Departments::open`] and hand it to the gateway as a
//! [`DepartmentService`] (`wardgate serve` does this for every department whose upstream is
//! `builtin`); or drive one [`Department`] directly (tests, benchmarks). Operators: see
//! `docs/departments.md`.
#![forbid(unsafe_code)]

pub mod config;
pub mod crypto;
pub mod dicom;
pub mod fhir;
pub mod keys;
pub mod service;
pub mod store;

pub use config::{
    DEFAULT_DEPARTMENTS, DepartmentConfig, default_department_for, default_resource_types,
};
pub use crypto::MasterKey;
pub use service::{Department, DepartmentError, DepartmentService, Departments, StoreConfig};
