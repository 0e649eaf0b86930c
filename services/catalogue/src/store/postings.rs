//! Postings (niêm yết): units confirm which version of a procedure they have posted.

use cchc_platform::Actor;
use cchc_platform::page::Cursor;
use cchc_platform::vocabulary::procedure_status;
use cchc_proto::catalogue::v1::{ListPostingsResponse, Posting};
use cchc_proto::events::v1::PostingConfirmed;
use uuid::Uuid;

use super::{Error, Store, procedure};
use crate::domain::{NewPosting, PostingFilter};

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    unit_id: Uuid,
    code: String,
    version: i32,
    current_version: i32,
    location: String,
    posted_on: chrono::NaiveDate,
    evidence_url: String,
    confirmed_at: chrono::DateTime<chrono::Utc>,
    confirmed_by: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
    created_by: Option<String>,
    name: Option<String>,
}

impl From<Row> for Posting {
    fn from(r: Row) -> Self {
        Posting {
            stale: r.version < r.current_version,
            unit_id: r.unit_id.to_string(),
            code: r.code,
            version: r.version as u32,
            current_version: r.current_version as u32,
            location: r.location,
            posted_on: r.posted_on.to_string(),
            evidence_url: r.evidence_url,
            confirmed_at: cchc_platform::time::stamp(&r.confirmed_at),
            procedure_name: r.name.unwrap_or_default(),
            created_at: cchc_platform::time::stamp(&r.created_at),
            created_by: r.created_by.unwrap_or_default(),
            // Confirming again is the only change a posting takes.
            updated_at: cchc_platform::time::stamp(&r.confirmed_at),
            updated_by: r.confirmed_by.clone().unwrap_or_default(),
            confirmed_by: r.confirmed_by.unwrap_or_default(),
        }
    }
}

const SELECT: &str = "SELECT s.id, s.unit_id, s.code, s.version, p.current_version, s.location, s.posted_on, s.evidence_url,
                             s.confirmed_at, s.confirmed_by, s.created_at, s.created_by, v.content->>'name' AS name
                      FROM postings s JOIN procedures p ON p.code = s.code
                      LEFT JOIN procedure_versions v ON v.code = s.code AND v.version = p.current_version";

/// Every confirmation, shaped as a posting (its id derived from the history's number,
/// so pages follow (confirmed_at, id) as the postings do).
const HISTORY: &str = "SELECT * FROM (
        SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(h.id), 12, '0'))::uuid AS id, h.unit_id, h.code,
               h.version, p.current_version, h.location, h.posted_on, h.evidence_url, h.confirmed_at,
               h.confirmed_by, h.confirmed_at AS created_at, h.confirmed_by AS created_by,
               v.content->>'name' AS name
        FROM posting_history h JOIN procedures p ON p.code = h.code
        LEFT JOIN procedure_versions v ON v.code = h.code AND v.version = p.current_version) s";

impl Store {
    /// Records that `unit_id` posted the current version of a procedure, as `actor`
    /// confirms. Any other version is refused, naming the current one.
    pub async fn confirm_posting(
        &self,
        actor: &Actor,
        unit_id: Uuid,
        p: &NewPosting,
    ) -> Result<Posting, Error> {
        let code = p.code.as_str();
        let mut tx = self.pool.begin().await?;
        let row: Option<(i32, String)> = sqlx::query_as(
            "SELECT current_version, status FROM procedures WHERE code = $1 FOR SHARE",
        )
        .bind(code)
        .fetch_optional(&mut *tx)
        .await?;
        let (current, status) = row.ok_or_else(|| procedure(code))?;
        if status != procedure_status::PUBLISHED {
            return Err(Error::Rule(format!(
                "procedure {code} is {status}: there is no version to post"
            )));
        }
        if p.version as i32 != current {
            return Err(Error::Rule(format!(
                "version {} of {code} is not current; post and confirm version {current}",
                p.version
            )));
        }
        for sql in [
            // The first confirmation creates the posting; later ones keep its creation.
            "INSERT INTO postings (unit_id, code, version, location, posted_on, evidence_url, confirmed_by, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
             ON CONFLICT (unit_id, code) DO UPDATE SET version = EXCLUDED.version, location = EXCLUDED.location,
               posted_on = EXCLUDED.posted_on, evidence_url = EXCLUDED.evidence_url, confirmed_at = now(),
               confirmed_by = EXCLUDED.confirmed_by",
            "INSERT INTO posting_history (unit_id, code, version, location, posted_on, evidence_url, confirmed_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        ] {
            sqlx::query(sql)
                .bind(unit_id)
                .bind(code)
                .bind(current)
                .bind(&p.location)
                .bind(p.posted_on)
                .bind(&p.evidence_url)
                .bind(actor.to_string())
                .execute(&mut *tx)
                .await?;
        }
        self.outbox
            .enqueue(
                &mut tx,
                actor,
                &PostingConfirmed {
                    unit_id: unit_id.to_string(),
                    code: code.to_owned(),
                    version: p.version,
                    posted_on: p.posted_on.to_string(),
                },
            )
            .await?;
        let posting: Row = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE s.unit_id = $1 AND s.code = $2"
        )))
        .bind(unit_id)
        .bind(code)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        self.outbox.notify();
        Ok(posting.into())
    }

    /// A page of postings, newest confirmation first.
    pub async fn postings(&self, f: &PostingFilter) -> Result<ListPostingsResponse, Error> {
        let (after_at, after_id) = f.page.after_parts();
        let (from, current) = if f.history {
            (HISTORY, "s.current_version")
        } else {
            (SELECT, "p.current_version")
        };
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{from} WHERE ($1::uuid IS NULL OR s.unit_id = $1) AND ($2::text IS NULL OR s.code = $2)
               AND ($3::bool IS NULL OR (s.version < {current}) = $3)
               AND ($4::timestamptz IS NULL OR (s.confirmed_at, s.id) < ($4, $5))
             ORDER BY s.confirmed_at DESC, s.id DESC LIMIT $6"
        )))
        .bind(f.unit_id)
        .bind(&f.code)
        .bind(f.stale)
        .bind(after_at)
        .bind(after_id)
        .bind(f.page.fetch())
        .fetch_all(&self.pool)
        .await?;
        let (rows, next_page_token) = f.page.page(rows, |r| Cursor {
            at: r.confirmed_at,
            id: r.id,
        });
        Ok(ListPostingsResponse {
            postings: rows.into_iter().map(Into::into).collect(),
            next_page_token,
        })
    }
}
