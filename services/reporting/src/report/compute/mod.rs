//! Computing a [`Snapshot`] from the read models. Each section is one set-based query
//! (GROUP BY in PostgreSQL) over the covered units, all in one repeatable-read
//! transaction so the sections agree with each other.

use std::collections::HashMap;
use std::sync::Arc;

use cchc_proto::reporting::v1::{Plan, PlanPeriod};
use chrono::{DateTime, Days, FixedOffset, NaiveDate, TimeZone, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::*;
use crate::domain::period::Period;
use crate::domain::{KINDS, date_vi, kind_label, rate, required_in};
use crate::jobs::Heartbeat;

/// What a report is computed for.
#[derive(Debug, Clone)]
pub struct Input {
    /// The plan as stored, with its id and revision.
    pub plan: Plan,
    pub period: PlanPeriod,
    /// Empty: derived from the plan's symbol.
    pub number_symbol: String,
    pub report_date: Option<NaiveDate>,
    /// Empty: derived from the plan and period.
    pub title: String,
    /// When the plan was last saved: the "as of" time of a report with no data.
    pub plan_saved_at: DateTime<Utc>,
}

/// Where a running job reports how far it got: its row, and the worker's heartbeat.
pub struct Progress {
    job: Option<(PgPool, Uuid, Arc<Heartbeat>)>,
}

impl Progress {
    pub fn none() -> Self {
        Self { job: None }
    }

    pub fn job(pool: PgPool, report_id: Uuid, heartbeat: Arc<Heartbeat>) -> Self {
        Self {
            job: Some((pool, report_id, heartbeat)),
        }
    }

    pub async fn step(&self, percent: i32, step: &str) {
        if let Some((pool, id, heartbeat)) = &self.job {
            heartbeat.step(percent, step);
            let r = sqlx::query(
                "UPDATE reports SET percent = $2, step = $3 WHERE id = $1 AND state = 'running'",
            )
            .bind(id)
            .bind(percent)
            .bind(step)
            .execute(pool)
            .await;
            if let Err(e) = r {
                // Progress is advisory; the job goes on.
                tracing::warn!(error = %e, "recording report progress failed");
            }
        }
    }
}

fn vietnam() -> FixedOffset {
    FixedOffset::east_opt(7 * 3600).expect("valid offset")
}

/// The first instant after `day` ends in Vietnam.
fn end_of_day(day: NaiveDate) -> DateTime<Utc> {
    let next = day.checked_add_days(Days::new(1)).unwrap_or(day);
    vietnam()
        .from_local_datetime(&next.and_hms_opt(0, 0, 0).expect("midnight"))
        .single()
        .expect("fixed offsets are unambiguous")
        .to_utc()
}

/// "109/KH-SGDĐT-VP" gives "     /BC-SGDĐT-VP": a report of the same office, its
/// number left for the clerk who registers it.
pub fn default_number_symbol(plan_symbol: &str) -> String {
    let issuer = plan_symbol
        .split_once('/')
        .map(|(_, s)| s)
        .and_then(|s| s.split_once('-').map(|(_, rest)| rest))
        .unwrap_or("");
    if issuer.is_empty() {
        "     /BC".to_owned()
    } else {
        format!("     /BC-{issuer}")
    }
}

fn default_title(plan: &Plan, period_title: &str) -> String {
    format!(
        "Kết quả thực hiện Kế hoạch số {} {}",
        plan.number_symbol, period_title
    )
}

/// The time as the snapshot writes it.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[derive(Default)]
struct UnitAcc {
    name: String,
    kind: String,
    sort_key: String,
    activities: HashMap<String, (i64, i64)>,
    corrections: i64,
    postings_current: i64,
    postings_stale: i64,
    one_stop: Option<OneStopFigures>,
    satisfaction: Option<SatisfactionFigures>,
    budget: Option<BudgetFigures>,
}

/// `sum` (a numeric expression) as a bigint, or NULL when it does not fit one: the read
/// models hold whatever the events carried, and PostgreSQL would stop the whole query
/// with "bigint out of range". [`fits`] turns the NULL into the figure's [`Overflow`].
fn bigint(sum: &str) -> String {
    format!(
        "(CASE WHEN ({sum}) BETWEEN {} AND {} THEN ({sum})::bigint END)",
        i64::MIN,
        i64::MAX
    )
}

/// A sum from [`bigint`], or the [`Overflow`] of `figure` at the unit named `unit`.
fn fits(sum: Option<i64>, figure: &'static str, unit: &str) -> Result<i64, Overflow> {
    sum.ok_or_else(|| Overflow {
        figure,
        unit: Some(unit.to_owned()),
    })
}

/// Computes the snapshot. Fails when the database does, or with an [`Overflow`] when a
/// sum does not fit (every sum is checked: a wrong total is worse than none). A plan
/// whose units are unknown to the read models still gives a report (their names fall
/// back to ids).
// Rows are read as tuples in the order the queries name their columns.
#[allow(clippy::type_complexity)]
pub async fn compute(
    pool: &PgPool,
    input: &Input,
    progress: &Progress,
) -> anyhow::Result<Snapshot> {
    let period: Period = input
        .period
        .key
        .parse()
        .map_err(|e| anyhow::anyhow!("period {:?}: {e}", input.period.key))?;
    let (start, end) = (period.start(), period.end());
    let units: Vec<Uuid> = input
        .plan
        .unit_ids
        .iter()
        .map(|u| u.parse())
        .collect::<Result<_, _>>()?;

    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let conn: &mut PgConnection = &mut tx;
    let mut as_of: Option<DateTime<Utc>> = None;
    let mut seen = |t: Option<DateTime<Utc>>| {
        if let Some(t) = t {
            as_of = Some(as_of.map_or(t, |a: DateTime<Utc>| a.max(t)));
        }
    };

    progress.step(10, "units").await;
    let rows: Vec<(Uuid, Option<String>, Option<String>, Option<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT c.unit_id, n.name, n.kind, n.event_at
         FROM unnest($1::uuid[]) AS c(unit_id)
         LEFT JOIN LATERAL (
           SELECT name, kind, event_at FROM rm_unit_names x WHERE x.unit_id = c.unit_id
           ORDER BY (x.event_at < $2) DESC, CASE WHEN x.event_at < $2 THEN x.event_at END DESC, x.event_at, x.name
           LIMIT 1
         ) n ON true",
    )
    .bind(&units)
    .bind(end_of_day(end))
    .fetch_all(&mut *conn)
    .await?;
    let mut acc: HashMap<Uuid, UnitAcc> = HashMap::new();
    for (id, name, kind, at) in rows {
        seen(at);
        let name = name.unwrap_or_else(|| format!("Đơn vị {id}"));
        acc.insert(
            id,
            UnitAcc {
                sort_key: cchc_platform::text::fold(&name),
                name,
                kind: kind.unwrap_or_default(),
                ..Default::default()
            },
        );
    }

    progress.step(25, "activities").await;
    // Current records only: one that a correction superseded no longer counts.
    let rows: Vec<(Uuid, String, i64, Option<i64>, i64, Option<DateTime<Utc>>)> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT a.unit_id, a.kind, count(*), {},
                count(*) FILTER (WHERE a.supersedes IS NOT NULL), max(a.event_at)
         FROM rm_activities a
         WHERE a.unit_id = ANY($1) AND a.date BETWEEN $2 AND $3
           AND NOT EXISTS (SELECT 1 FROM rm_activities s WHERE s.supersedes = a.activity_id)
         GROUP BY a.unit_id, a.kind",
            bigint("coalesce(sum(a.head_count), 0)")
        )))
        .bind(&units)
        .bind(start)
        .bind(end)
        .fetch_all(&mut *conn)
        .await?;
    for (unit, kind, n, heads, corrections, at) in rows {
        seen(at);
        if let Some(u) = acc.get_mut(&unit) {
            let heads = fits(heads, figure::HEAD_COUNT, &u.name)?;
            let kind = if KINDS.contains(&kind.as_str()) {
                kind
            } else {
                "other".to_owned()
            };
            // Kinds reports do not know are added up under "other".
            let e = u.activities.entry(kind).or_default();
            let at_unit = |o: Overflow| o.at(&u.name);
            e.0 = plus(e.0, n, figure::ACTIVITIES).map_err(at_unit)?;
            e.1 = plus(e.1, heads, figure::HEAD_COUNT).map_err(at_unit)?;
            u.corrections =
                plus(u.corrections, corrections, figure::CORRECTIONS).map_err(at_unit)?;
        }
    }

    progress.step(40, "catalogue").await;
    let changes: Vec<(
        String,
        i32,
        String,
        String,
        String,
        NaiveDate,
        String,
        DateTime<Utc>,
    )> = sqlx::query_as(
        "SELECT code, version, name, field, change_type, effective_date, decision_number, event_at
         FROM rm_procedure_changes WHERE effective_date BETWEEN $1 AND $2
         ORDER BY effective_date, code, version",
    )
    .bind(start)
    .bind(end)
    .fetch_all(&mut *conn)
    .await?;
    let mut catalogue = Catalogue::default();
    for (code, version, name, field, change_type, effective, decision, at) in changes {
        seen(Some(at));
        match change_type.as_str() {
            "new" => catalogue.procedures_new += 1,
            "amended" => catalogue.procedures_amended += 1,
            "replaced" => catalogue.procedures_replaced += 1,
            "abolished" => catalogue.procedures_abolished += 1,
            _ => {}
        }
        catalogue.changes.push(ProcedureChange {
            code,
            version,
            name,
            field,
            change_type,
            effective_date: effective.to_string(),
            decision_number: decision,
        });
    }
    let (in_force, at): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE change_type <> 'abolished'), max(event_at) FROM (
           SELECT DISTINCT ON (code) change_type, event_at FROM rm_procedure_changes
           WHERE effective_date <= $1 ORDER BY code, version DESC) c",
    )
    .bind(end)
    .fetch_one(&mut *conn)
    .await?;
    seen(at);
    catalogue.procedures_in_force = in_force;
    let docs: Vec<(
        String,
        String,
        String,
        String,
        String,
        NaiveDate,
        DateTime<Utc>,
    )> = sqlx::query_as(
        "SELECT number_symbol, type, summary, issuer, status, effective_date, event_at
         FROM rm_legal_documents WHERE effective_date BETWEEN $1 AND $2
         ORDER BY effective_date, number_symbol, id",
    )
    .bind(start)
    .bind(end)
    .fetch_all(&mut *conn)
    .await?;
    for (number_symbol, doc_type, summary, issuer, status, effective, at) in docs {
        seen(Some(at));
        catalogue.legal_documents.push(LegalDocument {
            number_symbol,
            doc_type,
            summary,
            issuer,
            status,
            effective_date: effective.to_string(),
        });
    }

    progress.step(55, "postings").await;
    // A posting is current when the unit had posted (by the period's end) the version
    // then in force; postings of abolished procedures no longer count.
    const POSTINGS: &str = "WITH cur AS (
           SELECT DISTINCT ON (code) code, version, change_type, name FROM rm_procedure_changes
           WHERE effective_date <= $2 ORDER BY code, version DESC
         ), posted AS (
           SELECT unit_id, code, max(version) AS version, max(event_at) AS event_at FROM rm_postings
           WHERE unit_id = ANY($1) AND posted_on <= $2 GROUP BY unit_id, code
         )";
    let rows: Vec<(Uuid, i64, i64, Option<DateTime<Utc>>)> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{POSTINGS}
             SELECT p.unit_id, count(*) FILTER (WHERE p.version >= c.version),
                    count(*) FILTER (WHERE p.version < c.version), max(p.event_at)
             FROM posted p JOIN cur c USING (code) WHERE c.change_type <> 'abolished'
             GROUP BY p.unit_id"
        )))
        .bind(&units)
        .bind(end)
        .fetch_all(&mut *conn)
        .await?;
    for (unit, current, stale, at) in rows {
        seen(at);
        if let Some(u) = acc.get_mut(&unit) {
            u.postings_current = current;
            u.postings_stale = stale;
        }
    }
    let stale: Vec<(Uuid, String, String, i32, i32)> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{POSTINGS}
             SELECT p.unit_id, p.code, c.name, p.version, c.version
             FROM posted p JOIN cur c USING (code)
             WHERE c.change_type <> 'abolished' AND p.version < c.version"
        )))
        .bind(&units)
        .bind(end)
        .fetch_all(&mut *conn)
        .await?;

    progress.step(70, "one-stop results and satisfaction").await;
    // Per unit, the submission for the period itself, or else those of its largest
    // parts (halves, then quarters, then months). Flows are added up; what was pending
    // is taken from the last part and what was carried over from the first.
    const CHOSEN: &str = "WITH cur AS (
           SELECT DISTINCT ON (unit_id, period) *,
             CASE WHEN period !~ '-' THEN 4 WHEN period ~* '-h' THEN 3 WHEN period ~* '-q' THEN 2 ELSE 1 END AS grain
           FROM {table} WHERE unit_id = ANY($1) AND period_start >= $2 AND period_end <= $3
           ORDER BY unit_id, period, revision DESC
         ), ranked AS (
           SELECT *, max(grain) OVER (PARTITION BY unit_id) AS top FROM cur
         ), chosen AS (SELECT * FROM ranked WHERE grain = top)";
    type OneStopRow = (
        Uuid,
        Vec<String>,
        Option<i64>,
        Option<i64>,
        i64,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        i64,
        i64,
        Option<i64>,
        Option<DateTime<Utc>>,
    );
    let rows: Vec<OneStopRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{}
         SELECT unit_id, array_agg(period ORDER BY period_start),
           {}, {},
           (array_agg(received_carried_over ORDER BY period_start))[1],
           {}, {}, {},
           (array_agg(pending_within_time ORDER BY period_start DESC))[1],
           (array_agg(pending_overdue ORDER BY period_start DESC))[1],
           {}, max(event_at)
         FROM chosen GROUP BY unit_id",
        CHOSEN.replace("{table}", "rm_one_stop"),
        bigint("sum(received_online)"),
        bigint("sum(received_in_person_or_post)"),
        bigint("sum(resolved_early)"),
        bigint("sum(resolved_on_time)"),
        bigint("sum(resolved_late)"),
        bigint("sum(returned_withdrawn)"),
    )))
    .bind(&units)
    .bind(start)
    .bind(end)
    .fetch_all(&mut *conn)
    .await?;
    for (
        unit,
        periods,
        online,
        in_person,
        carried,
        early,
        on_time,
        late,
        within,
        overdue,
        returned,
        at,
    ) in rows
    {
        seen(at);
        if let Some(u) = acc.get_mut(&unit) {
            let sum = |v| fits(v, figure::ONE_STOP, &u.name);
            let mut f = OneStopFigures {
                periods,
                received_online: sum(online)?,
                received_in_person_or_post: sum(in_person)?,
                received_carried_over: carried,
                resolved_early: sum(early)?,
                resolved_on_time: sum(on_time)?,
                resolved_late: sum(late)?,
                pending_within_time: within,
                pending_overdue: overdue,
                returned_withdrawn: sum(returned)?,
                ..Default::default()
            };
            f.derive().map_err(|o| o.at(&u.name))?;
            u.one_stop = Some(f);
        }
    }
    let sat_chosen = CHOSEN.replace("{table}", "rm_satisfaction");
    type SatRow = (
        Uuid,
        Vec<String>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<DateTime<Utc>>,
    );
    let rows: Vec<SatRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{sat_chosen}
         SELECT s.unit_id, array_agg(s.period ORDER BY s.period_start), {},
           {}, {}, {},
           max(s.event_at)
         FROM chosen s LEFT JOIN LATERAL (
           SELECT sum(very_satisfied) AS v, sum(satisfied) AS s, sum(dissatisfied) AS d
           FROM rm_satisfaction_criteria WHERE submission_id = s.submission_id
         ) k ON true
         GROUP BY s.unit_id",
        bigint("sum(s.responses)"),
        bigint("coalesce(sum(k.v), 0)"),
        bigint("coalesce(sum(k.s), 0)"),
        bigint("coalesce(sum(k.d), 0)"),
    )))
    .bind(&units)
    .bind(start)
    .bind(end)
    .fetch_all(&mut *conn)
    .await?;
    for (unit, periods, responses, very, sat, dis, at) in rows {
        seen(at);
        if let Some(u) = acc.get_mut(&unit) {
            let sum = |v| fits(v, figure::SATISFACTION, &u.name);
            let mut f = SatisfactionFigures {
                periods,
                responses: sum(responses)?,
                very_satisfied: sum(very)?,
                satisfied: sum(sat)?,
                dissatisfied: sum(dis)?,
                rate: None,
            };
            f.derive().map_err(|o| o.at(&u.name))?;
            u.satisfaction = Some(f);
        }
    }
    let criteria: Vec<(String, Option<i64>, Option<i64>, Option<i64>)> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{sat_chosen}
         SELECT k.name, {}, {}, {}
         FROM chosen s JOIN rm_satisfaction_criteria k USING (submission_id)
         GROUP BY k.name ORDER BY k.name",
            bigint("sum(k.very_satisfied)"),
            bigint("sum(k.satisfied)"),
            bigint("sum(k.dissatisfied)"),
        )))
        .bind(&units)
        .bind(start)
        .bind(end)
        .fetch_all(&mut *conn)
        .await?;
    let criteria = criteria
        .into_iter()
        .map(|(name, v, s, d)| {
            let sum = |x: Option<i64>| {
                x.ok_or(Overflow {
                    figure: figure::SATISFACTION,
                    unit: None,
                })
            };
            Ok((name, sum(v)?, sum(s)?, sum(d)?))
        })
        .collect::<Result<Vec<_>, Overflow>>()?;

    progress.step(80, "budget").await;
    let rows: Vec<(Uuid, i64, i64, DateTime<Utc>)> = sqlx::query_as(
        "SELECT DISTINCT ON (unit_id) unit_id, planned_total_vnd, spent_total_vnd, event_at
         FROM rm_budget WHERE unit_id = ANY($1) AND year = $2 ORDER BY unit_id, revision DESC",
    )
    .bind(&units)
    .bind(period.calendar_year())
    .fetch_all(&mut *conn)
    .await?;
    for (unit, planned, spent, at) in rows {
        seen(Some(at));
        if let Some(u) = acc.get_mut(&unit) {
            u.budget = Some(BudgetFigures {
                planned_vnd: planned,
                spent_vnd: spent,
                execution_rate: rate(spent, planned),
            });
        }
    }
    tx.commit().await?;

    progress.step(85, "figures").await;
    let as_of = as_of.unwrap_or(input.plan_saved_at);
    let mut snapshot = assemble(input, &period, acc, catalogue, stale, criteria, as_of)?;
    snapshot.narrative = super::narrative::write(&snapshot);
    Ok(snapshot)
}

