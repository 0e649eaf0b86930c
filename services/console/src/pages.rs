//! Every page: each handler reads the form or the path, calls the gateway on the
//! person's behalf and renders a template. A page that needs a person sends a signed-out
//! browser to the sign-in page; what the gateway refuses (another unit's record, a
//! missing CSRF token) is refused here the same way.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::gateway::{On, Problem, SESSION_COOKIE};
use crate::text::{self, Shown};
use crate::{App, chart};

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

/// What every page's frame shows: who is signed in, and the token its forms carry.
pub struct Frame {
    pub me: Option<Me>,
    pub csrf: String,
}

impl Frame {
    fn nobody() -> Self {
        Self {
            me: None,
            csrf: String::new(),
        }
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
        self.me.as_ref().map_or("", |m| text::role(&m.role))
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

/// A cookie of the request, by name.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
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
}

impl Visit {
    fn of(parts: &Parts) -> Self {
        Self {
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

fn render(status: StatusCode, t: &impl Template) -> Response {
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

fn status_of(p: &Problem, otherwise: StatusCode) -> StatusCode {
    StatusCode::from_u16(p.status).unwrap_or(otherwise)
}

fn set_cookie(res: &mut Response, cookie: &str) {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage {
    frame: Frame,
    title: String,
    message: String,
}

fn message(status: StatusCode, frame: Frame, title: &str, message: String) -> Response {
    render(
        status,
        &MessagePage {
            frame,
            title: title.into(),
            message,
        },
    )
}

/// A refusal of the gateway as a page: signed out → the sign-in page.
fn refused(frame: Frame, p: &Problem) -> Response {
    let (status, title) = match p.status {
        401 => return Redirect::to("/dang-nhap").into_response(),
        403 => (StatusCode::FORBIDDEN, "Không có quyền"),
        404 => (StatusCode::NOT_FOUND, "Không tìm thấy"),
        0 => (StatusCode::SERVICE_UNAVAILABLE, "Tạm thời gián đoạn"),
        _ => (status_of(p, StatusCode::BAD_REQUEST), "Chưa thực hiện được"),
    };
    message(status, frame, title, text::problem(p))
}

/// The frame for a visit: who is signed in (nobody when the session has ended).
async fn frame(app: &App, visit: &Visit) -> Frame {
    if visit.session.is_none() {
        return Frame::nobody();
    }
    match app.gateway.get::<Me>("/v1/me", visit.on()).await {
        Ok(me) => Frame {
            csrf: me.csrf_token.clone().unwrap_or_default(),
            me: Some(me),
        },
        Err(_) => Frame::nobody(),
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
async fn signed_in(app: &App, visit: &Visit) -> Result<Frame, Response> {
    let f = frame(app, visit).await;
    if f.me.is_some() {
        Ok(f)
    } else {
        Err(Redirect::to("/dang-nhap").into_response())
    }
}

/// Percent-encodes a path segment or query value.
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn query_string(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

// ---- Public catalogue -------------------------------------------------------------

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Summary {
    pub code: String,
    pub name: String,
    pub level: String,
    pub field: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SearchAnswer {
    procedures: Vec<Summary>,
    total: u64,
    next_page_token: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SearchQuery {
    q: String,
    level: String,
    field: String,
    page_token: String,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    frame: Frame,
    q: String,
    level: String,
    field: String,
    results: Vec<Summary>,
    total: u64,
    next: String,
    levels: Vec<(&'static str, &'static str)>,
}

pub async fn search(
    State(app): State<App>,
    Guest { frame, .. }: Guest,
    Query(q): Query<SearchQuery>,
) -> Response {
    let path = format!(
        "/v1/procedures?{}",
        query_string(&[
            ("q", q.q.trim()),
            ("level", &q.level),
            ("field", q.field.trim()),
            ("page_token", &q.page_token),
            ("limit", "20"),
        ])
    );
    let answer: SearchAnswer = match app.gateway.get(&path, On::default()).await {
        Ok(a) => a,
        Err(p) => return refused(frame, &p),
    };
    let next = if answer.next_page_token.is_empty() {
        String::new()
    } else {
        format!(
            "/?{}",
            query_string(&[
                ("q", &q.q),
                ("level", &q.level),
                ("field", &q.field),
                ("page_token", &answer.next_page_token),
            ])
        )
    };
    render(
        StatusCode::OK,
        &SearchPage {
            frame,
            q: q.q,
            level: q.level,
            field: q.field,
            results: answer.procedures,
            total: answer.total,
            next,
            levels: vec![
                ("province", "Cấp tỉnh"),
                ("district", "Cấp huyện"),
                ("commune", "Cấp xã"),
            ],
        },
    )
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Decision {
    pub number: String,
    pub date: String,
    pub signer: String,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Dossier {
    pub name: String,
    pub originals: u32,
    pub copies: u32,
    pub required: bool,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Fee {
    pub channel: String,
    pub amount_vnd: i64,
    pub note: String,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Content {
    pub name: String,
    pub level: String,
    pub field: String,
    pub implementing_agency: String,
    pub applicants: Vec<String>,
    pub steps: Vec<String>,
    pub submission_channels: Vec<String>,
    pub dossier: Vec<Dossier>,
    pub processing_days: u32,
    pub result: String,
    pub requirements: Vec<String>,
    pub fees: Vec<Fee>,
    pub forms: Vec<String>,
    pub legal_basis: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct ProcedureView {
    pub code: String,
    pub status: String,
    pub version: u32,
    pub content: Content,
    pub decision: Decision,
    pub change_type: String,
    pub effective_date: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Versions {
    versions: Vec<ProcedureView>,
}

#[derive(Template)]
#[template(path = "procedure.html")]
struct ProcedurePage {
    frame: Frame,
    p: ProcedureView,
    versions: Vec<ProcedureView>,
}

pub fn channel(code: &str) -> &str {
    match code {
        "in_person" => "Trực tiếp",
        "online" => "Trực tuyến",
        "post" => "Qua bưu chính",
        other => other,
    }
}

pub fn change_type(code: &str) -> &str {
    match code {
        "new" => "Ban hành mới",
        "amended" => "Sửa đổi, bổ sung",
        "replaced" => "Thay thế",
        "abolished" => "Bãi bỏ",
        other => other,
    }
}

pub async fn procedure(
    State(app): State<App>,
    Guest { frame, .. }: Guest,
    Path(code): Path<String>,
) -> Response {
    let code = encode(code.trim());
    let (current_path, versions_path) = (
        format!("/v1/procedures/{code}"),
        format!("/v1/procedures/{code}/versions"),
    );
    let (current, versions) = tokio::join!(
        app.gateway
            .get::<ProcedureView>(&current_path, On::default()),
        app.gateway.get::<Versions>(&versions_path, On::default()),
    );
    let p = match current {
        Ok(p) => p,
        Err(p) => return refused(frame, &p),
    };
    let versions = versions.unwrap_or_default();
    render(
        StatusCode::OK,
        &ProcedurePage {
            frame,
            p,
            versions: versions.versions,
        },
    )
}

// ---- Signing in and out ------------------------------------------------------------

/// A random token for the sign-in form (a cookie and a field that must match), so no
/// other site can sign a browser in to an account of its choosing.
const FORM_COOKIE: &str = "cchc_form";

#[derive(Template)]
#[template(path = "sign_in.html")]
struct SignInPage {
    frame: Frame,
    form: String,
    email: String,
    errors: Vec<Shown>,
    notice: String,
}

impl SignInPage {
    fn error_for(&self, field: &str) -> String {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.clone())
            .unwrap_or_default()
    }
}

fn sign_in_page(
    app: &App,
    status: StatusCode,
    email: String,
    errors: Vec<Shown>,
    notice: String,
) -> Response {
    let bytes: [u8; 16] = rand::random();
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut res = render(
        status,
        &SignInPage {
            frame: Frame::nobody(),
            form: token.clone(),
            email,
            errors,
            notice,
        },
    );
    set_cookie(
        &mut res,
        &format!(
            "{FORM_COOKIE}={token}; Path=/dang-nhap; HttpOnly; SameSite=Strict{}",
            app.secure_suffix()
        ),
    );
    res
}

pub async fn sign_in_form(State(app): State<App>) -> Response {
    sign_in_page(
        &app,
        StatusCode::OK,
        String::new(),
        Vec::new(),
        String::new(),
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct SignIn {
    email: String,
    password: String,
    form: String,
}

#[derive(Deserialize)]
struct SessionAnswer {
    token: String,
}

pub async fn sign_in(
    State(app): State<App>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<SignIn>,
) -> Response {
    if f.form.is_empty() || cookie(&headers, FORM_COOKIE).as_deref() != Some(f.form.as_str()) {
        return sign_in_page(
            &app,
            StatusCode::FORBIDDEN,
            f.email,
            Vec::new(),
            "Biểu mẫu đã hết hạn. Vui lòng đăng nhập lại.".into(),
        );
    }
    let mut errors = Vec::new();
    if f.email.trim().is_empty() {
        errors.push(Shown {
            field: "email".into(),
            message: "Hãy nhập địa chỉ e-mail".into(),
        });
    }
    if f.password.is_empty() {
        errors.push(Shown {
            field: "password".into(),
            message: "Hãy nhập mật khẩu".into(),
        });
    }
    if !errors.is_empty() {
        return sign_in_page(
            &app,
            StatusCode::BAD_REQUEST,
            f.email,
            errors,
            String::new(),
        );
    }
    let client = addr.ip().to_string();
    let on = On {
        client: Some(&client),
        ..On::default()
    };
    let body = json!({"email": f.email.trim(), "password": f.password});
    match app
        .gateway
        .post::<SessionAnswer>("/v1/sessions", on, &body)
        .await
    {
        Ok(s) => {
            let mut res = Redirect::to("/trang-chu").into_response();
            set_cookie(
                &mut res,
                &format!(
                    "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax{}",
                    s.token,
                    app.secure_suffix()
                ),
            );
            res
        }
        Err(p) => {
            let notice = match p.status {
                401 => "Địa chỉ e-mail hoặc mật khẩu không đúng.".to_owned(),
                _ => text::problem(&p),
            };
            let status = status_of(&p, StatusCode::SERVICE_UNAVAILABLE);
            sign_in_page(&app, status, f.email, Vec::new(), notice)
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Csrf {
    csrf: String,
}

pub async fn sign_out(
    State(app): State<App>,
    Guest { visit, frame }: Guest,
    Form(f): Form<Csrf>,
) -> Response {
    if let Err(p) = app
        .gateway
        .delete("/v1/sessions/current", visit.writing(&f.csrf))
        .await
        && p.status == 403
    {
        return refused(frame, &p);
    }
    let mut res = Redirect::to("/").into_response();
    set_cookie(
        &mut res,
        &format!(
            "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
            app.secure_suffix()
        ),
    );
    res
}

#[derive(Template)]
#[template(path = "forgot.html")]
struct ForgotPage {
    frame: Frame,
    sent: bool,
    notice: String,
}

pub async fn forgot_form() -> Response {
    render(
        StatusCode::OK,
        &ForgotPage {
            frame: Frame::nobody(),
            sent: false,
            notice: String::new(),
        },
    )
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Forgot {
    email: String,
}

/// Asks for a reset link; the answer is the same whether the address has an account.
pub async fn forgot(
    State(app): State<App>,
    ConnectInfo(addr): ConnectInfo<std::net::SocketAddr>,
    Form(f): Form<Forgot>,
) -> Response {
    let client = addr.ip().to_string();
    let on = On {
        client: Some(&client),
        ..On::default()
    };
    let asked = app
        .gateway
        .post::<Value>("/v1/password-resets", on, &json!({"email": f.email.trim()}))
        .await;
    let (status, sent, notice) = match asked {
        Ok(_) => (StatusCode::OK, true, String::new()),
        Err(p) if p.status == 400 => (
            StatusCode::BAD_REQUEST,
            false,
            "Hãy nhập đúng địa chỉ e-mail, ví dụ ten@truong.edu.vn.".to_owned(),
        ),
        Err(p) => (
            status_of(&p, StatusCode::BAD_REQUEST),
            false,
            text::problem(&p),
        ),
    };
    render(
        status,
        &ForgotPage {
            frame: Frame::nobody(),
            sent,
            notice,
        },
    )
}

// ---- Staff: home, activities, postings ---------------------------------------------

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct ActorRef {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Activity {
    pub id: String,
    pub kind: String,
    pub date: String,
    pub title: String,
    pub description: String,
    pub channel: String,
    pub audience: String,
    pub head_count: i64,
    pub evidence_links: Vec<String>,
    pub procedure_codes: Vec<String>,
    pub recorded_at: String,
    pub created_by: Option<ActorRef>,
}

impl Activity {
    pub fn creator(&self) -> &str {
        self.created_by.as_ref().map_or("", |a| a.name.as_str())
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Activities {
    activities: Vec<Activity>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Posting {
    pub code: String,
    pub procedure_name: String,
    pub version: u32,
    pub current_version: u32,
    pub stale: bool,
    pub location: String,
    pub posted_on: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Postings {
    postings: Vec<Posting>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Notice {
    pub subject: String,
    pub created_at: String,
    pub read: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Inbox {
    messages: Vec<Notice>,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    frame: Frame,
    stale: Vec<Posting>,
    activities: Vec<Activity>,
    unread: Vec<Notice>,
}

pub async fn home(State(app): State<App>, Staff { visit, frame }: Staff) -> Response {
    let (stale, activities, inbox) = tokio::join!(
        app.gateway
            .get::<Postings>("/v1/postings?stale=true&limit=50", visit.on()),
        app.gateway
            .get::<Activities>("/v1/activities?limit=5", visit.on()),
        app.gateway
            .get::<Inbox>("/v1/notifications?limit=20", visit.on()),
    );
    render(
        StatusCode::OK,
        &HomePage {
            frame,
            stale: stale.unwrap_or_default().postings,
            activities: activities.unwrap_or_default().activities,
            unread: inbox
                .unwrap_or_default()
                .messages
                .into_iter()
                .filter(|m| !m.read)
                .collect(),
        },
    )
}

#[derive(Template)]
#[template(path = "activities.html")]
struct ActivitiesPage {
    frame: Frame,
    activities: Vec<Activity>,
}

pub async fn activities(State(app): State<App>, Staff { visit, frame }: Staff) -> Response {
    match app
        .gateway
        .get::<Activities>("/v1/activities?limit=100", visit.on())
        .await
    {
        Ok(a) => render(
            StatusCode::OK,
            &ActivitiesPage {
                frame,
                activities: a.activities,
            },
        ),
        Err(p) => refused(frame, &p),
    }
}

#[derive(Template)]
#[template(path = "activity.html")]
struct ActivityPage {
    frame: Frame,
    a: Activity,
    saved: bool,
}

pub async fn activity(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match app
        .gateway
        .get::<Activity>(&format!("/v1/activities/{}", encode(&id)), visit.on())
        .await
    {
        Ok(a) => render(
            StatusCode::OK,
            &ActivityPage {
                frame,
                a,
                saved: q.contains_key("da-luu"),
            },
        ),
        Err(p) => refused(frame, &p),
    }
}

/// The activity form as typed, kept when it is refused.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct ActivityForm {
    pub csrf: String,
    pub kind: String,
    pub date: String,
    pub title: String,
    pub description: String,
    pub channel: String,
    pub audience: String,
    pub head_count: String,
    pub evidence_links: String,
    pub procedure_codes: String,
}

#[derive(Template)]
#[template(path = "activity_form.html")]
struct ActivityFormPage {
    frame: Frame,
    f: ActivityForm,
    errors: Vec<Shown>,
    notice: String,
    kinds: &'static [(&'static str, &'static str)],
}

impl ActivityFormPage {
    fn error_for(&self, field: &str) -> String {
        self.errors
            .iter()
            .filter(|e| e.field == field)
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn activity_form(
    status: StatusCode,
    frame: Frame,
    f: ActivityForm,
    errors: Vec<Shown>,
    notice: String,
) -> Response {
    render(
        status,
        &ActivityFormPage {
            frame,
            f,
            errors,
            notice,
            kinds: text::ACTIVITY_KINDS,
        },
    )
}

pub async fn new_activity(Staff { frame, .. }: Staff) -> Response {
    let f = ActivityForm {
        date: text::today(),
        head_count: "0".into(),
        ..ActivityForm::default()
    };
    activity_form(StatusCode::OK, frame, f, Vec::new(), String::new())
}

pub async fn record_activity(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Form(f): Form<ActivityForm>,
) -> Response {
    // What the console can tell before asking: a date it cannot read, a count that is
    // no number. The rest the activity service judges.
    let mut errors = Vec::new();
    let date = text::parse_date(&f.date);
    if date.is_none() {
        errors.push(Shown {
            field: "date".into(),
            message: "Ngày thực hiện phải theo dạng ngày/tháng/năm, ví dụ 02/04/2020".into(),
        });
    }
    let head_count = if f.head_count.trim().is_empty() {
        Some(0)
    } else {
        f.head_count.trim().replace('.', "").parse::<i64>().ok()
    };
    if head_count.is_none() {
        errors.push(Shown {
            field: "head_count".into(),
            message: "Số người tham dự phải là một số".into(),
        });
    }
    if !errors.is_empty() {
        return activity_form(StatusCode::BAD_REQUEST, frame, f, errors, String::new());
    }
    let lines = |s: &str, sep: &[char]| -> Vec<String> {
        s.split(sep)
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let body: Value = json!({
        "kind": f.kind,
        "date": date,
        "title": f.title,
        "description": f.description,
        "channel": f.channel,
        "audience": f.audience,
        "head_count": head_count,
        "evidence_links": lines(&f.evidence_links, &['\n']),
        "procedure_codes": lines(&f.procedure_codes, &[',', ';', '\n']),
    });
    match app
        .gateway
        .post::<Activity>("/v1/activities", visit.writing(&f.csrf), &body)
        .await
    {
        Ok(a) => Redirect::to(&format!("/hoat-dong/{}?da-luu=1", encode(&a.id))).into_response(),
        Err(p) if p.status == 400 && !p.errors.is_empty() => {
            let errors = p.errors.iter().map(text::field_error).collect();
            activity_form(StatusCode::BAD_REQUEST, frame, f, errors, String::new())
        }
        Err(p) if p.status == 401 => Redirect::to("/dang-nhap").into_response(),
        Err(p) => {
            let status = status_of(&p, StatusCode::SERVICE_UNAVAILABLE);
            activity_form(status, frame, f, Vec::new(), text::problem(&p))
        }
    }
}

#[derive(Template)]
#[template(path = "postings.html")]
struct PostingsPage {
    frame: Frame,
    postings: Vec<Posting>,
    today: String,
    notice: String,
}

async fn postings_page(
    app: &App,
    visit: &Visit,
    frame: Frame,
    notice: String,
    status: StatusCode,
) -> Response {
    match app
        .gateway
        .get::<Postings>("/v1/postings?limit=200", visit.on())
        .await
    {
        Ok(mut p) => {
            // Stale first: what needs doing.
            p.postings.sort_by_key(|x| !x.stale);
            render(
                status,
                &PostingsPage {
                    frame,
                    postings: p.postings,
                    today: text::today(),
                    notice,
                },
            )
        }
        Err(p) => refused(frame, &p),
    }
}

pub async fn postings(State(app): State<App>, Staff { visit, frame }: Staff) -> Response {
    postings_page(&app, &visit, frame, String::new(), StatusCode::OK).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct Confirm {
    csrf: String,
    code: String,
    version: u32,
    location: String,
    posted_on: String,
}

pub async fn confirm_posting(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Form(f): Form<Confirm>,
) -> Response {
    let Some(posted_on) = text::parse_date(&f.posted_on) else {
        return postings_page(
            &app,
            &visit,
            frame,
            "Ngày niêm yết phải theo dạng ngày/tháng/năm, ví dụ 02/04/2020.".into(),
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    let body = json!({"code": f.code, "version": f.version, "location": f.location.trim(), "posted_on": posted_on});
    match app
        .gateway
        .post::<Value>("/v1/postings", visit.writing(&f.csrf), &body)
        .await
    {
        Ok(_) => Redirect::to("/niem-yet").into_response(),
        Err(p) if p.status == 401 => Redirect::to("/dang-nhap").into_response(),
        Err(p) => {
            let notice = if p.errors.is_empty() {
                text::problem(&p)
            } else {
                p.errors
                    .iter()
                    .map(|e| text::field_error(e).message)
                    .collect::<Vec<_>>()
                    .join(". ")
            };
            let status = status_of(&p, StatusCode::BAD_REQUEST);
            postings_page(&app, &visit, frame, notice, status).await
        }
    }
}

pub async fn not_found(Guest { frame, .. }: Guest) -> Response {
    message(
        StatusCode::NOT_FOUND,
        frame,
        "Không tìm thấy",
        "Không có trang này. Hãy quay về trang chủ.".into(),
    )
}

// ---- One-stop results --------------------------------------------------------------

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Received {
    pub online: i64,
    pub in_person_or_post: i64,
    pub carried_over: i64,
    pub total: i64,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Resolved {
    pub early: i64,
    pub on_time: i64,
    pub late: i64,
    pub total: i64,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Pending {
    pub within_time: i64,
    pub overdue: i64,
    pub total: i64,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct OneStop {
    pub period: String,
    pub received: Received,
    pub resolved: Resolved,
    pub pending: Pending,
    pub returned_withdrawn: i64,
    pub on_time_rate: Option<f64>,
    pub revision: u32,
    pub submitted_at: String,
    pub created_by: Option<ActorRef>,
}

impl OneStop {
    /// The on-time rate as people read it: "95,5%", or a dash when nothing was resolved.
    pub fn rate(&self) -> String {
        self.on_time_rate.map_or("–".into(), |r| {
            format!("{:.1}%", r * 100.0).replace('.', ",")
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct OneStops {
    results: Vec<OneStop>,
}

/// The counters of the one-stop form, in the order they are asked, with the API field
/// each fills.
pub const ONE_STOP_FIELDS: &[(&str, &str, &str)] = &[
    ("received_online", "received.online", "Tiếp nhận trực tuyến"),
    (
        "received_in_person_or_post",
        "received.in_person_or_post",
        "Tiếp nhận trực tiếp hoặc qua bưu chính",
    ),
    (
        "received_carried_over",
        "received.carried_over",
        "Kỳ trước chuyển sang",
    ),
    ("resolved_early", "resolved.early", "Giải quyết trước hạn"),
    (
        "resolved_on_time",
        "resolved.on_time",
        "Giải quyết đúng hạn",
    ),
    ("resolved_late", "resolved.late", "Giải quyết quá hạn"),
    (
        "pending_within_time",
        "pending.within_time",
        "Đang giải quyết, còn trong hạn",
    ),
    (
        "pending_overdue",
        "pending.overdue",
        "Đang giải quyết, đã quá hạn",
    ),
    (
        "returned_withdrawn",
        "returned_withdrawn",
        "Trả lại hoặc công dân rút hồ sơ",
    ),
];

#[derive(Template)]
#[template(path = "one_stop.html")]
struct OneStopPage {
    frame: Frame,
    period: String,
    values: HashMap<String, String>,
    note: String,
    errors: Vec<Shown>,
    notice: String,
    saved: Option<OneStop>,
    history: Vec<OneStop>,
    fields: &'static [(&'static str, &'static str, &'static str)],
}

impl OneStopPage {
    fn error_for(&self, field: &str) -> String {
        self.errors
            .iter()
            .filter(|e| e.field == field)
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join("; ")
    }
    fn value(&self, field: &str) -> String {
        self.values.get(field).cloned().unwrap_or_default()
    }
}

async fn one_stop_history(app: &App, visit: &Visit) -> Vec<OneStop> {
    app.gateway
        .get::<OneStops>("/v1/one-stop-results?limit=50", visit.on())
        .await
        .unwrap_or_default()
        .results
}

pub async fn one_stop_form(State(app): State<App>, Staff { visit, frame }: Staff) -> Response {
    let history = one_stop_history(&app, &visit).await;
    render(
        StatusCode::OK,
        &OneStopPage {
            frame,
            period: String::new(),
            values: HashMap::new(),
            note: String::new(),
            errors: Vec::new(),
            notice: String::new(),
            saved: None,
            history,
            fields: ONE_STOP_FIELDS,
        },
    )
}

/// Submits a period's counters. A count that is no number is named here; the rest,
/// the reconciliation above all, the activity service judges (422 names the
/// difference, said again here in Vietnamese with the clerk's own figures).
pub async fn submit_one_stop(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| form.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let period = get("period");
    let mut errors = Vec::new();
    let mut counts = HashMap::new();
    for (id, _, label) in ONE_STOP_FIELDS {
        let raw = get(id).replace('.', "");
        match if raw.is_empty() {
            Ok(0)
        } else {
            raw.parse::<i64>()
        } {
            Ok(n) => {
                counts.insert(*id, n);
            }
            Err(_) => errors.push(Shown {
                field: (*id).into(),
                message: format!("{label}: hãy nhập một số"),
            }),
        }
    }
    if period.is_empty() {
        errors.push(Shown {
            field: "period".into(),
            message: "Hãy nhập kỳ báo cáo, ví dụ 2020-H1".into(),
        });
    }
    let values: HashMap<String, String> = ONE_STOP_FIELDS
        .iter()
        .map(|(id, _, _)| ((*id).to_owned(), get(id)))
        .collect();
    let page = |status, errors, notice: String, saved, history| {
        render(
            status,
            &OneStopPage {
                frame,
                period: period.clone(),
                values: values.clone(),
                note: get("note"),
                errors,
                notice,
                saved,
                history,
                fields: ONE_STOP_FIELDS,
            },
        )
    };
    if !errors.is_empty() {
        let history = one_stop_history(&app, &visit).await;
        return page(
            StatusCode::BAD_REQUEST,
            errors,
            String::new(),
            None,
            history,
        );
    }
    let c = |id: &str| counts.get(id).copied().unwrap_or(0);
    let body = json!({
        "received": {"online": c("received_online"), "in_person_or_post": c("received_in_person_or_post"), "carried_over": c("received_carried_over")},
        "resolved": {"early": c("resolved_early"), "on_time": c("resolved_on_time"), "late": c("resolved_late")},
        "pending": {"within_time": c("pending_within_time"), "overdue": c("pending_overdue")},
        "returned_withdrawn": c("returned_withdrawn"),
        "note": get("note"),
    });
    let csrf = get("csrf");
    let answer = app
        .gateway
        .put::<OneStop>(
            &format!("/v1/one-stop-results/{}", encode(&period)),
            visit.writing(&csrf),
            &body,
        )
        .await;
    let history = one_stop_history(&app, &visit).await;
    match answer {
        Ok(saved) => page(
            StatusCode::OK,
            Vec::new(),
            String::new(),
            Some(saved),
            history,
        ),
        Err(p) if p.status == 401 => Redirect::to("/dang-nhap").into_response(),
        Err(p) if p.status == 422 => {
            let received =
                c("received_online") + c("received_in_person_or_post") + c("received_carried_over");
            let resolved = c("resolved_early") + c("resolved_on_time") + c("resolved_late");
            let pending = c("pending_within_time") + c("pending_overdue");
            let returned = c("returned_withdrawn");
            let n = |x: i64| text::number(&x);
            let message = format!(
                "Số hồ sơ tiếp nhận ({}) phải bằng số đã giải quyết ({}) cộng số đang giải quyết ({}) và số trả lại, rút ({}); hiện đang lệch {} hồ sơ",
                n(received),
                n(resolved),
                n(pending),
                n(returned),
                n(received - resolved - pending - returned)
            );
            let errors = vec![Shown {
                field: "received_online".into(),
                message,
            }];
            page(
                StatusCode::UNPROCESSABLE_ENTITY,
                errors,
                String::new(),
                None,
                history,
            )
        }
        Err(p) if !p.errors.is_empty() => {
            let errors = p.errors.iter().map(text::field_error).collect();
            page(
                status_of(&p, StatusCode::BAD_REQUEST),
                errors,
                String::new(),
                None,
                history,
            )
        }
        Err(p) => page(
            status_of(&p, StatusCode::BAD_REQUEST),
            Vec::new(),
            text::problem(&p),
            None,
            history,
        ),
    }
}

/// The small scripts that enhance a page (it works without them).
pub async fn script(Path(name): Path<String>) -> Response {
    let body = match name.as_str() {
        "one-stop.js" => include_str!("../static/one-stop.js"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

// ---- Reports -----------------------------------------------------------------------

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct PlanPeriod {
    pub key: String,
    pub title: String,
    pub due_date: String,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Plan {
    pub id: String,
    pub number_symbol: String,
    pub title: String,
    pub year: i32,
    pub periods: Vec<PlanPeriod>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Plans {
    plans: Vec<Plan>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Report {
    pub id: String,
    pub plan_id: String,
    pub period: String,
    pub state: String,
    pub percent: i32,
    pub step: String,
    pub error: String,
    pub title: String,
    pub summary: String,
    pub requested_at: String,
    pub created_by: Option<ActorRef>,
}

impl Report {
    pub fn state_text(&self) -> &str {
        match self.state.as_str() {
            "queued" => "Đang chờ",
            "running" => "Đang lập",
            "completed" => "Đã xong",
            "failed" => "Không lập được",
            other => other,
        }
    }
    pub fn done(&self) -> bool {
        self.state == "completed"
    }
    pub fn working(&self) -> bool {
        self.state == "queued" || self.state == "running"
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Reports {
    reports: Vec<Report>,
}

/// The formats a report is exported in, with what people call them.
pub const EXPORTS: &[(&str, &str)] = &[
    ("docx", "Văn bản Word (DOCX)"),
    ("xlsx", "Bảng tính Excel (XLSX)"),
    ("csv", "CSV"),
];

fn may_read_reports(frame: &Frame) -> bool {
    frame
        .me
        .as_ref()
        .is_some_and(|m| matches!(m.role.as_str(), "office" | "leader"))
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    frame: Frame,
    reports: Vec<Report>,
    plans: Vec<Plan>,
    office: bool,
    notice: String,
}

async fn reports_page(
    app: &App,
    visit: &Visit,
    frame: Frame,
    notice: String,
    status: StatusCode,
) -> Response {
    if !may_read_reports(&frame) {
        let p = Problem {
            status: 403,
            ..Problem::default()
        };
        return refused(frame, &p);
    }
    let (reports, plans) = tokio::join!(
        app.gateway
            .get::<Reports>("/v1/reports?limit=50", visit.on()),
        app.gateway.get::<Plans>("/v1/plans?limit=50", visit.on()),
    );
    let reports = match reports {
        Ok(r) => r.reports,
        Err(p) => return refused(frame, &p),
    };
    let office = frame.is_office();
    render(
        status,
        &ReportsPage {
            frame,
            reports,
            plans: plans.unwrap_or_default().plans,
            office,
            notice,
        },
    )
}

pub async fn reports(State(app): State<App>, Staff { visit, frame }: Staff) -> Response {
    reports_page(&app, &visit, frame, String::new(), StatusCode::OK).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewReport {
    csrf: String,
    /// `plan_id|period`, one choice of the form's list.
    choice: String,
}

pub async fn start_report(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Form(f): Form<NewReport>,
) -> Response {
    let Some((plan_id, period)) = f.choice.split_once('|') else {
        return reports_page(
            &app,
            &visit,
            frame,
            "Hãy chọn kế hoạch và kỳ báo cáo.".into(),
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    match app
        .gateway
        .post::<Report>(
            "/v1/reports",
            visit.writing(&f.csrf),
            &json!({"plan_id": plan_id, "period": period}),
        )
        .await
    {
        Ok(r) => Redirect::to(&format!("/bao-cao/{}", encode(&r.id))).into_response(),
        Err(p) if p.status == 401 => Redirect::to("/dang-nhap").into_response(),
        Err(p) => {
            let status = status_of(&p, StatusCode::BAD_REQUEST);
            reports_page(&app, &visit, frame, text::problem(&p), status).await
        }
    }
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    frame: Frame,
    r: Report,
    exports: &'static [(&'static str, &'static str)],
}

pub async fn report(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Path(id): Path<String>,
) -> Response {
    match app
        .gateway
        .get::<Report>(&format!("/v1/reports/{}", encode(&id)), visit.on())
        .await
    {
        Ok(r) => render(
            StatusCode::OK,
            &ReportPage {
                frame,
                r,
                exports: EXPORTS,
            },
        ),
        Err(p) => refused(frame, &p),
    }
}

/// A report's document, fetched from the gateway for the signed-in person.
pub async fn report_file(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Path((id, format)): Path<(String, String)>,
) -> Response {
    if !EXPORTS.iter().any(|(f, _)| *f == format) {
        return not_found(Guest { visit, frame }).await;
    }
    let path = format!("/v1/reports/{}/export?format={format}", encode(&id));
    match app.gateway.download(&path, visit.on()).await {
        Ok(d) => {
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
        Err(p) => refused(frame, &p),
    }
}

// ---- Office: a procedure's draft and its publication -----------------------------

#[derive(Deserialize, Default)]
#[serde(default)]
struct Draft {
    draft_revision: u64,
    status: String,
    version: u32,
    content: Value,
}

#[derive(Template)]
#[template(path = "procedure_edit.html")]
struct ProcedureEditPage {
    frame: Frame,
    code: String,
    status: String,
    version: u32,
    revision: u64,
    name: String,
    agency: String,
    processing_days: String,
    result: String,
    steps: String,
    legal_basis: String,
    errors: Vec<Shown>,
    notice: String,
    saved: String,
    change_types: &'static [(&'static str, &'static str)],
}

impl ProcedureEditPage {
    fn error_for(&self, field: &str) -> String {
        self.errors
            .iter()
            .filter(|e| e.field == field)
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

const CHANGE_TYPES: &[(&str, &str)] = &[
    ("amended", "Sửa đổi, bổ sung"),
    ("replaced", "Thay thế"),
    ("new", "Ban hành mới"),
];

fn lines_of(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// What became of a form: its errors, a notice, or what was saved.
#[derive(Default)]
struct Outcome {
    errors: Vec<Shown>,
    notice: String,
    saved: String,
}

async fn procedure_edit(
    app: &App,
    visit: &Visit,
    frame: Frame,
    code: &str,
    status: StatusCode,
    outcome: Outcome,
) -> Response {
    let Outcome {
        errors,
        notice,
        saved,
    } = outcome;
    if !frame.is_office() {
        let p = Problem {
            status: 403,
            ..Problem::default()
        };
        return refused(frame, &p);
    }
    let d: Draft = match app
        .gateway
        .get(
            &format!("/v1/procedures/{}/draft", encode(code)),
            visit.on(),
        )
        .await
    {
        Ok(d) => d,
        Err(p) => return refused(frame, &p),
    };
    let c = &d.content;
    render(
        status,
        &ProcedureEditPage {
            frame,
            code: code.to_owned(),
            status: d.status,
            version: d.version,
            revision: d.draft_revision,
            name: str_of(&c["name"]),
            agency: str_of(&c["implementing_agency"]),
            processing_days: c["processing_days"].as_u64().unwrap_or(0).to_string(),
            result: str_of(&c["result"]),
            steps: lines_of(&c["steps"]),
            legal_basis: lines_of(&c["legal_basis"]),
            errors,
            notice,
            saved,
            change_types: CHANGE_TYPES,
        },
    )
}

pub async fn edit_procedure(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Path(code): Path<String>,
) -> Response {
    procedure_edit(
        &app,
        &visit,
        frame,
        &code,
        StatusCode::OK,
        Outcome::default(),
    )
    .await
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct DraftForm {
    csrf: String,
    revision: u64,
    name: String,
    agency: String,
    processing_days: String,
    result: String,
    steps: String,
    legal_basis: String,
}

/// Saves the draft: the fields of the form over the draft's other content, as read.
pub async fn save_draft(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Path(code): Path<String>,
    Form(f): Form<DraftForm>,
) -> Response {
    let path = format!("/v1/procedures/{}/draft", encode(&code));
    let Ok(days) = f.processing_days.trim().parse::<u32>() else {
        let errors = vec![Shown {
            field: "processing_days".into(),
            message: "Thời hạn giải quyết phải là một số ngày".into(),
        }];
        return procedure_edit(
            &app,
            &visit,
            frame,
            &code,
            StatusCode::BAD_REQUEST,
            Outcome {
                errors,
                ..Outcome::default()
            },
        )
        .await;
    };
    let mut draft: Draft = match app.gateway.get(&path, visit.on()).await {
        Ok(d) => d,
        Err(p) => return refused(frame, &p),
    };
    let lines = |s: &str| -> Vec<String> {
        s.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let c = &mut draft.content;
    c["name"] = json!(f.name.trim());
    c["implementing_agency"] = json!(f.agency.trim());
    c["processing_days"] = json!(days);
    c["result"] = json!(f.result.trim());
    c["steps"] = json!(lines(&f.steps));
    c["legal_basis"] = json!(lines(&f.legal_basis));
    let body = json!({"revision": f.revision, "content": draft.content});
    match app
        .gateway
        .put::<Value>(&path, visit.writing(&f.csrf), &body)
        .await
    {
        Ok(_) => {
            procedure_edit(
                &app,
                &visit,
                frame,
                &code,
                StatusCode::OK,
                Outcome {
                    saved: "Đã lưu dự thảo.".into(),
                    ..Outcome::default()
                },
            )
            .await
        }
        Err(p) if p.status == 401 => Redirect::to("/dang-nhap").into_response(),
        Err(p) => {
            let errors: Vec<Shown> = p.errors.iter().map(text::field_error).collect();
            let notice = if errors.is_empty() {
                text::problem(&p)
            } else {
                String::new()
            };
            let status = status_of(&p, StatusCode::BAD_REQUEST);
            procedure_edit(
                &app,
                &visit,
                frame,
                &code,
                status,
                Outcome {
                    errors,
                    notice,
                    ..Outcome::default()
                },
            )
            .await
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct PublishForm {
    csrf: String,
    decision_number: String,
    decision_date: String,
    decision_signer: String,
    change_type: String,
    change_note: String,
    effective_date: String,
}

/// Publishes the draft as the next version, with the decision that announced it.
pub async fn publish_procedure(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Path(code): Path<String>,
    Form(f): Form<PublishForm>,
) -> Response {
    let mut errors = Vec::new();
    let decision_date = text::parse_date(&f.decision_date);
    if decision_date.is_none() {
        errors.push(Shown {
            field: "decision_date".into(),
            message: "Ngày quyết định phải theo dạng ngày/tháng/năm".into(),
        });
    }
    let effective = text::parse_date(&f.effective_date);
    if effective.is_none() {
        errors.push(Shown {
            field: "effective_date".into(),
            message: "Ngày có hiệu lực phải theo dạng ngày/tháng/năm".into(),
        });
    }
    if !errors.is_empty() {
        return procedure_edit(
            &app,
            &visit,
            frame,
            &code,
            StatusCode::BAD_REQUEST,
            Outcome {
                errors,
                ..Outcome::default()
            },
        )
        .await;
    }
    let body = json!({
        "decision": {"number": f.decision_number.trim(), "date": decision_date, "signer": f.decision_signer.trim()},
        "change_type": f.change_type,
        "change_note": f.change_note.trim(),
        "effective_date": effective,
    });
    match app
        .gateway
        .post::<ProcedureView>(
            &format!("/v1/procedures/{}/publish", encode(&code)),
            visit.writing(&f.csrf),
            &body,
        )
        .await
    {
        Ok(v) => {
            let saved = format!(
                "Đã công bố phiên bản {}, hiệu lực từ {}.",
                v.version,
                text::date(&v.effective_date)
            );
            procedure_edit(
                &app,
                &visit,
                frame,
                &code,
                StatusCode::OK,
                Outcome {
                    saved,
                    ..Outcome::default()
                },
            )
            .await
        }
        Err(p) if p.status == 401 => Redirect::to("/dang-nhap").into_response(),
        Err(p) => {
            let errors: Vec<Shown> = p.errors.iter().map(text::field_error).collect();
            let notice = if p.status == 422 {
                "Chưa công bố được: hồ sơ thủ tục còn thiếu thông tin theo Nghị định 63/2010/NĐ-CP, hoặc ngày hiệu lực không hợp lệ.".to_owned()
            } else if errors.is_empty() {
                text::problem(&p)
            } else {
                String::new()
            };
            let status = status_of(&p, StatusCode::BAD_REQUEST);
            procedure_edit(
                &app,
                &visit,
                frame,
                &code,
                status,
                Outcome {
                    errors,
                    notice,
                    ..Outcome::default()
                },
            )
            .await
        }
    }
}

// ---- Leadership: the dashboard -------------------------------------------------------

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct KindCount {
    pub kind: String,
    pub count: i64,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Dashboard {
    pub year: i32,
    pub procedures_published: i64,
    pub procedures_abolished: i64,
    pub activities_by_kind: Vec<KindCount>,
    pub activities_total: i64,
    pub units_reporting: i64,
    pub as_of: String,
    pub postings_current: i64,
    pub postings_stale: i64,
    pub units_with_stale_postings: i64,
    pub units_total: i64,
    pub units_with_one_stop_results: i64,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    frame: Frame,
    d: Dashboard,
    kinds: Vec<(String, i64)>,
    activities_chart: String,
    postings_chart: String,
    units_chart: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct YearQuery {
    nam: Option<i32>,
}

pub async fn dashboard(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Query(q): Query<YearQuery>,
) -> Response {
    let year = q
        .nam
        .unwrap_or_else(|| text::today()[6..].parse().unwrap_or(2020));
    let d: Dashboard = match app
        .gateway
        .get(&format!("/v1/dashboard?year={year}"), visit.on())
        .await
    {
        Ok(d) => d,
        Err(p) => return refused(frame, &p),
    };
    let kinds: Vec<(String, i64)> = text::ACTIVITY_KINDS
        .iter()
        .map(|(code, name)| {
            let n = d
                .activities_by_kind
                .iter()
                .find(|k| k.kind == *code)
                .map_or(0, |k| k.count);
            ((*name).to_owned(), n)
        })
        .collect();
    let activities_chart = chart::bars("Hoạt động tuyên truyền theo hình thức", &kinds);
    let postings_chart = chart::bars(
        "Niêm yết thủ tục",
        &[
            ("Đúng phiên bản hiện hành".into(), d.postings_current),
            ("Cần niêm yết lại".into(), d.postings_stale),
        ],
    );
    let units_chart = chart::bars(
        "Đơn vị",
        &[
            ("Tổng số đơn vị".into(), d.units_total),
            ("Có hoạt động tuyên truyền".into(), d.units_reporting),
            (
                "Đã nộp kết quả một cửa".into(),
                d.units_with_one_stop_results,
            ),
            (
                "Có thủ tục cần niêm yết lại".into(),
                d.units_with_stale_postings,
            ),
        ],
    );
    render(
        StatusCode::OK,
        &DashboardPage {
            frame,
            d,
            kinds,
            activities_chart,
            postings_chart,
            units_chart,
        },
    )
}

// ---- Public: a unit's posting sheet (niêm yết) ---------------------------------------

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct SheetLine {
    pub code: String,
    pub name: String,
    pub version: u32,
    pub decision: Option<Decision>,
    pub effective_date: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Sheet {
    unit_name: String,
    procedures: Vec<SheetLine>,
}

/// A printed line: the procedure, its number on the sheet, and the QR code of its
/// public page.
pub struct Printed {
    pub n: usize,
    pub line: SheetLine,
    pub url: String,
    pub qr: String,
}

/// Lines per printed A4 page.
pub const SHEET_LINES_PER_PAGE: usize = 10;

#[derive(Template)]
#[template(path = "posting_sheet.html")]
struct SheetPage {
    frame: Frame,
    unit_name: String,
    pages: Vec<Vec<Printed>>,
    total: usize,
    today: String,
}

/// The posting sheet of a unit, to print (one A4 page per ten procedures), each
/// procedure with a QR code to its public page.
pub async fn posting_sheet(
    State(app): State<App>,
    Guest { frame, .. }: Guest,
    Path(unit_id): Path<String>,
) -> Response {
    let sheet: Sheet = match app
        .gateway
        .get(
            &format!("/v1/units/{}/posting-sheet", encode(&unit_id)),
            On::default(),
        )
        .await
    {
        Ok(s) => s,
        Err(p) => return refused(frame, &p),
    };
    let total = sheet.procedures.len();
    let printed: Vec<Printed> = sheet
        .procedures
        .into_iter()
        .enumerate()
        .map(|(i, line)| {
            let url = format!("{}/thu-tuc/{}", app.public_url, encode(&line.code));
            Printed {
                n: i + 1,
                qr: crate::qr::svg(&url),
                url,
                line,
            }
        })
        .collect();
    let mut pages = Vec::new();
    let mut rest = printed.into_iter().peekable();
    while rest.peek().is_some() {
        pages.push(rest.by_ref().take(SHEET_LINES_PER_PAGE).collect());
    }
    render(
        StatusCode::OK,
        &SheetPage {
            frame,
            unit_name: sheet.unit_name,
            pages,
            total,
            today: text::today(),
        },
    )
}

// ---- Office: people --------------------------------------------------------------

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct UserRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub unit_id: String,
    pub role: String,
    pub status: String,
    pub last_sign_in_at: Option<String>,
}

impl UserRow {
    pub fn status_text(&self) -> &str {
        match self.status.as_str() {
            "invited" => "Đã mời, chưa kích hoạt",
            "active" => "Đang hoạt động",
            "disabled" => "Đã khóa",
            other => other,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Users {
    users: Vec<UserRow>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct UnitRow {
    pub id: String,
    pub name: String,
    pub status: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Units {
    units: Vec<UnitRow>,
}

#[derive(Template)]
#[template(path = "people.html")]
struct PeoplePage {
    frame: Frame,
    users: Vec<UserRow>,
    units: Vec<UnitRow>,
    form: Invite,
    errors: Vec<Shown>,
    notice: String,
    saved: String,
    roles: &'static [(&'static str, &'static str)],
}

impl PeoplePage {
    fn error_for(&self, field: &str) -> String {
        self.errors
            .iter()
            .filter(|e| e.field == field)
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join("; ")
    }
    fn unit_name(&self, id: &str) -> String {
        self.units
            .iter()
            .find(|u| u.id == id)
            .map_or_else(|| id.to_owned(), |u| u.name.clone())
    }
}

const ROLES: &[(&str, &str)] = &[
    ("unit", "Cán bộ đơn vị"),
    ("office", "Văn phòng Sở"),
    ("leader", "Lãnh đạo"),
];

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Invite {
    csrf: String,
    name: String,
    email: String,
    unit_id: String,
    role: String,
}

async fn people_page(
    app: &App,
    visit: &Visit,
    frame: Frame,
    status: StatusCode,
    form: Invite,
    outcome: Outcome,
) -> Response {
    let (users, units) = tokio::join!(
        app.gateway.get::<Users>("/v1/users?limit=200", visit.on()),
        app.gateway.get::<Units>("/v1/units?limit=200", visit.on()),
    );
    let users = match users {
        Ok(u) => u.users,
        Err(p) => return refused(frame, &p),
    };
    let units = units
        .unwrap_or_default()
        .units
        .into_iter()
        .filter(|u| u.status != "merged" && u.status != "closed")
        .collect();
    render(
        status,
        &PeoplePage {
            frame,
            users,
            units,
            form,
            errors: outcome.errors,
            notice: outcome.notice,
            saved: outcome.saved,
            roles: ROLES,
        },
    )
}

pub async fn people(State(app): State<App>, Staff { visit, frame }: Staff) -> Response {
    people_page(
        &app,
        &visit,
        frame,
        StatusCode::OK,
        Invite::default(),
        Outcome::default(),
    )
    .await
}

/// Invites a person: the gateway e-mails them a one-time link to set their password.
pub async fn invite(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Form(f): Form<Invite>,
) -> Response {
    let body = json!({"name": f.name.trim(), "email": f.email.trim(), "unit_id": f.unit_id, "role": f.role});
    match app
        .gateway
        .post::<UserRow>("/v1/users", visit.writing(&f.csrf), &body)
        .await
    {
        Ok(u) => {
            let saved = format!(
                "Đã mời {} ({}). Thư mời có liên kết đặt mật khẩu, hiệu lực 72 giờ.",
                u.name, u.email
            );
            people_page(
                &app,
                &visit,
                frame,
                StatusCode::OK,
                Invite::default(),
                Outcome {
                    saved,
                    ..Outcome::default()
                },
            )
            .await
        }
        Err(p) if p.status == 401 => Redirect::to("/dang-nhap").into_response(),
        Err(p) => {
            let errors: Vec<Shown> = p.errors.iter().map(text::field_error).collect();
            let notice = match p.status {
                409 => "Địa chỉ e-mail này đã có tài khoản.".to_owned(),
                _ if errors.is_empty() => text::problem(&p),
                _ => String::new(),
            };
            let status = status_of(&p, StatusCode::BAD_REQUEST);
            people_page(
                &app,
                &visit,
                frame,
                status,
                f,
                Outcome {
                    errors,
                    notice,
                    ..Outcome::default()
                },
            )
            .await
        }
    }
}

/// Disables an account: the person's sessions end at once.
pub async fn disable_person(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Path(id): Path<String>,
    Form(f): Form<Csrf>,
) -> Response {
    let outcome = match app
        .gateway
        .post::<UserRow>(
            &format!("/v1/users/{}/disable", encode(&id)),
            visit.writing(&f.csrf),
            &json!({}),
        )
        .await
    {
        Ok(u) => Outcome {
            saved: format!("Đã khóa tài khoản của {}.", u.name),
            ..Outcome::default()
        },
        Err(p) if p.status == 401 => return Redirect::to("/dang-nhap").into_response(),
        Err(p) => Outcome {
            notice: text::problem(&p),
            ..Outcome::default()
        },
    };
    people_page(
        &app,
        &visit,
        frame,
        StatusCode::OK,
        Invite::default(),
        outcome,
    )
    .await
}
