//! Templates, versioned: saving adds a version; messages record the version they used.

use cchc_platform::Actor;
use cchc_platform::time::stamp;
use cchc_proto::notification::v1 as pb;

use super::{Error, Result, Store};
use crate::domain::Kind;
use crate::domain::template::{self, NewTemplate};

#[derive(sqlx::FromRow)]
struct Row {
    key: String,
    language: String,
    version: i32,
    subject: String,
    text: String,
    html: String,
    created_at: chrono::DateTime<chrono::Utc>,
    created_by: Option<String>,
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
            created_at: stamp(&r.created_at),
            placeholders,
            created_by: r.created_by.unwrap_or_default(),
        }
    }
}

const COLUMNS: &str = "key, language, version, subject, text, html, created_at, created_by";

impl Store {
    /// Adds the next version of a template, saved by `actor`; [`Error::VersionTaken`]
    /// when another save took the same version number at the same moment.
    pub async fn save_template(&self, actor: &Actor, t: &NewTemplate) -> Result<pb::Template> {
        let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO templates (key, language, version, subject, text, html, created_by)
             SELECT $1, $2, COALESCE(MAX(version), 0) + 1, $3, $4, $5, $6 FROM templates WHERE key = $1 AND language = $2
             ON CONFLICT DO NOTHING RETURNING {COLUMNS}"
        )))
        .bind(t.kind.as_str())
        .bind(t.language)
        .bind(&t.subject)
        .bind(&t.text)
        .bind(&t.html)
        .bind(actor.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(Into::into).ok_or(Error::VersionTaken)
    }

    /// Every version of every template, or of one kind's, newest first.
    pub async fn list_templates(&self, key: Option<&str>) -> Result<Vec<pb::Template>> {
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM templates WHERE ($1::text IS NULL OR key = $1)
             ORDER BY key, language DESC, version DESC"
        )))
        .bind(key)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
