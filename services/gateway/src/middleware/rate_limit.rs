//! Per-caller rate limits: a token bucket per API key (anonymous callers: per address).
//! Over the limit, 429 with `Retry-After`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
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

    /// Takes one token; `Err(wait)` when none is left.
    fn take(&self, who: [u8; 16], now: Instant) -> Result<(), Duration> {
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

fn caller_id(req: &Request) -> [u8; 16] {
    let mut h = Sha256::new();
    match req.headers().get(header::AUTHORIZATION) {
        Some(v) => h.update(v.as_bytes()),
        None => {
            let addr = req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string());
            h.update(b"anonymous:");
            h.update(addr.unwrap_or_default().as_bytes());
        }
    }
    h.finalize()[..16].try_into().expect("16 bytes")
}

pub async fn limit(State(limiter): State<RateLimiter>, req: Request, next: Next) -> Response {
    match limiter.take(caller_id(&req), Instant::now()) {
        Ok(()) => next.run(req).await,
        Err(wait) => {
            let secs = wait.as_secs().max(1);
            let mut res = Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
                format!("this key's request rate is over its limit; retry in {secs} s"),
            )
            .into_response();
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            res
        }
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
            l.take(who, t + Duration::from_secs(1)).is_ok(),
            "one token a second comes back"
        );
    }
}
