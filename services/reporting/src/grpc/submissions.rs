//! Period submissions: a covered unit (its staff, or the office for its own unit)
//! signs off a period; the office reopens; every role reads, a unit only its own line.

use cchc_platform::time::{stamp, today};
use cchc_platform::validation::{Errors, Rule};
use cchc_platform::{Caller, Role};
use cchc_proto::reporting::v1::{
    ListPeriodSubmissionsRequest, ListPeriodSubmissionsResponse, PeriodSubmission,
    ReopenPeriodRequest, SubmitPeriodRequest,
};
use tonic::{Request, Status};

use super::{Reporting, id, refused};
use crate::store::{Due, SubmissionRow, UnitSubmission};

/// What a unit may write with its submission, and the office with a reopening.
const NOTE_MAX: usize = 2000;

/// A unit's line: its state, and whether it is late to report as of `on`.
fn line(plan_id: &str, due: &Due, u: UnitSubmission, on: chrono::NaiveDate) -> PeriodSubmission {
    let mut p = PeriodSubmission {
        plan_id: plan_id.to_owned(),
        period: due.key.clone(),
        unit_id: u.unit_id.to_string(),
        unit_name: u.name,
        due_date: due.due.to_string(),
        status: "not_submitted".into(),
        ..Default::default()
    };
    if let Some(r) = u.row {
        p.status = if r.reopened_at.is_some() {
            "reopened"
        } else {
            "submitted"
        }
        .into();
        p.submitted_at = stamp(&r.submitted_at);
        p.submitted_by = r.submitted_by;
        p.late = r.late;
        p.note = r.note;
        p.reopened_at = r.reopened_at.as_ref().map(stamp).unwrap_or_default();
        p.reopened_by = r.reopened_by.unwrap_or_default();
        p.reopen_reason = r.reopen_reason;
    }
    p.overdue = p.status != "submitted" && on > due.due;
    p
}

fn one(plan_id: &str, due: &Due, unit_id: uuid::Uuid, r: SubmissionRow) -> PeriodSubmission {
    line(
        plan_id,
        due,
        UnitSubmission {
            unit_id,
            name: String::new(),
            row: Some(r),
        },
        today(),
    )
}

fn text(e: &mut Errors, field: &str, value: &str, required: bool) {
    if required {
        e.check(!value.trim().is_empty(), field, Rule::Required);
    }
    e.check(
        value.chars().count() <= NOTE_MAX,
        field,
        Rule::TooLong { max: NOTE_MAX },
    );
    e.multi_line(field, value);
}

impl Reporting {
    pub(super) async fn submit_period(
        &self,
        req: Request<SubmitPeriodRequest>,
    ) -> Result<PeriodSubmission, Status> {
        let caller = Caller::require(&req, &[Role::Unit, Role::Office])?;
        let r = req.into_inner();
        let plan_id = id(&r.plan_id, "plan")?;
        let mut e = Errors::new();
        text(&mut e, "note", &r.note, false);
        e.finish(tonic::Code::InvalidArgument, "the submission is not valid")?;
        let (due, row) = self
            .store
            .submit_period(
                &caller.actor,
                plan_id,
                r.period.trim(),
                caller.unit_id,
                r.note.trim(),
                today(),
            )
            .await
            .map_err(refused)?;
        Ok(one(&r.plan_id, &due, caller.unit_id, row))
    }

    pub(super) async fn reopen_period(
        &self,
        req: Request<ReopenPeriodRequest>,
    ) -> Result<PeriodSubmission, Status> {
        let caller = Caller::require(&req, &[Role::Office])?;
        let r = req.into_inner();
        let plan_id = id(&r.plan_id, "plan")?;
        let unit_id = id(&r.unit_id, "unit")?;
        let mut e = Errors::new();
        text(&mut e, "reason", &r.reason, true);
        e.finish(tonic::Code::InvalidArgument, "a reopening says why")?;
        let (due, row) = self
            .store
            .reopen_period(
                &caller.actor,
                plan_id,
                r.period.trim(),
                unit_id,
                r.reason.trim(),
            )
            .await
            .map_err(refused)?;
        Ok(one(&r.plan_id, &due, unit_id, row))
    }

    pub(super) async fn list_period_submissions(
        &self,
        req: Request<ListPeriodSubmissionsRequest>,
    ) -> Result<ListPeriodSubmissionsResponse, Status> {
        let caller = Caller::require(
            &req,
            &[Role::Unit, Role::Office, Role::Leader, Role::Operator],
        )?;
        let r = req.into_inner();
        let plan_id = id(&r.plan_id, "plan")?;
        let only = (caller.role == Role::Unit).then_some(caller.unit_id);
        let (due, units) = self
            .store
            .period_submissions(plan_id, r.period.trim(), only)
            .await
            .map_err(refused)?;
        let on = today();
        let lines: Vec<PeriodSubmission> = units
            .into_iter()
            .map(|u| line(&r.plan_id, &due, u, on))
            .collect();
        let count =
            |f: &dyn Fn(&PeriodSubmission) -> bool| lines.iter().filter(|l| f(l)).count() as i64;
        Ok(ListPeriodSubmissionsResponse {
            covered: lines.len() as i64,
            submitted: count(&|l| l.status == "submitted"),
            late: count(&|l| l.status == "submitted" && l.late),
            overdue: count(&|l| l.overdue),
            submissions: lines,
        })
    }
}
