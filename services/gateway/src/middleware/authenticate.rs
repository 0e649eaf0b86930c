//! Authentication, once per request and before anything else reads it (so an
//! idempotent replay is never given to a revoked key or an ended session): the
//! credential names an API key (a program) or a session (a person), either of which
//! names a unit and a role; failures are throttled per client address. A session sent as
//! a cookie must carry its CSRF token on every write.

use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cchc_platform::{Actor, Caller, CallerKey, Signed};

use crate::api_key::hash_key;
use crate::extract::{
    Authn, Credential, Identity, MalformedAuthorization, client_address, credential,
};
use crate::middleware::rate_limit::RateLimiter;
use crate::people::{People, SESSION_PREFIX, csrf_token};
use crate::problem::Problem;
use crate::store::Store;

/// The header a page sends its session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// What authentication needs: the keys and sessions, and a budget of failures per address.
#[derive(Clone)]
pub struct Authenticator {
    pub store: Store,
    pub people: People,
    /// Signs the caller for the services.
    pub key: CallerKey,
    /// Failed authentications per client address. A guessing client is refused before
    /// its guesses cost a database lookup each.
    pub failures: RateLimiter,
}

/// Authenticates the request and leaves [`Authn`] for the handlers.
pub async fn authenticate(
    State(auth): State<Authenticator>,
    mut req: Request,
    next: Next,
) -> Response {
    let address = client_address(&req);
    let found = match credential(req.headers()) {
        Ok(None) => {
            req.extensions_mut().insert(Authn(None));
            return next.run(req).await;
        }
        Ok(Some((t, via_cookie))) => Some((t.to_owned(), via_cookie)),
        Err(MalformedAuthorization) => None,
    };
    let now = Instant::now();
    if let Some(wait) = auth.failures.exhausted(address, now) {
        return throttled(wait);
    }
    let Some((token, via_cookie)) = found else {
        let _ = auth.failures.take(address, now);
        return Problem::unauthorized("use Authorization: Bearer <api-key or session token>")
            .into_response();
    };
    let identity = if token.starts_with(SESSION_PREFIX) {
        match auth.people.session(&hash_key(&token)).await {
            Ok(found) => found.map(|s| Identity {
                caller: Signed::new(
                    Caller::new(s.unit_id, s.role, Actor::User(s.user_id)),
                    auth.key.clone(),
                ),
                credential: Credential::Session {
                    session_id: s.session_id,
                    user_id: s.user_id,
                },
            }),
            Err(e) => return Problem::from(e).into_response(),
        }
    } else {
        match auth.store.caller_for_key(&hash_key(&token)).await {
            Ok(found) => found.map(|(key_id, caller)| Identity {
                caller: Signed::new(caller, auth.key.clone()),
                credential: Credential::Key(key_id),
            }),
            Err(e) => return Problem::from(e).into_response(),
        }
    };
    let Some(identity) = identity else {
        let _ = auth.failures.take(address, now);
        let mut res = Problem::unauthorized(if via_cookie {
            "the session has ended; sign in again"
        } else {
            "the API key or session is unknown, revoked or expired"
        })
        .into_response();
        if via_cookie {
            res.headers_mut().insert(header::SET_COOKIE, clear_cookie());
        }
        return res;
    };
    if via_cookie && !is_safe(req.method()) {
        let sent = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !constant_time_eq(sent.as_bytes(), csrf_token(&token).as_bytes()) {
            return Problem::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "Missing or wrong CSRF token",
                "a write sent with the session cookie must carry the session's X-CSRF-Token",
            )
            .into_response();
        }
    }
    req.extensions_mut().insert(Authn(Some(identity)));
    next.run(req).await
}

fn is_safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A `Set-Cookie` that removes the session cookie.
pub fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("cchc_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax")
}

fn throttled(wait: Duration) -> Response {
    Problem::rate_limited(wait, "Too many failed sign-ins", |secs| {
        format!("too many failed authentications from this address; retry in {secs} s")
    })
    .into_response()
}
