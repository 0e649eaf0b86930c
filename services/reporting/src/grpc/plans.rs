//! Plans: the office writes them, every key reads them.

use cchc_platform::validation::{self, Errors, Rule};
use cchc_platform::{Caller, Role};
use cchc_proto::reporting::v1::{
    CreatePlanRequest, GetPlanRequest, ListPlansRequest, ListPlansResponse, Plan, UpdatePlanRequest,
};
use tonic::{Request, Status};

use super::{Reporting, id, paging, refused};
use crate::domain::plan::check;

fn invalid(e: Errors) -> Status {
    validation::status(
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
        self.store
            .create_plan(&caller, &checked, key)
            .await
            .map_err(refused)
    }

    pub(super) async fn update_plan(
        &self,
        req: Request<UpdatePlanRequest>,
    ) -> Result<Plan, Status> {
        let caller = Caller::require(&req, &[Role::Office])?;
        let r = req.into_inner();
        let plan = r.plan.unwrap_or_default();
        let plan_id = id(&plan.id, "plan")?;
        let mut e = Errors::new();
        e.check(
            r.expected_revision != 0,
            "expected_revision",
            Rule::Revision,
        );
        e.finish(
            tonic::Code::InvalidArgument,
            "the revision the change was made against is required",
        )?;
        let checked = check(&plan).map_err(invalid)?;
        self.store
            .update_plan(&caller.actor, plan_id, r.expected_revision, &checked)
            .await
            .map_err(refused)
    }

    pub(super) async fn get_plan(&self, req: Request<GetPlanRequest>) -> Result<Plan, Status> {
        Caller::require(&req, ALL)?;
        let plan_id = id(&req.get_ref().plan_id, "plan")?;
        self.store
            .plan(plan_id)
            .await
            .map_err(refused)?
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
        let paging = paging(r.limit, &r.page_token)?;
        let rows = self.store.plans(year, &paging).await.map_err(refused)?;
        let (rows, next) = paging.page(rows, |(_, at)| *at);
        Ok(ListPlansResponse {
            plans: rows.into_iter().map(|(p, _)| p).collect(),
            next_page_token: next,
        })
    }
}
