//! Who is calling: the API key in `Authorization: Bearer` names one unit and one role.
//! Keys are random, shown once, and stored only as a SHA-256 hash.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use cchc_platform::{Caller, Role};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::problem::Problem;

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

/// An authenticated caller, or anonymous (`None`).
pub struct MaybeCaller(pub Option<Caller>);

/// An authenticated caller; anonymous requests are refused with 401.
pub struct Authenticated(pub Caller);

impl FromRequestParts<AppState> for MaybeCaller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Ok(MaybeCaller(None));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| Problem::unauthorized("use Authorization: Bearer <api-key>"))?;
        let caller = state
            .store
            .caller_for_key(&hash_key(token))
            .await?
            .ok_or_else(|| Problem::unauthorized("the API key is unknown, revoked or expired"))?;
        Ok(MaybeCaller(Some(caller)))
    }
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        match MaybeCaller::from_request_parts(parts, state).await?.0 {
            Some(c) => Ok(Authenticated(c)),
            None => Err(Problem::unauthorized("an API key is required")),
        }
    }
}

impl Authenticated {
    /// The caller, who must have one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<&Caller, Problem> {
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
