//! The catalogue's PostgreSQL store. Every change that others must hear about writes its
//! event to the outbox in the same transaction.

use cchc_platform::outbox::Outbox;
use cchc_platform::validation::{Errors, internal, today};
use cchc_proto::catalogue::v1::{Decision, ProcedureContent, ProcedureView};
use cchc_proto::events::v1::ProcedurePublished;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::domain::{Publication, missing_parts};

/// Failures the store reports to the RPC layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("procedure {0} does not exist")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
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
            Error::Rule(m) => tonic::Status::failed_precondition(m),
            Error::Incomplete { message, errors } => errors
                .finish(tonic::Code::FailedPrecondition, &message)
                .err()
                .unwrap_or_else(|| tonic::Status::failed_precondition(message)),
            Error::Db(e) => internal(e),
        }
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
        }
    }
}

const VERSION_COLUMNS: &str = "code, version, content, decision_number, decision_date, decision_signer, change_type, change_note, effective_date";

impl Store {
    pub fn new(pool: PgPool, outbox: Outbox) -> Self {
        Self { pool, outbox }
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
        sqlx::query(
            "INSERT INTO procedure_versions (code, version, content, decision_number, decision_date, decision_signer, change_type, change_note, effective_date)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
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
        sqlx::query("UPDATE procedures SET current_version = $2, status = $3, updated_at = now() WHERE code = $1")
            .bind(code)
            .bind(version)
            .bind(status)
            .execute(&mut *tx)
            .await?;
        let c = content_of(v.content);
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
    pub async fn promote_scheduled(&self) -> Result<usize, Error> {
        let mut tx = self.pool.begin().await?;
        let due: Vec<(String, i32)> = sqlx::query_as(
            "SELECT v.code, v.version FROM procedure_versions v JOIN procedures p USING (code)
             WHERE v.current_since IS NULL AND v.effective_date <= $1 AND v.version > p.current_version
             ORDER BY v.effective_date, v.code, v.version FOR UPDATE OF v SKIP LOCKED",
        )
        .bind(today())
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
            if let Err(e) = self.promote_scheduled().await {
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
        let view = self.version_in(&mut conn, code, wanted).await?;
        // A version not yet in effect is not public.
        if view.status == "scheduled" && !with_draft {
            return Err(Error::NotFound(format!("{code} version {wanted}")));
        }
        Ok(view)
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
