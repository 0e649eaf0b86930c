//! Computing a [`Snapshot`] from the read models: one function per section reads its
//! rows from the store's consistent view ([`Figures`]) and files them under the covered
//! units (`Tally`); `totals` then adds the units up into the report.

mod totals;

use std::collections::HashMap;
use std::sync::Arc;

use cchc_platform::vocabulary::{activity_kind, change_type};
use cchc_proto::reporting::v1::{Plan, PlanPeriod};
use chrono::{DateTime, Days, NaiveDate, Utc};
use uuid::Uuid;

use super::*;
use crate::domain::period::Period;
use crate::domain::{rate, start_of_day};
use crate::jobs::Heartbeat;
use crate::store::Store;
use crate::store::figures::{Figures, Scope};
use totals::{assemble, ordered, stale_postings};

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
    /// Empty: the plan's signer.
    pub signer_title: String,
    pub signer_name: String,
    /// When the plan was last saved: the "as of" time of a report with no data.
    pub plan_saved_at: DateTime<Utc>,
}

/// Where a running job reports how far it got: its row, and the worker's heartbeat.
pub struct Progress {
    store: Store,
    report_id: Uuid,
    heartbeat: Arc<Heartbeat>,
}

impl Progress {
    pub fn job(store: Store, report_id: Uuid, heartbeat: Arc<Heartbeat>) -> Self {
        Self {
            store,
            report_id,
            heartbeat,
        }
    }

    pub async fn step(&self, percent: i32, step: &str) {
        self.heartbeat.step(percent, step);
        if let Err(e) = self
            .store
            .record_progress(self.report_id, percent, step)
            .await
        {
            // Progress is advisory; the job goes on.
            tracing::warn!(error = %e, "recording report progress failed");
        }
    }
}

/// The first instant after `day` ends in Vietnam.
fn end_of_day(day: NaiveDate) -> DateTime<Utc> {
    start_of_day(day.checked_add_days(Days::new(1)).unwrap_or(day))
}

/// A unit's activities of one kind.
#[derive(Default, Clone, Copy)]
struct KindTally {
    count: i64,
    head_count: i64,
}

/// One covered unit's figures, as the sections find them.
#[derive(Default)]
struct UnitAcc {
    name: String,
    kind: String,
    sort_key: String,
    activities: HashMap<String, KindTally>,
    corrections: i64,
    postings_current: i64,
    postings_stale: i64,
    /// Posting confirmations dated in the period: postings done.
    postings_made: i64,
    one_stop: Option<OneStopFigures>,
    satisfaction: Option<SatisfactionFigures>,
    budget: Option<BudgetFigures>,
    /// The unit's standing submission of the period: when, and whether late.
    submitted: Option<(DateTime<Utc>, bool)>,
}

/// The covered units' figures, and the newest event time any section read.
#[derive(Default)]
struct Tally {
    units: HashMap<Uuid, UnitAcc>,
    as_of: Option<DateTime<Utc>>,
}

impl Tally {
    fn seen(&mut self, t: Option<DateTime<Utc>>) {
        if let Some(t) = t {
            self.as_of = Some(self.as_of.map_or(t, |a| a.max(t)));
        }
    }
}

/// A sum the store could not fit in a bigint is the [`Overflow`] of `figure` at the
/// unit named `unit`.
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
pub async fn compute(
    store: &Store,
    input: &Input,
    progress: &Progress,
) -> anyhow::Result<Snapshot> {
    let period: Period = input
        .period
        .key
        .parse()
        .map_err(|e| anyhow::anyhow!("period {:?}: {e}", input.period.key))?;
    let units: Vec<Uuid> = input
        .plan
        .unit_ids
        .iter()
        .map(|u| u.parse())
        .collect::<Result<_, _>>()?;
    let scope = Scope {
        units: &units,
        start: period.start(),
        end: period.end(),
    };

    let mut f = store.figures().await?;
    let mut tally = Tally::default();
    progress.step(10, "units").await;
    unit_names(&mut f, scope, &mut tally).await?;
    progress.step(25, "activities").await;
    activities(&mut f, scope, &mut tally).await?;
    progress.step(40, "catalogue").await;
    let mut catalogue = catalogue(&mut f, scope, &mut tally).await?;
    progress.step(55, "postings").await;
    postings(&mut f, scope, &mut tally).await?;
    let stale = f.stale_postings(scope).await?;
    progress.step(70, "one-stop results and satisfaction").await;
    one_stop(&mut f, scope, &mut tally).await?;
    satisfaction(&mut f, scope, &mut tally).await?;
    let criteria = criteria(&mut f, scope).await?;
    progress.step(80, "budget").await;
    budget(&mut f, &units, period.calendar_year(), &mut tally).await?;
    progress.step(83, "submissions").await;
    submissions(&mut f, input, &mut tally).await?;
    f.close().await?;

    progress.step(85, "figures").await;
    let as_of = tally.as_of.unwrap_or(input.plan_saved_at);
    let units = ordered(tally.units);
    catalogue.stale_postings = stale_postings(stale, &units);
    let mut snapshot = assemble(input, &period, units, catalogue, criteria, as_of)?;
    snapshot.narrative = super::narrative::write(&snapshot);
    Ok(snapshot)
}

