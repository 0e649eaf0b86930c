//! The audit log of accounts: sign-ins and their failures, invitations, resets, role
//! changes, disabling. Append-only; the office and operators read it.

use axum::Json as Reply;
use axum::extract::State;
use cchc_platform::Role;
use cchc_platform::validation::Rule;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::extract::{Authenticated, Query, page_limit};
use crate::problem::Problem;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    /// Only entries about this account.
    user_id: Option<Uuid>,
    /// Only this action (sign_in, sign_in_failed, sign_out, user_invited, invitation_resent,
    /// invitation_accepted, password_reset_requested, password_reset, user_changed,
    /// user_disabled, user_enabled).
    action: Option<String>,
    limit: Option<u32>,
    page_token: Option<String>,
}

#[utoipa::path(get, path = "/v1/audit", tag = "people", summary = "The accounts' audit log, newest first (office, operator)", params(AuditQuery), responses((status = 200, description = "Success", body = Object), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn list(
    State(s): State<AppState>,
    auth: Authenticated,
    Query(q): Query<AuditQuery>,
) -> Result<Reply<serde_json::Value>, Problem> {
    auth.require(&[Role::Office, Role::Operator])?;
    let limit = page_limit(q.limit)?;
    let before = match q.page_token.as_deref().filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => Some(
            t.parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| Problem::field("page_token", Rule::PageToken))?,
        ),
    };
    let mut entries = s
        .people
        .audit_log(q.user_id, q.action.as_deref(), before, i64::from(limit) + 1)
        .await?;
    let next = if entries.len() > limit as usize {
        entries.truncate(limit as usize);
        entries.last().map(|e| e.id.to_string()).unwrap_or_default()
    } else {
        String::new()
    };
    // Each entry's actor is named on the way out (middleware::attribution).
    Ok(Reply(
        serde_json::json!({ "entries": entries, "next_page_token": next }),
    ))
}
