//! Applying other services' events to the read models (`rm_*`), inside the consumer's
//! transaction. Every handler is idempotent (a repeat changes nothing) and tolerant of
//! order: rows are keyed by what identifies them in the producer, "current" is decided
//! when reading (highest revision, newest version, not superseded), never by arrival.

use cchc_platform::consumer::{HandleError, Handler};
use cchc_platform::events::{occurred_at, payload};
use cchc_proto::events::v1::{
    ActivityRecorded, BudgetSubmitted, Envelope, LegalDocumentChanged, LegalDocumentIssued,
    OneStopResultSubmitted, PostingConfirmed, PostingStale, ProcedurePublished,
    SatisfactionSubmitted, UnitCreated, UnitRenamed,
};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// The tables [`ReadModels`] writes; a replay empties exactly these.
pub const TABLES: &[&str] = &[
    "rm_units",
    "rm_unit_names",
    "rm_procedures",
    "rm_procedure_changes",
    "rm_legal_documents",
    "rm_postings",
    "rm_posting_stale",
    "rm_activities",
    "rm_one_stop",
    "rm_satisfaction",
    "rm_satisfaction_criteria",
    "rm_budget",
    "rm_budget_lines",
];

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
            activity_recorded(tx, &e.map_err(permanent)?, at).await
        } else if let Some(e) = payload::<OneStopResultSubmitted>(env) {
            one_stop(tx, &e.map_err(permanent)?, at).await
        } else if let Some(e) = payload::<SatisfactionSubmitted>(env) {
            satisfaction(tx, &e.map_err(permanent)?, at).await
        } else if let Some(e) = payload::<BudgetSubmitted>(env) {
            budget(tx, &e.map_err(permanent)?, at).await
        } else {
            // Events reports do not use (e.g. the gateway's key changes) pass by.
            Ok(())
        }
    }
}

