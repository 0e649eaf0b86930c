//! PostgreSQL: each service owns one database, created when absent, migrated at start.
//! The platform's own tables (outbox, processed events) are created here once for all.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};
use std::str::FromStr;
use std::time::Duration;

/// `url` with its database name replaced by `database` (query string kept).
pub fn with_database(url: &str, database: &str) -> Result<String, String> {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let scheme_end = head
        .find("://")
        .ok_or_else(|| "not a postgres:// URL".to_owned())?;
    let after = &head[scheme_end + 3..];
    let base = match after.find('/') {
        Some(i) => &head[..scheme_end + 3 + i],
        None => head,
    };
    Ok(match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    })
}

/// Creates the database named in `url` if it does not exist, by connecting to the
/// server's `postgres` maintenance database.
pub async fn ensure_database(url: &str) -> anyhow::Result<()> {
    let opts = PgConnectOptions::from_str(url)?;
    let name = opts
        .get_database()
        .ok_or_else(|| anyhow::anyhow!("the database URL names no database"))?
        .to_owned();
    let mut admin = opts.clone().database("postgres").connect().await?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut admin)
        .await?;
    if exists.is_none() {
        let sql = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
        match sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
        {
            Ok(_) => tracing::info!(database = %name, "created database"),
            // Another instance created it between our check and our create.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23505") => {}
            Err(e) => return Err(e.into()),
        }
    }
    admin.close().await?;
    Ok(())
}

/// Tables the platform itself needs in every service database.
const PLATFORM_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS cchc_outbox (
    seq          BIGSERIAL PRIMARY KEY,
    id           UUID NOT NULL UNIQUE,
    subject      TEXT NOT NULL,
    body         BYTEA NOT NULL,
    trace        JSONB NOT NULL DEFAULT '{}',
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at TIMESTAMPTZ,
    attempts     INT NOT NULL DEFAULT 0,
    last_error   TEXT
);
CREATE INDEX IF NOT EXISTS cchc_outbox_unpublished ON cchc_outbox (seq) WHERE published_at IS NULL;
CREATE TABLE IF NOT EXISTS cchc_processed_events (
    consumer     TEXT NOT NULL,
    event_id     UUID NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
"#;

/// How long a pooled connection may sit idle before it is checked when taken.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// Connects to the service's database (creating it when absent), creates the platform
/// tables, then runs the service's own migrations.
pub async fn connect_and_migrate(
    url: &str,
    migrator: &sqlx::migrate::Migrator,
) -> anyhow::Result<PgPool> {
    ensure_database(url).await?;
    let opts = PgConnectOptions::from_str(url)?.log_statements(tracing::log::LevelFilter::Trace);
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(10))
        // The pool already checks each connection when it is given back; checking it
        // again when taken costs every statement a second round trip. Only one that
        // sat idle (through which a restart of the server may have passed) is asked.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > IDLE_CHECK {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_with(opts)
        .await?;
    let mut conn = pool.acquire().await?;
    // One starter at a time creates the platform tables (CREATE IF NOT EXISTS races).
    sqlx::query("SELECT pg_advisory_lock(7261001)")
        .execute(&mut *conn)
        .await?;
    let created = sqlx::raw_sql(PLATFORM_SCHEMA).execute(&mut *conn).await;
    sqlx::query("SELECT pg_advisory_unlock(7261001)")
        .execute(&mut *conn)
        .await?;
    created?;
    drop(conn);
    migrator.run(&pool).await?;
    Ok(pool)
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_database_name() {
        assert_eq!(
            with_database("postgres://u@h/x", "y").unwrap(),
            "postgres://u@h/y"
        );
        assert_eq!(
            with_database("postgres://u@h:5432", "y").unwrap(),
            "postgres://u@h:5432/y"
        );
        assert_eq!(
            with_database("postgres://u@h/x?sslmode=disable", "y").unwrap(),
            "postgres://u@h/y?sslmode=disable"
        );
        assert!(with_database("nonsense", "y").is_err());
    }
}
