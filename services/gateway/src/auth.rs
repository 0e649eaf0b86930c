//! Who is calling: the API key in `Authorization: Bearer` names one unit and one role.
//! Keys are random, shown once, and stored only as a SHA-256 hash. A request is
//! authenticated once, by [`authenticate`], before the idempotency layer and the handlers.

use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cchc_platform::{CallerKey, Role, Signed};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::middleware::rate_limit::RateLimiter;
use crate::problem::Problem;
use crate::serve::ClientIp;
use crate::store::Store;

/// A new key: `cchc_` and 64 hex characters (256 random bits).
pub fn generate_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("cchc_{}", hex::encode(bytes))
}

pub fn hash_key(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// The part of a key shown in lists.
pub fn prefix_of(key: &str) -> String {
    key.chars().take(12).collect()
}

/// Who a request's credential stands for: the caller carried to the services, and the
/// key it was made with.
#[derive(Debug, Clone)]
pub struct Identity {
    pub caller: Signed,
    pub key_id: uuid::Uuid,
}

/// What [`authenticate`] found, in the request's extensions: `None` for an anonymous
/// request.
#[derive(Debug, Clone)]
pub struct Authn(pub Option<Identity>);

/// The credential in `Authorization: Bearer <credential>`: `Ok(None)` when there is no
/// such header, `Err` when there is one of another shape. The limiter and
/// authentication read it through here, so both see the same credential.
pub fn bearer(headers: &HeaderMap) -> Result<Option<&str>, MalformedAuthorization> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(Some)
        .ok_or(MalformedAuthorization)
}

/// An `Authorization` header that is not `Bearer <credential>`.
#[derive(Debug)]
pub struct MalformedAuthorization;

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

/// Authenticates the request once, before anything else reads it (so an idempotent
/// replay is never given to a revoked key), and leaves [`Authn`] for the handlers.
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
    let secs = wait.as_secs().max(1);
    Problem {
        retry_after: Some(secs),
        ..Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many failed sign-ins",
            format!("too many failed authentications from this address; retry in {secs} s"),
        )
    }
    .into_response()
}

/// The client's address as a limiter bucket.
pub fn client_address(req: &Request) -> [u8; 16] {
    let ip = req
        .extensions()
        .get::<ClientIp>()
        .map(|c| c.0.to_string())
        .unwrap_or_default();
    let mut h = Sha256::new();
    h.update(b"address:");
    h.update(ip.as_bytes());
    h.finalize()[..16].try_into().expect("16 bytes")
}

/// An authenticated caller, or anonymous (`None`).
pub struct MaybeCaller(pub Option<Signed>);

/// An authenticated caller; anonymous requests are refused with 401.
pub struct Authenticated(pub Signed);

impl<S: Send + Sync> FromRequestParts<S> for MaybeCaller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        match parts.extensions.get::<Authn>() {
            Some(Authn(identity)) => Ok(MaybeCaller(identity.as_ref().map(|i| i.caller.clone()))),
            None => {
                // Every API route is behind `authenticate`; a route that is not has a bug.
                tracing::error!("a handler asked for the caller of an unauthenticated route");
                Err(Problem::internal())
            }
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        match MaybeCaller::from_request_parts(parts, state).await?.0 {
            Some(c) => Ok(Authenticated(c)),
            None => Err(Problem::unauthorized("an API key is required")),
        }
    }
}

impl Authenticated {
    /// The caller, who must have one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<&Signed, Problem> {
        if roles.contains(&self.0.role) {
            Ok(&self.0)
        } else {
            Err(Problem::forbidden(format!(
                "the {} role may not do this",
                self.0.role.as_str()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_hashed() {
        let a = generate_key();
        let b = generate_key();
        assert_ne!(a, b);
        assert_eq!(a.len(), 69);
        assert_eq!(hash_key(&a).len(), 32);
        assert_ne!(hash_key(&a), hash_key(&b));
        assert_eq!(prefix_of(&a).len(), 12);
    }
}
