//! The catalogue's PostgreSQL store: all of its SQL. Every change that others must hear
//! about writes its event to the outbox in the same transaction. Every write records
//! the actor it is attributed to (the caller's, or [`Actor::System`] for what the
//! catalogue does on its own), and so does its event. It answers in its own [`Error`];
//! the gRPC layer decides what a caller is told.

mod legal;
mod postings;

use cchc_platform::Actor;
use cchc_platform::outbox::Outbox;
use cchc_platform::text::{fold, terms};
use cchc_platform::validation::Errors;
use cchc_platform::vocabulary::procedure_status;
use cchc_proto::catalogue::v1::{
    ContentChange, Decision, LegalDocumentRef, ProcedureContent, ProcedureSummary, ProcedureView,
    SearchProceduresResponse,
};
use cchc_proto::events::v1::{PostingStale, ProcedureChanged, ProcedurePublished};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::domain::{
    DraftEdit, Imported, NewProcedure, Parts, ProcedureSearch, Publication, changes, imported,
    missing_parts, status_when_current, version_status,
};
use legal::RefRow;

/// What the store can run into besides bad input.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Names what is missing: "procedure 1.012753.H19", "legal document …".
    #[error("{0} does not exist")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// Someone else saved in between.
    #[error("{0}")]
    Stale(String),
    /// The catalogue's state does not allow it (nothing to abolish, an old version).
    #[error("{0}")]
    Rule(String),
    /// The draft lacks parts a published record must have, each named.
    #[error("{message}")]
    Incomplete { message: String, missing: Errors },
    /// The caller's unit was closed or merged and writes nothing more.
    #[error("{0}")]
    UnitEnded(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn procedure(code: &str) -> Error {
    Error::NotFound(format!("procedure {code}"))
}

fn version(code: &str, version: i32) -> Error {
    Error::NotFound(format!("procedure {code} version {version}"))
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
    published_at: DateTime<Utc>,
    published_by: Option<String>,
}

/// When a procedure was created and last changed, and whom each is attributed to
/// (`None` for what was written before writes were attributed).
#[derive(sqlx::FromRow)]
struct Stamps {
    created_at: DateTime<Utc>,
    created_by: Option<String>,
    updated_at: DateTime<Utc>,
    updated_by: Option<String>,
}

impl Stamps {
    fn apply(&self, view: &mut ProcedureView) {
        view.created_at = cchc_platform::time::stamp(&self.created_at);
        view.created_by = self.created_by.clone().unwrap_or_default();
        view.updated_at = cchc_platform::time::stamp(&self.updated_at);
        view.updated_by = self.updated_by.clone().unwrap_or_default();
    }
}

const STAMP_COLUMNS: &str = "created_at, created_by, updated_at, updated_by";

/// A procedure's row without its draft: which version is current, and its stamps.
#[derive(sqlx::FromRow)]
struct Head {
    current_version: i32,
    status: String,
    #[sqlx(flatten)]
    stamps: Stamps,
}

const HEAD_COLUMNS: &str =
    "current_version, status, created_at, created_by, updated_at, updated_by";

/// A draft's revision as saved.
#[derive(sqlx::FromRow)]
struct Revision {
    draft_revision: i32,
    #[sqlx(flatten)]
    stamps: Stamps,
}

/// A procedure's row with its draft.
#[derive(sqlx::FromRow)]
struct DraftRow {
    draft: serde_json::Value,
    draft_revision: i32,
    #[sqlx(flatten)]
    head: Head,
}

fn content_of(v: serde_json::Value) -> ProcedureContent {
    serde_json::from_value(v).unwrap_or_default()
}

fn json_of(content: &ProcedureContent) -> serde_json::Value {
    serde_json::to_value(content).expect("content serialises")
}

impl VersionRow {
    /// The version as `status`, in a procedure stamped `stamps`.
    fn view(self, status: &str, stamps: &Stamps) -> ProcedureView {
        let mut view = ProcedureView {
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
            published_at: cchc_platform::time::stamp(&self.published_at),
            published_by: self.published_by.unwrap_or_default(),
            ..Default::default()
        };
        stamps.apply(&mut view);
        view
    }
}

const VERSION_COLUMNS: &str = "code, version, content, decision_number, decision_date, decision_signer, change_type, change_note, effective_date, published_at, published_by";

/// Where `version` stands beside the current version, whose state is `status`.
fn state_of(version: i32, current: i32, status: &str) -> &str {
    if version == current {
        status
    } else if version > current {
        version_status::SCHEDULED
    } else {
        version_status::SUPERSEDED
    }
}

impl Store {
    pub fn new(pool: PgPool, outbox: Outbox) -> Self {
        Self { pool, outbox }
    }

    /// Refuses a unit that was closed or merged into another.
    pub async fn ensure_active(&self, unit_id: Uuid) -> Result<(), Error> {
        cchc_platform::ended_units::ensure_active(&self.pool, unit_id)
            .await
            .map_err(|e| match e {
                cchc_platform::ended_units::Ended::Db(e) => Error::Db(e),
                ended => Error::UnitEnded(ended.to_string()),
            })
    }

    /// A new procedure's draft, created by `actor`.
    pub async fn create(&self, actor: &Actor, p: &NewProcedure) -> Result<ProcedureView, Error> {
        let code = p.code.as_str();
        let inserted: Option<Stamps> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO procedures (code, draft, created_by, updated_by) VALUES ($1, $2, $3, $3)
             ON CONFLICT (code) DO NOTHING RETURNING {STAMP_COLUMNS}"
        )))
        .bind(code)
        .bind(json_of(p.draft.content()))
        .bind(actor.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let stamps =
            inserted.ok_or_else(|| Error::Conflict(format!("procedure {code} already exists")))?;
        Ok(draft_view(code, p.draft.content().clone(), &stamps))
    }

    /// Publishes the draft (or abolishes the current version) as the next version, by
    /// `actor`. A version effective today or earlier becomes current at once and its
    /// event is emitted, attributed to `actor`; a later one waits for
    /// [`Store::promote_scheduled`].
    pub async fn publish(&self, actor: &Actor, p: &Publication) -> Result<ProcedureView, Error> {
        let code = p.code.as_str();
        let mut tx = self.pool.begin().await?;
        let row: Option<(serde_json::Value, i32, String)> = sqlx::query_as(
            "SELECT draft, current_version, status FROM procedures WHERE code = $1 FOR UPDATE",
        )
        .bind(code)
        .fetch_optional(&mut *tx)
        .await?;
        let (draft, current, status) = row.ok_or_else(|| procedure(code))?;
        let content = if p.abolishes() {
            if status != procedure_status::PUBLISHED {
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
            let mut missing = Errors::new();
            missing_parts(&mut missing, &content_of(draft.clone()));
            if !missing.is_empty() {
                return Err(Error::Incomplete {
                    message: format!("procedure {code} is incomplete and cannot be published"),
                    missing,
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
        let actor_text = actor.to_string();
        sqlx::query(
            "INSERT INTO procedure_versions (code, version, content, decision_number, decision_date, decision_signer, change_type, change_note, effective_date,
                                             search_name, search_body, search_field, search_agency, published_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(code)
        .bind(version)
        .bind(&content)
        .bind(&p.decision_number)
        .bind(p.decision_date)
        .bind(&p.decision_signer)
        .bind(p.change_type.as_str())
        .bind(&p.change_note)
        .bind(p.effective_date)
        .bind(text.name)
        .bind(text.body)
        .bind(text.field)
        .bind(text.agency)
        .bind(&actor_text)
        .execute(&mut *tx)
        .await?;
        // A scheduled version changes the procedure too (its list of versions), so the
        // procedure names its publisher even before the version is current.
        sqlx::query("UPDATE procedures SET updated_at = now(), updated_by = $2 WHERE code = $1")
            .bind(code)
            .bind(&actor_text)
            .execute(&mut *tx)
            .await?;
        if p.effective_date <= cchc_platform::time::today() {
            self.make_current(&mut tx, actor, code, version).await?;
        } else {
            changed(&self.outbox, &mut tx, actor, code, VERSION_SCHEDULED).await?;
        }
        let view = self.version_in(&mut tx, code, version).await?;
        tx.commit().await?;
        self.outbox.notify();
        Ok(view)
    }

    /// Makes `version` current, by `actor` (the publisher, or the system when its
    /// effective date came), whose name its events carry.
    async fn make_current(
        &self,
        tx: &mut PgConnection,
        actor: &Actor,
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
        let status = status_when_current(&v.change_type);
        let previous: i32 =
            sqlx::query_scalar("SELECT current_version FROM procedures WHERE code = $1 FOR UPDATE")
                .bind(code)
                .fetch_one(&mut *tx)
                .await?;
        sqlx::query("UPDATE procedures SET current_version = $2, status = $3, updated_at = now(), updated_by = $4 WHERE code = $1")
            .bind(code)
            .bind(version)
            .bind(status)
            .bind(actor.to_string())
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
        let stale: Vec<Uuid> = sqlx::query_scalar(
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
                    actor,
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
                actor,
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
    /// No one asks for it, so the change and its events are the system's.
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
            self.make_current(&mut tx, &Actor::System, code, *version)
                .await?;
        }
        tx.commit().await?;
        if !due.is_empty() {
            self.outbox.notify();
        }
        Ok(due.len())
    }

    /// Every minute until shutdown, makes current what has come into effect (Vietnam's
    /// date decides).
    pub async fn promote_scheduled_loop(self, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.promote_scheduled(cchc_platform::time::today()).await {
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
        let head: Head = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {HEAD_COLUMNS} FROM procedures WHERE code = $1"
        )))
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
        let row = row.ok_or_else(|| self::version(code, version))?;
        Ok(row.view(
            state_of(version, head.current_version, &head.status),
            &head.stamps,
        ))
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
        let row = draft_row(&mut conn, code).await?;
        let wanted = if version == 0 {
            row.head.current_version
        } else {
            version as i32
        };
        if wanted == 0 {
            return if with_draft {
                Ok(draft_view(code, content_of(row.draft), &row.head.stamps))
            } else {
                Err(procedure(code))
            };
        }
        let mut view = self.version_in(&mut conn, code, wanted).await?;
        // A version not yet in effect is not public.
        if view.status == version_status::SCHEDULED && !with_draft {
            return Err(self::version(code, wanted));
        }
        view.legal_documents = legal::bases_of(&mut conn, code).await?;
        Ok(view)
    }

    /// The draft of the next version, with its revision.
    pub async fn draft(&self, code: &str) -> Result<ProcedureView, Error> {
        let mut conn = self.pool.acquire().await?;
        let row = draft_row(&mut conn, code).await?;
        let mut view = draft_view(code, content_of(row.draft), &row.head.stamps);
        view.draft_revision = row.draft_revision as u32;
        Ok(view)
    }

    /// Saves the draft, by `actor`, when the edit's revision is the latest; otherwise
    /// someone else saved in between and this save is refused.
    pub async fn update_draft(&self, actor: &Actor, e: &DraftEdit) -> Result<ProcedureView, Error> {
        let code = e.code.as_str();
        let mut tx = self.pool.begin().await?;
        let saved: Option<Revision> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "UPDATE procedures SET draft = $2, draft_revision = draft_revision + 1, updated_at = now(), updated_by = $4
             WHERE code = $1 AND draft_revision = $3 RETURNING draft_revision, {STAMP_COLUMNS}"
        )))
        .bind(code)
        .bind(json_of(e.draft.content()))
        .bind(e.revision as i32)
        .bind(actor.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = saved {
            changed(&self.outbox, &mut tx, actor, code, DRAFT_SAVED).await?;
            tx.commit().await?;
            self.outbox.notify();
            let mut view = draft_view(code, e.draft.content().clone(), &row.stamps);
            view.draft_revision = row.draft_revision as u32;
            return Ok(view);
        }
        let current: Option<i32> =
            sqlx::query_scalar("SELECT draft_revision FROM procedures WHERE code = $1")
                .bind(code)
                .fetch_optional(&mut *tx)
                .await?;
        let current = current.ok_or_else(|| procedure(code))?;
        Err(Error::Stale(format!(
            "the draft of {code} was saved by someone else: revision {current} is current, this edit started from {}; reload and apply the edit again",
            e.revision
        )))
    }

    /// Every version in effect (and, for the office, scheduled ones), oldest first.
    pub async fn versions(
        &self,
        code: &str,
        with_scheduled: bool,
    ) -> Result<Vec<ProcedureView>, Error> {
        let mut conn = self.pool.acquire().await?;
        let head: Option<Head> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {HEAD_COLUMNS} FROM procedures WHERE code = $1"
        )))
        .bind(code)
        .fetch_optional(&mut *conn)
        .await?;
        let head = head.ok_or_else(|| procedure(code))?;
        let current = head.current_version;
        let rows: Vec<VersionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {VERSION_COLUMNS} FROM procedure_versions WHERE code = $1 ORDER BY version"
        )))
        .bind(code)
        .fetch_all(&mut *conn)
        .await?;
        let views: Vec<ProcedureView> = rows
            .into_iter()
            .filter(|r| with_scheduled || r.version <= current)
            .map(|r| {
                let state = state_of(r.version, current, &head.status);
                r.view(state, &head.stamps)
            })
            .collect();
        if views.is_empty() && !with_scheduled {
            return Err(procedure(code));
        }
        Ok(views)
    }

    /// Current versions matching the search, best first: the whole query in the name,
    /// then every word in the name, then words found elsewhere in the record.
    pub async fn search(&self, s: &ProcedureSearch) -> Result<SearchProceduresResponse, Error> {
        let words = terms(&s.q);
        let phrase = words.join(" ");
        let rows: Vec<SummaryRow> = sqlx::query_as(
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
        .bind(s.status)
        .bind(s.level)
        .bind(s.field.as_deref().map(fold))
        .bind(s.agency.as_deref().map(fold))
        .bind(s.page.fetch())
        .bind(s.page.offset())
        .fetch_all(&self.pool)
        .await?;
        let total = rows.first().map_or(0, |r| r.total as u64);
        let (rows, next_page_token) = s.page.page(rows);
        Ok(SearchProceduresResponse {
            procedures: rows.into_iter().map(Into::into).collect(),
            next_page_token,
            total,
        })
    }
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    code: String,
    version: i32,
    content: serde_json::Value,
    status: String,
    effective_date: chrono::NaiveDate,
    /// Hits of the whole search, not only of this page.
    total: i64,
}

