//! Plans: the office writes them, every key reads them.

use cchc_platform::validation::{cursor, internal, parse_cursor};
use cchc_platform::{Caller, Role};
use cchc_proto::reporting::v1::{
    CreatePlanRequest, GetPlanRequest, ListPlansRequest, ListPlansResponse, Plan, UpdatePlanRequest,
};
use tonic::{Request, Status};

use super::{Reporting, id, limit};
use crate::domain::plan::check;
use crate::report::compute::rfc3339;

fn invalid(e: cchc_platform::validation::Errors) -> Status {
    cchc_platform::validation::status(
        tonic::Code::InvalidArgument,
        "the plan is not valid",
        e.into_vec(),
    )
}

const ALL: &[Role] = &[Role::Unit, Role::Office, Role::Leader, Role::Operator];

impl Reporting {
    pub(super) async fn create_plan(
        &self,
        req: Request<CreatePlanRequest>,
    ) -> Result<Plan, Status> {
        let caller = Caller::require(&req, &[Role::Office])?;
        let r = req.into_inner();
        let checked = check(&r.plan.unwrap_or_default()).map_err(invalid)?;
        let key = Some(r.idempotency_key.trim()).filter(|k| !k.is_empty());
        Ok(self
            .store
            .create_plan(caller.unit_id, &checked, key)
            .await?)
    }

    pub(super) async fn update_plan(
        &self,
        req: Request<UpdatePlanRequest>,
    ) -> Result<Plan, Status> {
        Caller::require(&req, &[Role::Office])?;
        let r = req.into_inner();
        let plan = r.plan.unwrap_or_default();
        let plan_id = id(&plan.id, "plan")?;
        if r.expected_revision == 0 {
            return Err(cchc_platform::validation::status(
                tonic::Code::InvalidArgument,
                "the revision the change was made against is required",
                vec![cchc_platform::validation::FieldError {
                    field: "expected_revision".into(),
                    message: "is required (the plan's revision as read)".into(),
                }],
            ));
        }
        let checked = check(&plan).map_err(invalid)?;
        Ok(self
            .store
            .update_plan(plan_id, r.expected_revision, &checked)
            .await?)
    }

    pub(super) async fn get_plan(&self, req: Request<GetPlanRequest>) -> Result<Plan, Status> {
        Caller::require(&req, ALL)?;
        let plan_id = id(&req.get_ref().plan_id, "plan")?;
        self.store
            .plan(plan_id)
            .await
            .map_err(internal)?
            .map(|(p, _)| p)
            .ok_or_else(|| Status::not_found("no such plan"))
    }

    pub(super) async fn list_plans(
        &self,
        req: Request<ListPlansRequest>,
    ) -> Result<ListPlansResponse, Status> {
        Caller::require(&req, ALL)?;
        let r = req.into_inner();
        let year = (r.year != 0).then_some(r.year);
        let after = if r.page_token.is_empty() {
            None
        } else {
            Some(parse_cursor(&r.page_token).ok_or_else(|| {
                cchc_platform::validation::status(
                    tonic::Code::InvalidArgument,
                    "the page token is not valid",
                    vec![cchc_platform::validation::FieldError {
                        field: "page_token".into(),
                        message: "was not issued by this list".into(),
                    }],
                )
            })?)
        };
        let n = limit(r.limit);
        let mut rows = self
            .store
            .plans(year, n + 1, after)
            .await
            .map_err(internal)?;
        let next = if rows.len() as i64 > n {
            rows.truncate(n as usize);
            rows.last()
                .map(|(p, at)| cursor(&rfc3339(*at), &p.id))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(ListPlansResponse {
            plans: rows.into_iter().map(|(p, _)| p).collect(),
            next_page_token: next,
        })
    }
}
