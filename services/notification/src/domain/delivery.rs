//! The rules of delivery, apart from any I/O: what an answer means, how long to wait
//! before the next try, and how a webhook is signed.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Worth another try later (timeouts, 5xx, 408, 429, SMTP 4xx, connection errors).
    Temporary(String),
    /// Another try cannot help (4xx, SMTP 5xx, no such contact, e-mail not configured).
    Permanent(String),
}

impl Outcome {
    pub fn status(&self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Temporary(_) => "temporary_failure",
            Outcome::Permanent(_) => "permanent_failure",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Delivered => None,
            Outcome::Temporary(r) | Outcome::Permanent(r) => Some(r),
        }
    }
}

/// What a webhook receiver's HTTP status means: 2xx delivered; 408 and 429 and 5xx try
/// again; any other answer (4xx, and 3xx since redirects are not followed) is final.
pub fn webhook_outcome(status: u16) -> Outcome {
    match status {
        200..=299 => Outcome::Delivered,
        408 | 429 => Outcome::Temporary(format!("the receiver answered {status}")),
        500..=599 => Outcome::Temporary(format!("the receiver answered {status}")),
        300..=399 => Outcome::Permanent(format!(
            "the receiver answered {status} (redirects are not followed)"
        )),
        _ => Outcome::Permanent(format!("the receiver answered {status}")),
    }
}

/// When to try again after `attempt` (1-based) failed: exponential from `base`, capped
/// at `max`, with "equal jitter" (half fixed, half random) so that retries of many
/// messages to one failing endpoint spread out instead of arriving together.
pub fn backoff(attempt: u32, base: Duration, max: Duration, random: f64) -> Duration {
    let exp = base.saturating_mul(1u32 << (attempt.saturating_sub(1)).min(20));
    let capped = exp.min(max);
    capped / 2 + capped.mul_f64(random.clamp(0.0, 1.0) / 2.0)
}

/// The `Webhook-Signature` value: `v1=` and the hex HMAC-SHA256 of
/// `"{id}.{timestamp}.{body}"` under the endpoint's secret.
pub fn webhook_signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The key deliveries to one place share, for the per-endpoint concurrency limit: the
/// scheme, host and port of a webhook URL.
pub fn webhook_endpoint(url: &str) -> String {
    match url.parse::<tonic::codegen::http::Uri>() {
        Ok(u) => format!(
            "{}://{}",
            u.scheme_str().unwrap_or("http"),
            u.authority().map(|a| a.as_str()).unwrap_or("")
        ),
        Err(_) => url.to_owned(),
    }
}

/// All e-mail leaves through the one SMTP relay.
pub const EMAIL_ENDPOINT: &str = "smtp";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_answers() {
        assert_eq!(webhook_outcome(204), Outcome::Delivered);
        for s in [408, 429, 500, 503] {
            assert!(matches!(webhook_outcome(s), Outcome::Temporary(_)), "{s}");
        }
        for s in [301, 400, 401, 404, 410, 422] {
            assert!(matches!(webhook_outcome(s), Outcome::Permanent(_)), "{s}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
        let (b, m) = (Duration::from_secs(2), Duration::from_secs(60));
        assert_eq!(backoff(1, b, m, 0.0), Duration::from_secs(1));
        assert_eq!(backoff(1, b, m, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(3, b, m, 1.0), Duration::from_secs(8));
        assert_eq!(backoff(30, b, m, 1.0), Duration::from_secs(60));
        assert_eq!(backoff(30, b, m, 0.0), Duration::from_secs(30));
        let mid = backoff(2, b, m, 0.5);
        assert!(mid > Duration::from_secs(2) && mid < Duration::from_secs(4));
    }

    #[test]
    fn signature_is_hmac_sha256_of_id_timestamp_body() {
        // Reference value from Python: hmac.new(b"secret", b"m1.1700000000.{}", sha256).hexdigest()
        assert_eq!(
            webhook_signature("secret", "m1", 1_700_000_000, b"{}"),
            format!(
                "v1={}",
                "e9ad814bbb6fe32c16b24133bfae6d048bee43a94caa1500c485d166e131d6de"
            )
        );
    }

    #[test]
    fn endpoints_group_by_origin() {
        assert_eq!(
            webhook_endpoint("https://a.example.vn:8443/x?y=1"),
            "https://a.example.vn:8443"
        );
        assert_eq!(
            webhook_endpoint("http://127.0.0.1:9/hook"),
            "http://127.0.0.1:9"
        );
    }
}
