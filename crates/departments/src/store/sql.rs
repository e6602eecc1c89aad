//! The SQL of the department store, written once and compiled for SQLite and PostgreSQL.
//!
//! Every value is bound. The only statement text that varies is the number of `$n`
//! placeholders in an `IN (...)` list, built from constant fragments; the only identifier ever
//! written into SQL is the PostgreSQL schema name, checked against a strict grammar first.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Connection, Row};
use tokio::sync::Mutex;

use super::{
    DepartmentStore, InstanceRow, KeyRow, StaleRow, StoreError, StoreFuture, StoredVersion, Write,
};
use crate::crypto::KeyId;

/// The most placeholders one `IN (...)` list gets; longer lists are split.
const IN_CHUNK: usize = 400;

/// The embedded store: one SQLite file per department, owner-only permissions.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: sqlx::SqlitePool,
    // SQLite has one writer at a time; queueing writers here avoids busy errors on upgrade
    // from a read to a write transaction.
    write_lock: Arc<Mutex<()>>,
}

impl SqliteStore {
    /// Open (creating if missing) and migrate the department database at `path`.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::Config(e.to_string()))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        restrict_permissions(path);
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore {
            pool,
            write_lock: Arc::new(Mutex::new(())),
        })
    }
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    // Sealed or not, a department's database is for the gateway's user only. Best effort:
    // the sealing protects the content where modes do not exist.
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &Path) {}

/// The shared store: one PostgreSQL schema per department.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: sqlx::PgPool,
    write_lock: Arc<Mutex<()>>,
}

/// Whether `schema` is a plain lowercase SQL identifier (letters, digits, `_`; at most 63).
pub fn is_schema_name(schema: &str) -> bool {
    !schema.is_empty()
        && schema.len() <= 63
        && schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !schema.as_bytes()[0].is_ascii_digit()
}

impl PostgresStore {
    /// Connect, create the department's schema if missing, and migrate inside it.
    pub async fn connect(url: &str, schema: &str) -> Result<Self, StoreError> {
        if !is_schema_name(schema) {
            return Err(StoreError::Config(format!(
                "schema '{schema}' must be lowercase letters, digits and '_'"
            )));
        }
        let options =
            PgConnectOptions::from_str(url).map_err(|e| StoreError::Config(e.to_string()))?;
        let mut conn = sqlx::PgConnection::connect_with(&options).await?;
        let create = format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"");
        sqlx::query(AssertSqlSafe(create))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        let options = options.options([("search_path", schema)]);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PostgresStore {
            pool,
            write_lock: Arc::new(Mutex::new(())),
        })
    }
}

/// `$first, $first+1, ...` for `count` values.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

const VERSION_COLUMNS: &str = "v.rtype, v.res_key, v.seq, v.version, v.deleted, v.key_id, v.body";

