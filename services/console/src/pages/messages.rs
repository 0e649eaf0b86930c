//! The Department Office's messages: the templates notices are written from (edited
//! with a preview filled with example values before a new version is saved), and the
//! messages that could not be delivered, with every attempt (an operator sends one
//! again).

use std::collections::BTreeMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::*;
use crate::App;
use crate::text::{self, Shown};

/// The notices, in the office's words.
pub(crate) const TEMPLATE_KEYS: &[(&str, &str)] = &[
    (
        "procedure_changed",
        "Thủ tục được công bố, sửa đổi hoặc bãi bỏ",
    ),
    ("posting_stale", "Niêm yết chưa đúng phiên bản"),
    ("report_due", "Sắp đến hạn báo cáo"),
    ("report_overdue", "Quá hạn báo cáo"),
    ("report_reopened", "Báo cáo được mở lại"),
    ("report_generated", "Báo cáo đã lập xong"),
    ("account_invitation", "Thư mời sử dụng hệ thống"),
    ("password_reset", "Đặt lại mật khẩu"),
];

/// [`TEMPLATE_KEYS`] in English, in the same order.
const TEMPLATE_KEYS_EN: &[(&str, &str)] = &[
    (
        "procedure_changed",
        "Procedure published, amended or abolished",
    ),
    ("posting_stale", "Posted procedure out of date"),
    ("report_due", "Report due soon"),
    ("report_overdue", "Report overdue"),
    ("report_reopened", "Report reopened"),
    ("report_generated", "Report ready"),
    ("account_invitation", "Invitation to use the system"),
    ("password_reset", "Password reset"),
];

/// The notices in `lang`.
pub(crate) fn template_keys(lang: text::Lang) -> &'static [(&'static str, &'static str)] {
    match lang {
        text::Lang::Vi => TEMPLATE_KEYS,
        text::Lang::En => TEMPLATE_KEYS_EN,
    }
}

