//! The read models (`rm_*`) as the other services' events build them, each write inside
//! the consumer's transaction. Every write is idempotent (a repeat changes nothing) and
//! tolerant of order: rows are keyed by what identifies them in the producer, and
//! "current" is decided when reading (highest revision, newest version, not
//! superseded), never by arrival.

use cchc_proto::events::v1::{BudgetLineFigures, OneStopResultSubmitted, SatisfactionCriterion};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::Error;

/// The tables the read models are kept in; a replay empties exactly these.
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

/// A unit as created.
pub struct Unit<'a> {
    pub unit_id: Uuid,
    pub name: &'a str,
    pub kind: &'a str,
    pub parent_id: Option<Uuid>,
}

/// A published version of a procedure.
pub struct ProcedureVersion<'a> {
    pub code: &'a str,
    pub version: i32,
    pub name: &'a str,
    pub field: &'a str,
    pub level: &'a str,
    /// Where the procedure stands after this version (`procedure_status`).
    pub status: &'a str,
    pub change_type: &'a str,
    pub effective_date: NaiveDate,
    pub decision_number: &'a str,
}

/// A legal document as issued or last changed.
pub struct LegalDocument<'a> {
    pub id: Uuid,
    pub number_symbol: &'a str,
    pub doc_type: &'a str,
    pub summary: &'a str,
    pub issuer: &'a str,
    pub status: &'a str,
    pub effective_date: Option<NaiveDate>,
}

/// A unit's posting of one version of a procedure.
pub struct Posting<'a> {
    pub unit_id: Uuid,
    pub code: &'a str,
    pub version: i32,
    pub posted_on: NaiveDate,
}

/// A unit's posting found older than the version in force.
pub struct StalePosting<'a> {
    pub unit_id: Uuid,
    pub code: &'a str,
    pub posted_version: i32,
    pub current_version: i32,
    pub procedure_name: &'a str,
}

/// A communication activity as recorded.
pub struct Activity<'a> {
    pub activity_id: Uuid,
    pub unit_id: Uuid,
    pub kind: &'a str,
    pub date: NaiveDate,
    pub head_count: i64,
    /// The record this one corrects.
    pub supersedes: Option<Uuid>,
    /// Whom the event's envelope attributes it to.
    pub recorded_by: Option<&'a str>,
}

/// What identifies a unit's submission for a period (one-stop results, a survey).
pub struct Submission<'a> {
    pub submission_id: Uuid,
    pub unit_id: Uuid,
    pub period: &'a str,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub revision: i32,
    /// Whom the event's envelope attributes it to.
    pub recorded_by: Option<&'a str>,
}

/// A unit's budget for a year.
pub struct Budget<'a> {
    pub submission_id: Uuid,
    pub unit_id: Uuid,
    pub year: i32,
    pub revision: i32,
    pub planned_total_vnd: i64,
    pub spent_total_vnd: i64,
    pub lines: &'a [BudgetLineFigures],
    /// Whom the event's envelope attributes it to.
    pub recorded_by: Option<&'a str>,
}

