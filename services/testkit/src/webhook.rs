//! A real HTTP receiver for webhooks: an axum server on a free loopback port that
//! checks each request's signature (`Webhook-Signature: v1=<hex HMAC-SHA256 of
//! "{id}.{timestamp}.{body}">`) and records what came. It can be told to fail the next
//! N requests, or to answer slowly.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature_valid: bool,
    pub body: serde_json::Value,
    /// The `Authorization` header, if one came.
    pub authorization: Option<String>,
    /// What the receiver answered.
    pub status: u16,
}

#[derive(Default)]
struct Behaviour {
    fail_next: u32,
    fail_status: u16,
    delay: Duration,
    received: Vec<Received>,
    in_flight: usize,
    max_in_flight: usize,
}

/// Counts a request in flight until it is answered or its sender hangs up.
struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.behaviour.lock().unwrap().in_flight -= 1;
    }
}

struct Shared {
    secret: String,
    behaviour: Mutex<Behaviour>,
}

pub struct WebhookReceiver {
    port: u16,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

/// The signature a receiver expects.
pub fn sign(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (id, timestamp, signature) = (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
    );
    let valid = !id.is_empty() && signature == sign(&shared.secret, &id, &timestamp, &body);
    let (status, delay) = {
        let mut b = shared.behaviour.lock().unwrap();
        b.in_flight += 1;
        b.max_in_flight = b.max_in_flight.max(b.in_flight);
        let status = if !valid {
            401
        } else if b.fail_next > 0 {
            b.fail_next -= 1;
            b.fail_status
        } else {
            204
        };
        b.received.push(Received {
            id,
            timestamp,
            signature_valid: valid,
            body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
            authorization: headers
                .get("authorization")
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            status,
        });
        (status, b.delay)
    };
    let _counted = InFlight(shared.clone());
    tokio::time::sleep(delay).await;
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

impl WebhookReceiver {
    pub async fn start(secret: &str) -> Self {
        let shared = Arc::new(Shared {
            secret: secret.to_owned(),
            behaviour: Mutex::new(Behaviour::default()),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let port = listener.local_addr().expect("bound").port();
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            port,
            shared,
            server,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// Answer the next `n` correctly signed requests with `status`.
    pub fn fail_next(&self, n: u32, status: u16) {
        let mut b = self.shared.behaviour.lock().unwrap();
        b.fail_next = n;
        b.fail_status = status;
    }

    /// Wait this long before answering each request.
    pub fn delay(&self, d: Duration) {
        self.shared.behaviour.lock().unwrap().delay = d;
    }

    /// The most requests that were ever in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.shared.behaviour.lock().unwrap().max_in_flight
    }

    /// Every request so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.shared.behaviour.lock().unwrap().received.clone()
    }

    /// The requests it accepted (signature valid, answered 2xx).
    pub fn accepted(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.signature_valid && (200..300).contains(&r.status))
            .collect()
    }

    /// Waits until at least `n` requests were accepted (at most `secs` seconds).
    pub async fn wait_for_accepted(&self, n: usize, secs: u64) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let a = self.accepted();
            if a.len() >= n {
                return a;
            }
            assert!(
                Instant::now() < deadline,
                "{n} webhooks were not accepted within {secs} s; got {:?}",
                self.received()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}
