//! Every page: each handler reads the form or the path, calls the gateway on the
//! person's behalf and renders a template. A page that needs a person sends a signed-out
//! browser to the sign-in page; what the gateway refuses (another unit's record, a
//! missing CSRF token) is refused here the same way.
//!
//! This file holds what every page shares (who is visiting, the frame, rendering,
//! refusals); the pages are grouped by who uses them: [`catalogue`] (the public),
//! [`account`] (signing in and out), [`unit`] (a unit's staff), [`office`] (the
//! Department Office), [`units`] (the office's units, their lifecycle and keys),
//! [`reports`] (the office and the leadership).

mod account;
mod catalogue;
mod catalogue_office;
mod directory;
mod messages;
mod office;
mod periods;
mod reports;
mod standing;
mod unit;
mod units;

pub(crate) use account::*;
pub(crate) use catalogue::*;
pub(crate) use catalogue_office::*;
pub(crate) use directory::*;
pub(crate) use messages::*;
pub(crate) use office::*;
pub(crate) use periods::*;
pub(crate) use reports::*;
pub(crate) use standing::*;
pub(crate) use unit::*;
pub(crate) use units::*;

use askama::Template;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::App;
use crate::gateway::{On, Problem, SESSION_COOKIE};
use crate::text::{self, Shown};

/// Who is signed in, as the gateway's `/v1/me` says.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Me {
    pub role: String,
    pub user: Option<Person>,
    pub unit: Option<UnitRef>,
    pub csrf_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Person {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct UnitRef {
    pub id: String,
    pub name: String,
}

/// A page whose form is refused field by field: each field's errors, in one line,
/// beside it.
pub(crate) trait FieldErrors {
    fn errors(&self) -> &[Shown];

    fn error_for(&self, field: &str) -> String {
        self.errors()
            .iter()
            .filter(|e| e.field == field)
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// What every page's frame shows: who is signed in, and the token its forms carry.
pub struct Frame {
    pub me: Option<Me>,
    pub csrf: String,
    pub lang: text::Lang,
    /// The page's own address (path and query), for the language switch to come back.
    pub here: String,
}

impl Frame {
    fn nobody(lang: text::Lang) -> Self {
        Self {
            me: None,
            csrf: String::new(),
            lang,
            here: "/".into(),
        }
    }

    /// The language switch's link to this page in the other language.
    pub fn switch_link(&self) -> String {
        let other = match self.lang {
            text::Lang::Vi => "en",
            text::Lang::En => "vi",
        };
        format!("/ngon-ngu?chon={other}&ve={}", encode(&self.here))
    }

    /// The page's words in its language.
    pub fn t<'a>(&self, vi: &'a str, en: &'a str) -> &'a str {
        self.lang.t(vi, en)
    }
    pub fn name(&self) -> &str {
        self.me
            .as_ref()
            .and_then(|m| m.user.as_ref())
            .map_or("", |u| u.name.as_str())
    }
    pub fn unit_name(&self) -> &str {
        self.me
            .as_ref()
            .and_then(|m| m.unit.as_ref())
            .map_or("", |u| u.name.as_str())
    }
    pub fn role(&self) -> &str {
        self.me
            .as_ref()
            .map_or("", |m| text::role_in(&m.role, &self.lang))
    }
    pub fn unit_id(&self) -> &str {
        self.me
            .as_ref()
            .and_then(|m| m.unit.as_ref())
            .map_or("", |u| u.id.as_str())
    }
    pub fn is_unit(&self) -> bool {
        self.me.as_ref().is_some_and(|m| m.role == "unit")
    }
    pub fn is_office(&self) -> bool {
        self.me.as_ref().is_some_and(|m| m.role == "office")
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct LangQuery {
    chon: String,
    ve: String,
}

/// The language switch: remembers the choice for a year and goes back to the page.
pub async fn choose_language(axum::extract::Query(q): axum::extract::Query<LangQuery>) -> Response {
    let lang = text::Lang::parse(&q.chon);
    // Back to a page of this console only, never to another site.
    let back = if q.ve.starts_with('/') && !q.ve.starts_with("//") && !q.ve.contains('\\') {
        q.ve.as_str()
    } else {
        "/"
    };
    let mut res = Redirect::to(back).into_response();
    set_cookie(
        &mut res,
        &format!(
            "{}={}; Path=/; Max-Age=31536000; SameSite=Lax",
            text::Lang::COOKIE,
            lang.code()
        ),
    );
    res
}

/// A cookie of the request, by name.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty())
}

/// The request as the console sees it: the session cookie and the browser's address.
pub struct Visit {
    session: Option<String>,
    client: String,
    lang: text::Lang,
    here: String,
}

impl Visit {
    fn of(parts: &Parts) -> Self {
        let lang = match cookie(&parts.headers, text::Lang::COOKIE) {
            Some(chosen) => text::Lang::parse(&chosen),
            None => text::Lang::preferred(
                parts
                    .headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(""),
            ),
        };
        Self {
            lang,
            here: parts
                .uri
                .path_and_query()
                .map_or("/".into(), |p| p.as_str().to_owned()),
            session: cookie(&parts.headers, SESSION_COOKIE),
            client: parts
                .extensions
                .get::<ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip().to_string())
                .unwrap_or_default(),
        }
    }

    fn on(&self) -> On<'_> {
        On {
            session: self.session.as_deref(),
            csrf: None,
            client: Some(&self.client),
        }
    }

    fn writing<'a>(&'a self, csrf: &'a str) -> On<'a> {
        On {
            csrf: Some(csrf),
            ..self.on()
        }
    }
}

pub(crate) fn render(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => {
            let mut res = (status, Html(html)).into_response();
            res.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'self'; style-src 'self' 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
                ),
            );
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "rendering a page");
            (StatusCode::INTERNAL_SERVER_ERROR, "Lỗi hiển thị trang").into_response()
        }
    }
}

