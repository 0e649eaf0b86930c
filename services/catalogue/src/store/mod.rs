//! The catalogue's PostgreSQL store. Every change that others must hear about writes its
//! event to the outbox in the same transaction.

mod legal;
mod postings;

pub use postings::{NewPosting, PostingFilter};

use cchc_platform::outbox::Outbox;
use cchc_platform::validation::{Errors, internal, today};
use cchc_proto::catalogue::v1::{
    Decision, LegalDocumentRef, ProcedureContent, ProcedureSummary, ProcedureView,
    SearchProceduresRequest,
};
use cchc_proto::events::v1::{PostingStale, ProcedurePublished};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::domain::{Publication, missing_parts};
use cchc_platform::text::{fold, terms};

/// Failures the store reports to the RPC layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("procedure {0} does not exist")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Stale(String),
    #[error("{0}")]
    Rule(String),
    #[error("{message}")]
    Incomplete { message: String, errors: Errors },
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        match e {
            Error::NotFound(_) => tonic::Status::not_found(e.to_string()),
            Error::Conflict(m) => tonic::Status::already_exists(m),
            Error::Stale(m) => tonic::Status::aborted(m),
            Error::Rule(m) => tonic::Status::failed_precondition(m),
            Error::Incomplete { message, errors } => errors
                .finish(tonic::Code::FailedPrecondition, &message)
                .err()
                .unwrap_or_else(|| tonic::Status::failed_precondition(message)),
            Error::Db(e) => internal(e),
        }
    }
}

/// Folded text of a version for search: name, body, field, agency.
struct SearchText {
    name: String,
    body: String,
    field: String,
    agency: String,
}

fn search_text(code: &str, c: &ProcedureContent) -> SearchText {
    let body = [
        code,
        &c.field,
        &c.implementing_agency,
        &c.result,
        &c.applicants.join(" "),
        &c.steps.join(" "),
        &c.requirements.join(" "),
        &c.keywords.join(" "),
        &c.legal_basis.join(" "),
    ]
    .join(" ");
    SearchText {
        name: fold(&c.name),
        body: fold(&body),
        field: fold(&c.field),
        agency: fold(&c.implementing_agency),
    }
}

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    outbox: Outbox,
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    code: String,
    version: i32,
    content: serde_json::Value,
    decision_number: String,
    decision_date: chrono::NaiveDate,
    decision_signer: String,
    change_type: String,
    change_note: String,
    effective_date: chrono::NaiveDate,
}

fn content_of(v: serde_json::Value) -> ProcedureContent {
    serde_json::from_value(v).unwrap_or_default()
}

impl VersionRow {
    fn view(self, status: &str) -> ProcedureView {
        ProcedureView {
            code: self.code,
            status: status.to_owned(),
            version: self.version as u32,
            content: Some(content_of(self.content)),
            decision: Some(Decision {
                number: self.decision_number,
                date: self.decision_date.to_string(),
                signer: self.decision_signer,
            }),
            change_type: self.change_type,
            change_note: self.change_note,
            effective_date: self.effective_date.to_string(),
            ..Default::default()
        }
    }
}

const VERSION_COLUMNS: &str = "code, version, content, decision_number, decision_date, decision_signer, change_type, change_note, effective_date";

impl Store {
    pub fn new(pool: PgPool, outbox: Outbox) -> Self {
        Self { pool, outbox }
    }

    /// Refuses a unit that was closed or merged into another.
    pub async fn ensure_active(&self, unit_id: uuid::Uuid) -> Result<(), tonic::Status> {
        cchc_platform::ended_units::ensure_active(&self.pool, unit_id).await
    }

