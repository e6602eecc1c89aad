//! The SQL of the identity store, written once and compiled for SQLite and PostgreSQL.
//!
//! Every statement binds its values; the only text ever built is the schema name in
//! `CREATE SCHEMA`, which identifiers cannot be bound for: it is checked against
//! [`is_plain_name`] first and quoted.
//!
//! The plain records (sessions, challenges, signing keys, grants, failure counters) are read
//! with `sqlx::FromRow`: their field names are their column names.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgPool, Row, SqlitePool};

use super::{
    AccountKind, AccountRecord, BreakGlassRecord, ChallengeRecord, FailureState, RefreshUse,
    Revocations, SessionRecord, SigningKeyRecord, Store, StoreError, StoreFuture, is_plain_name,
    join_list, split_list,
};

/// The embedded single-node store: one SQLite file, owner-only permissions.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Open (creating if missing) and migrate the SQLite file at `path`.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        restrict_permissions(path);
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool })
    }

    fn notify_channel(&self) -> Option<&str> {
        None
    }
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    // The file holds password hashes and sealed secrets: owner only. Best effort, since a
    // path on a filesystem without modes (or an in-memory database) is still usable.
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &Path) {}

/// The shared store for several nodes: PostgreSQL, optionally in its own schema.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    channel: String,
}

impl PostgresStore {
    /// Connect, create the schema if asked for, and migrate.
    pub async fn connect(url: &str, schema: Option<&str>) -> Result<Self, StoreError> {
        let mut options =
            PgConnectOptions::from_str(url).map_err(|e| StoreError::Config(e.to_string()))?;
        let channel = match schema {
            Some(schema) => {
                if !is_plain_name(schema) || schema.contains('-') {
                    return Err(StoreError::Config(format!(
                        "schema '{schema}' must be lowercase letters, digits and '_'"
                    )));
                }
                let mut conn = sqlx::PgConnection::connect_with(&options).await?;
                let create = format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"");
                sqlx::query(AssertSqlSafe(create))
                    .execute(&mut conn)
                    .await?;
                conn.close().await?;
                options = options.options([("search_path", schema)]);
                format!("wardgate_identity_{schema}")
            }
            None => "wardgate_identity".to_owned(),
        };
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PostgresStore { pool, channel })
    }

    /// The pool, for the revocation listener.
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The `LISTEN`/`NOTIFY` channel revocations are announced on.
    pub(crate) fn channel(&self) -> &str {
        &self.channel
    }

    fn notify_channel(&self) -> Option<&str> {
        Some(&self.channel)
    }
}

macro_rules! account_query {
    ($where:literal) => {
        concat!(
            "SELECT id, name, kind, password_hash, disabled, sealed, mfa_required, totp_secret, \
             totp_confirmed, totp_last_step, training_valid_until, cert_fingerprint, jwks, zone, \
             roles, departments, revoked_before, created_at FROM accounts ",
            $where
        )
    };
}

