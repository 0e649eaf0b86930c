//! What handlers take from a request: the caller (left by the authentication
//! middleware), JSON bodies and queries whose rejections are problem+json, and the
//! headers the API defines (`Idempotency-Key`, paging).

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use cchc_platform::validation::{FieldError, Rule};
use cchc_platform::{Role, Signed};
use sha2::{Digest, Sha256};

use crate::problem::{Problem, has_stray_control, stray_control_problem};
use crate::serve::ClientIp;

/// Who a request's credential stands for: the caller carried to the services, and the
/// credential it was made with.
#[derive(Debug, Clone)]
pub struct Identity {
    pub caller: Signed,
    pub credential: Credential,
}

/// What authenticated a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// A program's API key.
    Key(uuid::Uuid),
    /// A person's session.
    Session {
        session_id: uuid::Uuid,
        user_id: uuid::Uuid,
    },
}

impl Identity {
    /// Whose idempotent answers a request may be given: those of the same key, or of the
    /// same person (whichever of their sessions sent the first request).
    pub fn scope(&self) -> uuid::Uuid {
        match self.credential {
            Credential::Key(id) => id,
            Credential::Session { user_id, .. } => user_id,
        }
    }
}

/// What the authentication middleware found, in the request's extensions: `None` for an anonymous
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

/// The request's credential: `Authorization: Bearer` first, else the session cookie
/// (then `true`: a browser sent it by itself, so a write must prove it came from a page
/// of ours, with the CSRF token).
pub fn credential(headers: &HeaderMap) -> Result<Option<(&str, bool)>, MalformedAuthorization> {
    if let Some(t) = bearer(headers)? {
        return Ok(Some((t, false)));
    }
    Ok(session_cookie(headers).map(|t| (t, true)))
}

/// The session token in the `Cookie` header, when there is one.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == crate::people::SESSION_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

/// The client's address as text, for the audit log.
pub struct Address(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for Address {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Address(
            parts.extensions.get::<ClientIp>().map(|c| c.0.to_string()),
        ))
    }
}

/// The identity of the request (key or session), for routes about the credential itself.
pub struct Who(pub Identity);

impl<S: Send + Sync> FromRequestParts<S> for Who {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        match parts.extensions.get::<Authn>() {
            Some(Authn(Some(identity))) => Ok(Who(identity.clone())),
            _ => Err(Problem::unauthorized("sign in, or use an API key")),
        }
    }
}

/// The client's address as a limiter bucket.
pub fn client_address(req: &Request) -> [u8; 16] {
    let ip = req.extensions().get::<ClientIp>().map(|c| c.0.to_string());
    address_bucket(ip.as_deref())
}

/// The limiter bucket of a client address (as text).
pub fn address_bucket(ip: Option<&str>) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update(b"address:");
    h.update(ip.unwrap_or_default().as_bytes());
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

/// JSON body extractor whose rejections are problem+json (413 when too large); a string
/// holding a control character is refused with 400 naming its field, before it can reach
/// a service or a database.
pub struct Json<T>(pub T);

/// [`Json`] for a batch `{items: [...]}`: the items' texts are left to the service, which
/// refuses a bad item on its own while the others are recorded.
pub struct BatchJson<T>(pub T);

async fn json_body<T, S>(
    req: axum::extract::Request,
    state: &S,
    items_checked_by_service: bool,
) -> Result<T, Problem>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    let value =
        match <axum::Json<serde_json::Value> as axum::extract::FromRequest<S>>::from_request(
            req, state,
        )
        .await
        {
            Ok(axum::Json(v)) => v,
            Err(rej) => {
                let status = rej.status();
                return Err(if status == StatusCode::PAYLOAD_TOO_LARGE {
                    Problem::new(
                        status,
                        "too-large",
                        "Request body too large",
                        rej.body_text(),
                    )
                } else if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
                    Problem::new(
                        status,
                        "unsupported-media-type",
                        "Unsupported media type",
                        "send Content-Type: application/json",
                    )
                } else {
                    Problem::bad_request(rej.body_text(), Vec::new())
                });
            }
        };
    let skip = if items_checked_by_service {
        Some("items")
    } else {
        None
    };
    if let Some((field, text)) = control_character_field(&value, String::new(), skip) {
        return Err(stray_control_problem(&field, text));
    }
    let mut unknown = Vec::new();
    let body = serde_path_to_error::deserialize(serde_ignored::Deserializer::new(
        value,
        &mut |path: serde_ignored::Path<'_>| unknown.push(field_path(&path)),
    ))
    .map_err(|e| {
        let field = e.path().to_string();
        let detail = e.inner().to_string();
        Problem::bad_request(
            format!("Failed to deserialize the JSON body into the target type: {field}: {detail}"),
            vec![FieldError::new(field, Rule::Malformed { detail })],
        )
    })?;
    // A misspelt field would otherwise be dropped without a word, and the request
    // taken as if it had not been sent.
    if !unknown.is_empty() {
        return Err(Problem::bad_request(
            format!("unknown fields: {}", unknown.join(", ")),
            unknown
                .into_iter()
                .map(|field| FieldError::new(field, Rule::UnknownField))
                .collect(),
        ));
    }
    Ok(body)
}

