//! Templates, versioned: saving adds a version; messages record the version they used.

use cchc_proto::notification::v1 as pb;
use sqlx::PgPool;

use super::rfc3339;
use crate::domain::{Kind, template};

#[derive(sqlx::FromRow)]
struct Row {
    key: String,
    language: String,
    version: i32,
    subject: String,
    text: String,
    html: String,
    created_at: chrono::DateTime<chrono::Utc>,
}

impl From<Row> for pb::Template {
    fn from(r: Row) -> Self {
        let placeholders = Kind::parse(&r.key)
            .map(|k| {
                k.placeholders()
                    .iter()
                    .chain(template::COMMON)
                    .map(|p| (*p).to_owned())
                    .collect()
            })
            .unwrap_or_default();
        pb::Template {
            key: r.key,
            language: r.language,
            version: r.version as u32,
            subject: r.subject,
            text: r.text,
            html: r.html,
            created_at: rfc3339(r.created_at),
            placeholders,
        }
    }
}

const COLUMNS: &str = "key, language, version, subject, text, html, created_at";

/// Adds the next version of a (checked) template. `None` when another save took the
/// same version number at the same moment.
pub async fn save(
    pool: &PgPool,
    kind: Kind,
    language: &str,
    subject: &str,
    text: &str,
    html: &str,
) -> sqlx::Result<Option<pb::Template>> {
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO templates (key, language, version, subject, text, html)
         SELECT $1, $2, COALESCE(MAX(version), 0) + 1, $3, $4, $5 FROM templates WHERE key = $1 AND language = $2
         ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
    )))
    .bind(kind.as_str())
    .bind(language)
    .bind(subject)
    .bind(text)
    .bind(html)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(Into::into))
}

pub async fn list(pool: &PgPool, key: Option<&str>) -> sqlx::Result<Vec<pb::Template>> {
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM templates WHERE ($1::text IS NULL OR key = $1)
         ORDER BY key, language DESC, version DESC"
    )))
    .bind(key)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}