/// A kind of notice in `lang`.
pub fn template_key<'a>(code: &'a str, lang: &text::Lang) -> &'a str {
    template_keys(*lang)
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(code, |(_, v)| v)
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct TemplateRow {
    pub key: String,
    pub language: String,
    pub version: u32,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub created_at: String,
    pub placeholders: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TemplateList {
    templates: Vec<TemplateRow>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct TemplateForm {
    csrf: String,
    key: String,
    language: String,
    subject: String,
    text: String,
    html: String,
    /// `preview` or `save`: which button was pressed.
    action: String,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Preview {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Template)]
#[template(path = "templates.html")]
pub(crate) struct TemplatesPage {
    frame: Frame,
    /// The newest version of each key and language.
    current: Vec<TemplateRow>,
    form: TemplateForm,
    placeholders: Vec<String>,
    preview: Option<Preview>,
    errors: Vec<Shown>,
    notice: String,
    saved: String,
}

impl FieldErrors for TemplatesPage {
    fn errors(&self) -> &[Shown] {
        &self.errors
    }
}

const LABELS: &[(&str, &str)] = &[("text", "Nội dung thư")];

/// What the templates page shows besides the list: the form as sent (or the chosen
/// template's current version), its preview, and what became of it.
#[derive(Default)]
struct Editing {
    form: Option<TemplateForm>,
    preview: Option<Preview>,
    outcome: Outcome,
    /// The key and language to show when no form was sent.
    key: String,
    language: String,
}

async fn templates_page(
    app: &App,
    visit: &Visit,
    frame: Frame,
    status: StatusCode,
    editing: Editing,
) -> Response {
    let Editing {
        form,
        preview,
        outcome,
        key,
        language,
    } = editing;
    if !frame.is_office() {
        return forbidden(frame);
    }
    let list: TemplateList = match app.gateway.get("/v1/templates", visit.on()).await {
        Ok(l) => l,
        Err(p) => return refused(frame, &p),
    };
    // Newest first within each key and language: the first seen is current.
    let mut current: Vec<TemplateRow> = Vec::new();
    for t in list.templates {
        if !current
            .iter()
            .any(|c| c.key == t.key && c.language == t.language)
        {
            current.push(t);
        }
    }
    let rank = |k: &str| {
        TEMPLATE_KEYS
            .iter()
            .position(|(c, _)| *c == k)
            .unwrap_or(99)
    };
    current.sort_by_key(|t| (rank(&t.key), t.language != "vi"));
    let shown = current
        .iter()
        .find(|t| t.key == key && t.language == language)
        .or_else(|| current.first())
        .cloned()
        .unwrap_or_default();
    let form = form.unwrap_or_else(|| TemplateForm {
        key: shown.key.clone(),
        language: shown.language.clone(),
        subject: shown.subject.clone(),
        text: shown.text.clone(),
        html: shown.html.clone(),
        ..TemplateForm::default()
    });
    let placeholders = current
        .iter()
        .find(|t| t.key == form.key)
        .map(|t| t.placeholders.clone())
        .unwrap_or_default();
    render(
        status,
        &TemplatesPage {
            frame,
            current,
            form,
            placeholders,
            preview,
            errors: outcome.errors,
            notice: outcome.notice,
            saved: outcome.saved,
        },
    )
}

pub async fn templates(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let key = q.get("mau").map_or("", String::as_str);
    let language = q.get("ngon-ngu").map_or("vi", String::as_str);
    let editing = Editing {
        key: key.to_owned(),
        language: language.to_owned(),
        ..Editing::default()
    };
    templates_page(&app, &visit, frame, StatusCode::OK, editing).await
}

/// Previews the edited template, or saves it as the key's next version.
pub async fn save_template(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Form(f): Form<TemplateForm>,
) -> Response {
    let body = json!({"key": f.key, "language": f.language, "subject": f.subject, "text": f.text, "html": f.html});
    if f.action == "preview" {
        let answer = app
            .gateway
            .post::<Preview>("/v1/templates/preview", visit.writing(&f.csrf), &body)
            .await;
        let (status, preview, outcome) = match answer {
            Ok(p) => (StatusCode::OK, Some(p), Outcome::default()),
            Err(p) if p.status == 401 => return Redirect::to("/dang-nhap").into_response(),
            Err(p) => (
                status_of(&p, StatusCode::BAD_REQUEST),
                None,
                Outcome::refused_labelled(&p, LABELS, frame.lang),
            ),
        };
        let editing = Editing {
            form: Some(f),
            preview,
            outcome,
            ..Editing::default()
        };
        return templates_page(&app, &visit, frame, status, editing).await;
    }
    match app
        .gateway
        .post::<TemplateRow>("/v1/templates", visit.writing(&f.csrf), &body)
        .await
    {
        Ok(t) => {
            let name = template_key(&t.key, &frame.lang);
            let outcome = Outcome {
                saved: match frame.lang {
                    text::Lang::Vi => format!(
                        "Đã lưu phiên bản {} của mẫu “{name}”; các thư từ nay dùng phiên bản này.",
                        t.version
                    ),
                    text::Lang::En => format!(
                        "Version {} of the template “{name}” is saved; messages from now on use it.",
                        t.version
                    ),
                },
                ..Outcome::default()
            };
            let editing = Editing {
                outcome,
                key: t.key,
                language: t.language,
                ..Editing::default()
            };
            templates_page(&app, &visit, frame, StatusCode::OK, editing).await
        }
        Err(p) if p.status == 401 => Redirect::to("/dang-nhap").into_response(),
        Err(p) => {
            let status = status_of(&p, StatusCode::BAD_REQUEST);
            let outcome = Outcome::refused_labelled(&p, LABELS, frame.lang);
            let editing = Editing {
                form: Some(f),
                outcome,
                ..Editing::default()
            };
            templates_page(&app, &visit, frame, status, editing).await
        }
    }
}

// ---- Messages that were not delivered ---------------------------------------------

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Attempt {
    pub attempt: u32,
    pub status: String,
    pub reason: String,
    pub started_at: String,
    pub finished_at: String,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Report {
    pub message_id: String,
    pub recipient_name: String,
    pub channel: String,
    pub status: String,
    pub kind: String,
    pub subject: String,
    pub created_at: String,
    pub delivered_at: String,
    pub last_error: String,
    pub destination: String,
    pub attempts: Vec<Attempt>,
}

/// A message's (or an attempt's) status in `lang`.
pub fn delivery_status<'a>(code: &'a str, lang: &text::Lang) -> &'a str {
    match (lang, code) {
        (text::Lang::Vi, "created") => "Chờ gửi",
        (text::Lang::Vi, "sending") => "Đang gửi",
        (text::Lang::Vi, "delivered") => "Đã gửi tới nơi",
        (text::Lang::Vi, "temporary_failure") => "Lỗi tạm thời, sẽ gửi lại",
        (text::Lang::Vi, "permanent_failure") => "Lỗi, không gửi lại lần này",
        (text::Lang::Vi, "dead_lettered") => "Đã ngừng gửi",
        (text::Lang::En, "created") => "Waiting to be sent",
        (text::Lang::En, "sending") => "Sending",
        (text::Lang::En, "delivered") => "Delivered",
        (text::Lang::En, "temporary_failure") => "Failed for now, will be sent again",
        (text::Lang::En, "permanent_failure") => "Failed, not sent again this time",
        (text::Lang::En, "dead_lettered") => "Given up",
        (_, other) => other,
    }
}

/// A channel of notices in `lang`.
pub fn channel_name<'a>(code: &'a str, lang: &text::Lang) -> &'a str {
    match (lang, code) {
        (text::Lang::Vi, "inbox") => "Hộp thư trong hệ thống",
        (text::Lang::En, "inbox") => "Inbox in the system",
        (_, "email") => "E-mail",
        (_, "webhook") => "Webhook",
        (_, other) => other,
    }
}