impl<T, S> axum::extract::FromRequest<S> for Json<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        json_body(req, state, false).await.map(Json)
    }
}

impl<T, S> axum::extract::FromRequest<S> for BatchJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        json_body(req, state, true).await.map(BatchJson)
    }
}

/// Whether a text holds a control character no text may hold anywhere (the platform's
/// one rule for several-line texts; services refuse line breaks in one-line fields).
/// A field's path as the API's errors name fields: `contacts[0].address`.
fn field_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", field_path(parent)),
        Path::Map { parent, key } => match field_path(parent) {
            p if p.is_empty() => key.clone(),
            p => format!("{p}.{key}"),
        },
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => field_path(parent),
    }
}

/// The path ("items[2].title") and text of the first string or object key in `v`
/// holding a stray control character; `skip` names a top-level array whose items are
/// not looked into.
fn control_character_field<'v>(
    v: &'v serde_json::Value,
    path: String,
    skip: Option<&str>,
) -> Option<(String, &'v str)> {
    use serde_json::Value;
    match v {
        Value::String(t) => has_stray_control(t).then_some((path, t.as_str())),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| control_character_field(item, format!("{path}[{i}]"), None)),
        Value::Object(fields) => fields.iter().find_map(|(k, item)| {
            let here = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if has_stray_control(k) {
                return Some((here, k.as_str()));
            }
            if path.is_empty() && skip == Some(k.as_str()) && item.is_array() {
                return None;
            }
            control_character_field(item, here, None)
        }),
        _ => None,
    }
}

/// Query extractor whose rejections are problem+json.
pub struct Query<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for Query<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(|rej| Problem::bad_request(rej.body_text(), Vec::new()))
    }
}

/// Page size from `limit`, by the platform's one rule for every list.
pub fn page_limit(limit: Option<u32>) -> Result<u32, Problem> {
    cchc_platform::page::limit(limit).map_err(|rule| Problem::field("limit", rule))
}

/// The `Idempotency-Key` header, when sent.
pub fn idempotency_key(headers: &axum::http::HeaderMap) -> Result<Option<String>, Problem> {
    headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map(str::to_owned)
                .map_err(|_| Problem::field("Idempotency-Key", Rule::VisibleAscii { max: 200 }))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unknown_fields_are_refused_by_name() {
        #[derive(serde::Deserialize)]
        struct Unit {
            #[allow(dead_code)]
            name: String,
            #[allow(dead_code)]
            #[serde(default)]
            contacts: Vec<Contact>,
        }
        #[derive(serde::Deserialize)]
        struct Contact {
            #[allow(dead_code)]
            channel: String,
        }
        let body = |json: &'static str| {
            axum::http::Request::builder()
                .header("content-type", "application/json")
                .body(axum::body::Body::from(json))
                .unwrap()
        };
        use axum::extract::FromRequest;
        let ok = Json::<Unit>::from_request(
            body(r#"{"name": "A", "contacts": [{"channel": "email"}]}"#),
            &(),
        )
        .await;
        assert!(ok.is_ok());
        let refused = Json::<Unit>::from_request(
            body(r#"{"name": "A", "knd": "x", "contacts": [{"channel": "email", "adress": "a@b.vn"}]}"#),
            &(),
        )
        .await
        .err()
        .unwrap();
        assert_eq!(refused.status, 400);
        let fields: Vec<_> = refused.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["contacts[0].adress", "knd"]);
    }

    #[test]
    fn control_characters_are_found_with_their_field() {
        let v = serde_json::json!({
            "title": "Họp giao ban\nthứ hai",
            "evidence": [{"url": "https://a.vn"}, {"url": "https://b.vn/\u{0}x"}],
        });
        let field = |v| control_character_field(v, String::new(), None).map(|(f, _)| f);
        assert_eq!(field(&v).as_deref(), Some("evidence[1].url"));
        let v = serde_json::json!({"items": [{"title": "a\u{0}"}], "idempotency_key": "k"});
        assert_eq!(
            control_character_field(&v, String::new(), Some("items")),
            None
        );
        assert_eq!(field(&v).as_deref(), Some("items[0].title"));
        let v = serde_json::json!({"na\u{7}me": "x"});
        assert_eq!(field(&v).as_deref(), Some("na\u{7}me"));
        assert!(!has_stray_control("a\tb") && has_stray_control("\u{1b}[31m"));
    }
}
