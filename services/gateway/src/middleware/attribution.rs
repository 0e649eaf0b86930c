//! Who made each write, in words. The services name a record's actors as text
//! (`user:<id>`, `key:<id>`, `system`); every JSON answer of the API shows each of them
//! as who it is (`{kind, id, name, unit_id}`), so a reader of any record sees the
//! person, not an id to look up.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;

use crate::people::{People, attribute};

/// Whether `body` may hold an actor text: a field ending in `_by` or named `actor` with
/// a string value. A cheap scan, so answers without any pass through untouched.
fn mentions_actor(body: &[u8]) -> bool {
    const MARKS: [&[u8]; 2] = [b"_by\":\"", b"\"actor\":\""];
    MARKS.iter().any(|m| body.windows(m.len()).any(|w| w == *m))
}

/// Marks an answer whose actors are named already (the public catalogue's kept
/// answers): this layer passes it by without reading it.
#[derive(Clone, Copy, Debug)]
pub struct Named;

/// `bytes` (a JSON answer) with every actor named; as it is when it names none. `None`
/// when the names could not be looked up (logged).
pub async fn named(people: &People, bytes: Bytes) -> Option<Bytes> {
    if !mentions_actor(&bytes) {
        return Some(bytes);
    }
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return Some(bytes);
    };
    if let Err(e) = attribute(people, &mut value).await {
        tracing::warn!(error = %e, "naming the actors of an answer");
        return None;
    }
    Some(Bytes::from(
        serde_json::to_vec(&value).expect("a JSON value serializes"),
    ))
}

pub async fn name_actors(State(people): State<People>, req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/json");
    if !json || res.extensions().get::<Named>().is_some() {
        return res;
    }
    let (mut parts, bytes) = match super::whole(res, "name its actors").await {
        Ok(whole) => whole,
        Err(empty) => return empty,
    };
    // The write it answers has happened: when the names cannot be looked up, answer it
    // with the actors' texts rather than fail it and invite a retry.
    let named = named(&people, bytes.clone()).await.unwrap_or(bytes);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(named))
}

#[cfg(test)]
mod tests {
    use super::mentions_actor;

    #[test]
    fn finds_actor_fields_only() {
        assert!(mentions_actor(br#"{"id":"1","created_by":"user:x"}"#));
        assert!(mentions_actor(br#"[{"actor":"system"}]"#));
        assert!(!mentions_actor(br#"{"created_by":null,"name":"by"}"#));
        assert!(!mentions_actor(br#"{"amended_by":[]}"#));
    }
}
