//! Authentication, once per request and before anything else reads it (so an
//! idempotent replay is never given to a revoked key): the credential names a key, the
//! key a unit and a role; failures are throttled per client address.

use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cchc_platform::{CallerKey, Signed};

use crate::api_key::hash_key;
use crate::extract::{Authn, Identity, MalformedAuthorization, bearer, client_address};
use crate::middleware::rate_limit::RateLimiter;
use crate::problem::Problem;
use crate::store::Store;

/// What authentication needs: the keys, and a budget of failures per address.
#[derive(Clone)]
pub struct Authenticator {
    pub store: Store,
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
    let token = match bearer(req.headers()) {
        Ok(None) => {
            req.extensions_mut().insert(Authn(None));
            return next.run(req).await;
        }
        Ok(Some(t)) => Some(t.to_owned()),
        Err(MalformedAuthorization) => None,
    };
    let now = Instant::now();
    if let Some(wait) = auth.failures.exhausted(address, now) {
        return throttled(wait);
    }
    let found = match token {
        Some(t) => match auth.store.caller_for_key(&hash_key(&t)).await {
            Ok(found) => found,
            Err(e) => return Problem::from(e).into_response(),
        },
        None => {
            let _ = auth.failures.take(address, now);
            return Problem::unauthorized("use Authorization: Bearer <api-key>").into_response();
        }
    };
    match found {
        Some((key_id, caller)) => {
            let caller = Signed::new(caller, auth.key.clone());
            req.extensions_mut()
                .insert(Authn(Some(Identity { caller, key_id })));
            next.run(req).await
        }
        None => {
            let _ = auth.failures.take(address, now);
            Problem::unauthorized("the API key is unknown, revoked or expired").into_response()
        }
    }
}

fn throttled(wait: Duration) -> Response {
    Problem::rate_limited(wait, "Too many failed sign-ins", |secs| {
        format!("too many failed authentications from this address; retry in {secs} s")
    })
    .into_response()
}