/// Which units submitted the period: they, and only they, have reported.
async fn submissions(f: &mut Figures, input: &Input, t: &mut Tally) -> anyhow::Result<()> {
    let plan_id: Uuid = input.plan.id.parse()?;
    // A submission is not data: it does not move the report's "as of" time.
    for (unit_id, at, late) in f.submissions(plan_id, &input.period.key).await? {
        if let Some(u) = t.units.get_mut(&unit_id) {
            u.submitted = Some((at, late));
        }
    }
    Ok(())
}

/// Every covered unit, named as it was at the end of the period.
async fn unit_names(f: &mut Figures, s: Scope<'_>, t: &mut Tally) -> anyhow::Result<()> {
    for row in f.units(s.units, end_of_day(s.end)).await? {
        t.seen(row.event_at);
        let name = row
            .name
            .unwrap_or_else(|| format!("Đơn vị {}", row.unit_id));
        t.units.insert(
            row.unit_id,
            UnitAcc {
                sort_key: cchc_platform::text::fold(&name),
                name,
                kind: row.kind.unwrap_or_default(),
                ..Default::default()
            },
        );
    }
    Ok(())
}

/// Activities by unit and kind; kinds reports do not know are added up under "other".
async fn activities(f: &mut Figures, s: Scope<'_>, t: &mut Tally) -> anyhow::Result<()> {
    for row in f.activities(s).await? {
        t.seen(row.event_at);
        let Some(u) = t.units.get_mut(&row.unit_id) else {
            continue;
        };
        let heads = fits(row.head_count, figure::HEAD_COUNT, &u.name)?;
        let kind = if activity_kind::ALL.contains(&row.kind.as_str()) {
            row.kind
        } else {
            activity_kind::OTHER.to_owned()
        };
        let e = u.activities.entry(kind).or_default();
        let at_unit = |o: Overflow| o.at(&u.name);
        e.count = plus(e.count, row.count, figure::ACTIVITIES).map_err(at_unit)?;
        e.head_count = plus(e.head_count, heads, figure::HEAD_COUNT).map_err(at_unit)?;
        u.corrections =
            plus(u.corrections, row.corrections, figure::CORRECTIONS).map_err(at_unit)?;
    }
    Ok(())
}

/// The procedures and legal documents that took effect in the period, and the
/// procedures in force at its end.
async fn catalogue(f: &mut Figures, s: Scope<'_>, t: &mut Tally) -> anyhow::Result<Catalogue> {
    let mut catalogue = Catalogue::default();
    for row in f.procedure_changes(s).await? {
        t.seen(Some(row.event_at));
        match row.change_type.as_str() {
            change_type::NEW => catalogue.procedures_new += 1,
            change_type::AMENDED => catalogue.procedures_amended += 1,
            change_type::REPLACED => catalogue.procedures_replaced += 1,
            change_type::ABOLISHED => catalogue.procedures_abolished += 1,
            _ => {}
        }
        catalogue.changes.push(ProcedureChange {
            code: row.code,
            version: row.version,
            name: row.name,
            field: row.field,
            change_type: row.change_type,
            effective_date: row.effective_date.to_string(),
            decision_number: row.decision_number,
        });
    }
    let in_force = f.procedures_in_force(s).await?;
    t.seen(in_force.event_at);
    catalogue.procedures_in_force = in_force.in_force;
    for row in f.legal_documents(s).await? {
        t.seen(Some(row.event_at));
        catalogue.legal_documents.push(LegalDocument {
            number_symbol: row.number_symbol,
            doc_type: row.doc_type,
            summary: row.summary,
            issuer: row.issuer,
            status: row.status,
            effective_date: row.effective_date.to_string(),
        });
    }
    Ok(catalogue)
}

