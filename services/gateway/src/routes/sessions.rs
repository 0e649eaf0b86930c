//! Signing in and out, and who the caller is.

use axum::Json as Reply;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cchc_platform::validation::{FieldError, Rule};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{Address, Credential, Json, Who, credential};
use crate::middleware::authenticate::clear_cookie;
use crate::middleware::idempotency::ReplayWithout;
use crate::people::{SESSION_COOKIE, csrf_token};
use crate::problem::Problem;
use crate::state::AppState;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_in))
        .routes(routes!(sign_out))
        .routes(routes!(me))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct SignIn {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// One answer for every failure, so it does not tell which addresses have accounts.
fn sign_in_failed() -> Problem {
    Problem::new(
        StatusCode::UNAUTHORIZED,
        "sign-in-failed",
        "Sign-in failed",
        "the e-mail address or the password is not right",
    )
}

/// Signs a person in. The session token is in the answer (for programs acting for a
/// person, `Authorization: Bearer`) and in an HttpOnly cookie (for the console); a write
/// sent with the cookie must carry `X-CSRF-Token` with the `csrf_token` of this answer.
#[utoipa::path(post, path = "/v1/sessions", tag = "people", summary = "Sign in with e-mail and password", request_body = SignIn, responses((status = 201, description = "Signed in: token, csrf_token, expires_at, user", body = Object), crate::problem::Problems))]
pub(crate) async fn sign_in(
    State(s): State<AppState>,
    Address(address): Address,
    Json(body): Json<SignIn>,
) -> Result<Response, Problem> {
    let email = body.email.trim().to_lowercase();
    if email.is_empty() || body.password.is_empty() {
        return Err(Problem::bad_request(
            "email and password are required",
            ["email", "password"]
                .into_iter()
                .filter(|f| {
                    if *f == "email" {
                        email.is_empty()
                    } else {
                        body.password.is_empty()
                    }
                })
                .map(|f| FieldError::new(f.to_string(), Rule::Required))
                .collect(),
        ));
    }
    // A password longer than any the policy accepts cannot match: refused before it
    // costs a hash.
    if body.password.chars().count() > crate::password::MAX_LENGTH {
        return Err(sign_in_failed());
    }
    let throttle = s.throttle.sign_in(address.as_deref(), &email)?;
    let Some(session) = s
        .people
        .sign_in(&email, &body.password, address.as_deref())
        .await?
    else {
        throttle.failed();
        return Err(sign_in_failed());
    };
    let lifetimes = s.people.lifetimes();
    let user = serde_json::to_value(&session.user).unwrap_or_default();
    let reply = serde_json::json!({
        "token": session.token,
        "csrf_token": csrf_token(&session.token),
        "expires_at": session.expires_at,
        "idle_timeout_seconds": lifetimes.session_idle.as_secs(),
        "user": user,
    });
    let mut kept = reply.clone();
    kept["token"] = serde_json::Value::Null;
    kept["csrf_token"] = serde_json::Value::Null;
    let secure = if lifetimes.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        session.token,
        lifetimes.session_lifetime.as_secs()
    );
    let mut res = (StatusCode::CREATED, Reply(reply)).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // A retry with the same Idempotency-Key is told it is signed in, never the token.
    res.extensions_mut()
        .insert(ReplayWithout(serde_json::to_vec(&kept).unwrap_or_default()));
    Ok(res)
}

/// Ends the caller's session (the token stops working at once) and removes the cookie.
#[utoipa::path(delete, path = "/v1/sessions/current", tag = "people", summary = "Sign out", responses((status = 204, description = "Signed out"), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn sign_out(
    State(s): State<AppState>,
    Who(who): Who,
    Address(address): Address,
) -> Result<Response, Problem> {
    let Credential::Session {
        session_id,
        user_id,
    } = who.credential
    else {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "rule-broken",
            "Domain rule broken",
            "an API key has no session to end; revoke the key instead",
        ));
    };
    s.people
        .sign_out(session_id, user_id, address.as_deref())
        .await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    res.headers_mut().insert(header::SET_COOKIE, clear_cookie());
    Ok(res)
}

/// Who the caller is: the person (or the API key), the unit and the role.
#[utoipa::path(get, path = "/v1/me", tag = "people", summary = "Who the caller is: person or key, unit, role", responses((status = 200, description = "Success", body = Object), crate::problem::Problems), security(("api_key" = [])))]
pub(crate) async fn me(
    State(s): State<AppState>,
    Who(who): Who,
    headers: HeaderMap,
) -> Result<Reply<serde_json::Value>, Problem> {
    let unit = s.store.unit(who.caller.unit_id).await?;
    let unit = unit.map(|u| serde_json::json!({ "id": u.id, "name": u.name, "kind": u.kind }));
    let mut reply = match who.credential {
        Credential::Key(key_id) => serde_json::json!({
            "kind": "api_key",
            "key_id": key_id,
            "user": null,
        }),
        Credential::Session { user_id, .. } => {
            let user = serde_json::to_value(s.people.user(user_id).await?).unwrap_or_default();
            let csrf = credential(&headers)
                .ok()
                .flatten()
                .map(|(token, _)| csrf_token(token));
            serde_json::json!({
                "kind": "user",
                "user": user,
                "csrf_token": csrf,
            })
        }
    };
    reply["role"] = who.caller.role.as_str().into();
    reply["unit"] = unit.unwrap_or_default();
    reply["actor"] = who.caller.actor.to_string().into();
    Ok(Reply(reply))
}