#[allow(clippy::too_many_arguments)]
fn assemble(
    input: &Input,
    period: &Period,
    acc: HashMap<Uuid, UnitAcc>,
    mut catalogue: Catalogue,
    stale: Vec<(Uuid, String, String, i32, i32)>,
    criteria: Vec<(String, i64, i64, i64)>,
    as_of: DateTime<Utc>,
) -> Result<Snapshot, Overflow> {
    let plan = &input.plan;
    let months = period.month_count();
    let mut ordered: Vec<(Uuid, UnitAcc)> = acc.into_iter().collect();
    // Vietnamese order ignoring diacritics, then exact name, then id: a total order.
    ordered.sort_by(|(ia, a), (ib, b)| (&a.sort_key, &a.name, ia).cmp(&(&b.sort_key, &b.name, ib)));
    let names: HashMap<Uuid, String> = ordered
        .iter()
        .map(|(id, u)| (*id, u.name.clone()))
        .collect();

    let mut targets: Vec<TargetResult> = plan
        .required_activities
        .iter()
        .map(|t| TargetResult {
            kind: t.kind.clone(),
            label: kind_label(&t.kind).to_owned(),
            min_per_unit: t.min_per_unit,
            per: t.per.clone(),
            required: required_in(t.min_per_unit, &t.per, months),
            units_meeting: 0,
            units_below: 0,
        })
        .collect();

    let mut overall = Overall {
        units_covered: ordered.len() as i64,
        units_reported: 0,
        units_silent: 0,
        units_below_target: 0,
        activities_total: 0,
        head_count_total: 0,
        corrections: 0,
        by_kind: KINDS
            .iter()
            .map(|k| KindFigure {
                kind: (*k).to_owned(),
                label: kind_label(k).to_owned(),
                count: 0,
                head_count: 0,
            })
            .collect(),
        silent_units: Vec::new(),
        below_target_units: Vec::new(),
    };
    let mut one_stop = OneStopTotals::default();
    let mut satisfaction = SatisfactionTotals::default();
    let mut budget = BudgetTotals {
        year: period.calendar_year(),
        ..Default::default()
    };
    let mut units = Vec::with_capacity(ordered.len());
    for (id, u) in ordered {
        let at_unit = |o: Overflow| o.at(&u.name);
        let activities: Vec<KindCount> = KINDS
            .iter()
            .map(|k| KindCount {
                kind: (*k).to_owned(),
                count: u.activities.get(*k).map_or(0, |c| c.0),
            })
            .collect();
        let total = activities
            .iter()
            .try_fold(0, |t, k| plus(t, k.count, figure::ACTIVITIES))
            .map_err(at_unit)?;
        // Every kind is one of KINDS (others were filed under "other"), so these are
        // the heads of the same activities.
        let heads = KINDS
            .iter()
            .filter_map(|k| u.activities.get(*k))
            .try_fold(0, |t, c| plus(t, c.1, figure::HEAD_COUNT))
            .map_err(at_unit)?;
        for (fig, k) in overall.by_kind.iter_mut().zip(KINDS) {
            if let Some((n, h)) = u.activities.get(*k) {
                fig.count = plus(fig.count, *n, figure::ACTIVITIES).map_err(at_unit)?;
                fig.head_count = plus(fig.head_count, *h, figure::HEAD_COUNT).map_err(at_unit)?;
            }
        }
        let mut below = Vec::new();
        for t in targets.iter_mut() {
            let n = u.activities.get(&t.kind).map_or(0, |c| c.0);
            if n >= t.required {
                t.units_meeting += 1;
            } else {
                t.units_below += 1;
                below.push(t.kind.clone());
            }
        }
        let reported =
            total > 0 || u.one_stop.is_some() || u.satisfaction.is_some() || u.budget.is_some();
        let r = UnitRef {
            unit_id: id.to_string(),
            name: u.name.clone(),
        };
        if reported {
            overall.units_reported += 1;
        } else {
            overall.silent_units.push(r.clone());
        }
        if !below.is_empty() {
            overall.below_target_units.push(r);
        }
        overall.activities_total =
            plus(overall.activities_total, total, figure::ACTIVITIES).map_err(at_unit)?;
        overall.head_count_total =
            plus(overall.head_count_total, heads, figure::HEAD_COUNT).map_err(at_unit)?;
        overall.corrections =
            plus(overall.corrections, u.corrections, figure::CORRECTIONS).map_err(at_unit)?;
        catalogue.postings_current = plus(
            catalogue.postings_current,
            u.postings_current,
            figure::POSTINGS,
        )
        .map_err(at_unit)?;
        catalogue.postings_stale =
            plus(catalogue.postings_stale, u.postings_stale, figure::POSTINGS).map_err(at_unit)?;
        if u.postings_stale > 0 {
            catalogue.units_with_stale += 1;
        }
        if let Some(o) = &u.one_stop {
            one_stop.units_submitted += 1;
            one_stop.figures.add(o).map_err(at_unit)?;
        }
        if let Some(s) = &u.satisfaction {
            satisfaction.units_submitted += 1;
            let t = &mut satisfaction.figures;
            let sum = |a, b| plus(a, b, figure::SATISFACTION).map_err(at_unit);
            t.responses = sum(t.responses, s.responses)?;
            t.very_satisfied = sum(t.very_satisfied, s.very_satisfied)?;
            t.satisfied = sum(t.satisfied, s.satisfied)?;
            t.dissatisfied = sum(t.dissatisfied, s.dissatisfied)?;
        }
        if let Some(b) = &u.budget {
            budget.units_submitted += 1;
            let t = &mut budget.figures;
            t.planned_vnd =
                plus(t.planned_vnd, b.planned_vnd, figure::BUDGET_PLANNED).map_err(at_unit)?;
            t.spent_vnd = plus(t.spent_vnd, b.spent_vnd, figure::BUDGET_SPENT).map_err(at_unit)?;
        }
        units.push(UnitRow {
            unit_id: id.to_string(),
            name: u.name,
            kind: u.kind,
            reported,
            activities_total: total,
            head_count: heads,
            activities,
            below_target: below,
            postings_current: u.postings_current,
            postings_stale: u.postings_stale,
            one_stop: u.one_stop,
            satisfaction: u.satisfaction,
            budget: u.budget,
        });
    }
    overall.units_silent = overall.silent_units.len() as i64;
    overall.units_below_target = overall.below_target_units.len() as i64;
    one_stop.figures.derive()?;
    satisfaction.figures.derive()?;
    satisfaction.criteria = criteria
        .into_iter()
        .map(|(name, v, s, d)| {
            Ok(CriterionFigure {
                rate: satisfaction_rate(v, s, d)?,
                name,
                very_satisfied: v,
                satisfied: s,
                dissatisfied: d,
            })
        })
        .collect::<Result<_, Overflow>>()?;
    budget.figures.execution_rate = rate(budget.figures.spent_vnd, budget.figures.planned_vnd);

    // Stale postings in the units' order, then by procedure code.
    let position: HashMap<&str, usize> = units
        .iter()
        .enumerate()
        .map(|(i, u)| (u.unit_id.as_str(), i))
        .collect();
    let mut stale: Vec<StalePosting> = stale
        .into_iter()
        .map(|(unit, code, name, posted, current)| StalePosting {
            unit_id: unit.to_string(),
            unit_name: names.get(&unit).cloned().unwrap_or_default(),
            code,
            procedure_name: name,
            posted_version: posted,
            current_version: current,
        })
        .collect();
    stale.sort_by(|a, b| {
        let pa = position
            .get(a.unit_id.as_str())
            .copied()
            .unwrap_or(usize::MAX);
        let pb = position
            .get(b.unit_id.as_str())
            .copied()
            .unwrap_or(usize::MAX);
        (pa, &a.code).cmp(&(pb, &b.code))
    });
    catalogue.stale_postings = stale;

    let as_of_local = as_of.with_timezone(&vietnam()).date_naive();
    let date = input.report_date.unwrap_or(as_of_local);
    let place = plan.place.clone();
    let place_and_date = if place.is_empty() {
        capitalise(&date_vi(date))
    } else {
        format!("{place}, {}", date_vi(date))
    };
    let number_symbol = if input.number_symbol.trim().is_empty() {
        default_number_symbol(&plan.number_symbol)
    } else {
        input.number_symbol.trim().to_owned()
    };
    let title = if input.title.trim().is_empty() {
        default_title(plan, &input.period.title)
    } else {
        input.title.trim().to_owned()
    };
    Ok(Snapshot {
        format: FORMAT.to_owned(),
        document: DocumentInfo {
            governing_body: plan.governing_body.clone(),
            issuing_body: plan.issuing_body.clone(),
            number_symbol,
            place,
            date: date.to_string(),
            place_and_date,
            title,
            signer_title: plan.signer_title.clone(),
            signer_name: plan.signer_name.clone(),
        },
        plan: PlanInfo {
            id: plan.id.clone(),
            revision: plan.revision,
            number_symbol: plan.number_symbol.clone(),
            year: plan.year,
            title: plan.title.clone(),
            issued_on: plan.issued_on.clone(),
        },
        period: PeriodInfo {
            key: input.period.key.clone(),
            title: input.period.title.clone(),
            start: input.period.start.clone(),
            end: input.period.end.clone(),
            due_date: input.period.due_date.clone(),
        },
        as_of: rfc3339(as_of),
        narrative: Vec::new(),
        overall,
        targets,
        units,
        catalogue,
        one_stop,
        satisfaction,
        budget,
        recipients: plan.recipients.iter().map(|r| r.name.clone()).collect(),
    })
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_symbol_follows_the_plan() {
        assert_eq!(
            default_number_symbol("109/KH-SGDĐT-VP"),
            "     /BC-SGDĐT-VP"
        );
        assert_eq!(default_number_symbol("12/KH"), "     /BC");
    }

    #[test]
    fn the_day_ends_in_vietnam() {
        let d: NaiveDate = "2020-06-30".parse().unwrap();
        assert_eq!(rfc3339(end_of_day(d)), "2020-06-30T17:00:00.000000Z");
    }
}
