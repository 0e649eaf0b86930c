//! Operator views: events that could not be applied (the dead-letter stream).

use axum::Json as Reply;
use axum::extract::State;
use cchc_platform::Role;
use cchc_platform::events::DEAD_LETTER_STREAM;
use cchc_proto::events::v1::Envelope;
use prost::Message;
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
    auth: Authenticated,
    Query(q): Query<ListQuery>,
) -> Result<Reply<serde_json::Value>, Problem> {
    auth.require(&[Role::Operator, Role::Office])?;
    let limit = page_limit(q.limit)? as u64;
    let unavailable = |e: &dyn std::fmt::Display| {
        tracing::warn!(error = %e, "reading the dead-letter stream failed");
        Problem::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            "the event bus is unavailable",
        )
    };
    let mut stream =
        s.js.get_stream(DEAD_LETTER_STREAM)
            .await
            .map_err(|e| unavailable(&e))?;
    let state = stream
        .info()
        .await
        .map_err(|e| unavailable(&e))?
        .state
        .clone();
    let mut letters = Vec::new();
    let mut seq = state.last_sequence;
    while seq >= state.first_sequence.max(1) && (letters.len() as u64) < limit {
        if let Ok(m) = stream.get_raw_message(seq).await {
            let h = |k: &str| {
                m.headers
                    .get(k)
                    .map(|v| v.as_str().to_owned())
                    .unwrap_or_default()
            };
            let env = Envelope::decode(m.payload.as_ref()).ok();
            letters.push(serde_json::json!({
                "sequence": seq,
                "consumer": h("Cchc-Consumer"),
                "original_subject": h("Cchc-Original-Subject"),
                "error": h("Cchc-Error"),
                "deliveries": h("Cchc-Deliveries").parse::<u64>().ok(),
                "event_id": env.as_ref().map(|e| e.id.clone()),
                "event_type": env.as_ref().map(|e| e.r#type.clone()),
                "dead_lettered_at": m.time.to_string(),
            }));
        }
        seq -= 1;
    }
    Ok(Reply(
        serde_json::json!({ "dead_letters": letters, "total": state.messages }),
    ))
}