    pub async fn create(
        &self,
        code: &str,
        content: &ProcedureContent,
    ) -> Result<ProcedureView, Error> {
        let json = serde_json::to_value(content).expect("content serialises");
        let inserted = sqlx::query(
            "INSERT INTO procedures (code, draft) VALUES ($1, $2) ON CONFLICT (code) DO NOTHING",
        )
        .bind(code)
        .bind(json)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(Error::Conflict(format!("procedure {code} already exists")));
        }
        Ok(draft_view(code, content.clone()))
    }

    /// Publishes the draft (or abolishes the current version) as the next version.
    /// A version effective today or earlier becomes current at once and its event is
    /// emitted; a later one waits for [`Store::promote_scheduled`].
    pub async fn publish(
        &self,
        code: &str,
        p: Publication,
        abolish: bool,
    ) -> Result<ProcedureView, Error> {
        let mut tx = self.pool.begin().await?;
        let row: Option<(serde_json::Value, i32, String)> = sqlx::query_as(
            "SELECT draft, current_version, status FROM procedures WHERE code = $1 FOR UPDATE",
        )
        .bind(code)
        .fetch_optional(&mut *tx)
        .await?;
        let (draft, current, status) = row.ok_or_else(|| Error::NotFound(code.to_owned()))?;
        let content = if abolish {
            if status != "published" {
                return Err(Error::Rule(format!(
                    "procedure {code} has no published version to abolish"
                )));
            }
            sqlx::query_scalar(
                "SELECT content FROM procedure_versions WHERE code = $1 AND version = $2",
            )
            .bind(code)
            .bind(current)
            .fetch_one(&mut *tx)
            .await?
        } else {
            let mut errors = Errors::new();
            missing_parts(&mut errors, &content_of(draft.clone()));
            if !errors.is_empty() {
                return Err(Error::Incomplete {
                    message: format!("procedure {code} is incomplete and cannot be published"),
                    errors,
                });
            }
            draft
        };
        let version: i32 = sqlx::query_scalar(
            "SELECT coalesce(max(version), 0) + 1 FROM procedure_versions WHERE code = $1",
        )
        .bind(code)
        .fetch_one(&mut *tx)
        .await?;
        let text = search_text(code, &content_of(content.clone()));
        sqlx::query(
            "INSERT INTO procedure_versions (code, version, content, decision_number, decision_date, decision_signer, change_type, change_note, effective_date,
                                             search_name, search_body, search_field, search_agency)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(code)
        .bind(version)
        .bind(&content)
        .bind(&p.decision_number)
        .bind(p.decision_date)
        .bind(&p.decision_signer)
        .bind(&p.change_type)
        .bind(&p.change_note)
        .bind(p.effective_date)
        .bind(text.name)
        .bind(text.body)
        .bind(text.field)
        .bind(text.agency)
        .execute(&mut *tx)
        .await?;
        if p.effective_date <= today() {
            self.make_current(&mut tx, code, version).await?;
        }
        let view = self.version_in(&mut tx, code, version).await?;
        tx.commit().await?;
        self.outbox.notify();
        Ok(view)
    }

    async fn make_current(
        &self,
        tx: &mut PgConnection,
        code: &str,
        version: i32,
    ) -> Result<(), Error> {
        let v: VersionRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE procedure_versions SET current_since = now() WHERE code = $1 AND version = $2 RETURNING {VERSION_COLUMNS}"
        )))
        .bind(code)
        .bind(version)
        .fetch_one(&mut *tx)
        .await?;
        let status = if v.change_type == "abolished" {
            "abolished"
        } else {
            "published"
        };
        let previous: i32 =
            sqlx::query_scalar("SELECT current_version FROM procedures WHERE code = $1 FOR UPDATE")
                .bind(code)
                .fetch_one(&mut *tx)
                .await?;
        sqlx::query("UPDATE procedures SET current_version = $2, status = $3, updated_at = now() WHERE code = $1")
            .bind(code)
            .bind(version)
            .bind(status)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO procedure_search (code, version, status, level, effective_date, search_name, name_words,
                                           search_words, search_field, search_agency)
             SELECT code, version, $3, coalesce(content->>'level', ''), effective_date, search_name, name_words,
                    search_words, search_field, search_agency
             FROM procedure_versions WHERE code = $1 AND version = $2
             ON CONFLICT (code) DO UPDATE SET version = EXCLUDED.version, status = EXCLUDED.status,
               level = EXCLUDED.level, effective_date = EXCLUDED.effective_date, search_name = EXCLUDED.search_name,
               name_words = EXCLUDED.name_words, search_words = EXCLUDED.search_words,
               search_field = EXCLUDED.search_field, search_agency = EXCLUDED.search_agency",
        )
        .bind(code)
        .bind(version)
        .bind(status)
        .execute(&mut *tx)
        .await?;
        let c = content_of(v.content);
        // Postings of the version that was current are now out of date.
        let stale: Vec<uuid::Uuid> = sqlx::query_scalar(
            "SELECT unit_id FROM postings WHERE code = $1 AND version = $2 ORDER BY unit_id",
        )
        .bind(code)
        .bind(previous)
        .fetch_all(&mut *tx)
        .await?;
        for unit_id in stale {
            self.outbox
                .enqueue(
                    tx,
                    &PostingStale {
                        unit_id: unit_id.to_string(),
                        code: code.to_owned(),
                        posted_version: previous as u32,
                        current_version: version as u32,
                        procedure_name: c.name.clone(),
                    },
                )
                .await?;
        }
        self.outbox
            .enqueue(
                tx,
                &ProcedurePublished {
                    code: v.code,
                    version: v.version as u32,
                    name: c.name,
                    field: c.field,
                    level: c.level,
                    agency: c.implementing_agency,
                    change_type: v.change_type,
                    decision_number: v.decision_number,
                    effective_date: v.effective_date.to_string(),
                },
            )
            .await?;
        Ok(())
    }

    /// Makes every scheduled version whose effective date has come current; returns how
    /// many. Safe to run from several instances (rows are locked, skipped when taken).
    pub async fn promote_scheduled(&self, today: chrono::NaiveDate) -> Result<usize, Error> {
        let mut tx = self.pool.begin().await?;
        let due: Vec<(String, i32)> = sqlx::query_as(
            "SELECT v.code, v.version FROM procedure_versions v JOIN procedures p USING (code)
             WHERE v.current_since IS NULL AND v.effective_date <= $1 AND v.version > p.current_version
             ORDER BY v.effective_date, v.code, v.version FOR UPDATE OF v SKIP LOCKED",
        )
        .bind(today)
        .fetch_all(&mut *tx)
        .await?;
        for (code, version) in &due {
            self.make_current(&mut tx, code, *version).await?;
        }
        tx.commit().await?;
        if !due.is_empty() {
            self.outbox.notify();
        }
        Ok(due.len())
    }

    pub async fn promote_scheduled_loop(self, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.promote_scheduled(today()).await {
                tracing::warn!(error = %e, "promoting scheduled versions failed");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(std::time::Duration::from_secs(60)) => {}
            }
        }
    }

    async fn version_in(
        &self,
        conn: &mut PgConnection,
        code: &str,
        version: i32,
    ) -> Result<ProcedureView, Error> {
        let (current, status): (i32, String) =
            sqlx::query_as("SELECT current_version, status FROM procedures WHERE code = $1")
                .bind(code)
                .fetch_one(&mut *conn)
                .await?;
        let row: Option<VersionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {VERSION_COLUMNS} FROM procedure_versions WHERE code = $1 AND version = $2"
        )))
        .bind(code)
        .bind(version)
        .fetch_optional(&mut *conn)
        .await?;
        let row = row.ok_or_else(|| Error::NotFound(format!("{code} version {version}")))?;
        let state = if version == current {
            status.as_str()
        } else if version > current {
            "scheduled"
        } else {
            "superseded"
        };
        Ok(row.view(state))
    }

    /// A published version (`version` 0 = the current one). When nothing is published
    /// yet, `with_draft` callers (the office) see the draft.
    pub async fn get(
        &self,
        code: &str,
        version: u32,
        with_draft: bool,
    ) -> Result<ProcedureView, Error> {
        let mut conn = self.pool.acquire().await?;
        let row: Option<(serde_json::Value, i32)> =
            sqlx::query_as("SELECT draft, current_version FROM procedures WHERE code = $1")
                .bind(code)
                .fetch_optional(&mut *conn)
                .await?;
        let (draft, current) = row.ok_or_else(|| Error::NotFound(code.to_owned()))?;
        let wanted = if version == 0 {
            current
        } else {
            version as i32
        };
        if wanted == 0 {
            return if with_draft {
                Ok(draft_view(code, content_of(draft)))
            } else {
                Err(Error::NotFound(code.to_owned()))
            };
        }
        let mut view = self.version_in(&mut conn, code, wanted).await?;
        // A version not yet in effect is not public.
        if view.status == "scheduled" && !with_draft {
            return Err(Error::NotFound(format!("{code} version {wanted}")));
        }
        view.legal_documents = self.legal_bases_of(&mut conn, code).await?;
        Ok(view)
    }

    async fn legal_bases_of(
        &self,
        conn: &mut PgConnection,
        code: &str,
    ) -> Result<Vec<LegalDocumentRef>, Error> {
        let rows: Vec<(uuid::Uuid, String, String, String)> = sqlx::query_as(
            "SELECT d.id, d.number_symbol, d.summary, d.status FROM legal_bases b JOIN legal_documents d ON d.id = b.document_id
             WHERE b.code = $1 ORDER BY d.signed_date, d.number_symbol",
        )
        .bind(code)
        .fetch_all(&mut *conn)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, number_symbol, summary, status)| LegalDocumentRef {
                id: id.to_string(),
                number_symbol,
                summary,
                status,
            })
            .collect())
    }

    /// The draft of the next version, with its revision.
    pub async fn draft(&self, code: &str) -> Result<ProcedureView, Error> {
        let row: Option<(serde_json::Value, i32)> =
            sqlx::query_as("SELECT draft, draft_revision FROM procedures WHERE code = $1")
                .bind(code)
                .fetch_optional(&self.pool)
                .await?;
        let (draft, revision) = row.ok_or_else(|| Error::NotFound(code.to_owned()))?;
        let mut view = draft_view(code, content_of(draft));
        view.draft_revision = revision as u32;
        Ok(view)
    }

    /// Saves the draft when `revision` is the latest; otherwise someone else saved in
    /// between and this save is refused.
    pub async fn update_draft(
        &self,
        code: &str,
        revision: u32,
        content: &ProcedureContent,
    ) -> Result<ProcedureView, Error> {
        let json = serde_json::to_value(content).expect("content serialises");
        let saved: Option<i32> = sqlx::query_scalar(
            "UPDATE procedures SET draft = $2, draft_revision = draft_revision + 1, updated_at = now()
             WHERE code = $1 AND draft_revision = $3 RETURNING draft_revision",
        )
        .bind(code)
        .bind(json)
        .bind(revision as i32)
        .fetch_optional(&self.pool)
        .await?;
        match saved {
            Some(rev) => {
                let mut view = draft_view(code, content.clone());
                view.draft_revision = rev as u32;
                Ok(view)
            }
            None => {
                let current: Option<i32> =
                    sqlx::query_scalar("SELECT draft_revision FROM procedures WHERE code = $1")
                        .bind(code)
                        .fetch_optional(&self.pool)
                        .await?;
                match current {
                    None => Err(Error::NotFound(code.to_owned())),
                    Some(cur) => Err(Error::Stale(format!(
                        "the draft of {code} was saved by someone else: revision {cur} is current, this edit started from {revision}; reload and apply the edit again"
                    ))),
                }
            }
        }
    }

    /// Every version in effect (and, for the office, scheduled ones), oldest first.
    pub async fn versions(
        &self,
        code: &str,
        with_scheduled: bool,
    ) -> Result<Vec<ProcedureView>, Error> {
        let mut conn = self.pool.acquire().await?;
        let current: Option<(i32, String)> =
            sqlx::query_as("SELECT current_version, status FROM procedures WHERE code = $1")
                .bind(code)
                .fetch_optional(&mut *conn)
                .await?;
        let (current, status) = current.ok_or_else(|| Error::NotFound(code.to_owned()))?;
        let rows: Vec<VersionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {VERSION_COLUMNS} FROM procedure_versions WHERE code = $1 ORDER BY version"
        )))
        .bind(code)
        .fetch_all(&mut *conn)
        .await?;
        let views: Vec<ProcedureView> = rows
            .into_iter()
            .filter_map(|r| {
                let state = if r.version == current {
                    status.as_str()
                } else if r.version > current {
                    if !with_scheduled {
                        return None;
                    }
                    "scheduled"
                } else {
                    "superseded"
                };
                Some(r.view(state))
            })
            .collect();
        if views.is_empty() && !with_scheduled {
            return Err(Error::NotFound(code.to_owned()));
        }
        Ok(views)
    }

    /// Current versions matching the request, best first: the whole query in the name,
    /// then every word in the name, then words found elsewhere in the record.
    pub async fn search(
        &self,
        r: &SearchProceduresRequest,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<ProcedureSummary>, u64), Error> {
        let words = terms(&r.q);
        let phrase = words.join(" ");
        let folded = |s: &str| (!s.is_empty()).then(|| fold(s));
        let rows: Vec<(String, i32, serde_json::Value, String, chrono::NaiveDate, i64)> = sqlx::query_as(
            // Rank and page on the narrow search table; only the page's rows bring their
            // content (a large JSON document) along.
            "WITH hits AS (
               SELECT s.code, s.version, s.status, s.effective_date, s.search_name,
                 CASE WHEN $2 <> '' AND position(' ' || $2 || ' ' IN ' ' || s.search_name || ' ') > 0 THEN 3
                      WHEN s.name_words @> $1::text[] THEN 2
                      ELSE 1 END AS rank
               FROM procedure_search s
               WHERE s.search_words @> $1::text[]
                 AND ($3::text IS NULL OR s.status = $3)
                 AND ($4::text IS NULL OR s.level = $4)
                 AND ($5::text IS NULL OR s.search_field = $5)
                 AND ($6::text IS NULL OR position($6 IN s.search_agency) > 0)
             ),
             page AS (
               SELECT *, count(*) OVER () AS total FROM hits
               ORDER BY rank DESC, search_name, code LIMIT $7 OFFSET $8
             )
             SELECT page.code, page.version, v.content, page.status, page.effective_date, page.total
             FROM page JOIN procedure_versions v ON v.code = page.code AND v.version = page.version
             ORDER BY page.rank DESC, page.search_name, page.code",
        )
        .bind(&words)
        .bind(&phrase)
        .bind((!r.status.is_empty()).then_some(&r.status))
        .bind((!r.level.is_empty()).then_some(&r.level))
        .bind(folded(&r.field))
        .bind(folded(&r.agency))
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let total = rows.first().map_or(0, |r| r.5 as u64);
        let page = rows
            .into_iter()
            .map(|(code, version, content, status, effective_date, _)| {
                let c = content_of(content);
                ProcedureSummary {
                    code,
                    version: version as u32,
                    name: c.name,
                    status,
                    level: c.level,
                    field: c.field,
                    implementing_agency: c.implementing_agency,
                    effective_date: effective_date.to_string(),
                }
            })
            .collect();
        Ok((page, total))
    }
}