macro_rules! sql_store {
    ($store:ident, $row:ty) => {
        impl $store {
            fn account_from_row(row: &$row) -> Result<AccountRecord, StoreError> {
                Ok(AccountRecord {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    kind: AccountKind::from_code(&row.try_get::<String, _>("kind")?)?,
                    password_hash: row.try_get("password_hash")?,
                    disabled: row.try_get::<i64, _>("disabled")? != 0,
                    sealed: row.try_get::<i64, _>("sealed")? != 0,
                    mfa_required: row.try_get::<i64, _>("mfa_required")? != 0,
                    totp_secret: row.try_get("totp_secret")?,
                    totp_confirmed: row.try_get::<i64, _>("totp_confirmed")? != 0,
                    totp_last_step: row.try_get("totp_last_step")?,
                    training_valid_until: row.try_get("training_valid_until")?,
                    cert_fingerprint: row.try_get("cert_fingerprint")?,
                    jwks: row.try_get("jwks")?,
                    zone: row.try_get("zone")?,
                    roles: split_list(&row.try_get::<String, _>("roles")?),
                    departments: split_list(&row.try_get::<String, _>("departments")?),
                    revoked_before: row.try_get("revoked_before")?,
                    created_at: row.try_get("created_at")?,
                })
            }
        }

        impl Store for $store {
            fn create_account<'a>(&'a self, a: &'a AccountRecord) -> StoreFuture<'a, ()> {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO accounts (id, name, kind, password_hash, disabled, sealed, \
                         mfa_required, totp_secret, totp_confirmed, totp_last_step, \
                         training_valid_until, cert_fingerprint, jwks, zone, roles, departments, \
                         revoked_before, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
                         $10, $11, $12, $13, $14, $15, $16, $17, $18)",
                    )
                    .bind(&a.id)
                    .bind(&a.name)
                    .bind(a.kind.code())
                    .bind(&a.password_hash)
                    .bind(i64::from(a.disabled))
                    .bind(i64::from(a.sealed))
                    .bind(i64::from(a.mfa_required))
                    .bind(&a.totp_secret)
                    .bind(i64::from(a.totp_confirmed))
                    .bind(a.totp_last_step)
                    .bind(a.training_valid_until)
                    .bind(&a.cert_fingerprint)
                    .bind(&a.jwks)
                    .bind(&a.zone)
                    .bind(join_list(&a.roles))
                    .bind(join_list(&a.departments))
                    .bind(a.revoked_before)
                    .bind(a.created_at)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                })
            }

            fn account_by_name<'a>(
                &'a self,
                name: &'a str,
            ) -> StoreFuture<'a, Option<AccountRecord>> {
                Box::pin(async move {
                    let row = sqlx::query(account_query!("WHERE name = $1"))
                        .bind(name)
                        .fetch_optional(&self.pool)
                        .await?;
                    row.as_ref().map(Self::account_from_row).transpose()
                })
            }

            fn account_by_id<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<AccountRecord>> {
                Box::pin(async move {
                    let row = sqlx::query(account_query!("WHERE id = $1"))
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                    row.as_ref().map(Self::account_from_row).transpose()
                })
            }

            fn account_by_fingerprint<'a>(
                &'a self,
                fingerprint: &'a str,
            ) -> StoreFuture<'a, Option<AccountRecord>> {
                Box::pin(async move {
                    let row = sqlx::query(account_query!("WHERE cert_fingerprint = $1"))
                        .bind(fingerprint)
                        .fetch_optional(&self.pool)
                        .await?;
                    row.as_ref().map(Self::account_from_row).transpose()
                })
            }

            fn list_accounts(&self) -> StoreFuture<'_, Vec<AccountRecord>> {
                Box::pin(async move {
                    let rows = sqlx::query(account_query!("ORDER BY name"))
                        .fetch_all(&self.pool)
                        .await?;
                    rows.iter().map(Self::account_from_row).collect()
                })
            }

            fn set_disabled<'a>(&'a self, id: &'a str, disabled: bool) -> StoreFuture<'a, ()> {
                Box::pin(async move {
                    sqlx::query("UPDATE accounts SET disabled = $1 WHERE id = $2")
                        .bind(i64::from(disabled))
                        .bind(id)
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                })
            }

            fn set_roles<'a>(&'a self, id: &'a str, roles: &'a [String]) -> StoreFuture<'a, ()> {
                Box::pin(async move {
                    sqlx::query("UPDATE accounts SET roles = $1 WHERE id = $2")
                        .bind(join_list(roles))
                        .bind(id)
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                })
            }

            fn set_password<'a>(&'a self, id: &'a str, hash: &'a str) -> StoreFuture<'a, ()> {
                Box::pin(async move {
                    sqlx::query("UPDATE accounts SET password_hash = $1 WHERE id = $2")
                        .bind(hash)
                        .bind(id)
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                })
            }

            fn set_totp<'a>(
                &'a self,
                id: &'a str,
                sealed: Option<&'a [u8]>,
            ) -> StoreFuture<'a, ()> {
                Box::pin(async move {
                    sqlx::query(
                        "UPDATE accounts SET totp_secret = $1, totp_confirmed = 0, \
                         totp_last_step = NULL WHERE id = $2",
                    )
                    .bind(sealed)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                })
            }

            fn spend_totp_step<'a>(&'a self, id: &'a str, step: i64) -> StoreFuture<'a, bool> {
                Box::pin(async move {
                    let done = sqlx::query(
                        "UPDATE accounts SET totp_last_step = $1, totp_confirmed = 1 \
                         WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
                    )
                    .bind(step)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                    Ok(done.rows_affected() == 1)
                })
            }

            fn set_recovery_codes<'a>(
                &'a self,
                id: &'a str,
                hashes: &'a [String],
            ) -> StoreFuture<'a, ()> {
                Box::pin(async move {
                    let mut tx = self.pool.begin().await?;
                    sqlx::query("DELETE FROM recovery_codes WHERE account_id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    for hash in hashes {
                        sqlx::query(
                            "INSERT INTO recovery_codes (account_id, code_hash) VALUES ($1, $2)",
                        )
                        .bind(id)
                        .bind(hash)
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(())
                })
            }

            fn spend_recovery_code<'a>(
                &'a self,
                id: &'a str,
                hash: &'a str,
            ) -> StoreFuture<'a, bool> {
                Box::pin(async move {
                    let done = sqlx::query(
                        "DELETE FROM recovery_codes WHERE account_id = $1 AND code_hash = $2",
                    )
                    .bind(id)
                    .bind(hash)
                    .execute(&self.pool)
                    .await?;
                    Ok(done.rows_affected() == 1)
                })
            }

            fn set_training<'a>(&'a self, id: &'a str, until: Option<i64>) -> StoreFuture<'a, ()> {
                Box::pin(async move {
                    sqlx::query("UPDATE accounts SET training_valid_until = $1 WHERE id = $2")
                        .bind(until)
                        .bind(id)
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                })
            }

            fn revoke_account<'a>(&'a self, id: &'a str, before: i64) -> StoreFuture<'a, ()> {
                Box::pin(async move {
                    sqlx::query("UPDATE accounts SET revoked_before = $1 WHERE id = $2")
                        .bind(before)
                        .bind(id)
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                })
            }

            fn record_failure<'a>(
                &'a self,
                key: &'a str,
                now: i64,
            ) -> StoreFuture<'a, FailureState> {
                Box::pin(async move {
                    Ok(sqlx::query_as(
                        "INSERT INTO failures (key, count, last_at, locked_until) \
                         VALUES ($1, 1, $2, 0) ON CONFLICT (key) DO UPDATE \
                         SET count = failures.count + 1, last_at = $2 \
                         RETURNING count, last_at, locked_until",
                    )
                    .bind(key)
                    .bind(now)
                    .fetch_one(&self.pool)
                    .await?)
                })
            }

            fn lock<'a>(&'a self, key: &'a str, until: i64) -> StoreFuture<'a, ()> {
                Box::pin(async move {
                    sqlx::query("UPDATE failures SET locked_until = $1 WHERE key = $2")
                        .bind(until)
                        .bind(key)
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                })
            }

            fn failure_state<'a>(&'a self, key: &'a str) -> StoreFuture<'a, FailureState> {
                Box::pin(async move {
                    let state = sqlx::query_as(
                        "SELECT count, last_at, locked_until FROM failures WHERE key = $1",
                    )
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await?;
                    Ok(state.unwrap_or_default())
                })
            }

            fn clear_failures<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
                Box::pin(async move {
                    sqlx::query("DELETE FROM failures WHERE key = $1")
                        .bind(key)
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                })
            }

            fn put_challenge<'a>(
                &'a self,
                ticket_hash: &'a str,
                c: &'a ChallengeRecord,
            ) -> StoreFuture<'a, ()> {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO mfa_challenges (ticket_hash, account_id, purpose, attempts, \
                         expires_at) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(ticket_hash)
                    .bind(&c.account_id)
                    .bind(&c.purpose)
                    .bind(c.attempts)
                    .bind(c.expires_at)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                })
            }

            fn challenge<'a>(
                &'a self,
                ticket_hash: &'a str,
                now: i64,
            ) -> StoreFuture<'a, Option<ChallengeRecord>> {
                Box::pin(async move {
                    Ok(sqlx::query_as(
                        "SELECT account_id, purpose, attempts, expires_at FROM mfa_challenges \
                         WHERE ticket_hash = $1 AND expires_at > $2",
                    )
                    .bind(ticket_hash)
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await?)
                })
            }

            fn fail_challenge<'a>(&'a self, ticket_hash: &'a str) -> StoreFuture<'a, i64> {
                Box::pin(async move {
                    let row = sqlx::query(
                        "UPDATE mfa_challenges SET attempts = attempts + 1 WHERE ticket_hash = $1 \
                         RETURNING attempts",
                    )
                    .bind(ticket_hash)
                    .fetch_optional(&self.pool)
                    .await?;
                    match row {
                        Some(row) => Ok(row.try_get("attempts")?),
                        None => Ok(i64::MAX),
                    }
                })
            }

            fn take_challenge<'a>(&'a self, ticket_hash: &'a str) -> StoreFuture<'a, bool> {
                Box::pin(async move {
                    let done = sqlx::query("DELETE FROM mfa_challenges WHERE ticket_hash = $1")
                        .bind(ticket_hash)
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() == 1)
                })
            }

            fn create_session<'a>(&'a self, s: &'a SessionRecord) -> StoreFuture<'a, ()> {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO sessions (id, account_id, scope, amr, auth_time, created_at, \
                         expires_at, break_glass_id, revoked_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(&s.id)
                    .bind(&s.account_id)
                    .bind(&s.scope)
                    .bind(&s.amr)
                    .bind(s.auth_time)
                    .bind(s.created_at)
                    .bind(s.expires_at)
                    .bind(&s.break_glass_id)
                    .bind(s.revoked_at)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                })
            }

            fn session<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<SessionRecord>> {
                Box::pin(async move {
                    Ok(sqlx::query_as(
                        "SELECT id, account_id, scope, amr, auth_time, created_at, expires_at, \
                         break_glass_id, revoked_at FROM sessions WHERE id = $1",
                    )
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
                })
            }

            fn revoke_session<'a>(&'a self, id: &'a str, now: i64) -> StoreFuture<'a, ()> {
                Box::pin(async move {
                    sqlx::query(
                        "UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
                    )
                    .bind(now)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                })
            }

            fn put_refresh<'a>(
                &'a self,
                token_hash: &'a str,
                session_id: &'a str,
                expires_at: i64,
            ) -> StoreFuture<'a, ()> {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO refresh_tokens (token_hash, session_id, expires_at, used_at) \
                         VALUES ($1, $2, $3, NULL)",
                    )
                    .bind(token_hash)
                    .bind(session_id)
                    .bind(expires_at)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                })
            }

            fn use_refresh<'a>(
                &'a self,
                token_hash: &'a str,
                now: i64,
            ) -> StoreFuture<'a, RefreshUse> {
                Box::pin(async move {
                    let spent = sqlx::query(
                        "UPDATE refresh_tokens SET used_at = $1 \
                         WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 \
                         RETURNING session_id",
                    )
                    .bind(now)
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await?;
                    if let Some(row) = spent {
                        return Ok(RefreshUse::Fresh(row.try_get("session_id")?));
                    }
                    let known = sqlx::query(
                        "SELECT session_id, used_at FROM refresh_tokens WHERE token_hash = $1",
                    )
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await?;
                    match known {
                        Some(row) if row.try_get::<Option<i64>, _>("used_at")?.is_some() => {
                            Ok(RefreshUse::Reused(row.try_get("session_id")?))
                        }
                        _ => Ok(RefreshUse::Unknown),
                    }
                })
            }

            fn revocations_since(&self, since: i64) -> StoreFuture<'_, Revocations> {
                Box::pin(async move {
                    let sessions = sqlx::query(
                        "SELECT id FROM sessions WHERE revoked_at IS NOT NULL AND revoked_at >= $1",
                    )
                    .bind(since)
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|row| row.try_get::<String, _>("id"))
                    .collect::<Result<Vec<_>, _>>()?;
                    let accounts = sqlx::query(
                        "SELECT id, revoked_before FROM accounts WHERE revoked_before >= $1",
                    )
                    .bind(since)
                    .fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(|row| Ok((row.try_get("id")?, row.try_get("revoked_before")?)))
                    .collect::<Result<Vec<_>, sqlx::Error>>()?;
                    Ok(Revocations { sessions, accounts })
                })
            }

            fn announce_revocation<'a>(&'a self, payload: &'a str) -> StoreFuture<'a, ()> {
                Box::pin(async move {
                    if let Some(channel) = self.notify_channel() {
                        sqlx::query("SELECT pg_notify($1, $2)")
                            .bind(channel)
                            .bind(payload)
                            .execute(&self.pool)
                            .await?;
                    }
                    Ok(())
                })
            }

            fn put_signing_key<'a>(&'a self, k: &'a SigningKeyRecord) -> StoreFuture<'a, ()> {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO signing_keys (kid, alg, sealed_private, public_jwk, \
                         created_at, signs_from) VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&k.kid)
                    .bind(&k.alg)
                    .bind(&k.sealed_private)
                    .bind(&k.public_jwk)
                    .bind(k.created_at)
                    .bind(k.signs_from)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                })
            }

            fn signing_keys(&self) -> StoreFuture<'_, Vec<SigningKeyRecord>> {
                Box::pin(async move {
                    Ok(sqlx::query_as(
                        "SELECT kid, alg, sealed_private, public_jwk, created_at, signs_from \
                         FROM signing_keys ORDER BY signs_from, created_at",
                    )
                    .fetch_all(&self.pool)
                    .await?)
                })
            }

            fn delete_signing_keys_before(&self, before: i64) -> StoreFuture<'_, ()> {
                Box::pin(async move {
                    sqlx::query("DELETE FROM signing_keys WHERE signs_from < $1")
                        .bind(before)
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                })
            }

            fn remember_jti<'a>(
                &'a self,
                key: &'a str,
                expires_at: i64,
                now: i64,
            ) -> StoreFuture<'a, bool> {
                Box::pin(async move {
                    sqlx::query("DELETE FROM seen_jti WHERE expires_at < $1")
                        .bind(now)
                        .execute(&self.pool)
                        .await?;
                    let done = sqlx::query(
                        "INSERT INTO seen_jti (key, expires_at) VALUES ($1, $2) \
                         ON CONFLICT (key) DO NOTHING",
                    )
                    .bind(key)
                    .bind(expires_at)
                    .execute(&self.pool)
                    .await?;
                    Ok(done.rows_affected() == 1)
                })
            }

            fn start_break_glass<'a>(&'a self, g: &'a BreakGlassRecord) -> StoreFuture<'a, ()> {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO break_glass (id, account_id, reason, patient, started_at, \
                         expires_at, ended_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(&g.id)
                    .bind(&g.account_id)
                    .bind(&g.reason)
                    .bind(&g.patient)
                    .bind(g.started_at)
                    .bind(g.expires_at)
                    .bind(g.ended_at)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                })
            }

            fn end_break_glass<'a>(&'a self, id: &'a str, now: i64) -> StoreFuture<'a, ()> {
                Box::pin(async move {
                    sqlx::query(
                        "UPDATE break_glass SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL",
                    )
                    .bind(now)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                })
            }

            fn break_glass<'a>(
                &'a self,
                id: &'a str,
            ) -> StoreFuture<'a, Option<BreakGlassRecord>> {
                Box::pin(async move {
                    Ok(sqlx::query_as(
                        "SELECT id, account_id, reason, patient, started_at, expires_at, ended_at \
                         FROM break_glass WHERE id = $1",
                    )
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
                })
            }

            fn expire_break_glass(&self, now: i64) -> StoreFuture<'_, Vec<BreakGlassRecord>> {
                Box::pin(async move {
                    Ok(sqlx::query_as(
                        "UPDATE break_glass SET ended_at = expires_at \
                         WHERE ended_at IS NULL AND expires_at <= $1 \
                         RETURNING id, account_id, reason, patient, started_at, expires_at, ended_at",
                    )
                    .bind(now)
                    .fetch_all(&self.pool)
                    .await?)
                })
            }
        }
    };
}

sql_store!(SqliteStore, sqlx::sqlite::SqliteRow);
sql_store!(PostgresStore, sqlx::postgres::PgRow);
