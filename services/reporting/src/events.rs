//! Consuming the other services' events into the read models: each event is read into
//! the values the store keeps (a payload that cannot be read is permanent: it goes to
//! the dead letters) and written by [`crate::store::read_models`], idempotently, inside
//! the consumer's transaction.

use cchc_platform::consumer::{HandleError, Handler, Run, runs};
use cchc_platform::events::{actor, occurred_at, payload};
use cchc_platform::vocabulary::{change_type, procedure_status};
use cchc_proto::events::v1::{
    ActivityRecorded, BudgetSubmitted, Envelope, LegalDocumentChanged, LegalDocumentIssued,
    OneStopResultSubmitted, PostingConfirmed, PostingStale, ProcedurePublished,
    SatisfactionSubmitted, UnitCreated, UnitRenamed,
};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::start_of_day;
use crate::store::{self, read_models as rm};

pub use crate::store::read_models::TABLES;

/// The producers whose streams feed the read models.
pub const PRODUCERS: &[&str] = &["gateway", "catalogue", "activity"];

/// The durable consumer name reading `producer`'s stream.
pub fn durable(producer: &str) -> String {
    format!("reporting-{producer}")
}

pub struct ReadModels;

fn permanent(e: impl Into<anyhow::Error>) -> HandleError {
    HandleError::Permanent(e.into())
}

/// The store failed: the event is tried again.
fn transient(e: store::Error) -> HandleError {
    HandleError::Transient(e.into())
}

fn date(s: &str) -> Result<NaiveDate, HandleError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|e| permanent(anyhow::anyhow!("{s:?}: {e}")))
}

fn uuid(s: &str) -> Result<Uuid, HandleError> {
    s.parse::<Uuid>()
        .map_err(|e| permanent(anyhow::anyhow!("{s:?}: {e}")))
}

impl Handler for ReadModels {
    async fn handle(&self, tx: &mut PgConnection, env: &Envelope) -> Result<(), HandleError> {
        let at = occurred_at(env);
        // Records keep whom their event is attributed to, as the envelope says.
        let by = actor(env).map(|a| a.to_string());
        let by = by.as_deref();
        if let Some(e) = payload::<UnitCreated>(env) {
            unit_created(tx, &e.map_err(permanent)?, at).await
        } else if let Some(e) = payload::<UnitRenamed>(env) {
            unit_renamed(tx, &e.map_err(permanent)?).await
        } else if let Some(e) = payload::<ProcedurePublished>(env) {
            procedure_published(tx, &e.map_err(permanent)?, at).await
        } else if let Some(e) = payload::<LegalDocumentIssued>(env) {
            legal_document(tx, &e.map_err(permanent)?, at).await
        } else if let Some(e) = payload::<LegalDocumentChanged>(env) {
            let e = e.map_err(permanent)?;
            match e.document {
                Some(d) => legal_document(tx, &d, at).await,
                None => Err(permanent(anyhow::anyhow!("a change without its document"))),
            }
        } else if let Some(e) = payload::<PostingConfirmed>(env) {
            posting_confirmed(tx, &e.map_err(permanent)?, at).await
        } else if let Some(e) = payload::<PostingStale>(env) {
            posting_stale(tx, &e.map_err(permanent)?, at).await
        } else if let Some(e) = payload::<ActivityRecorded>(env) {
            activity_run(tx, vec![(env, e)]).await
        } else if let Some(e) = payload::<OneStopResultSubmitted>(env) {
            one_stop(tx, &e.map_err(permanent)?, at, by).await
        } else if let Some(e) = payload::<SatisfactionSubmitted>(env) {
            satisfaction(tx, &e.map_err(permanent)?, at, by).await
        } else if let Some(e) = payload::<BudgetSubmitted>(env) {
            budget(tx, &e.map_err(permanent)?, at, by).await
        } else {
            // Events reports do not use (e.g. the gateway's key changes) pass by.
            Ok(())
        }
    }

    /// Activities, by far the most numerous events, are written a run at a time; the
    /// others one by one, in order.
    async fn handle_all(
        &self,
        tx: &mut PgConnection,
        events: &[&Envelope],
    ) -> Result<(), HandleError> {
        for run in runs::<ActivityRecorded>(events) {
            match run {
                Run::Of(activities) => activity_run(tx, activities).await?,
                Run::One(env) => self.handle(tx, env).await?,
            }
        }
        Ok(())
    }
}

/// Activity events written to the read model in one statement.
async fn activity_run(
    tx: &mut PgConnection,
    run: Vec<(&Envelope, Result<ActivityRecorded, prost::DecodeError>)>,
) -> Result<(), HandleError> {
    let mut decoded = Vec::with_capacity(run.len());
    for (env, e) in run {
        // Records keep whom their event is attributed to, as the envelope says.
        let by = actor(env).map(|a| a.to_string());
        decoded.push((e.map_err(permanent)?, occurred_at(env), by));
    }
    let rows = decoded
        .iter()
        .map(|(e, at, by)| Ok((activity(e, by.as_deref())?, *at)))
        .collect::<Result<Vec<_>, HandleError>>()?;
    rm::activities_recorded(tx, &rows).await.map_err(transient)
}

async fn unit_created(
    tx: &mut PgConnection,
    u: &UnitCreated,
    at: DateTime<Utc>,
) -> Result<(), HandleError> {
    let unit = rm::Unit {
        unit_id: uuid(&u.unit_id)?,
        name: &u.name,
        kind: &u.kind,
        parent_id: u.parent_id.parse::<Uuid>().ok(),
    };
    rm::unit_created(tx, &unit, at).await.map_err(transient)
}

