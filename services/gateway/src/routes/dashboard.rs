//! Live counters from the reporting read models.

use axum::extract::State;
use axum::routing::get;
use axum::{Json as Reply, Router};
use cchc_platform::grpc::request;
use cchc_proto::reporting::v1::{Dashboard, GetDashboardRequest};
use serde::Deserialize;

use crate::extract::Authenticated;
use crate::extract::Query;
use crate::problem::Problem;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/dashboard", get(dashboard))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DashboardQuery {
    year: Option<i32>,
}

#[utoipa::path(get, path = "/v1/dashboard", tag = "reports", summary = "Live counters from the read models (office, leader, operator)", params(DashboardQuery), responses((status = 200, description = "Success", body = Dashboard), (status = "4XX", description = "Problem details (RFC 9457)", body = crate::problem::Problem, content_type = "application/problem+json")), security(("api_key" = [])))]
pub(crate) async fn dashboard(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<DashboardQuery>,
) -> Result<Reply<Dashboard>, Problem> {
    let req = GetDashboardRequest {
        year: q.year.unwrap_or(0),
    };
    let r = s
        .clients
        .reporting
        .clone()
        .get_dashboard(request(req, Some(&caller)))
        .await?;
    Ok(Reply(r.into_inner()))
}