impl From<SummaryRow> for ProcedureSummary {
    fn from(r: SummaryRow) -> Self {
        let c = content_of(r.content);
        ProcedureSummary {
            code: r.code,
            version: r.version as u32,
            name: c.name,
            status: r.status,
            level: c.level,
            field: c.field,
            implementing_agency: c.implementing_agency,
            effective_date: r.effective_date.to_string(),
        }
    }
}

/// What [`ProcedureChanged`] says changed.
const DRAFT_SAVED: &str = "draft_saved";
const DRAFT_IMPORTED: &str = "draft_imported";
const VERSION_SCHEDULED: &str = "version_scheduled";

/// Tells that the procedure's record changed (its last change is new) while its current
/// version stayed: readers that keep its answers (the gateway) take them afresh.
async fn changed(
    outbox: &Outbox,
    tx: &mut PgConnection,
    actor: &Actor,
    code: &str,
    change: &str,
) -> Result<(), Error> {
    let event = ProcedureChanged {
        code: code.to_owned(),
        change: change.to_owned(),
    };
    outbox.enqueue(tx, actor, &event).await?;
    Ok(())
}

fn draft_view(code: &str, content: ProcedureContent, stamps: &Stamps) -> ProcedureView {
    let mut view = ProcedureView {
        code: code.to_owned(),
        status: procedure_status::DRAFT.into(),
        version: 0,
        content: Some(content),
        ..Default::default()
    };
    stamps.apply(&mut view);
    view
}