/// A new name from its effective date on, from midnight in Vietnam.
async fn unit_renamed(tx: &mut PgConnection, r: &UnitRenamed) -> Result<(), HandleError> {
    let id = uuid(&r.unit_id)?;
    let from = NaiveDate::parse_from_str(&r.effective_date, "%Y-%m-%d").map_err(permanent)?;
    rm::unit_renamed(tx, id, &r.new_name, start_of_day(from))
        .await
        .map_err(transient)
}

async fn procedure_published(
    tx: &mut PgConnection,
    p: &ProcedurePublished,
    at: DateTime<Utc>,
) -> Result<(), HandleError> {
    let status = if p.change_type == change_type::ABOLISHED {
        procedure_status::ABOLISHED
    } else {
        procedure_status::PUBLISHED
    };
    let version = rm::ProcedureVersion {
        code: &p.code,
        version: p.version as i32,
        name: &p.name,
        field: &p.field,
        level: &p.level,
        status,
        change_type: &p.change_type,
        effective_date: date(&p.effective_date)?,
        decision_number: &p.decision_number,
    };
    rm::procedure_published(tx, &version, at)
        .await
        .map_err(transient)
}

async fn legal_document(
    tx: &mut PgConnection,
    d: &LegalDocumentIssued,
    at: DateTime<Utc>,
) -> Result<(), HandleError> {
    let effective_date = if d.effective_date.is_empty() {
        None
    } else {
        Some(date(&d.effective_date)?)
    };
    let document = rm::LegalDocument {
        id: uuid(&d.id)?,
        number_symbol: &d.number_symbol,
        doc_type: &d.r#type,
        summary: &d.summary,
        issuer: &d.issuer,
        status: &d.status,
        effective_date,
    };
    rm::legal_document(tx, &document, at)
        .await
        .map_err(transient)
}

async fn posting_confirmed(
    tx: &mut PgConnection,
    p: &PostingConfirmed,
    at: DateTime<Utc>,
) -> Result<(), HandleError> {
    let posting = rm::Posting {
        unit_id: uuid(&p.unit_id)?,
        code: &p.code,
        version: p.version as i32,
        posted_on: date(&p.posted_on)?,
    };
    rm::posting_confirmed(tx, &posting, at)
        .await
        .map_err(transient)
}

async fn posting_stale(
    tx: &mut PgConnection,
    p: &PostingStale,
    at: DateTime<Utc>,
) -> Result<(), HandleError> {
    let stale = rm::StalePosting {
        unit_id: uuid(&p.unit_id)?,
        code: &p.code,
        posted_version: p.posted_version as i32,
        current_version: p.current_version as i32,
        procedure_name: &p.procedure_name,
    };
    rm::posting_stale(tx, &stale, at).await.map_err(transient)
}

/// The read model's record of an activity event.
fn activity<'a>(
    a: &'a ActivityRecorded,
    recorded_by: Option<&'a str>,
) -> Result<rm::Activity<'a>, HandleError> {
    let supersedes = if a.supersedes.is_empty() {
        None
    } else {
        Some(uuid(&a.supersedes)?)
    };
    Ok(rm::Activity {
        activity_id: uuid(&a.activity_id)?,
        unit_id: uuid(&a.unit_id)?,
        kind: &a.kind,
        date: date(&a.date)?,
        head_count: a.head_count,
        supersedes,
        recorded_by,
    })
}

/// What identifies a submission, read from its event's fields.
fn submission<'a>(
    submission_id: &str,
    unit_id: &str,
    period: &'a str,
    (start, end): (&str, &str),
    revision: u32,
    recorded_by: Option<&'a str>,
) -> Result<rm::Submission<'a>, HandleError> {
    Ok(rm::Submission {
        submission_id: uuid(submission_id)?,
        unit_id: uuid(unit_id)?,
        period,
        period_start: date(start)?,
        period_end: date(end)?,
        revision: revision as i32,
        recorded_by,
    })
}

async fn one_stop(
    tx: &mut PgConnection,
    r: &OneStopResultSubmitted,
    at: DateTime<Utc>,
    recorded_by: Option<&str>,
) -> Result<(), HandleError> {
    let s = submission(
        &r.submission_id,
        &r.unit_id,
        &r.period,
        (&r.period_start, &r.period_end),
        r.revision,
        recorded_by,
    )?;
    rm::one_stop(tx, &s, r, at).await.map_err(transient)
}

async fn satisfaction(
    tx: &mut PgConnection,
    s: &SatisfactionSubmitted,
    at: DateTime<Utc>,
    recorded_by: Option<&str>,
) -> Result<(), HandleError> {
    let sub = submission(
        &s.submission_id,
        &s.unit_id,
        &s.period,
        (&s.period_start, &s.period_end),
        s.revision,
        recorded_by,
    )?;
    rm::satisfaction(tx, &sub, s.responses, &s.criteria, at)
        .await
        .map_err(transient)
}

async fn budget(
    tx: &mut PgConnection,
    b: &BudgetSubmitted,
    at: DateTime<Utc>,
    recorded_by: Option<&str>,
) -> Result<(), HandleError> {
    let budget = rm::Budget {
        submission_id: uuid(&b.submission_id)?,
        unit_id: uuid(&b.unit_id)?,
        year: b.year,
        revision: b.revision as i32,
        planned_total_vnd: b.planned_total_vnd,
        spent_total_vnd: b.spent_total_vnd,
        lines: &b.lines,
        recorded_by,
    };
    rm::budget(tx, &budget, at).await.map_err(transient)
}
