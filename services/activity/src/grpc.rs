//! The activity service's gRPC API. The unit of a write is the caller's, never the body's.

use cchc_platform::validation::{Errors, internal, parse_date};
use cchc_platform::{Caller, Role};
use cchc_proto::activity::v1::activity_service_server::ActivityService;
use cchc_proto::activity::v1::{
    Activity, ListActivitiesRequest, ListActivitiesResponse, RecordActivityRequest,
};
use tonic::{Request, Response, Status};

use crate::domain;
use crate::store::{Filter, Store};

pub struct Activities {
    store: Store,
}

impl Activities {
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

#[tonic::async_trait]
impl ActivityService for Activities {
    async fn record_activity(
        &self,
        req: Request<RecordActivityRequest>,
    ) -> Result<Response<Activity>, Status> {
        let caller = Caller::require(&req, &[Role::Unit])?;
        let r = req.into_inner();
        let new = domain::check(&r).map_err(|e| {
            e.finish(tonic::Code::InvalidArgument, "the activity is not valid")
                .expect_err("check failed with errors")
        })?;
        let key = (!r.idempotency_key.is_empty()).then_some(r.idempotency_key.as_str());
        let a = self
            .store
            .record(caller.unit_id, new, key)
            .await
            .map_err(internal)?;
        Ok(Response::new(a))
    }

    async fn list_activities(
        &self,
        req: Request<ListActivitiesRequest>,
    ) -> Result<Response<ListActivitiesResponse>, Status> {
        let caller = Caller::require(
            &req,
            &[Role::Unit, Role::Office, Role::Leader, Role::Operator],
        )?;
        let r = req.into_inner();
        let mut e = Errors::new();
        let mut f = Filter {
            limit: r.limit.clamp(1, 500) as i64,
            ..Default::default()
        };
        if r.limit == 0 {
            f.limit = 50;
        }
        f.unit_id = if caller.role == Role::Unit {
            Some(caller.unit_id)
        } else if r.unit_id.is_empty() {
            None
        } else {
            r.unit_id
                .parse()
                .map_err(|_| e.add("unit_id", "must be a unit id"))
                .ok()
        };
        if !r.kind.is_empty() {
            e.check(
                domain::KINDS.contains(&r.kind.as_str()),
                "kind",
                format!("must be one of {}", domain::KINDS.join(", ")),
            );
            f.kind = Some(r.kind.clone());
        }
        if !r.from.is_empty() {
            f.from = parse_date(&mut e, "from", &r.from);
        }
        if !r.to.is_empty() {
            f.to = parse_date(&mut e, "to", &r.to);
        }
        if !r.page_token.is_empty() {
            f.after = cchc_platform::validation::parse_cursor(&r.page_token);
            e.check(
                f.after.is_some(),
                "page_token",
                "is not a token this service issued",
            );
        }
        e.finish(tonic::Code::InvalidArgument, "the filter is not valid")?;
        let activities = self.store.list(&f).await.map_err(internal)?;
        let next_page_token = if activities.len() as i64 == f.limit {
            activities
                .last()
                .map(|a| cchc_platform::validation::cursor(&a.recorded_at, &a.id))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(ListActivitiesResponse {
            activities,
            next_page_token,
        }))
    }
}
