//! Live counters read straight from the read models.

use cchc_platform::time::stamp;
use cchc_platform::validation::{Errors, Rule};
use cchc_platform::vocabulary::procedure_status;
use cchc_platform::{Caller, Role};
use cchc_proto::reporting::v1::{
    Dashboard, GetDashboardRequest, KindCount, LateUnit, MonthKindCount, PeriodStanding,
    StatusCount, UnitStanding,
};
use tonic::{Request, Status};

use super::{Reporting, refused};

impl Reporting {
    pub(super) async fn dashboard(
        &self,
        req: Request<GetDashboardRequest>,
    ) -> Result<Dashboard, Status> {
        Caller::require(&req, &[Role::Office, Role::Leader, Role::Operator])?;
        let year = req.into_inner().year;
        let mut e = Errors::new();
        e.check(
            year == 0 || (2000..=2200).contains(&year),
            "year",
            Rule::Year {
                min: 2000,
                max: 2200,
            },
        );
        e.finish(tonic::Code::InvalidArgument, "the year is not valid")?;
        let year = (year != 0).then_some(year);
        let f = self.store.dashboard(year).await.map_err(refused)?;
        let periods = match year {
            Some(y) => self
                .store
                .period_standings(y, cchc_platform::time::today())
                .await
                .map_err(refused)?,
            None => Vec::new(),
        };
        let count_of = |status: &str| {
            f.procedures_by_status
                .iter()
                .find(|c| c.value == status)
                .map_or(0, |c| c.count)
        };
        Ok(Dashboard {
            year: year.unwrap_or(0),
            procedures_published: count_of(procedure_status::PUBLISHED),
            procedures_abolished: count_of(procedure_status::ABOLISHED),
            activities_total: f.activities_by_kind.iter().map(|c| c.count).sum(),
            activities_by_kind: f
                .activities_by_kind
                .into_iter()
                .map(|c| KindCount {
                    kind: c.value,
                    count: c.count,
                })
                .collect(),
            units_reporting: f.units_reporting,
            as_of: f.as_of.as_ref().map(stamp).unwrap_or_default(),
            procedures_by_status: f
                .procedures_by_status
                .into_iter()
                .map(|c| StatusCount {
                    status: c.value,
                    count: c.count,
                })
                .collect(),
            postings_current: f.postings_current,
            postings_stale: f.postings_stale,
            units_with_stale_postings: f.units_with_stale_postings,
            units_total: f.units_total,
            units_with_one_stop_results: f.units_with_one_stop_results,
            activities_by_month: f
                .activities_by_month
                .into_iter()
                .map(|m| MonthKindCount {
                    month: m.month,
                    kind: m.kind,
                    count: m.count,
                })
                .collect(),
            units: f
                .units
                .into_iter()
                .map(|u| UnitStanding {
                    unit_id: u.unit_id.to_string(),
                    name: u.name,
                    kind: u.kind,
                    activities: u.activities,
                    postings_current: u.postings_current,
                    postings_stale: u.postings_stale,
                    one_stop_period: u.one_stop_period.unwrap_or_default(),
                    on_time_percent: u
                        .in_time
                        .zip(u.resolved)
                        .and_then(|(n, d)| crate::domain::rate(n, d)),
                    satisfaction_period: u.satisfaction_period.unwrap_or_default(),
                    satisfaction_percent: u
                        .content
                        .zip(u.answered)
                        .and_then(|(n, d)| crate::domain::rate(n, d)),
                })
                .collect(),
            periods: periods
                .into_iter()
                .map(|p| PeriodStanding {
                    plan_id: p.plan_id.to_string(),
                    plan_number_symbol: p.number_symbol,
                    period: p.key,
                    title: p.title,
                    due_date: p.due_date.to_string(),
                    covered: p.covered,
                    submitted: p.submitted,
                    submitted_late: p.submitted_late,
                    late_units: p
                        .late_units
                        .into_iter()
                        .map(|(id, name)| LateUnit {
                            unit_id: id.to_string(),
                            name,
                        })
                        .collect(),
                })
                .collect(),
        })
    }
}
