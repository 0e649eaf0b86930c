//! Operator views: events that could not be applied (the dead-letter stream), read
//! through the platform's operations API (served by the reporting service).

use axum::Json as Reply;
use axum::extract::State;
use cchc_platform::grpc::request;
use cchc_proto::operations::v1::ListDeadLettersRequest;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::Authenticated;
use crate::extract::Query;
use crate::extract::page_limit;
use crate::problem::Problem;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(dead_letters))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    limit: Option<u32>,
}

/// The newest dead letters first, with the consumer that gave up, why, and after how
/// many deliveries.
#[utoipa::path(get, path = "/v1/admin/dead-letters", tag = "operations", summary = "Events no consumer could apply, newest first (operator, office)", params(ListQuery), responses((status = 200, description = "Success", body = Object), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn dead_letters(
    State(s): State<AppState>,
    Authenticated(caller): Authenticated,
    Query(q): Query<ListQuery>,
) -> Result<Reply<serde_json::Value>, Problem> {
    let r = s
        .clients
        .operations
        .clone()
        .list_dead_letters(request(
            ListDeadLettersRequest {
                limit: page_limit(q.limit)?,
            },
            Some(&caller),
        ))
        .await?
        .into_inner();
    let known = |s: String| (!s.is_empty()).then_some(s);
    let letters: Vec<_> = r
        .dead_letters
        .into_iter()
        .map(|d| {
            serde_json::json!({
                "sequence": d.sequence,
                "consumer": d.consumer,
                "original_subject": d.original_subject,
                "error": d.error,
                "deliveries": (d.deliveries > 0).then_some(d.deliveries),
                "event_id": known(d.event_id),
                "event_type": known(d.event_type),
                "dead_lettered_at": d.dead_lettered_at,
            })
        })
        .collect();
    Ok(Reply(
        serde_json::json!({ "dead_letters": letters, "total": r.total }),
    ))
}