fn draft_view(code: &str, content: ProcedureContent) -> ProcedureView {
    ProcedureView {
        code: code.to_owned(),
        status: "draft".into(),
        version: 0,
        content: Some(content),
        ..Default::default()
    }
}

impl Store {
    /// Every procedure whose current version is published, by code, with its legal
    /// documents (two queries, whatever the catalogue's size).
    pub async fn published(&self) -> Result<Vec<ProcedureView>, Error> {
        let rows: Vec<VersionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {} FROM procedure_versions v JOIN procedures p ON p.code = v.code AND p.current_version = v.version
             WHERE p.status = 'published' ORDER BY v.code",
            VERSION_COLUMNS.split(", ").map(|c| format!("v.{c}")).collect::<Vec<_>>().join(", ")
        )))
        .fetch_all(&self.pool)
        .await?;
        let links: Vec<(String, uuid::Uuid, String, String, String)> = sqlx::query_as(
            "SELECT b.code, d.id, d.number_symbol, d.summary, d.status FROM legal_bases b
             JOIN legal_documents d ON d.id = b.document_id ORDER BY b.code, d.signed_date, d.number_symbol",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut by_code: std::collections::HashMap<String, Vec<LegalDocumentRef>> =
            std::collections::HashMap::new();
        for (code, id, number_symbol, summary, status) in links {
            by_code.entry(code).or_default().push(LegalDocumentRef {
                id: id.to_string(),
                number_symbol,
                summary,
                status,
            });
        }
        Ok(rows
            .into_iter()
            .map(|r| {
                let docs = by_code.remove(&r.code).unwrap_or_default();
                let mut v = r.view("published");
                v.legal_documents = docs;
                v
            })
            .collect())
    }

    /// Creates the draft of a new code, or replaces a draft that differs; an identical
    /// draft is left alone, so importing the same file twice changes nothing.
    pub async fn import_draft(
        &self,
        code: &str,
        content: &ProcedureContent,
    ) -> Result<&'static str, Error> {
        let json = serde_json::to_value(content).expect("content serialises");
        let mut tx = self.pool.begin().await?;
        let existing: Option<serde_json::Value> =
            sqlx::query_scalar("SELECT draft FROM procedures WHERE code = $1 FOR UPDATE")
                .bind(code)
                .fetch_optional(&mut *tx)
                .await?;
        let outcome = match existing {
            None => {
                sqlx::query("INSERT INTO procedures (code, draft) VALUES ($1, $2)")
                    .bind(code)
                    .bind(&json)
                    .execute(&mut *tx)
                    .await?;
                "created"
            }
            Some(old) if content_of(old.clone()) == *content => "unchanged",
            Some(_) => {
                sqlx::query("UPDATE procedures SET draft = $2, draft_revision = draft_revision + 1, updated_at = now() WHERE code = $1")
                    .bind(code)
                    .bind(&json)
                    .execute(&mut *tx)
                    .await?;
                "updated"
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }
}
