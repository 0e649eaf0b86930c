//! Every error answer is `application/problem+json` (RFC 9457), with field-level
//! messages for validation.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cchc_platform::validation::{FieldError, field_errors};
use serde::Serialize;

/// An error answer (RFC 9457, `application/problem+json`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, title: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("https://cchc.example.vn/problems/{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    pub fn bad_request(detail: impl Into<String>, errors: Vec<FieldError>) -> Self {
        Self {
            errors,
            ..Self::new(
                StatusCode::BAD_REQUEST,
                "invalid-input",
                "Invalid input",
                detail,
            )
        }
    }

    pub fn field(field: &str, message: &str) -> Self {
        Self::bad_request(
            format!("{field} {message}"),
            vec![FieldError {
                field: field.into(),
                message: message.into(),
            }],
        )
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
            detail,
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed", detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "Conflict", detail)
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the request could not be completed",
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut res = (status, axum::Json(&self)).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        res
    }
}

impl From<tonic::Status> for Problem {
    fn from(s: tonic::Status) -> Self {
        use tonic::Code;
        let msg = s.message().to_owned();
        match s.code() {
            Code::InvalidArgument => Problem::bad_request(msg, field_errors(&s)),
            Code::FailedPrecondition => Problem {
                errors: field_errors(&s),
                ..Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "rule-broken",
                    "Domain rule broken",
                    msg,
                )
            },
            Code::NotFound => Problem::not_found(msg),
            Code::AlreadyExists | Code::Aborted => Problem::conflict(msg),
            Code::PermissionDenied => Problem::forbidden(msg),
            Code::Unauthenticated => Problem::unauthorized(msg),
            Code::ResourceExhausted => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
                msg,
            ),
            Code::Unavailable | Code::DeadlineExceeded => {
                tracing::warn!(code = ?s.code(), message = %msg, "service unavailable");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "Service unavailable",
                    "a service is unavailable; try again shortly",
                )
            }
            _ => {
                tracing::error!(code = ?s.code(), message = %msg, "service failed");
                Problem::internal()
            }
        }
    }
}

impl From<sqlx::Error> for Problem {
    fn from(e: sqlx::Error) -> Self {
        tracing::error!(error = %e, "database failed");
        Problem::internal()
    }
}

/// JSON body extractor whose rejections are problem+json (413 when too large).
pub struct Json<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for Json<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(rej) => {
                let status = rej.status();
                Err(if status == StatusCode::PAYLOAD_TOO_LARGE {
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
                })
            }
        }
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
