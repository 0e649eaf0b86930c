//! Conditional reads. Every successful GET answer carries a strong `ETag` of the body
//! it sends (actors named, so a rename changes it too); a request that names that tag
//! in `If-None-Match` gets 304 and no body. The public catalogue is read far more than
//! it changes: the Department website, a proxy or a browser keeps the answer and asks
//! again with its tag, and the bytes cross the network only when they changed.
//!
//! `Cache-Control: no-cache` makes every cache revalidate before each use, so nothing
//! stale is served past a publication; an answer to a caller with a key or a session
//! (which may hold drafts or a unit's own records) is `private`, never kept by a shared
//! cache, and `Vary` says the answer depends on who asks. A handler that set its own
//! `Cache-Control` (sign-in's `no-store`) is left as it is.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};

/// The tag of a body: its SHA-256, 128 bits of it, quoted as HTTP wants.
pub(crate) fn tag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// Whether an `If-None-Match` header names `tag` (or `*`). Weak tags (`W/"…"`) match
/// too: a GET compares weakly (RFC 9110 §13.1.2).
fn names(if_none_match: &HeaderValue, tag: &str) -> bool {
    let Ok(list) = if_none_match.to_str() else {
        return false;
    };
    list.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/") == tag)
}

fn personal(headers: &HeaderMap) -> bool {
    headers.contains_key(header::AUTHORIZATION) || headers.contains_key(header::COOKIE)
}

pub async fn etag(req: Request, next: Next) -> Response {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return next.run(req).await;
    }
    let asked = req.headers().get(header::IF_NONE_MATCH).cloned();
    let private = personal(req.headers());
    let res = next.run(req).await;
    if res.status() != StatusCode::OK || res.headers().contains_key(header::CACHE_CONTROL) {
        return res;
    }
    // An answer that carries its tag (the public catalogue's kept ones) is not read.
    let (mut parts, body, tag) = match res.headers().get(header::ETAG) {
        Some(tag) => {
            let tag = tag.to_str().unwrap_or_default().to_owned();
            let (parts, body) = res.into_parts();
            (parts, body, tag)
        }
        None => match super::whole(res, "tag it").await {
            Ok((parts, bytes)) => {
                let tag = tag_of(&bytes);
                (parts, Body::from(bytes), tag)
            }
            Err(empty) => return empty,
        },
    };
    let h = &mut parts.headers;
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if private {
            "private, no-cache"
        } else {
            "public, no-cache"
        }),
    );
    h.append(
        header::VARY,
        HeaderValue::from_static("Authorization, Cookie"),
    );
    if !h.contains_key(header::ETAG)
        && let Ok(v) = HeaderValue::from_str(&tag)
    {
        h.insert(header::ETAG, v);
    }
    if asked.as_ref().is_some_and(|a| names(a, &tag)) {
        parts.status = StatusCode::NOT_MODIFIED;
        // A 304 carries the validators and caching headers, not the entity's.
        for gone in [
            header::CONTENT_LENGTH,
            header::CONTENT_TYPE,
            header::CONTENT_DISPOSITION,
        ] {
            parts.headers.remove(gone);
        }
        return Response::from_parts(parts, Body::empty());
    }
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_is_named_by_itself_a_list_a_weak_form_or_a_star() {
        let tag = tag_of(b"{\"code\":\"1.012753.H19\"}");
        assert_eq!(tag.len(), 34);
        assert_ne!(tag, tag_of(b"{\"code\":\"1.012753.H20\"}"));
        for header in [
            tag.clone(),
            format!("\"other\", {tag}"),
            format!("W/{tag}"),
            "*".to_owned(),
        ] {
            assert!(
                names(&HeaderValue::from_str(&header).unwrap(), &tag),
                "{header}"
            );
        }
        assert!(!names(&HeaderValue::from_static("\"other\""), &tag));
    }
}