pub(crate) fn status_of(p: &Problem, otherwise: StatusCode) -> StatusCode {
    StatusCode::from_u16(p.status).unwrap_or(otherwise)
}

/// A file the gateway served, passed on with its type and name, kept out of caches.
pub(crate) fn served(d: crate::gateway::Download) -> Response {
    let mut res = d.bytes.into_response();
    let h = res.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, d.content_type),
        (header::CONTENT_DISPOSITION, d.disposition),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    res
}

pub(crate) fn set_cookie(res: &mut Response, cookie: &str) {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

#[derive(Template)]
#[template(path = "message.html")]
pub(crate) struct MessagePage {
    frame: Frame,
    title: String,
    message: String,
}

pub(crate) fn message(status: StatusCode, frame: Frame, title: &str, message: String) -> Response {
    render(
        status,
        &MessagePage {
            frame,
            title: title.into(),
            message,
        },
    )
}

/// A page for the office refused to someone else, as the gateway would refuse it.
pub(crate) fn forbidden(frame: Frame) -> Response {
    refused(
        frame,
        &Problem {
            status: 403,
            ..Problem::default()
        },
    )
}

/// A refusal of the gateway as a page: signed out → the sign-in page.
pub(crate) fn refused(frame: Frame, p: &Problem) -> Response {
    let (status, title) = match p.status {
        401 => return Redirect::to("/dang-nhap").into_response(),
        403 => (
            StatusCode::FORBIDDEN,
            frame.t("Không có quyền", "Not allowed"),
        ),
        404 => (
            StatusCode::NOT_FOUND,
            frame.t("Không tìm thấy", "Not found"),
        ),
        0 => (
            StatusCode::SERVICE_UNAVAILABLE,
            frame.t("Tạm thời gián đoạn", "Temporarily unavailable"),
        ),
        _ => (
            status_of(p, StatusCode::BAD_REQUEST),
            frame.t("Chưa thực hiện được", "Not done"),
        ),
    };
    let told = text::problem_in(p, frame.lang);
    let title = title.to_owned();
    message(status, frame, &title, told)
}

/// The frame for a visit: who is signed in (nobody when the session has ended).
pub(crate) async fn frame(app: &App, visit: &Visit) -> Frame {
    let nobody = || Frame {
        here: visit.here.clone(),
        ..Frame::nobody(visit.lang)
    };
    if visit.session.is_none() {
        return nobody();
    }
    match app.gateway.get::<Me>("/v1/me", visit.on()).await {
        Ok(me) => Frame {
            csrf: me.csrf_token.clone().unwrap_or_default(),
            me: Some(me),
            lang: visit.lang,
            here: visit.here.clone(),
        },
        Err(_) => nobody(),
    }
}

/// A visit of a page anyone may see: the request, and who (if anyone) is signed in.
pub struct Guest {
    visit: Visit,
    frame: Frame,
}

impl FromRequestParts<App> for Guest {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Response> {
        let visit = Visit::of(parts);
        let frame = frame(app, &visit).await;
        Ok(Self { visit, frame })
    }
}

/// A visit of a page that asks nobody who is visiting (signing in, a forgotten
/// password): the frame of a signed-out visitor, in the visit's language.
pub struct Visitor {
    frame: Frame,
}

impl FromRequestParts<App> for Visitor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &App) -> Result<Self, Self::Rejection> {
        let visit = Visit::of(parts);
        Ok(Self {
            frame: Frame {
                here: visit.here,
                ..Frame::nobody(visit.lang)
            },
        })
    }
}

/// A visit of a page for staff: a signed-out browser is sent to the sign-in page.
pub struct Staff {
    visit: Visit,
    frame: Frame,
}

impl FromRequestParts<App> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Response> {
        let visit = Visit::of(parts);
        let frame = signed_in(app, &visit).await?;
        Ok(Self { visit, frame })
    }
}

/// The frame of a page that needs a person, or the way to the sign-in page.
pub(crate) async fn signed_in(app: &App, visit: &Visit) -> Result<Frame, Response> {
    let f = frame(app, visit).await;
    if f.me.is_some() {
        Ok(f)
    } else {
        Err(Redirect::to("/dang-nhap").into_response())
    }
}

/// Percent-encodes a path segment or query value.
pub(crate) fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(crate) fn query_string(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}
