//! `Idempotency-Key` on writes: the first answer to a (caller, key) is kept a day and
//! returned to every retry with the same request; the same key with a different request
//! is refused. Answers with a 5xx status are not kept, so a retry can succeed.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cchc_platform::validation::Rule;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::problem::Problem;

#[derive(Clone)]
pub struct Idempotency {
    pub pool: PgPool,
    pub body_limit: usize,
    /// A claim still unanswered after this long lost its request (the gateway stopped,
    /// or its database went away before the answer was recorded): a retry may go ahead.
    pub abandoned_after: std::time::Duration,
}

const MAX_KEY: usize = 200;

/// A response extension: the body to keep for replays instead of the one sent, for an
/// answer that shows a secret once (an issued API key). A retry gets the answer without it.
#[derive(Clone)]
pub struct ReplayWithout(pub Vec<u8>);

pub async fn replay(State(idem): State<Idempotency>, req: Request, next: Next) -> Response {
    let write = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    let Some(key) = req.headers().get("idempotency-key").cloned() else {
        return next.run(req).await;
    };
    if !write {
        return next.run(req).await;
    }
    let key = match key.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= MAX_KEY => k.to_owned(),
        _ => {
            return Problem::field("Idempotency-Key", Rule::VisibleAscii { max: MAX_KEY })
                .into_response();
        }
    };
    // Scope: who is asking (the key that authenticated the request) — two callers may
    // pick the same key. Authentication ran before this layer, so a key revoked since
    // never sees its earlier answers again.
    let caller = match req.extensions().get::<crate::extract::Authn>() {
        Some(crate::extract::Authn(Some(identity))) => identity.scope().as_bytes().to_vec(),
        _ => b"anonymous".to_vec(),
    };
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, idem.body_limit).await {
        Ok(b) => b,
        Err(_) => {
            return Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "Request body too large",
                "the body is over the limit",
            )
            .into_response();
        }
    };
    let mut h = Sha256::new();
    h.update(parts.method.as_str().as_bytes());
    h.update(b" ");
    h.update(parts.uri.path().as_bytes());
    h.update(b"\n");
    h.update(&bytes);
    let request_hash = h.finalize().to_vec();

    match claim(
        &idem.pool,
        &caller,
        &key,
        idem.abandoned_after,
        &request_hash,
    )
    .await
    {
        Err(e) => return Problem::from(e).into_response(),
        Ok(Claim::Replay {
            same_request: false,
            ..
        }) => {
            return Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency-Key reused",
                "this Idempotency-Key was used for a different request",
            )
            .into_response();
        }
        Ok(Claim::Replay { status: None, .. }) => {
            return Problem::conflict(
                "a request with this Idempotency-Key is still being answered; retry shortly",
            )
            .into_response();
        }
        Ok(Claim::Replay {
            status: Some(status),
            content_type,
            body,
            ..
        }) => {
            let mut res = Response::new(Body::from(body));
            *res.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            if let Some(ct) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
                res.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            res.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            return res;
        }
        Ok(Claim::Fresh) => {}
    }

    let res = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let status = res.status();
    let (mut rparts, rbody) = res.into_parts();
    let rbytes = to_bytes(rbody, usize::MAX).await.unwrap_or_default();
    // An answer holding a secret is kept without it.
    let kept = rparts
        .extensions
        .remove::<ReplayWithout>()
        .map(|r| r.0)
        .unwrap_or_else(|| rbytes.to_vec());
    let stored = if status.is_server_error() {
        sqlx::query("DELETE FROM idempotency_keys WHERE key_hash = $1 AND idem_key = $2")
            .bind(&caller)
            .bind(&key)
            .execute(&idem.pool)
            .await
    } else {
        sqlx::query("UPDATE idempotency_keys SET status = $3, content_type = $4, body = $5 WHERE key_hash = $1 AND idem_key = $2")
            .bind(&caller)
            .bind(&key)
            .bind(status.as_u16() as i16)
            .bind(rparts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()))
            .bind(kept)
            .execute(&idem.pool)
            .await
    };
    if let Err(e) = stored {
        tracing::error!(error = %e, "recording an idempotent answer failed");
    }
    Response::from_parts(rparts, Body::from(rbytes))
}

enum Claim {
    Fresh,
    Replay {
        same_request: bool,
        status: Option<u16>,
        content_type: Option<String>,
        body: Vec<u8>,
    },
}

async fn claim(
    pool: &PgPool,
    caller: &[u8],
    key: &str,
    abandoned_after: std::time::Duration,
    request_hash: &[u8],
) -> Result<Claim, sqlx::Error> {
    // Keys older than a day are forgotten, and so is a claim whose request never got an
    // answer recorded (the gateway stopped mid-way), so the retry can go ahead.
    sqlx::query(
        "DELETE FROM idempotency_keys WHERE key_hash = $1 AND idem_key = $2
         AND (created_at < now() - interval '1 day'
              OR (status IS NULL AND created_at < now() - make_interval(secs => $3)))",
    )
    .bind(caller)
    .bind(key)
    .bind(abandoned_after.as_secs_f64())
    .execute(pool)
    .await?;
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (key_hash, idem_key, request_hash) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(caller)
    .bind(key)
    .bind(request_hash)
    .execute(pool)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Claim::Fresh);
    }
    let (hash, status, content_type, body): (Vec<u8>, Option<i16>, Option<String>, Option<Vec<u8>>) = sqlx::query_as(
        "SELECT request_hash, status, content_type, body FROM idempotency_keys WHERE key_hash = $1 AND idem_key = $2",
    )
    .bind(caller)
    .bind(key)
    .fetch_one(pool)
    .await?;
    Ok(Claim::Replay {
        same_request: hash == request_hash,
        status: status.map(|s| s as u16),
        content_type,
        body: body.unwrap_or_default(),
    })
}