/// The procedure `code` with its draft.
async fn draft_row(conn: &mut PgConnection, code: &str) -> Result<DraftRow, Error> {
    let row: Option<DraftRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT draft, draft_revision, {HEAD_COLUMNS} FROM procedures WHERE code = $1"
    )))
    .bind(code)
    .fetch_optional(&mut *conn)
    .await?;
    row.ok_or_else(|| procedure(code))
}

/// A current version with its procedure's stamps.
#[derive(sqlx::FromRow)]
struct PublishedRow {
    #[sqlx(flatten)]
    version: VersionRow,
    #[sqlx(flatten)]
    stamps: Stamps,
}

/// A legal document linked to the procedure `code`.
#[derive(sqlx::FromRow)]
struct BasisRow {
    code: String,
    #[sqlx(flatten)]
    document: RefRow,
}

impl Store {
    /// Every procedure whose current version is published, by code, with its legal
    /// documents (two queries, whatever the catalogue's size).
    pub async fn published(&self) -> Result<Vec<ProcedureView>, Error> {
        let prefixed = |columns: &str, table: &str| {
            columns
                .split(", ")
                .map(|c| format!("{table}.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let rows: Vec<PublishedRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {}, {} FROM procedure_versions v JOIN procedures p ON p.code = v.code AND p.current_version = v.version
             WHERE p.status = $1 ORDER BY v.code",
            prefixed(VERSION_COLUMNS, "v"),
            prefixed(STAMP_COLUMNS, "p"),
        )))
        .bind(procedure_status::PUBLISHED)
        .fetch_all(&self.pool)
        .await?;
        let links: Vec<BasisRow> = sqlx::query_as(
            "SELECT b.code, d.id, d.number_symbol, d.summary, d.status FROM legal_bases b
             JOIN legal_documents d ON d.id = b.document_id ORDER BY b.code, d.signed_date, d.number_symbol",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut by_code: std::collections::HashMap<String, Vec<LegalDocumentRef>> =
            std::collections::HashMap::new();
        for link in links {
            by_code
                .entry(link.code)
                .or_default()
                .push(link.document.into());
        }
        Ok(rows
            .into_iter()
            .map(|r| {
                let docs = by_code.remove(&r.version.code).unwrap_or_default();
                let mut v = r.version.view(procedure_status::PUBLISHED, &r.stamps);
                v.legal_documents = docs;
                v
            })
            .collect())
    }

    /// Imports a row into the procedure's draft, by `actor` (the parts the row gives,
    /// the rest kept), or in a dry run only says what it would do; either way, what
    /// changes, part by part. An identical draft is left alone (and its attribution with
    /// it), so importing the same file twice changes nothing.
    pub async fn import_draft(
        &self,
        actor: &Actor,
        p: &NewProcedure,
        parts: &Parts,
        dry_run: bool,
    ) -> Result<(Imported, Vec<ContentChange>), Error> {
        let code = p.code.as_str();
        let mut tx = self.pool.begin().await?;
        let existing: Option<ProcedureContent> =
            sqlx::query_scalar("SELECT draft FROM procedures WHERE code = $1 FOR UPDATE")
                .bind(code)
                .fetch_optional(&mut *tx)
                .await?
                .map(content_of);
        let content = imported(existing.as_ref(), p.draft.content(), parts);
        let changes = changes(existing.as_ref(), &content);
        let outcome = match &existing {
            None => Imported::Created,
            Some(_) if changes.is_empty() => Imported::Unchanged,
            Some(_) => Imported::Updated,
        };
        if dry_run {
            return Ok((outcome, changes));
        }
        let json = json_of(&content);
        match outcome {
            Imported::Created => {
                sqlx::query("INSERT INTO procedures (code, draft, created_by, updated_by) VALUES ($1, $2, $3, $3)")
                    .bind(code)
                    .bind(&json)
                    .bind(actor.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            Imported::Updated => {
                sqlx::query("UPDATE procedures SET draft = $2, draft_revision = draft_revision + 1, updated_at = now(), updated_by = $3 WHERE code = $1")
                    .bind(code)
                    .bind(&json)
                    .bind(actor.to_string())
                    .execute(&mut *tx)
                    .await?;
                changed(&self.outbox, &mut tx, actor, code, DRAFT_IMPORTED).await?;
            }
            Imported::Unchanged | Imported::Rejected => {}
        }
        tx.commit().await?;
        if outcome == Imported::Updated {
            self.outbox.notify();
        }
        Ok((outcome, changes))
    }
}