pub async fn unit_created(
    tx: &mut PgConnection,
    u: &Unit<'_>,
    at: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO rm_units (unit_id, name, kind, parent_id, event_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (unit_id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind,
           parent_id = EXCLUDED.parent_id, event_at = EXCLUDED.event_at
         WHERE rm_units.event_at <= EXCLUDED.event_at",
    )
    .bind(u.unit_id)
    .bind(u.name)
    .bind(u.kind)
    .bind(u.parent_id)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO rm_unit_names (unit_id, name, kind, event_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
    )
    .bind(u.unit_id)
    .bind(u.name)
    .bind(u.kind)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A new name from `since` on: periods that ended before it keep the old name in
/// their reports.
pub async fn unit_renamed(
    tx: &mut PgConnection,
    unit_id: Uuid,
    new_name: &str,
    since: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO rm_unit_names (unit_id, name, kind, event_at)
         SELECT unit_id, $2, kind, $3 FROM rm_units WHERE unit_id = $1 ON CONFLICT DO NOTHING",
    )
    .bind(unit_id)
    .bind(new_name)
    .bind(since)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE rm_units SET name = $2 WHERE unit_id = $1")
        .bind(unit_id)
        .bind(new_name)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

pub async fn procedure_published(
    tx: &mut PgConnection,
    p: &ProcedureVersion<'_>,
    at: DateTime<Utc>,
) -> Result<(), Error> {
    // Versions only move forward, whatever order events arrive in.
    sqlx::query(
        "INSERT INTO rm_procedures (code, version, name, field, level, status, event_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (code) DO UPDATE SET version = EXCLUDED.version, name = EXCLUDED.name, field = EXCLUDED.field,
           level = EXCLUDED.level, status = EXCLUDED.status, event_at = EXCLUDED.event_at
         WHERE rm_procedures.version < EXCLUDED.version",
    )
    .bind(p.code)
    .bind(p.version)
    .bind(p.name)
    .bind(p.field)
    .bind(p.level)
    .bind(p.status)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO rm_procedure_changes (code, version, change_type, effective_date, event_at, name, field, decision_number)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
    )
    .bind(p.code)
    .bind(p.version)
    .bind(p.change_type)
    .bind(p.effective_date)
    .bind(at)
    .bind(p.name)
    .bind(p.field)
    .bind(p.decision_number)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The document as of its newest event.
pub async fn legal_document(
    tx: &mut PgConnection,
    d: &LegalDocument<'_>,
    at: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO rm_legal_documents (id, number_symbol, type, summary, issuer, status, effective_date, event_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (id) DO UPDATE SET number_symbol = EXCLUDED.number_symbol, type = EXCLUDED.type,
           summary = EXCLUDED.summary, issuer = EXCLUDED.issuer, status = EXCLUDED.status,
           effective_date = EXCLUDED.effective_date, event_at = EXCLUDED.event_at
         WHERE rm_legal_documents.event_at <= EXCLUDED.event_at",
    )
    .bind(d.id)
    .bind(d.number_symbol)
    .bind(d.doc_type)
    .bind(d.summary)
    .bind(d.issuer)
    .bind(d.status)
    .bind(d.effective_date)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A version confirmed again keeps the first date it was said to be posted.
pub async fn posting_confirmed(
    tx: &mut PgConnection,
    p: &Posting<'_>,
    at: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO rm_postings (unit_id, code, version, posted_on, event_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (unit_id, code, version) DO UPDATE SET
           posted_on = LEAST(rm_postings.posted_on, EXCLUDED.posted_on),
           event_at = GREATEST(rm_postings.event_at, EXCLUDED.event_at)",
    )
    .bind(p.unit_id)
    .bind(p.code)
    .bind(p.version)
    .bind(p.posted_on)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn posting_stale(
    tx: &mut PgConnection,
    s: &StalePosting<'_>,
    at: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO rm_posting_stale (unit_id, code, posted_version, current_version, procedure_name, event_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(s.unit_id)
    .bind(s.code)
    .bind(s.posted_version)
    .bind(s.current_version)
    .bind(s.procedure_name)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A correction names the record it supersedes; the superseded one stops counting when
/// it is read, so a correction may arrive before or after its original.
pub async fn activities_recorded(
    tx: &mut PgConnection,
    activities: &[(Activity<'_>, DateTime<Utc>)],
) -> Result<(), Error> {
    // One statement for the whole run: a batch of events costs one round trip here.
    let a = || activities.iter().map(|(a, _)| a);
    sqlx::query(
        "INSERT INTO rm_activities (activity_id, unit_id, kind, date, head_count, supersedes, event_at, recorded_by)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::date[], $5::bigint[], $6::uuid[],
             $7::timestamptz[], $8::text[])
         ON CONFLICT DO NOTHING",
    )
    .bind(a().map(|a| a.activity_id).collect::<Vec<_>>())
    .bind(a().map(|a| a.unit_id).collect::<Vec<_>>())
    .bind(a().map(|a| a.kind).collect::<Vec<_>>())
    .bind(a().map(|a| a.date).collect::<Vec<_>>())
    .bind(a().map(|a| a.head_count).collect::<Vec<_>>())
    .bind(a().map(|a| a.supersedes).collect::<Vec<_>>())
    .bind(activities.iter().map(|(_, at)| *at).collect::<Vec<_>>())
    .bind(a().map(|a| a.recorded_by).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// One revision of a unit's one-stop results, with the counters as the event carries them.
pub async fn one_stop(
    tx: &mut PgConnection,
    s: &Submission<'_>,
    r: &OneStopResultSubmitted,
    at: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO rm_one_stop (submission_id, unit_id, period, period_start, period_end, revision,
           received_online, received_in_person_or_post, received_carried_over, resolved_early, resolved_on_time,
           resolved_late, pending_within_time, pending_overdue, returned_withdrawn, event_at, recorded_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) ON CONFLICT DO NOTHING",
    )
    .bind(s.submission_id)
    .bind(s.unit_id)
    .bind(s.period)
    .bind(s.period_start)
    .bind(s.period_end)
    .bind(s.revision)
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
    .bind(s.recorded_by)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// One revision of a unit's satisfaction survey; its criteria are written with it the
/// first time only.
pub async fn satisfaction(
    tx: &mut PgConnection,
    s: &Submission<'_>,
    responses: i64,
    criteria: &[SatisfactionCriterion],
    at: DateTime<Utc>,
) -> Result<(), Error> {
    let fresh = sqlx::query(
        "INSERT INTO rm_satisfaction (submission_id, unit_id, period, period_start, period_end, revision, responses, event_at, recorded_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
    )
    .bind(s.submission_id)
    .bind(s.unit_id)
    .bind(s.period)
    .bind(s.period_start)
    .bind(s.period_end)
    .bind(s.revision)
    .bind(responses)
    .bind(at)
    .bind(s.recorded_by)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if fresh {
        let names: Vec<&str> = criteria.iter().map(|c| c.name.as_str()).collect();
        let very: Vec<i64> = criteria.iter().map(|c| c.very_satisfied).collect();
        let sat: Vec<i64> = criteria.iter().map(|c| c.satisfied).collect();
        let dis: Vec<i64> = criteria.iter().map(|c| c.dissatisfied).collect();
        sqlx::query(
            "INSERT INTO rm_satisfaction_criteria (submission_id, position, name, very_satisfied, satisfied, dissatisfied)
             SELECT $1, n::int, name, v, s, d FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[])
               WITH ORDINALITY AS c(name, v, s, d, n)",
        )
        .bind(s.submission_id)
        .bind(&names)
        .bind(&very)
        .bind(&sat)
        .bind(&dis)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// One revision of a unit's budget; its lines are written with it the first time only.
pub async fn budget(tx: &mut PgConnection, b: &Budget<'_>, at: DateTime<Utc>) -> Result<(), Error> {
    let fresh = sqlx::query(
        "INSERT INTO rm_budget (submission_id, unit_id, year, revision, planned_total_vnd, spent_total_vnd, event_at, recorded_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
    )
    .bind(b.submission_id)
    .bind(b.unit_id)
    .bind(b.year)
    .bind(b.revision)
    .bind(b.planned_total_vnd)
    .bind(b.spent_total_vnd)
    .bind(at)
    .bind(b.recorded_by)
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
        .bind(b.submission_id)
        .bind(&items)
        .bind(&sources)
        .bind(&planned)
        .bind(&spent)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Empties the read models and forgets which events `consumers` applied, so they
/// apply every event again.
pub async fn empty(tx: &mut PgConnection, consumers: &[String]) -> Result<(), Error> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "TRUNCATE {}",
        TABLES.join(", ")
    )))
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM cchc_processed_events WHERE consumer = ANY($1)")
        .bind(consumers)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