/// Each unit's postings at the end of the period, current or stale.
async fn postings(f: &mut Figures, s: Scope<'_>, t: &mut Tally) -> anyhow::Result<()> {
    for row in f.postings(s).await? {
        t.seen(row.event_at);
        if let Some(u) = t.units.get_mut(&row.unit_id) {
            u.postings_current = row.current;
            u.postings_stale = row.stale;
        }
    }
    for (unit_id, made, at) in f.postings_made(s).await? {
        t.seen(at);
        if let Some(u) = t.units.get_mut(&unit_id) {
            u.postings_made = made;
        }
    }
    Ok(())
}

async fn one_stop(f: &mut Figures, s: Scope<'_>, t: &mut Tally) -> anyhow::Result<()> {
    for row in f.one_stop(s).await? {
        t.seen(row.event_at);
        let Some(u) = t.units.get_mut(&row.unit_id) else {
            continue;
        };
        let sum = |v| fits(v, figure::ONE_STOP, &u.name);
        let mut figures = OneStopFigures {
            periods: row.periods,
            received_online: sum(row.received_online)?,
            received_in_person_or_post: sum(row.received_in_person_or_post)?,
            received_carried_over: row.received_carried_over,
            resolved_early: sum(row.resolved_early)?,
            resolved_on_time: sum(row.resolved_on_time)?,
            resolved_late: sum(row.resolved_late)?,
            pending_within_time: row.pending_within_time,
            pending_overdue: row.pending_overdue,
            returned_withdrawn: sum(row.returned_withdrawn)?,
            ..Default::default()
        };
        figures.derive().map_err(|o| o.at(&u.name))?;
        u.one_stop = Some(figures);
    }
    Ok(())
}

async fn satisfaction(f: &mut Figures, s: Scope<'_>, t: &mut Tally) -> anyhow::Result<()> {
    for row in f.satisfaction(s).await? {
        t.seen(row.event_at);
        let Some(u) = t.units.get_mut(&row.unit_id) else {
            continue;
        };
        let sum = |v| fits(v, figure::SATISFACTION, &u.name);
        let mut figures = SatisfactionFigures {
            periods: row.periods,
            responses: sum(row.responses)?,
            very_satisfied: sum(row.very_satisfied)?,
            satisfied: sum(row.satisfied)?,
            dissatisfied: sum(row.dissatisfied)?,
            rate: None,
        };
        figures.derive().map_err(|o| o.at(&u.name))?;
        u.satisfaction = Some(figures);
    }
    Ok(())
}

/// The survey's criteria over all covered units; their rates are derived with the
/// totals, in [`assemble`].
async fn criteria(f: &mut Figures, s: Scope<'_>) -> anyhow::Result<Vec<CriterionFigure>> {
    let sum = |x: Option<i64>| {
        x.ok_or(Overflow {
            figure: figure::SATISFACTION,
            unit: None,
        })
    };
    let mut criteria = Vec::new();
    for row in f.criteria(s).await? {
        criteria.push(CriterionFigure {
            very_satisfied: sum(row.very_satisfied)?,
            satisfied: sum(row.satisfied)?,
            dissatisfied: sum(row.dissatisfied)?,
            name: row.name,
            rate: None,
        });
    }
    Ok(criteria)
}

/// Each unit's budget for the period's calendar year.
async fn budget(f: &mut Figures, units: &[Uuid], year: i32, t: &mut Tally) -> anyhow::Result<()> {
    for row in f.budget(units, year).await? {
        t.seen(Some(row.event_at));
        if let Some(u) = t.units.get_mut(&row.unit_id) {
            u.budget = Some(BudgetFigures {
                planned_vnd: row.planned_total_vnd,
                spent_vnd: row.spent_total_vnd,
                execution_rate: rate(row.spent_total_vnd, row.planned_total_vnd),
            });
        }
    }
    Ok(())
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_ends_in_vietnam() {
        let d: NaiveDate = "2020-06-30".parse().unwrap();
        assert_eq!(
            cchc_platform::time::stamp(&end_of_day(d)),
            "2020-06-30T17:00:00.000000Z"
        );
    }
}
