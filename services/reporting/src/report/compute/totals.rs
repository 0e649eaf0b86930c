//! Adding the covered units up into a report: each unit in the report's order, section
//! by section, every sum checked ([`Totals`]); then the rates, the stale postings in
//! the units' order and the document's header ([`assemble`]).

use std::collections::HashMap;

use cchc_platform::time::{in_vietnam, stamp};
use cchc_platform::vocabulary::activity_kind;
use cchc_proto::reporting::v1::Plan;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Input, UnitAcc};
use crate::domain::period::Period;
use crate::domain::{date_vi, kind_label, per_months, rate, required_in};
use crate::report::*;
use crate::store::figures as rows;

/// "109/KH-SGDĐT-VP" gives "     /BC-SGDĐT-VP": a report of the same office, its
/// number left for the clerk who registers it.
fn default_number_symbol(plan_symbol: &str) -> String {
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

/// The Department's order: by kind of unit ([`rank`]), then by name ignoring
/// diacritics, then exact name, then id (a total order).
///
/// [`rank`]: cchc_platform::vocabulary::unit_kind::rank
pub(super) fn ordered(units: HashMap<Uuid, UnitAcc>) -> Vec<(Uuid, UnitAcc)> {
    use cchc_platform::vocabulary::unit_kind::rank;
    let mut ordered: Vec<(Uuid, UnitAcc)> = units.into_iter().collect();
    ordered.sort_by(|(ia, a), (ib, b)| {
        (rank(&a.kind), &a.sort_key, &a.name, ia).cmp(&(rank(&b.kind), &b.sort_key, &b.name, ib))
    });
    ordered
}

/// Stale postings in the units' order, then by procedure code.
pub(super) fn stale_postings(
    found: Vec<rows::StalePosting>,
    units: &[(Uuid, UnitAcc)],
) -> Vec<StalePosting> {
    let position: HashMap<Uuid, (usize, &str)> = units
        .iter()
        .enumerate()
        .map(|(i, (id, u))| (*id, (i, u.name.as_str())))
        .collect();
    let mut stale: Vec<(usize, StalePosting)> = found
        .into_iter()
        .map(|r| {
            let (at, name) = position
                .get(&r.unit_id)
                .copied()
                .unwrap_or((usize::MAX, ""));
            let posting = StalePosting {
                unit_id: r.unit_id.to_string(),
                unit_name: name.to_owned(),
                code: r.code,
                procedure_name: r.name,
                posted_version: r.posted_version,
                current_version: r.current_version,
            };
            (at, posting)
        })
        .collect();
    stale.sort_by(|(pa, a), (pb, b)| (pa, &a.code).cmp(&(pb, &b.code)));
    stale.into_iter().map(|(_, p)| p).collect()
}

/// The report's totals, added up unit by unit.
struct Totals {
    overall: Overall,
    targets: Vec<TargetResult>,
    catalogue: Catalogue,
    one_stop: OneStopTotals,
    satisfaction: SatisfactionTotals,
    budget: BudgetTotals,
}

impl Totals {
    fn new(plan: &Plan, period: &Period, units_covered: i64, catalogue: Catalogue) -> Self {
        let months = period.month_count();
        Self {
            targets: plan
                .required_activities
                .iter()
                .map(|t| {
                    // A yearly target in a half-year report is progress toward the year,
                    // not a minimum missed at mid-year.
                    let progress = per_months(&t.per) > months;
                    TargetResult {
                        kind: t.kind.clone(),
                        label: kind_label(&t.kind).to_owned(),
                        min_per_unit: t.min_per_unit,
                        per: t.per.clone(),
                        required: if progress {
                            t.min_per_unit
                        } else {
                            required_in(t.min_per_unit, &t.per, months)
                        },
                        units_meeting: 0,
                        units_below: 0,
                        progress,
                        units_in_progress: 0,
                    }
                })
                .collect(),
            overall: Overall {
                units_covered,
                units_reported: 0,
                units_late: 0,
                units_silent: 0,
                units_below_target: 0,
                activities_total: 0,
                head_count_total: 0,
                corrections: 0,
                by_kind: activity_kind::ALL
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
            },
            catalogue,
            one_stop: OneStopTotals::default(),
            satisfaction: SatisfactionTotals::default(),
            budget: BudgetTotals {
                year: period.calendar_year(),
                ..Default::default()
            },
        }
    }

    /// Adds one unit in, section by section, and gives its row.
    fn add(&mut self, id: Uuid, u: UnitAcc) -> Result<UnitRow, Overflow> {
        let at_unit = |o: Overflow| o.at(&u.name);
        let (activities, total, heads) = self.add_activities(&u).map_err(at_unit)?;
        let below = self.add_targets(&u);
        // A unit has reported when it submitted the period, whatever else it sent.
        let reported = u.submitted.is_some();
        let submitted_late = u.submitted.is_some_and(|(_, late)| late);
        if submitted_late {
            self.overall.units_late += 1;
        }
        let r = UnitRef {
            unit_id: id.to_string(),
            name: u.name.clone(),
        };
        if reported {
            self.overall.units_reported += 1;
        } else {
            self.overall.silent_units.push(r.clone());
        }
        if !below.is_empty() {
            self.overall.below_target_units.push(r);
        }
        let o = &mut self.overall;
        o.activities_total =
            plus(o.activities_total, total, figure::ACTIVITIES).map_err(at_unit)?;
        o.head_count_total =
            plus(o.head_count_total, heads, figure::HEAD_COUNT).map_err(at_unit)?;
        o.corrections = plus(o.corrections, u.corrections, figure::CORRECTIONS).map_err(at_unit)?;
        self.add_postings(&u).map_err(at_unit)?;
        self.add_submissions(&u).map_err(at_unit)?;
        Ok(UnitRow {
            unit_id: id.to_string(),
            name: u.name,
            kind: u.kind,
            reported,
            submitted_at: u
                .submitted
                .map(|(at, _)| cchc_platform::time::stamp(&at))
                .unwrap_or_default(),
            submitted_late,
            activities_total: total,
            head_count: heads,
            activities,
            below_target: below,
            postings_current: u.postings_current,
            postings_stale: u.postings_stale,
            one_stop: u.one_stop,
            satisfaction: u.satisfaction,
            budget: u.budget,
        })
    }

    /// The unit's count of every kind, its total and its head count, added into the
    /// overall figures by kind.
    fn add_activities(&mut self, u: &UnitAcc) -> Result<(Vec<KindCount>, i64, i64), Overflow> {
        let activities: Vec<KindCount> = activity_kind::ALL
            .iter()
            .map(|k| KindCount {
                kind: (*k).to_owned(),
                count: u.activities.get(*k).map_or(0, |c| c.count),
            })
            .collect();
        let total = activities
            .iter()
            .try_fold(0, |t, k| plus(t, k.count, figure::ACTIVITIES))?;
        // Every kind is one of the known kinds (others were filed under "other"), so
        // these are the heads of the same activities.
        let heads = activity_kind::ALL
            .iter()
            .filter_map(|k| u.activities.get(*k))
            .try_fold(0, |t, c| plus(t, c.head_count, figure::HEAD_COUNT))?;
        for (fig, k) in self.overall.by_kind.iter_mut().zip(activity_kind::ALL) {
            if let Some(c) = u.activities.get(*k) {
                fig.count = plus(fig.count, c.count, figure::ACTIVITIES)?;
                fig.head_count = plus(fig.head_count, c.head_count, figure::HEAD_COUNT)?;
            }
        }
        Ok((activities, total, heads))
    }

    /// Counts the unit against each target; gives the kinds it fell short of.
    fn add_targets(&mut self, u: &UnitAcc) -> Vec<String> {
        let mut below = Vec::new();
        for t in self.targets.iter_mut() {
            let mut n = u.activities.get(&t.kind).map_or(0, |c| c.count);
            // Posting is done by confirming postings as well as by logging it.
            if t.kind == cchc_platform::vocabulary::activity_kind::POSTING {
                n = n.saturating_add(u.postings_made);
            }
            if n >= t.required {
                t.units_meeting += 1;
            } else if t.progress {
                t.units_in_progress += 1;
            } else {
                t.units_below += 1;
                below.push(t.kind.clone());
            }
        }
        below
    }

    fn add_postings(&mut self, u: &UnitAcc) -> Result<(), Overflow> {
        let c = &mut self.catalogue;
        c.postings_current = plus(c.postings_current, u.postings_current, figure::POSTINGS)?;
        c.postings_stale = plus(c.postings_stale, u.postings_stale, figure::POSTINGS)?;
        if u.postings_stale > 0 {
            c.units_with_stale += 1;
        }
        Ok(())
    }

    /// The unit's one-stop results, satisfaction survey and budget, where it sent them.
    fn add_submissions(&mut self, u: &UnitAcc) -> Result<(), Overflow> {
        if let Some(o) = &u.one_stop {
            self.one_stop.units_submitted += 1;
            self.one_stop.figures.add(o)?;
        }
        if let Some(s) = &u.satisfaction {
            self.satisfaction.units_submitted += 1;
            let t = &mut self.satisfaction.figures;
            let sum = |a, b| plus(a, b, figure::SATISFACTION);
            t.responses = sum(t.responses, s.responses)?;
            t.very_satisfied = sum(t.very_satisfied, s.very_satisfied)?;
            t.satisfied = sum(t.satisfied, s.satisfied)?;
            t.dissatisfied = sum(t.dissatisfied, s.dissatisfied)?;
        }
        if let Some(b) = &u.budget {
            self.budget.units_submitted += 1;
            let t = &mut self.budget.figures;
            t.planned_vnd = plus(t.planned_vnd, b.planned_vnd, figure::BUDGET_PLANNED)?;
            t.spent_vnd = plus(t.spent_vnd, b.spent_vnd, figure::BUDGET_SPENT)?;
        }
        Ok(())
    }

    /// The counts and rates that follow from the sums.
    fn derive(&mut self, criteria: Vec<CriterionFigure>) -> Result<(), Overflow> {
        self.overall.units_silent = self.overall.silent_units.len() as i64;
        self.overall.units_below_target = self.overall.below_target_units.len() as i64;
        self.one_stop.figures.derive()?;
        self.satisfaction.figures.derive()?;
        self.satisfaction.criteria = criteria
            .into_iter()
            .map(|c| {
                Ok(CriterionFigure {
                    rate: satisfaction_rate(c.very_satisfied, c.satisfied, c.dissatisfied)?,
                    ..c
                })
            })
            .collect::<Result<_, Overflow>>()?;
        let b = &mut self.budget.figures;
        b.execution_rate = rate(b.spent_vnd, b.planned_vnd);
        Ok(())
    }
}

/// The whole snapshot from the ordered units and the sections read alongside them.
pub(super) fn assemble(
    input: &Input,
    period: &Period,
    ordered: Vec<(Uuid, UnitAcc)>,
    catalogue: Catalogue,
    criteria: Vec<CriterionFigure>,
    as_of: DateTime<Utc>,
) -> Result<Snapshot, Overflow> {
    let plan = &input.plan;
    let mut totals = Totals::new(plan, period, ordered.len() as i64, catalogue);
    let units = ordered
        .into_iter()
        .map(|(id, u)| totals.add(id, u))
        .collect::<Result<Vec<_>, _>>()?;
    totals.derive(criteria)?;
    Ok(Snapshot {
        format: FORMAT.to_owned(),
        document: document(input, as_of),
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
        as_of: stamp(&as_of),
        narrative: Vec::new(),
        overall: totals.overall,
        targets: totals.targets,
        units,
        catalogue: totals.catalogue,
        one_stop: totals.one_stop,
        satisfaction: totals.satisfaction,
        budget: totals.budget,
        recipients: plan.recipients.iter().map(|r| r.name.clone()).collect(),
    })
}

/// The document's header and signature; dated the period's last day unless the office
/// chose a date (never the day the data happened to be entered), signed by whom the
/// request names or else by the plan's signer.
fn document(input: &Input, as_of: DateTime<Utc>) -> DocumentInfo {
    let plan = &input.plan;
    let date = input.report_date.unwrap_or_else(|| {
        input
            .period
            .end
            .parse()
            .unwrap_or_else(|_| in_vietnam(as_of).date_naive())
    });
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
    DocumentInfo {
        governing_body: plan.governing_body.clone(),
        issuing_body: plan.issuing_body.clone(),
        number_symbol,
        place,
        date: date.to_string(),
        place_and_date,
        title,
        signer_title: or(&input.signer_title, &plan.signer_title),
        signer_name: or(&input.signer_name, &plan.signer_name),
    }
}

/// `asked` when given, else `otherwise`.
fn or(asked: &str, otherwise: &str) -> String {
    let asked = asked.trim();
    if asked.is_empty() {
        otherwise.to_owned()
    } else {
        asked.to_owned()
    }
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
}