async fn unit_created(
    tx: &mut PgConnection,
    u: &UnitCreated,
    at: DateTime<Utc>,
) -> Result<(), HandleError> {
    let id = uuid(&u.unit_id)?;
    sqlx::query(
        "INSERT INTO rm_units (unit_id, name, kind, parent_id, event_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (unit_id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
           parent_id = EXCLUDED.parent_id, event_at = EXCLUDED.event_at
         WHERE rm_units.event_at <= EXCLUDED.event_at",
    )
    .bind(id)
    .bind(&u.name)
    .bind(&u.kind)
    .bind(u.parent_id.parse::<Uuid>().ok())
    .bind(at)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO rm_unit_names (unit_id, name, kind, event_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(&u.name)
    .bind(&u.kind)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A new name from its effective date on: periods that ended before it keep the old
/// name in their reports.
async fn unit_renamed(tx: &mut PgConnection, r: &UnitRenamed) -> Result<(), HandleError> {
    let id = uuid(&r.unit_id)?;
    let from = NaiveDate::parse_from_str(&r.effective_date, "%Y-%m-%d").map_err(permanent)?;
    // Midnight in Vietnam (UTC+7) of the effective date.
    let since = from.and_hms_opt(0, 0, 0).expect("midnight").and_utc() - chrono::Duration::hours(7);
    sqlx::query(
        "INSERT INTO rm_unit_names (unit_id, name, kind, event_at)
         SELECT unit_id, $2, kind, $3 FROM rm_units WHERE unit_id = $1 ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(&r.new_name)
    .bind(since)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE rm_units SET name = $2 WHERE unit_id = $1")
        .bind(id)
        .bind(&r.new_name)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

async fn procedure_published(
    tx: &mut PgConnection,
    p: &ProcedurePublished,
    at: DateTime<Utc>,
) -> Result<(), HandleError> {
    let status = if p.change_type == "abolished" {
        "abolished"
    } else {
        "published"
    };
    // Versions only move forward, whatever order events arrive in.
    sqlx::query(
        "INSERT INTO rm_procedures (code, version, name, field, level, status, event_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (code) DO UPDATE SET version = EXCLUDED.version, name = EXCLUDED.name, field = EXCLUDED.field,
           level = EXCLUDED.level, status = EXCLUDED.status, event_at = EXCLUDED.event_at
         WHERE rm_procedures.version < EXCLUDED.version",
    )
    .bind(&p.code)
    .bind(p.version as i32)
    .bind(&p.name)
    .bind(&p.field)
    .bind(&p.level)
    .bind(status)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO rm_procedure_changes (code, version, change_type, effective_date, event_at, name, field, decision_number)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
    )
    .bind(&p.code)
    .bind(p.version as i32)
    .bind(&p.change_type)
    .bind(date(&p.effective_date)?)
    .bind(at)
    .bind(&p.name)
    .bind(&p.field)
    .bind(&p.decision_number)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn legal_document(
    tx: &mut PgConnection,
    d: &LegalDocumentIssued,
    at: DateTime<Utc>,
) -> Result<(), HandleError> {
    let effective = if d.effective_date.is_empty() {
        None
    } else {
        Some(date(&d.effective_date)?)
    };
    sqlx::query(
        "INSERT INTO rm_legal_documents (id, number_symbol, type, summary, issuer, status, effective_date, event_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (id) DO UPDATE SET number_symbol = EXCLUDED.number_symbol, type = EXCLUDED.type,
           summary = EXCLUDED.summary, issuer = EXCLUDED.issuer, status = EXCLUDED.status,
           effective_date = EXCLUDED.effective_date, event_at = EXCLUDED.event_at
         WHERE rm_legal_documents.event_at <= EXCLUDED.event_at",
    )
    .bind(uuid(&d.id)?)
    .bind(&d.number_symbol)
    .bind(&d.r#type)
    .bind(&d.summary)
    .bind(&d.issuer)
    .bind(&d.status)
    .bind(effective)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn posting_confirmed(
    tx: &mut PgConnection,
    p: &PostingConfirmed,
    at: DateTime<Utc>,
) -> Result<(), HandleError> {
    // A version confirmed again keeps the first date it was said to be posted.
    sqlx::query(
        "INSERT INTO rm_postings (unit_id, code, version, posted_on, event_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (unit_id, code, version) DO UPDATE SET
           posted_on = LEAST(rm_postings.posted_on, EXCLUDED.posted_on),
           event_at = GREATEST(rm_postings.event_at, EXCLUDED.event_at)",
    )
    .bind(uuid(&p.unit_id)?)
    .bind(&p.code)
    .bind(p.version as i32)
    .bind(date(&p.posted_on)?)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn posting_stale(
    tx: &mut PgConnection,
    p: &PostingStale,
    at: DateTime<Utc>,
) -> Result<(), HandleError> {
    sqlx::query(
        "INSERT INTO rm_posting_stale (unit_id, code, posted_version, current_version, procedure_name, event_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(uuid(&p.unit_id)?)
    .bind(&p.code)
    .bind(p.posted_version as i32)
    .bind(p.current_version as i32)
    .bind(&p.procedure_name)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn activity_recorded(
    tx: &mut PgConnection,
    a: &ActivityRecorded,
    at: DateTime<Utc>,
) -> Result<(), HandleError> {
    // A correction names the record it supersedes; the superseded one stops counting
    // when it is read, so a correction may arrive before or after its original.
    let supersedes = if a.supersedes.is_empty() {
        None
    } else {
        Some(uuid(&a.supersedes)?)
    };
    sqlx::query(
        "INSERT INTO rm_activities (activity_id, unit_id, kind, date, head_count, supersedes, event_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(uuid(&a.activity_id)?)
    .bind(uuid(&a.unit_id)?)
    .bind(&a.kind)
    .bind(date(&a.date)?)
    .bind(a.head_count)
    .bind(supersedes)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn one_stop(
    tx: &mut PgConnection,
    r: &OneStopResultSubmitted,
    at: DateTime<Utc>,
) -> Result<(), HandleError> {
    sqlx::query(
        "INSERT INTO rm_one_stop (submission_id, unit_id, period, period_start, period_end, revision,
           received_online, received_in_person_or_post, received_carried_over, resolved_early, resolved_on_time,
           resolved_late, pending_within_time, pending_overdue, returned_withdrawn, event_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) ON CONFLICT DO NOTHING",
    )
    .bind(uuid(&r.submission_id)?)
    .bind(uuid(&r.unit_id)?)
    .bind(&r.period)
    .bind(date(&r.period_start)?)
    .bind(date(&r.period_end)?)
    .bind(r.revision as i32)
    .bind(r.received_online)
    .bind(r.received_in_person_or_post)
    .bind(r.received_carried_over)
    .bind(r.resolved_early)
    .bind(r.resolved_on_time)
    .bind(r.resolved_late)
    .bind(r.pending_within_time)
    .bind(r.pending_overdue)
    .bind(r.returned_withdrawn)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn satisfaction(
    tx: &mut PgConnection,
    s: &SatisfactionSubmitted,
    at: DateTime<Utc>,
) -> Result<(), HandleError> {
    let id = uuid(&s.submission_id)?;
    let fresh = sqlx::query(
        "INSERT INTO rm_satisfaction (submission_id, unit_id, period, period_start, period_end, revision, responses, event_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(uuid(&s.unit_id)?)
    .bind(&s.period)
    .bind(date(&s.period_start)?)
    .bind(date(&s.period_end)?)
    .bind(s.revision as i32)
    .bind(s.responses)
    .bind(at)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if fresh {
        let names: Vec<&str> = s.criteria.iter().map(|c| c.name.as_str()).collect();
        let very: Vec<i64> = s.criteria.iter().map(|c| c.very_satisfied).collect();
        let sat: Vec<i64> = s.criteria.iter().map(|c| c.satisfied).collect();
        let dis: Vec<i64> = s.criteria.iter().map(|c| c.dissatisfied).collect();
        sqlx::query(
            "INSERT INTO rm_satisfaction_criteria (submission_id, position, name, very_satisfied, satisfied, dissatisfied)
             SELECT $1, n::int, name, v, s, d FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[])
               WITH ORDINALITY AS c(name, v, s, d, n)",
        )
        .bind(id)
        .bind(&names)
        .bind(&very)
        .bind(&sat)
        .bind(&dis)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

async fn budget(
    tx: &mut PgConnection,
    b: &BudgetSubmitted,
    at: DateTime<Utc>,
) -> Result<(), HandleError> {
    let id = uuid(&b.submission_id)?;
    let fresh = sqlx::query(
        "INSERT INTO rm_budget (submission_id, unit_id, year, revision, planned_total_vnd, spent_total_vnd, event_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(uuid(&b.unit_id)?)
    .bind(b.year)
    .bind(b.revision as i32)
    .bind(b.planned_total_vnd)
    .bind(b.spent_total_vnd)
    .bind(at)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if fresh {
        let items: Vec<&str> = b.lines.iter().map(|l| l.item.as_str()).collect();
        let sources: Vec<&str> = b.lines.iter().map(|l| l.funding_source.as_str()).collect();
        let planned: Vec<i64> = b.lines.iter().map(|l| l.planned_vnd).collect();
        let spent: Vec<i64> = b.lines.iter().map(|l| l.spent_vnd).collect();
        sqlx::query(
            "INSERT INTO rm_budget_lines (submission_id, position, item, funding_source, planned_vnd, spent_vnd)
             SELECT $1, n::int, item, src, p, s FROM unnest($2::text[], $3::text[], $4::bigint[], $5::bigint[])
               WITH ORDINALITY AS l(item, src, p, s, n)",
        )
        .bind(id)
        .bind(&items)
        .bind(&sources)
        .bind(&planned)
        .bind(&spent)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