#[derive(Template)]
#[template(path = "undelivered.html")]
pub(crate) struct UndeliveredPage {
    frame: Frame,
    messages: Vec<Report>,
    operator: bool,
}

#[derive(Template)]
#[template(path = "delivery.html")]
pub(crate) struct DeliveryPage {
    frame: Frame,
    r: Report,
    operator: bool,
    saved: String,
    notice: String,
}

fn is_operator(frame: &Frame) -> bool {
    frame.me.as_ref().is_some_and(|m| m.role == "operator")
}

/// Messages given up after their attempts, newest first.
pub async fn undelivered(State(app): State<App>, Staff { visit, frame }: Staff) -> Response {
    let operator = is_operator(&frame);
    if !frame.is_office() && !operator {
        return forbidden(frame);
    }
    let answer: Value = match app
        .gateway
        .get("/v1/notifications/dead-letters?limit=200", visit.on())
        .await
    {
        Ok(a) => a,
        Err(p) => return refused(frame, &p),
    };
    let messages = serde_json::from_value(answer["messages"].clone()).unwrap_or_default();
    render(
        StatusCode::OK,
        &UndeliveredPage {
            frame,
            messages,
            operator,
        },
    )
}

async fn delivery_page(
    app: &App,
    visit: &Visit,
    frame: Frame,
    id: &str,
    saved: String,
    notice: String,
) -> Response {
    let operator = is_operator(&frame);
    if !frame.is_office() && !operator {
        return forbidden(frame);
    }
    match app
        .gateway
        .get::<Report>(
            &format!("/v1/notifications/{}/deliveries", encode(id)),
            visit.on(),
        )
        .await
    {
        Ok(r) => render(
            StatusCode::OK,
            &DeliveryPage {
                frame,
                r,
                operator,
                saved,
                notice,
            },
        ),
        Err(p) => refused(frame, &p),
    }
}

/// Every attempt at one message.
pub async fn delivery(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Path(id): Path<String>,
) -> Response {
    delivery_page(&app, &visit, frame, &id, String::new(), String::new()).await
}

/// An operator queues a given-up message again.
pub async fn resend(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Path(id): Path<String>,
    Form(f): Form<Csrf>,
) -> Response {
    let (saved, notice) = match app
        .gateway
        .post::<Report>(
            &format!("/v1/notifications/{}/retry", encode(&id)),
            visit.writing(&f.csrf),
            &json!({}),
        )
        .await
    {
        Ok(_) => (
            frame
                .t(
                    "Đã đưa thư vào hàng đợi gửi lại.",
                    "The message is queued to be sent again.",
                )
                .to_owned(),
            String::new(),
        ),
        Err(p) if p.status == 401 => return Redirect::to("/dang-nhap").into_response(),
        Err(p) => (String::new(), text::problem_in(&p, frame.lang)),
    };
    delivery_page(&app, &visit, frame, &id, saved, notice).await
}