macro_rules! department_store {
    ($store:ty, $db:ty) => {
        impl $store {
            fn version_from_row(row: &<$db as sqlx::Database>::Row) -> Result<StoredVersion, StoreError> {
                Ok(StoredVersion {
                    rtype: row.try_get("rtype")?,
                    res_key: row.try_get("res_key")?,
                    seq: row.try_get("seq")?,
                    version: row.try_get("version")?,
                    deleted: row.try_get::<i64, _>("deleted")? != 0,
                    key_id: row.try_get("key_id")?,
                    body: row.try_get("body")?,
                })
            }

            fn instance_from_row(
                row: &<$db as sqlx::Database>::Row,
                with_file: bool,
            ) -> Result<InstanceRow, StoreError> {
                Ok(InstanceRow {
                    sop_key: row.try_get("sop_key")?,
                    study_key: row.try_get("study_key")?,
                    series_key: row.try_get("series_key")?,
                    key_id: row.try_get("key_id")?,
                    meta: row.try_get("meta")?,
                    file: if with_file { Some(row.try_get("file")?) } else { None },
                })
            }

            fn instance_columns(with_file: bool) -> &'static str {
                if with_file {
                    "sop_key, study_key, series_key, key_id, meta, file"
                } else {
                    "sop_key, study_key, series_key, key_id, meta"
                }
            }
        }

        impl DepartmentStore for $store {
            fn keys(&self) -> StoreFuture<'_, Vec<KeyRow>> {
                Box::pin(async move {
                    // `KeyRow`'s field names are the column names.
                    Ok(sqlx::query_as(
                        "SELECT purpose, key_id, state, master_id, wrapped, created_at FROM keys \
                         ORDER BY purpose, key_id",
                    )
                    .fetch_all(&self.pool)
                    .await?)
                })
            }

            fn insert_key(&self, row: KeyRow) -> StoreFuture<'_, ()> {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO keys (purpose, key_id, state, master_id, wrapped, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(row.purpose)
                    .bind(row.key_id)
                    .bind(row.state)
                    .bind(row.master_id)
                    .bind(row.wrapped)
                    .bind(row.created_at)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| {
                        if is_unique_violation(&e) {
                            StoreError::Conflict
                        } else {
                            e.into()
                        }
                    })?;
                    Ok(())
                })
            }

            fn update_key(&self, row: KeyRow) -> StoreFuture<'_, ()> {
                Box::pin(async move {
                    sqlx::query(
                        "UPDATE keys SET state = $1, master_id = $2, wrapped = $3 \
                         WHERE purpose = $4 AND key_id = $5",
                    )
                    .bind(row.state)
                    .bind(row.master_id)
                    .bind(row.wrapped)
                    .bind(row.purpose)
                    .bind(row.key_id)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                })
            }

            fn current<'a>(
                &'a self,
                rtype: &'a str,
                res_key: &'a [u8],
            ) -> StoreFuture<'a, Option<StoredVersion>> {
                Box::pin(async move {
                    let sql = format!(
                        "SELECT {VERSION_COLUMNS} FROM current c JOIN versions v ON v.seq = c.seq \
                         WHERE c.rtype = $1 AND c.res_key = $2"
                    );
                    let row = sqlx::query(AssertSqlSafe(sql))
                        .bind(rtype)
                        .bind(res_key)
                        .fetch_optional(&self.pool)
                        .await?;
                    row.as_ref().map(Self::version_from_row).transpose()
                })
            }

            fn version<'a>(
                &'a self,
                rtype: &'a str,
                res_key: &'a [u8],
                version: i64,
            ) -> StoreFuture<'a, Option<StoredVersion>> {
                Box::pin(async move {
                    let sql = format!(
                        "SELECT {VERSION_COLUMNS} FROM versions v \
                         WHERE v.rtype = $1 AND v.res_key = $2 AND v.version = $3"
                    );
                    let row = sqlx::query(AssertSqlSafe(sql))
                        .bind(rtype)
                        .bind(res_key)
                        .bind(version)
                        .fetch_optional(&self.pool)
                        .await?;
                    row.as_ref().map(Self::version_from_row).transpose()
                })
            }

            fn history<'a>(
                &'a self,
                rtype: Option<&'a str>,
                res_key: Option<&'a [u8]>,
                limit: i64,
            ) -> StoreFuture<'a, Vec<StoredVersion>> {
                Box::pin(async move {
                    let rows = match (rtype, res_key) {
                        (Some(rtype), Some(res_key)) => {
                            let sql = format!(
                                "SELECT {VERSION_COLUMNS} FROM versions v WHERE v.rtype = $1 \
                                 AND v.res_key = $2 ORDER BY v.seq DESC LIMIT $3"
                            );
                            sqlx::query(AssertSqlSafe(sql))
                                .bind(rtype)
                                .bind(res_key)
                                .bind(limit)
                                .fetch_all(&self.pool)
                                .await?
                        }
                        (Some(rtype), None) => {
                            let sql = format!(
                                "SELECT {VERSION_COLUMNS} FROM versions v WHERE v.rtype = $1 \
                                 ORDER BY v.seq DESC LIMIT $2"
                            );
                            sqlx::query(AssertSqlSafe(sql))
                                .bind(rtype)
                                .bind(limit)
                                .fetch_all(&self.pool)
                                .await?
                        }
                        _ => {
                            let sql = format!(
                                "SELECT {VERSION_COLUMNS} FROM versions v ORDER BY v.seq DESC LIMIT $1"
                            );
                            sqlx::query(AssertSqlSafe(sql))
                                .bind(limit)
                                .fetch_all(&self.pool)
                                .await?
                        }
                    };
                    rows.iter().map(Self::version_from_row).collect()
                })
            }

            fn commit(&self, writes: Vec<Write>) -> StoreFuture<'_, Vec<i64>> {
                Box::pin(async move {
                    let _guard = self.write_lock.lock().await;
                    let mut tx = self.pool.begin().await?;
                    let mut seqs = Vec::with_capacity(writes.len());
                    for w in writes {
                        let found: Option<i64> = sqlx::query_scalar(
                            "SELECT version FROM current WHERE rtype = $1 AND res_key = $2",
                        )
                        .bind(&w.rtype)
                        .bind(&w.res_key)
                        .fetch_optional(&mut *tx)
                        .await?;
                        if found != w.expected {
                            return Err(StoreError::Conflict);
                        }
                        let inserted = sqlx::query_scalar::<_, i64>(
                            "INSERT INTO versions (rtype, res_key, version, deleted, key_id, body) \
                             VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
                        )
                        .bind(&w.rtype)
                        .bind(&w.res_key)
                        .bind(w.version)
                        .bind(i64::from(w.deleted))
                        .bind(w.key_id)
                        .bind(&w.body)
                        .fetch_one(&mut *tx)
                        .await;
                        let seq = match inserted {
                            Ok(seq) => seq,
                            Err(e) if is_unique_violation(&e) => return Err(StoreError::Conflict),
                            Err(e) => return Err(e.into()),
                        };
                        sqlx::query(
                            "INSERT INTO current (rtype, res_key, version, seq, deleted) \
                             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (rtype, res_key) DO UPDATE \
                             SET version = excluded.version, seq = excluded.seq, \
                             deleted = excluded.deleted",
                        )
                        .bind(&w.rtype)
                        .bind(&w.res_key)
                        .bind(w.version)
                        .bind(seq)
                        .bind(i64::from(w.deleted))
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query("DELETE FROM search_index WHERE rtype = $1 AND res_key = $2")
                            .bind(&w.rtype)
                            .bind(&w.res_key)
                            .execute(&mut *tx)
                            .await?;
                        for chunk in w.tokens.chunks(IN_CHUNK / 3) {
                            let values = (0..chunk.len())
                                .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
                                .collect::<Vec<_>>()
                                .join(", ");
                            let sql = format!(
                                "INSERT INTO search_index (rtype, res_key, token) VALUES {values}"
                            );
                            let mut query = sqlx::query(AssertSqlSafe(sql));
                            for token in chunk {
                                query = query.bind(&w.rtype).bind(&w.res_key).bind(token);
                            }
                            query.execute(&mut *tx).await?;
                        }
                        seqs.push(seq);
                    }
                    tx.commit().await?;
                    Ok(seqs)
                })
            }

            fn find<'a>(
                &'a self,
                rtype: &'a str,
                groups: &'a [Vec<Vec<u8>>],
            ) -> StoreFuture<'a, Vec<Vec<u8>>> {
                Box::pin(async move {
                    let mut result: Option<std::collections::HashSet<Vec<u8>>> = None;
                    for group in groups {
                        let mut matched = std::collections::HashSet::new();
                        for chunk in group.chunks(IN_CHUNK) {
                            // No DISTINCT: with it SQLite prefers walking the (rtype, res_key)
                            // index over every token of the type; duplicates fold in the set.
                            let sql = format!(
                                "SELECT res_key FROM search_index WHERE rtype = $1 \
                                 AND token IN ({})",
                                placeholders(2, chunk.len())
                            );
                            let mut query = sqlx::query_scalar::<_, Vec<u8>>(AssertSqlSafe(sql))
                                .bind(rtype);
                            for token in chunk {
                                query = query.bind(token);
                            }
                            matched.extend(query.fetch_all(&self.pool).await?);
                        }
                        result = Some(match result {
                            None => matched,
                            Some(previous) => previous.intersection(&matched).cloned().collect(),
                        });
                        if result.as_ref().is_some_and(|r| r.is_empty()) {
                            break;
                        }
                    }
                    Ok(result.map(|r| r.into_iter().collect()).unwrap_or_default())
                })
            }

            fn current_versions<'a>(
                &'a self,
                rtype: &'a str,
                res_keys: Option<&'a [Vec<u8>]>,
            ) -> StoreFuture<'a, Vec<StoredVersion>> {
                Box::pin(async move {
                    let mut out = Vec::new();
                    match res_keys {
                        None => {
                            let sql = format!(
                                "SELECT {VERSION_COLUMNS} FROM current c JOIN versions v ON v.seq = c.seq \
                                 WHERE c.rtype = $1 AND c.deleted = 0 ORDER BY c.seq"
                            );
                            let rows = sqlx::query(AssertSqlSafe(sql))
                                .bind(rtype)
                                .fetch_all(&self.pool)
                                .await?;
                            for row in &rows {
                                out.push(Self::version_from_row(row)?);
                            }
                        }
                        Some(keys) => {
                            for chunk in keys.chunks(IN_CHUNK) {
                                let sql = format!(
                                    "SELECT {VERSION_COLUMNS} FROM current c JOIN versions v \
                                     ON v.seq = c.seq WHERE c.rtype = $1 AND c.deleted = 0 \
                                     AND c.res_key IN ({}) ORDER BY c.seq",
                                    placeholders(2, chunk.len())
                                );
                                let mut query = sqlx::query(AssertSqlSafe(sql)).bind(rtype);
                                for key in chunk {
                                    query = query.bind(key);
                                }
                                for row in &query.fetch_all(&self.pool).await? {
                                    out.push(Self::version_from_row(row)?);
                                }
                            }
                        }
                    }
                    Ok(out)
                })
            }

            fn put_snapshot(
                &self,
                snap_key: Vec<u8>,
                expires: i64,
                key_id: KeyId,
                body: Vec<u8>,
            ) -> StoreFuture<'_, ()> {
                Box::pin(async move {
                    let _guard = self.write_lock.lock().await;
                    let mut tx = self.pool.begin().await?;
                    sqlx::query("DELETE FROM snapshots WHERE expires < $1")
                        .bind(expires - 2 * crate::fhir::SNAPSHOT_SECONDS)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(
                        "INSERT INTO snapshots (snap_key, expires, key_id, body) VALUES ($1, $2, $3, $4)",
                    )
                    .bind(snap_key)
                    .bind(expires)
                    .bind(key_id)
                    .bind(body)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(())
                })
            }

            fn snapshot<'a>(
                &'a self,
                snap_key: &'a [u8],
                now: i64,
            ) -> StoreFuture<'a, Option<(KeyId, Vec<u8>)>> {
                Box::pin(async move {
                    let row = sqlx::query(
                        "SELECT key_id, body FROM snapshots WHERE snap_key = $1 AND expires >= $2",
                    )
                    .bind(snap_key)
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await?;
                    match row {
                        Some(row) => Ok(Some((row.try_get("key_id")?, row.try_get("body")?))),
                        None => Ok(None),
                    }
                })
            }

            fn put_instance(&self, row: InstanceRow, tokens: Vec<Vec<u8>>) -> StoreFuture<'_, ()> {
                Box::pin(async move {
                    let _guard = self.write_lock.lock().await;
                    let mut tx = self.pool.begin().await?;
                    sqlx::query(
                        "INSERT INTO dicom_instances (sop_key, study_key, series_key, key_id, meta, file) \
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (sop_key) DO UPDATE SET \
                         study_key = excluded.study_key, series_key = excluded.series_key, \
                         key_id = excluded.key_id, meta = excluded.meta, file = excluded.file",
                    )
                    .bind(&row.sop_key)
                    .bind(&row.study_key)
                    .bind(&row.series_key)
                    .bind(row.key_id)
                    .bind(&row.meta)
                    .bind(row.file.unwrap_or_default())
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("DELETE FROM search_index WHERE rtype = $1 AND res_key = $2")
                        .bind(crate::dicom::INDEX_TYPE)
                        .bind(&row.sop_key)
                        .execute(&mut *tx)
                        .await?;
                    for token in &tokens {
                        sqlx::query(
                            "INSERT INTO search_index (rtype, res_key, token) VALUES ($1, $2, $3)",
                        )
                        .bind(crate::dicom::INDEX_TYPE)
                        .bind(&row.sop_key)
                        .bind(token)
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(())
                })
            }

            fn instance<'a>(
                &'a self,
                sop_key: &'a [u8],
                with_file: bool,
            ) -> StoreFuture<'a, Option<InstanceRow>> {
                Box::pin(async move {
                    let sql = format!(
                        "SELECT {} FROM dicom_instances WHERE sop_key = $1",
                        Self::instance_columns(with_file)
                    );
                    let row = sqlx::query(AssertSqlSafe(sql))
                        .bind(sop_key)
                        .fetch_optional(&self.pool)
                        .await?;
                    row.as_ref()
                        .map(|r| Self::instance_from_row(r, with_file))
                        .transpose()
                })
            }

            fn instances<'a>(
                &'a self,
                sop_keys: Option<&'a [Vec<u8>]>,
                with_file: bool,
            ) -> StoreFuture<'a, Vec<InstanceRow>> {
                Box::pin(async move {
                    let columns = Self::instance_columns(with_file);
                    let mut out = Vec::new();
                    match sop_keys {
                        None => {
                            let sql = format!("SELECT {columns} FROM dicom_instances");
                            for row in &sqlx::query(AssertSqlSafe(sql)).fetch_all(&self.pool).await? {
                                out.push(Self::instance_from_row(row, with_file)?);
                            }
                        }
                        Some(keys) => {
                            for chunk in keys.chunks(IN_CHUNK) {
                                let sql = format!(
                                    "SELECT {columns} FROM dicom_instances WHERE sop_key IN ({})",
                                    placeholders(1, chunk.len())
                                );
                                let mut query = sqlx::query(AssertSqlSafe(sql));
                                for key in chunk {
                                    query = query.bind(key);
                                }
                                for row in &query.fetch_all(&self.pool).await? {
                                    out.push(Self::instance_from_row(row, with_file)?);
                                }
                            }
                        }
                    }
                    Ok(out)
                })
            }

            fn study_instances<'a>(
                &'a self,
                study_key: &'a [u8],
                with_file: bool,
            ) -> StoreFuture<'a, Vec<InstanceRow>> {
                Box::pin(async move {
                    let sql = format!(
                        "SELECT {} FROM dicom_instances WHERE study_key = $1",
                        Self::instance_columns(with_file)
                    );
                    let rows = sqlx::query(AssertSqlSafe(sql))
                        .bind(study_key)
                        .fetch_all(&self.pool)
                        .await?;
                    rows.iter()
                        .map(|r| Self::instance_from_row(r, with_file))
                        .collect()
                })
            }

            fn stale_rows(&self, active: KeyId, limit: i64) -> StoreFuture<'_, Vec<StaleRow>> {
                Box::pin(async move {
                    let mut out = Vec::new();
                    let sql = format!(
                        "SELECT {VERSION_COLUMNS} FROM versions v WHERE v.key_id <> $1 LIMIT $2"
                    );
                    for row in &sqlx::query(AssertSqlSafe(sql))
                        .bind(active)
                        .bind(limit)
                        .fetch_all(&self.pool)
                        .await?
                    {
                        out.push(StaleRow::Version(Self::version_from_row(row)?));
                    }
                    let sql = format!(
                        "SELECT {} FROM dicom_instances WHERE key_id <> $1 LIMIT $2",
                        Self::instance_columns(true)
                    );
                    for row in &sqlx::query(AssertSqlSafe(sql))
                        .bind(active)
                        .bind(limit)
                        .fetch_all(&self.pool)
                        .await?
                    {
                        out.push(StaleRow::Instance(Self::instance_from_row(row, true)?));
                    }
                    for row in &sqlx::query(
                        "SELECT snap_key, key_id, body FROM snapshots WHERE key_id <> $1 LIMIT $2",
                    )
                    .bind(active)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
                    {
                        out.push(StaleRow::Snapshot {
                            snap_key: row.try_get("snap_key")?,
                            key_id: row.try_get("key_id")?,
                            body: row.try_get("body")?,
                        });
                    }
                    Ok(out)
                })
            }

            fn reseal(&self, row: StaleRow, old_key: KeyId) -> StoreFuture<'_, ()> {
                Box::pin(async move {
                    let _guard = self.write_lock.lock().await;
                    match row {
                        StaleRow::Version(v) => {
                            sqlx::query(
                                "UPDATE versions SET key_id = $1, body = $2 WHERE seq = $3 AND key_id = $4",
                            )
                            .bind(v.key_id)
                            .bind(v.body)
                            .bind(v.seq)
                            .bind(old_key)
                            .execute(&self.pool)
                            .await?;
                        }
                        StaleRow::Instance(i) => {
                            sqlx::query(
                                "UPDATE dicom_instances SET key_id = $1, meta = $2, file = $3 \
                                 WHERE sop_key = $4 AND key_id = $5",
                            )
                            .bind(i.key_id)
                            .bind(i.meta)
                            .bind(i.file.unwrap_or_default())
                            .bind(i.sop_key)
                            .bind(old_key)
                            .execute(&self.pool)
                            .await?;
                        }
                        StaleRow::Snapshot { snap_key, key_id, body } => {
                            sqlx::query(
                                "UPDATE snapshots SET key_id = $1, body = $2 WHERE snap_key = $3 AND key_id = $4",
                            )
                            .bind(key_id)
                            .bind(body)
                            .bind(snap_key)
                            .bind(old_key)
                            .execute(&self.pool)
                            .await?;
                        }
                    }
                    Ok(())
                })
            }

            fn rows_per_key(&self) -> StoreFuture<'_, Vec<(KeyId, i64)>> {
                Box::pin(async move {
                    let rows = sqlx::query(
                        "SELECT key_id, COUNT(*) AS n FROM (SELECT key_id FROM versions \
                         UNION ALL SELECT key_id FROM dicom_instances \
                         UNION ALL SELECT key_id FROM snapshots) AS sealed \
                         GROUP BY key_id ORDER BY key_id",
                    )
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter()
                        .map(|r| Ok((r.try_get("key_id")?, r.try_get("n")?)))
                        .collect()
                })
            }

            fn table_counts(&self) -> StoreFuture<'_, Vec<(String, i64)>> {
                Box::pin(async move {
                    let mut out = Vec::new();
                    for table in [
                        "keys",
                        "versions",
                        "current",
                        "search_index",
                        "snapshots",
                        "dicom_instances",
                    ] {
                        // The table names are the constants above, never input.
                        let sql = format!("SELECT COUNT(*) FROM {table}");
                        let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
                            .fetch_one(&self.pool)
                            .await?;
                        out.push((table.to_owned(), n));
                    }
                    Ok(out)
                })
            }
        }
    };
}

department_store!(SqliteStore, sqlx::Sqlite);
department_store!(PostgresStore, sqlx::Postgres);
