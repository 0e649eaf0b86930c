//! The Department Office's registers: legal documents (recorded with what they amend
//! or repeal and the procedures they base), and who is told what — recipients with
//! their addresses, and subscriptions to each kind of notice.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::*;
use crate::App;
use crate::text::{self, Shown};

// ---- Legal documents ----------------------------------------------------------------

pub(crate) const DOCUMENT_TYPES: &[(&str, &str)] = &[
    ("law", "Luật"),
    ("decree", "Nghị định"),
    ("circular", "Thông tư"),
    ("decision", "Quyết định"),
    ("resolution", "Nghị quyết"),
    ("directive", "Chỉ thị"),
    ("other", "Văn bản khác"),
];

/// [`DOCUMENT_TYPES`] in English, in the same order.
const DOCUMENT_TYPES_EN: &[(&str, &str)] = &[
    ("law", "Law"),
    ("decree", "Decree"),
    ("circular", "Circular"),
    ("decision", "Decision"),
    ("resolution", "Resolution"),
    ("directive", "Directive"),
    ("other", "Other document"),
];

/// The types of legal document in `lang`.
fn document_types(lang: text::Lang) -> &'static [(&'static str, &'static str)] {
    match lang {
        text::Lang::Vi => DOCUMENT_TYPES,
        text::Lang::En => DOCUMENT_TYPES_EN,
    }
}

/// A type of legal document in `lang`.
pub fn document_type<'a>(code: &'a str, lang: &text::Lang) -> &'a str {
    document_types(*lang)
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(code, |(_, v)| v)
}

