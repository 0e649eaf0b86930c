//! Per-caller rate limits: a token bucket per API key (anonymous callers: per address).
//! Over the limit, 429 with `Retry-After`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::problem::Problem;

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Buckets of `burst` tokens refilled at `per_minute` tokens a minute.
#[derive(Clone)]
pub struct RateLimiter {
    buckets: Arc<Mutex<HashMap<[u8; 16], Bucket>>>,
    burst: f64,
    per_second: f64,
}

impl RateLimiter {
    pub fn new(per_minute: u32, burst: u32) -> Self {
        Self {
            buckets: Arc::default(),
            burst: burst.max(1) as f64,
            per_second: per_minute.max(1) as f64 / 60.0,
        }
    }

    /// How long until `who` has a token again, when it has none now (takes nothing).
    pub fn exhausted(&self, who: [u8; 16], now: Instant) -> Option<Duration> {
        let buckets = self.buckets.lock().expect("rate limiter lock");
        let b = buckets.get(&who)?;
        let tokens =
            (b.tokens + now.duration_since(b.at).as_secs_f64() * self.per_second).min(self.burst);
        (tokens < 1.0).then(|| Duration::from_secs_f64((1.0 - tokens) / self.per_second))
    }

    /// Takes one token; `Err(wait)` when none is left.
    pub fn take(&self, who: [u8; 16], now: Instant) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().expect("rate limiter lock");
        if buckets.len() > 100_000 {
            // Forget callers whose buckets have refilled: they lose nothing.
            let full = self.burst / self.per_second;
            buckets.retain(|_, b| now.duration_since(b.at).as_secs_f64() < full);
        }
        let b = buckets.entry(who).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        b.tokens =
            (b.tokens + now.duration_since(b.at).as_secs_f64() * self.per_second).min(self.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / self.per_second))
        }
    }
}

/// Failed sign-ins, counted per client address (shared with the failed authentications
/// of keys and sessions) and per account, so neither one address nor many addresses can
/// guess a password at speed.
#[derive(Clone)]
pub struct SignInThrottle {
    pub per_address: RateLimiter,
    pub per_account: RateLimiter,
}

/// A sign-in under way: on failure, [`Attempt::failed`] spends the budgets.
pub struct Attempt<'a> {
    throttle: &'a SignInThrottle,
    address: [u8; 16],
    account: [u8; 16],
}

impl SignInThrottle {
    /// Refuses (429) when the address or the account has no failures left; the answer
    /// is the same for an account that does not exist.
    pub fn sign_in(&self, address: Option<&str>, email: &str) -> Result<Attempt<'_>, Problem> {
        let now = Instant::now();
        let address = crate::extract::address_bucket(address);
        let account = {
            let mut h = Sha256::new();
            h.update(b"account:");
            h.update(email.to_lowercase().as_bytes());
            h.finalize()[..16].try_into().expect("16 bytes")
        };
        let wait = self
            .per_address
            .exhausted(address, now)
            .max(self.per_account.exhausted(account, now));
        if let Some(wait) = wait {
            return Err(Problem::rate_limited(
                wait,
                "Too many failed sign-ins",
                |secs| format!("too many failed sign-ins; retry in {secs} s"),
            ));
        }
        Ok(Attempt {
            throttle: self,
            address,
            account,
        })
    }
}

impl Attempt<'_> {
    pub fn failed(self) {
        let now = Instant::now();
        let _ = self.throttle.per_address.take(self.address, now);
        let _ = self.throttle.per_account.take(self.account, now);
    }
}

/// The bucket of a request: its credential as authentication will read it (so padding
/// the header does not make a new caller), else its address.
fn caller_id(req: &Request) -> [u8; 16] {
    match crate::extract::credential(req.headers()) {
        Ok(Some((token, _))) => {
            let mut h = Sha256::new();
            h.update(b"credential:");
            h.update(token.as_bytes());
            h.finalize()[..16].try_into().expect("16 bytes")
        }
        _ => crate::extract::client_address(req),
    }
}

pub async fn limit(State(limiter): State<RateLimiter>, req: Request, next: Next) -> Response {
    match limiter.take(caller_id(&req), Instant::now()) {
        Ok(()) => next.run(req).await,
        Err(wait) => Problem::rate_limited(wait, "Too many requests", |secs| {
            format!("this key's request rate is over its limit; retry in {secs} s")
        })
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_empties_and_refills() {
        let l = RateLimiter::new(60, 3);
        let t = Instant::now();
        let who = [1; 16];
        for _ in 0..3 {
            assert!(l.take(who, t).is_ok());
        }
        let wait = l.take(who, t).unwrap_err();
        assert!(
            wait > Duration::from_millis(900) && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(
            l.take([2; 16], t).is_ok(),
            "another caller has its own bucket"
        );
        assert!(
            l.exhausted(who, t).is_some(),
            "an empty bucket is seen empty"
        );
        assert!(
            l.exhausted([2; 16], t).is_none(),
            "an unknown caller is not"
        );
        assert!(
            l.take(who, t + Duration::from_secs(1)).is_ok(),
            "one token a second comes back"
        );
    }
}
