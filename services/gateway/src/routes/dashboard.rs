//! Live counters from the reporting read models.

use axum::Json as Reply;
use axum::extract::State;
use cchc_platform::grpc::request;
use cchc_proto::reporting::v1::{Dashboard, GetDashboardRequest};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::Authenticated;
use crate::extract::Query;
use crate::problem::Problem;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(dashboard))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DashboardQuery {
    /// The year to count (this year in Vietnam when absent; 0 for all time).
    year: Option<i32>,
}

#[utoipa::path(get, path = "/v1/dashboard", tag = "reports", summary = "Live counters from the read models for a year, this year by default, `year=0` for all time (office, leader, operator)", params(DashboardQuery), responses((status = 200, description = "Success", body = Dashboard), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn dashboard(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<DashboardQuery>,
) -> Result<Reply<Dashboard>, Problem> {
    let req = GetDashboardRequest {
        year: q.year.unwrap_or_else(|| {
            use chrono::Datelike;
            cchc_platform::time::today().year()
        }),
    };
    let r = s
        .clients
        .reporting
        .clone()
        .get_dashboard(request(req, Some(&caller)))
        .await?;
    Ok(Reply(r.into_inner()))
}