/// A legal document's status in `lang`.
pub fn document_status<'a>(code: &'a str, lang: &text::Lang) -> &'a str {
    match (lang, code) {
        (text::Lang::Vi, _) => cchc_platform::vocabulary::legal_status::label_vi(code),
        (text::Lang::En, "in_force") => "In force",
        (text::Lang::En, "amended") => "Amended",
        (text::Lang::En, "repealed") => "Repealed",
        (_, other) => other,
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct DocRef {
    pub id: String,
    pub number_symbol: String,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct LegalDocument {
    pub id: String,
    pub number_symbol: String,
    pub r#type: String,
    pub summary: String,
    pub issuer: String,
    pub signed_date: String,
    pub effective_date: String,
    pub status: String,
    pub amends: Vec<DocRef>,
    pub repeals: Vec<DocRef>,
    pub procedure_codes: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Documents {
    documents: Vec<LegalDocument>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct DocumentForm {
    csrf: String,
    number_symbol: String,
    r#type: String,
    summary: String,
    issuer: String,
    signed_date: String,
    effective_date: String,
    amends: String,
    repeals: String,
    procedure_codes: String,
}

#[derive(Template)]
#[template(path = "legal_documents.html")]
pub(crate) struct DocumentsPage {
    frame: Frame,
    q: String,
    documents: Vec<LegalDocument>,
    form: DocumentForm,
    types: &'static [(&'static str, &'static str)],
    errors: Vec<Shown>,
    notice: String,
    saved: String,
}

impl FieldErrors for DocumentsPage {
    fn errors(&self) -> &[Shown] {
        &self.errors
    }
}

const DOCUMENT_LABELS: &[(&str, &str)] = &[
    ("number_symbol", "Số, ký hiệu"),
    ("type", "Loại văn bản"),
    ("summary", "Trích yếu"),
    ("issuer", "Cơ quan ban hành"),
    ("signed_date", "Ngày ký"),
    ("effective_date", "Ngày có hiệu lực"),
    ("amends", "Văn bản được sửa đổi"),
    ("repeals", "Văn bản bị bãi bỏ"),
    ("procedure_codes", "Mã thủ tục"),
];

async fn documents_page(
    app: &App,
    visit: &Visit,
    frame: Frame,
    status: StatusCode,
    q: String,
    form: DocumentForm,
    outcome: Outcome,
) -> Response {
    if !frame.is_office() {
        return forbidden(frame);
    }
    let path = format!(
        "/v1/legal-documents?{}",
        query_string(&[("q", q.trim()), ("limit", "100")])
    );
    let found: Documents = match app.gateway.get(&path, visit.on()).await {
        Ok(d) => d,
        Err(p) => return refused(frame, &p),
    };
    let types = document_types(frame.lang);
    render(
        status,
        &DocumentsPage {
            frame,
            q,
            documents: found.documents,
            form,
            types,
            errors: outcome.errors,
            notice: outcome.notice,
            saved: outcome.saved,
        },
    )
}

pub async fn legal_documents(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let q = q.get("q").cloned().unwrap_or_default();
    documents_page(
        &app,
        &visit,
        frame,
        StatusCode::OK,
        q,
        DocumentForm::default(),
        Outcome::default(),
    )
    .await
}

/// One item a line, blanks dropped.
fn lines(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Records a legal document; the documents it amends or repeals are named by their
/// number and symbol, as the office writes them.
pub async fn record_document(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Form(f): Form<DocumentForm>,
) -> Response {
    // The numbers the office typed, to the ids the API takes.
    let amends = lines(&f.amends);
    let repeals = lines(&f.repeals);
    let named: Vec<(&str, &String)> = amends
        .iter()
        .map(|n| ("amends", n))
        .chain(repeals.iter().map(|n| ("repeals", n)))
        .collect();
    let mut resolved: HashMap<String, String> = HashMap::new();
    for (_, number) in &named {
        let path = format!(
            "/v1/legal-documents?{}",
            query_string(&[("q", number), ("limit", "20")])
        );
        let found: Documents = app.gateway.get(&path, visit.on()).await.unwrap_or_default();
        if let Some(d) = found
            .documents
            .into_iter()
            .find(|d| d.number_symbol.eq_ignore_ascii_case(number))
        {
            resolved.insert((*number).clone(), d.id);
        }
    }
    let errors: Vec<Shown> = named
        .iter()
        .filter(|(_, n)| !resolved.contains_key(*n))
        .map(|(field, n)| Shown {
            field: (*field).to_owned(),
            message: match frame.lang {
                text::Lang::Vi => format!(
                    "Chưa có văn bản số “{n}” trong hệ thống; hãy ghi nhận văn bản đó trước"
                ),
                text::Lang::En => format!(
                    "There is no document No. “{n}” in the system; record that document first"
                ),
            },
        })
        .collect();
    if !errors.is_empty() {
        let outcome = Outcome {
            errors,
            ..Outcome::default()
        };
        return documents_page(
            &app,
            &visit,
            frame,
            StatusCode::BAD_REQUEST,
            String::new(),
            f,
            outcome,
        )
        .await;
    }
    let to_ids = |v: &[String]| -> Vec<String> { v.iter().map(|n| resolved[n].clone()).collect() };
    let body = json!({
        "number_symbol": f.number_symbol.trim(),
        "type": f.r#type,
        "summary": f.summary.trim(),
        "issuer": f.issuer.trim(),
        "signed_date": text::api_date(&f.signed_date),
        "effective_date": text::api_date(&f.effective_date),
        "amends": to_ids(&amends),
        "repeals": to_ids(&repeals),
        "procedure_codes": lines(&f.procedure_codes),
    });
    match app
        .gateway
        .post::<LegalDocument>("/v1/legal-documents", visit.writing(&f.csrf), &body)
        .await
    {
        Ok(d) => {
            let outcome = Outcome {
                saved: match frame.lang {
                    text::Lang::Vi => format!("Đã ghi nhận văn bản số {}.", d.number_symbol),
                    text::Lang::En => format!("Document No. {} is recorded.", d.number_symbol),
                },
                ..Outcome::default()
            };
            documents_page(
                &app,
                &visit,
                frame,
                StatusCode::OK,
                String::new(),
                DocumentForm::default(),
                outcome,
            )
            .await
        }
        Err(p) if p.status == 401 => Redirect::to("/dang-nhap").into_response(),
        Err(p) => {
            let mut outcome = Outcome::refused_labelled(&p, DOCUMENT_LABELS, frame.lang);
            if p.status == 409 {
                outcome.notice = frame
                    .t(
                        "Văn bản số này đã được ghi nhận.",
                        "A document with this number is already recorded.",
                    )
                    .into();
            }
            let status = status_of(&p, StatusCode::BAD_REQUEST);
            documents_page(&app, &visit, frame, status, String::new(), f, outcome).await
        }
    }
}

// ---- Recipients and subscriptions -----------------------------------------------

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Contact {
    pub channel: String,
    pub address: String,
    pub url: String,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Recipient {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub unit_id: String,
    pub groups: Vec<String>,
    pub contacts: Vec<Contact>,
    pub language: String,
    pub has_inbox: bool,
}

impl Recipient {
    /// The kind of recipient in `lang`.
    pub fn kind_text(&self, lang: &text::Lang) -> &str {
        match (lang, self.kind.as_str()) {
            (text::Lang::Vi, "unit") => "Đơn vị",
            (text::Lang::Vi, "body") => "Cơ quan ngoài",
            (text::Lang::Vi, "person") => "Cá nhân",
            (text::Lang::En, "unit") => "Unit",
            (text::Lang::En, "body") => "Outside body",
            (text::Lang::En, "person") => "Person",
            (_, other) => other,
        }
    }

    /// The ways the recipient is reached, in `lang`.
    pub fn reached_by(&self, lang: &text::Lang) -> String {
        let mut ways: Vec<String> = Vec::new();
        if self.has_inbox {
            ways.push(crate::pages::channel_name("inbox", lang).into());
        }
        for c in &self.contacts {
            ways.push(match c.channel.as_str() {
                "email" => format!("E-mail {}", c.address),
                "webhook" => format!("Webhook {}", c.url),
                other => other.to_owned(),
            });
        }
        ways.join("; ")
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Subscription {
    pub id: String,
    pub event_type: String,
    pub recipient_id: String,
    pub group: String,
    pub affected: bool,
    pub channels: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct RecipientForm {
    csrf: String,
    kind: String,
    name: String,
    emails: String,
    webhook_url: String,
    webhook_secret: String,
    groups: String,
    language: String,
}

/// A subscription as the form sends it: one audience, ticked channels.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct SubscriptionForm {
    csrf: String,
    event_type: String,
    audience: String,
    inbox: String,
    email: String,
    webhook: String,
}

#[derive(Template)]
#[template(path = "recipients.html")]
pub(crate) struct RecipientsPage {
    frame: Frame,
    recipients: Vec<Recipient>,
    subscriptions: Vec<Subscription>,
    keys: &'static [(&'static str, &'static str)],
    form: RecipientForm,
    errors: Vec<Shown>,
    notice: String,
    saved: String,
}

impl FieldErrors for RecipientsPage {
    fn errors(&self) -> &[Shown] {
        &self.errors
    }
}

impl RecipientsPage {
    fn audience(&self, s: &Subscription) -> String {
        if s.affected {
            self.frame
                .t("Các đơn vị liên quan", "The units concerned")
                .into()
        } else if !s.group.is_empty() {
            match self.frame.lang {
                text::Lang::Vi => format!("Nhóm {}", s.group),
                text::Lang::En => format!("Group {}", s.group),
            }
        } else {
            self.recipients
                .iter()
                .find(|r| r.id == s.recipient_id)
                .map_or_else(|| s.recipient_id.clone(), |r| r.name.clone())
        }
    }
}

const RECIPIENT_LABELS: &[(&str, &str)] = &[
    ("name", "Tên nơi nhận"),
    ("kind", "Loại nơi nhận"),
    ("contacts", "Địa chỉ"),
    ("groups", "Nhóm"),
    ("event_type", "Thông báo"),
    ("channels", "Kênh gửi"),
    ("recipient_id", "Nơi nhận"),
];

async fn recipients_page(
    app: &App,
    visit: &Visit,
    frame: Frame,
    status: StatusCode,
    form: RecipientForm,
    outcome: Outcome,
) -> Response {
    if !frame.is_office() {
        return forbidden(frame);
    }
    let (recipients, subscriptions) = tokio::join!(
        app.gateway
            .get::<Value>("/v1/recipients?limit=500", visit.on()),
        app.gateway
            .get::<Value>("/v1/subscriptions?limit=500", visit.on()),
    );
    let recipients = match recipients {
        Ok(r) => serde_json::from_value(r["recipients"].clone()).unwrap_or_default(),
        Err(p) => return refused(frame, &p),
    };
    let subscriptions = subscriptions
        .ok()
        .and_then(|s| serde_json::from_value(s["subscriptions"].clone()).ok())
        .unwrap_or_default();
    let keys = crate::pages::template_keys(frame.lang);
    render(
        status,
        &RecipientsPage {
            frame,
            recipients,
            subscriptions,
            keys,
            form,
            errors: outcome.errors,
            notice: outcome.notice,
            saved: outcome.saved,
        },
    )
}

pub async fn recipients(State(app): State<App>, Staff { visit, frame }: Staff) -> Response {
    recipients_page(
        &app,
        &visit,
        frame,
        StatusCode::OK,
        RecipientForm::default(),
        Outcome::default(),
    )
    .await
}

/// Adds a recipient outside the units (a body or a person) with its addresses.
pub async fn add_recipient(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Form(f): Form<RecipientForm>,
) -> Response {
    let emails = lines(&f.emails.replace([',', ';'], "\n"));
    let mut contacts: Vec<Value> = emails
        .iter()
        .map(|a| json!({"channel": "email", "address": a}))
        .collect();
    if !f.webhook_url.trim().is_empty() {
        contacts.push(
            json!({"channel": "webhook", "url": f.webhook_url.trim(), "secret": f.webhook_secret}),
        );
    }
    let groups = lines(&f.groups.replace([',', ';'], "\n"));
    let body = json!({"kind": f.kind, "name": f.name.trim(), "contacts": contacts,
                      "groups": groups, "language": f.language});
    match app
        .gateway
        .post::<Recipient>("/v1/recipients", visit.writing(&f.csrf), &body)
        .await
    {
        Ok(r) => {
            let outcome = Outcome {
                saved: match frame.lang {
                    text::Lang::Vi => format!("Đã thêm nơi nhận {}.", r.name),
                    text::Lang::En => format!("The recipient {} is added.", r.name),
                },
                ..Outcome::default()
            };
            recipients_page(
                &app,
                &visit,
                frame,
                StatusCode::OK,
                RecipientForm::default(),
                outcome,
            )
            .await
        }
        Err(p) if p.status == 401 => Redirect::to("/dang-nhap").into_response(),
        Err(p) => {
            let mut outcome = Outcome::refused_labelled(&p, RECIPIENT_LABELS, frame.lang);
            // `contacts[i]` past the e-mail lines is the webhook; the others are the
            // e-mail lines.
            for (e, api) in outcome.errors.iter_mut().zip(&p.errors) {
                if let Some(i) = api
                    .field
                    .strip_prefix("contacts[")
                    .and_then(|r| r.split(']').next())
                    .and_then(|i| i.parse::<usize>().ok())
                {
                    e.field = if i >= emails.len() {
                        "webhook_url".into()
                    } else {
                        "emails".into()
                    };
                }
            }
            let status = status_of(&p, StatusCode::BAD_REQUEST);
            recipients_page(&app, &visit, frame, status, f, outcome).await
        }
    }
}

/// Subscribes a recipient, a group or the units concerned to a kind of notice.
pub async fn subscribe(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Form(f): Form<SubscriptionForm>,
) -> Response {
    let channels: Vec<&str> = [
        ("inbox", &f.inbox),
        ("email", &f.email),
        ("webhook", &f.webhook),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(c, _)| c)
    .collect();
    let mut body = json!({"event_type": f.event_type, "channels": channels});
    match f.audience.split_once(':') {
        Some(("recipient", id)) => body["recipient_id"] = id.into(),
        Some(("group", g)) => body["group"] = g.into(),
        _ => body["affected"] = true.into(),
    }
    let outcome = match app
        .gateway
        .post::<Subscription>("/v1/subscriptions", visit.writing(&f.csrf), &body)
        .await
    {
        Ok(_) => Outcome {
            saved: frame
                .t("Đã đăng ký nhận thông báo.", "The subscription is saved.")
                .into(),
            ..Outcome::default()
        },
        Err(p) if p.status == 401 => return Redirect::to("/dang-nhap").into_response(),
        Err(p) => Outcome::refused_labelled(&p, RECIPIENT_LABELS, frame.lang),
    };
    let status = if outcome.errors.is_empty() && outcome.notice.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    recipients_page(
        &app,
        &visit,
        frame,
        status,
        RecipientForm::default(),
        outcome,
    )
    .await
}
