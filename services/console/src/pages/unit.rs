//! A unit's staff: what needs doing, activities, postings, one-stop results,
//! satisfaction surveys and the inbox.

use std::collections::HashMap;

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::*;
use crate::App;
use crate::text::{self, Shown};

// ---- Staff: home, activities, postings --------------------------------------

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
pub(crate) struct Activities {
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
pub(crate) struct Postings {
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
pub(crate) struct Inbox {
    messages: Vec<Notice>,
}

#[derive(Template)]
#[template(path = "home.html")]
pub(crate) struct HomePage {
    frame: Frame,
    stale: Vec<Posting>,
    activities: Vec<Activity>,
    unread: Vec<Notice>,
    due: Vec<crate::pages::UnitPeriod>,
}

pub async fn home(State(app): State<App>, Staff { visit, frame }: Staff) -> Response {
    let unit_id = frame.unit_id().to_owned();
    let (stale, activities, inbox, due) = tokio::join!(
        app.gateway
            .get::<Postings>("/v1/postings?stale=true&limit=50", visit.on()),
        app.gateway
            .get::<Activities>("/v1/activities?limit=5", visit.on()),
        app.gateway
            .get::<Inbox>("/v1/notifications?limit=20", visit.on()),
        crate::pages::reports_due(&app, &visit, &unit_id),
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
            due,
        },
    )
}

#[derive(Template)]
#[template(path = "activities.html")]
pub(crate) struct ActivitiesPage {
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
pub(crate) struct ActivityPage {
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
pub(crate) struct ActivityFormPage {
    frame: Frame,
    f: ActivityForm,
    errors: Vec<Shown>,
    notice: String,
    kinds: &'static [(&'static str, &'static str)],
}

impl FieldErrors for ActivityFormPage {
    fn errors(&self) -> &[Shown] {
        &self.errors
    }
}

pub(crate) fn activity_form(
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
            message: frame
                .t(
                    "Ngày thực hiện phải theo dạng ngày/tháng/năm, ví dụ 02/04/2020",
                    "Enter the date as day/month/year, for example 02/04/2020",
                )
                .into(),
        });
    }
    let head_count = text::count(&f.head_count);
    if head_count.is_none() {
        errors.push(Shown {
            field: "head_count".into(),
            message: frame
                .t(
                    "Số người tham dự phải là một số",
                    "The number of people taking part must be a number",
                )
                .into(),
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
            let errors = p
                .errors
                .iter()
                .map(|e| {
                    let mut shown = text::field_error(e, frame.lang);
                    // The service lists the kinds by their codes; the form offers names.
                    if frame.lang == text::Lang::En && e.code == "one_of" && e.field == "kind" {
                        shown.message = "Choose the kind of activity".into();
                    }
                    shown
                })
                .collect();
            activity_form(StatusCode::BAD_REQUEST, frame, f, errors, String::new())
        }
        Err(p) if p.status == 401 => Redirect::to("/dang-nhap").into_response(),
        Err(p) => {
            let status = status_of(&p, StatusCode::SERVICE_UNAVAILABLE);
            let told = text::problem_in(&p, frame.lang);
            activity_form(status, frame, f, Vec::new(), told)
        }
    }
}

#[derive(Template)]
#[template(path = "postings.html")]
pub(crate) struct PostingsPage {
    frame: Frame,
    postings: Vec<Posting>,
    today: String,
    notice: String,
}

pub(crate) async fn postings_page(
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
        let told = frame
            .t(
                "Ngày niêm yết phải theo dạng ngày/tháng/năm, ví dụ 02/04/2020.",
                "Enter the date posted as day/month/year, for example 02/04/2020.",
            )
            .to_owned();
        return postings_page(&app, &visit, frame, told, StatusCode::BAD_REQUEST).await;
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
                text::problem_in(&p, frame.lang)
            } else {
                p.errors
                    .iter()
                    .map(|e| text::field_error(e, frame.lang).message)
                    .collect::<Vec<_>>()
                    .join(". ")
            };
            let status = status_of(&p, StatusCode::BAD_REQUEST);
            postings_page(&app, &visit, frame, notice, status).await
        }
    }
}

pub async fn not_found(Guest { frame, .. }: Guest) -> Response {
    let (title, told) = match frame.lang {
        text::Lang::Vi => (
            "Không tìm thấy",
            "Không có trang này. Hãy quay về trang chủ.",
        ),
        text::Lang::En => (
            "Page not found",
            "There is no page at this address. Please go back to the home page.",
        ),
    };
    message(StatusCode::NOT_FOUND, frame, title, told.into())
}

// ---- One-stop results -------------------------------------------------------

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
        text::percent(self.on_time_rate.map(|r| r / 100.0))
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct OneStops {
    results: Vec<OneStop>,
}

/// The counters of the one-stop form, in the order they are asked, with the API field
/// each fills and its label in Vietnamese and in English.
pub const ONE_STOP_FIELDS: &[(&str, &str, &str, &str)] = &[
    (
        "received_online",
        "received.online",
        "Tiếp nhận trực tuyến",
        "Received online",
    ),
    (
        "received_in_person_or_post",
        "received.in_person_or_post",
        "Tiếp nhận trực tiếp hoặc qua bưu chính",
        "Received in person or by post",
    ),
    (
        "received_carried_over",
        "received.carried_over",
        "Kỳ trước chuyển sang",
        "Carried over from the previous period",
    ),
    (
        "resolved_early",
        "resolved.early",
        "Giải quyết trước hạn",
        "Resolved early",
    ),
    (
        "resolved_on_time",
        "resolved.on_time",
        "Giải quyết đúng hạn",
        "Resolved on time",
    ),
    (
        "resolved_late",
        "resolved.late",
        "Giải quyết quá hạn",
        "Resolved late",
    ),
    (
        "pending_within_time",
        "pending.within_time",
        "Đang giải quyết, còn trong hạn",
        "Still being handled, within the time limit",
    ),
    (
        "pending_overdue",
        "pending.overdue",
        "Đang giải quyết, đã quá hạn",
        "Still being handled, overdue",
    ),
    (
        "returned_withdrawn",
        "returned_withdrawn",
        "Trả lại hoặc công dân rút hồ sơ",
        "Returned, or withdrawn by the applicant",
    ),
];

/// A refusal of the one-stop or budget form beside its field. In English, the rules
/// that name figures are said with the figures as typed here (1.500.000), not in the
/// service's own words.
fn figures_shown(e: &crate::gateway::FieldError, lang: text::Lang) -> Shown {
    let mut shown = text::field_error(e, lang);
    if lang == text::Lang::En {
        let n = |k: &str| {
            let v = e.params.get(k).cloned().unwrap_or_default();
            v.parse::<i64>().map_or(v, |x| text::number(&x))
        };
        match e.code.as_str() {
            "unreconciled" => {
                shown.message = format!(
                    "The dossiers received ({}) must equal those resolved ({}) plus those still being handled ({}) plus those returned or withdrawn ({}); they differ by {}",
                    n("received"),
                    n("resolved"),
                    n("pending"),
                    n("returned"),
                    n("difference")
                );
            }
            "total_too_large" => {
                shown.message = format!(
                    "The lines add up to {} VND, more than the {} VND a year may total",
                    n("total"),
                    n("max")
                );
            }
            _ => {}
        }
    }
    shown
}

#[derive(Template)]
#[template(path = "one_stop.html")]
pub(crate) struct OneStopPage {
    frame: Frame,
    period: String,
    values: HashMap<String, String>,
    note: String,
    errors: Vec<Shown>,
    notice: String,
    saved: Option<OneStop>,
    history: Vec<OneStop>,
    fields: &'static [(&'static str, &'static str, &'static str, &'static str)],
}

impl FieldErrors for OneStopPage {
    fn errors(&self) -> &[Shown] {
        &self.errors
    }
}

impl OneStopPage {
    fn value(&self, field: &str) -> String {
        self.values.get(field).cloned().unwrap_or_default()
    }
}

pub(crate) async fn one_stop_history(app: &App, visit: &Visit) -> Vec<OneStop> {
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
    let lang = frame.lang;
    let get = |k: &str| form.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let period = get("period");
    let mut errors = Vec::new();
    let mut counts = HashMap::new();
    for (id, _, vi, en) in ONE_STOP_FIELDS {
        match text::count(&get(id)) {
            Some(n) => {
                counts.insert(*id, n);
            }
            None => errors.push(Shown {
                field: (*id).into(),
                message: match lang {
                    text::Lang::Vi => format!("{vi}: hãy nhập một số"),
                    text::Lang::En => format!("{en}: enter a number"),
                },
            }),
        }
    }
    if period.is_empty() {
        errors.push(Shown {
            field: "period".into(),
            message: lang
                .t(
                    "Hãy nhập kỳ báo cáo, ví dụ 2020-H1",
                    "Enter the reporting period, for example 2020-H1",
                )
                .into(),
        });
    }
    let values: HashMap<String, String> = ONE_STOP_FIELDS
        .iter()
        .map(|(id, _, _, _)| ((*id).to_owned(), get(id)))
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
            // The reconciliation names its figures; the error goes by the first count.
            let errors = p
                .errors
                .iter()
                .map(|e| Shown {
                    field: "received_online".into(),
                    message: figures_shown(e, lang).message,
                })
                .collect();
            page(
                StatusCode::UNPROCESSABLE_ENTITY,
                errors,
                String::new(),
                None,
                history,
            )
        }
        Err(p) if !p.errors.is_empty() => {
            let errors = p
                .errors
                .iter()
                .map(|e| text::field_error(e, lang))
                .collect();
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
            text::problem_in(&p, lang),
            None,
            history,
        ),
    }
}

/// The small scripts that enhance a page (it works without them).
pub async fn script(Path(name): Path<String>) -> Response {
    let body = match name.as_str() {
        "one-stop.js" => include_str!("../../static/one-stop.js"),
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

// ---- Unit staff: the inbox and satisfaction surveys -------------------------

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Message {
    pub id: String,
    pub subject: String,
    pub body: String,
    pub created_at: String,
    pub read: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Messages {
    messages: Vec<Message>,
}

#[derive(Template)]
#[template(path = "inbox.html")]
pub(crate) struct InboxPage {
    frame: Frame,
    messages: Vec<Message>,
    notice: String,
}

pub(crate) async fn inbox_page(app: &App, visit: &Visit, frame: Frame, notice: String) -> Response {
    match app
        .gateway
        .get::<Messages>("/v1/notifications?limit=100", visit.on())
        .await
    {
        Ok(m) => render(
            StatusCode::OK,
            &InboxPage {
                frame,
                messages: m.messages,
                notice,
            },
        ),
        Err(p) => refused(frame, &p),
    }
}

pub async fn inbox(State(app): State<App>, Staff { visit, frame }: Staff) -> Response {
    inbox_page(&app, &visit, frame, String::new()).await
}

pub async fn mark_read(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Path(id): Path<String>,
    Form(f): Form<Csrf>,
) -> Response {
    match app
        .gateway
        .post::<Value>(
            &format!("/v1/notifications/{}/read", encode(&id)),
            visit.writing(&f.csrf),
            &json!({}),
        )
        .await
    {
        Ok(_) => Redirect::to("/thong-bao").into_response(),
        Err(p) if p.status == 401 => Redirect::to("/dang-nhap").into_response(),
        Err(p) => {
            let told = text::problem_in(&p, frame.lang);
            inbox_page(&app, &visit, frame, told).await
        }
    }
}

/// The criteria a satisfaction survey asks about (Decision 1383/QĐ-BNV's groups): the
/// name the service keeps, and the name in English.
pub const CRITERIA: &[(&str, &str)] = &[
    ("Tiếp cận dịch vụ", "Access to the service"),
    ("Thủ tục hành chính", "The administrative procedure"),
    ("Công chức giải quyết", "The civil servants who handled it"),
];

/// The answers asked per criterion, with the API field each fills, in Vietnamese and
/// in English.
pub const ANSWERS: &[(&str, &str, &str)] = &[
    ("very_satisfied", "Rất hài lòng", "Very satisfied"),
    ("satisfied", "Hài lòng", "Satisfied"),
    ("dissatisfied", "Không hài lòng", "Dissatisfied"),
];

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Survey {
    pub period: String,
    pub responses: i64,
    pub satisfied_rate: Option<f64>,
    pub revision: u32,
}

impl Survey {
    pub fn rate(&self) -> String {
        text::percent(self.satisfied_rate.map(|r| r / 100.0))
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Surveys {
    surveys: Vec<Survey>,
}

#[derive(Template)]
#[template(path = "satisfaction.html")]
pub(crate) struct SatisfactionPage {
    frame: Frame,
    values: HashMap<String, String>,
    errors: Vec<Shown>,
    notice: String,
    saved: Option<Survey>,
    history: Vec<Survey>,
    criteria: &'static [(&'static str, &'static str)],
    answers: &'static [(&'static str, &'static str, &'static str)],
}

impl FieldErrors for SatisfactionPage {
    fn errors(&self) -> &[Shown] {
        &self.errors
    }
}

impl SatisfactionPage {
    fn value(&self, field: &str) -> String {
        self.values.get(field).cloned().unwrap_or_default()
    }
}

/// The form field of an API field: `criteria[1].satisfied` → `c1_satisfied`.
pub(crate) fn survey_field(api: &str) -> String {
    match api
        .strip_prefix("criteria[")
        .and_then(|r| r.split_once("]."))
    {
        Some((i, answer)) => format!("c{i}_{answer}"),
        None => text::field_id(api),
    }
}

pub(crate) async fn survey_history(app: &App, visit: &Visit) -> Vec<Survey> {
    app.gateway
        .get::<Surveys>("/v1/satisfaction?limit=50", visit.on())
        .await
        .unwrap_or_default()
        .surveys
}

pub async fn satisfaction_form(State(app): State<App>, Staff { visit, frame }: Staff) -> Response {
    let history = survey_history(&app, &visit).await;
    render(
        StatusCode::OK,
        &SatisfactionPage {
            frame,
            values: HashMap::new(),
            errors: Vec::new(),
            notice: String::new(),
            saved: None,
            history,
            criteria: CRITERIA,
            answers: ANSWERS,
        },
    )
}

pub async fn submit_satisfaction(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let lang = frame.lang;
    let get = |k: &str| form.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let mut errors = Vec::new();
    let mut number = |id: &str, label: &str| -> i64 {
        text::count(&get(id)).unwrap_or_else(|| {
            errors.push(Shown {
                field: id.into(),
                message: match lang {
                    text::Lang::Vi => format!("{label}: hãy nhập một số"),
                    text::Lang::En => format!("{label}: enter a number"),
                },
            });
            0
        })
    };
    let responses = number(
        "responses",
        lang.t("Số phiếu thu về", "Number of survey forms returned"),
    );
    let criteria: Vec<Value> = CRITERIA
        .iter()
        .enumerate()
        .map(|(i, (name, name_en))| {
            let mut c = json!({"name": name});
            for (answer, vi, en) in ANSWERS {
                let label = match lang {
                    text::Lang::Vi => format!("{name}, {vi}"),
                    text::Lang::En => format!("{name_en}, {}", en.to_lowercase()),
                };
                c[*answer] = json!(number(&format!("c{i}_{answer}"), &label));
            }
            c
        })
        .collect();
    let period = get("period");
    let history = survey_history(&app, &visit).await;
    let values: HashMap<String, String> = form.clone();
    let page = |status, errors, notice: String, saved| {
        render(
            status,
            &SatisfactionPage {
                frame,
                values,
                errors,
                notice,
                saved,
                history,
                criteria: CRITERIA,
                answers: ANSWERS,
            },
        )
    };
    if !errors.is_empty() {
        return page(StatusCode::BAD_REQUEST, errors, String::new(), None);
    }
    let body = json!({"responses": responses, "criteria": criteria});
    match app
        .gateway
        .put::<Survey>(
            &format!("/v1/satisfaction/{}", encode(&period)),
            visit.writing(&get("csrf")),
            &body,
        )
        .await
    {
        Ok(s) => page(StatusCode::OK, Vec::new(), String::new(), Some(s)),
        Err(p) if p.status == 401 => Redirect::to("/dang-nhap").into_response(),
        Err(p) if !p.errors.is_empty() => {
            let errors = p
                .errors
                .iter()
                .map(|e| Shown {
                    field: survey_field(&e.field),
                    message: if e.field.starts_with("criteria[") {
                        lang.t(
                            "Số câu trả lời của tiêu chí này không được vượt quá số phiếu thu về",
                            "The answers to this criterion must not add up to more than the number of survey forms returned",
                        )
                        .into()
                    } else {
                        text::field_error(e, lang).message
                    },
                })
                .collect();
            page(
                status_of(&p, StatusCode::BAD_REQUEST),
                errors,
                String::new(),
                None,
            )
        }
        Err(p) => page(
            status_of(&p, StatusCode::BAD_REQUEST),
            Vec::new(),
            text::problem_in(&p, lang),
            None,
        ),
    }
}

// ---- Unit staff: the communication budget ------------------------------------------

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Budget {
    pub year: i32,
    pub planned_total_vnd: i64,
    pub spent_total_vnd: i64,
    pub revision: u32,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Budgets {
    budgets: Vec<Budget>,
}

/// Budget lines on the form; empty ones are left out.
pub const BUDGET_ROWS: usize = 5;

#[derive(Template)]
#[template(path = "budget.html")]
struct BudgetPage {
    frame: Frame,
    values: HashMap<String, String>,
    errors: Vec<Shown>,
    notice: String,
    saved: Option<Budget>,
    history: Vec<Budget>,
    rows: Vec<usize>,
}

impl FieldErrors for BudgetPage {
    fn errors(&self) -> &[Shown] {
        &self.errors
    }
}

impl BudgetPage {
    fn value(&self, field: &str) -> String {
        self.values.get(field).cloned().unwrap_or_default()
    }
}

async fn budget_history(app: &App, visit: &Visit) -> Vec<Budget> {
    app.gateway
        .get::<Budgets>("/v1/budget-lines?limit=20", visit.on())
        .await
        .unwrap_or_default()
        .budgets
}

pub async fn budget_form(State(app): State<App>, Staff { visit, frame }: Staff) -> Response {
    let history = budget_history(&app, &visit).await;
    render(
        StatusCode::OK,
        &BudgetPage {
            frame,
            values: HashMap::new(),
            errors: Vec::new(),
            notice: String::new(),
            saved: None,
            history,
            rows: (0..BUDGET_ROWS).collect(),
        },
    )
}

pub async fn submit_budget(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let lang = frame.lang;
    let get = |k: &str| form.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let mut errors = Vec::new();
    let year = get("year");
    if year.parse::<i32>().is_err() {
        errors.push(Shown {
            field: "year".into(),
            message: lang
                .t(
                    "Năm phải là một số, ví dụ 2020",
                    "The year must be a number, for example 2020",
                )
                .into(),
        });
    }
    let mut lines = Vec::new();
    for i in 0..BUDGET_ROWS {
        let item = get(&format!("item{i}"));
        let (planned, spent) = (get(&format!("planned{i}")), get(&format!("spent{i}")));
        if item.is_empty() && planned.is_empty() && spent.is_empty() {
            continue;
        }
        for (field, typed) in [
            (format!("planned{i}"), &planned),
            (format!("spent{i}"), &spent),
        ] {
            if text::count(typed).is_none() {
                errors.push(Shown {
                    field,
                    message: match lang {
                        text::Lang::Vi => {
                            format!("Dòng {}: số tiền phải là số đồng, ví dụ 1.500.000", i + 1)
                        }
                        text::Lang::En => format!(
                            "Item {}: enter the amount in dong, for example 1.500.000",
                            i + 1
                        ),
                    },
                });
            }
        }
        lines.push(json!({
            "item": item,
            "funding_source": get(&format!("source{i}")),
            "planned_vnd": text::count(&planned).unwrap_or(0),
            "spent_vnd": text::count(&spent).unwrap_or(0),
        }));
    }
    let history = budget_history(&app, &visit).await;
    let values = form.clone();
    let page = |status, errors, notice: String, saved| {
        render(
            status,
            &BudgetPage {
                frame,
                values,
                errors,
                notice,
                saved,
                history,
                rows: (0..BUDGET_ROWS).collect(),
            },
        )
    };
    if !errors.is_empty() {
        return page(StatusCode::BAD_REQUEST, errors, String::new(), None);
    }
    match app
        .gateway
        .put::<Budget>(
            &format!("/v1/budget-lines/{}", encode(&year)),
            visit.writing(&get("csrf")),
            &json!({"lines": lines}),
        )
        .await
    {
        Ok(b) => page(StatusCode::OK, Vec::new(), String::new(), Some(b)),
        Err(p) if p.status == 401 => Redirect::to("/dang-nhap").into_response(),
        Err(p) if !p.errors.is_empty() => {
            // `lines[2].item` is the third row's item field.
            let errors = p
                .errors
                .iter()
                .map(|e| {
                    let mut shown = figures_shown(e, lang);
                    if let Some((i, rest)) = e
                        .field
                        .strip_prefix("lines[")
                        .and_then(|r| r.split_once("]."))
                    {
                        let name = match rest {
                            "planned_vnd" => "planned",
                            "spent_vnd" => "spent",
                            "funding_source" => "source",
                            other => other,
                        };
                        shown.field = format!("{name}{i}");
                    }
                    shown
                })
                .collect();
            page(
                status_of(&p, StatusCode::BAD_REQUEST),
                errors,
                String::new(),
                None,
            )
        }
        Err(p) => page(
            status_of(&p, StatusCode::BAD_REQUEST),
            Vec::new(),
            text::problem_in(&p, lang),
            None,
        ),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A unit's clerk, reading in `lang`.
    pub(crate) fn clerk(lang: text::Lang) -> Frame {
        Frame {
            me: Some(Me {
                role: "unit".into(),
                user: Some(Person {
                    name: "Nguyễn Văn An".into(),
                }),
                unit: Some(UnitRef {
                    id: "u1".into(),
                    name: "Trường THPT Lê Quý Đôn".into(),
                }),
                csrf_token: Some("t".into()),
            }),
            csrf: "t".into(),
            lang,
            here: "/trang-chu".into(),
        }
    }

    fn home(lang: text::Lang) -> String {
        HomePage {
            frame: clerk(lang),
            stale: vec![Posting {
                code: "1.012753.H19".into(),
                procedure_name: "Cấp bản sao văn bằng".into(),
                version: 1,
                current_version: 2,
                stale: true,
                ..Posting::default()
            }],
            activities: Vec::new(),
            unread: Vec::new(),
            due: vec![crate::pages::UnitPeriod {
                plan_id: "p1".into(),
                plan_number: "109/KH-SGDĐT".into(),
                key: "2026-Q1".into(),
                title: "Quý I".into(),
                due_date: "2026-03-31".into(),
                days_left: -3,
                begun: true,
                submission: crate::pages::Submission::default(),
            }],
        }
        .render()
        .unwrap()
    }

    #[test]
    fn the_clerks_home_is_in_the_language_chosen() {
        let vi = home(text::Lang::Vi);
        for said in [
            "<h1>Việc cần làm</h1>",
            "Cán bộ đơn vị",
            ">Đăng xuất</button>",
            "hreflang=\"en\">English</a>",
            "Quá hạn 3 ngày",
            "Nộp báo cáo kỳ này",
            "đang niêm yết phiên bản 1, đã có phiên bản 2",
        ] {
            assert!(vi.contains(said), "{said}");
        }
        let en = home(text::Lang::En);
        for said in [
            "<h1>What needs doing</h1>",
            "Unit staff",
            ">Sign out</button>",
            "hreflang=\"vi\">Tiếng Việt</a>",
            "3 days overdue",
            "Submit this period’s report",
            "version 1 is posted, version 2 is now in force",
            "Plan No. 109/KH-SGDĐT",
            "No new notices.",
        ] {
            assert!(en.contains(said), "{said}");
        }
        for vietnamese in ["Việc cần làm", "Đăng xuất", "Quá hạn", "Thông báo chưa đọc"]
        {
            assert!(!en.contains(vietnamese), "{vietnamese}");
        }
    }

    #[test]
    fn a_refused_activity_is_told_in_english() {
        let e = crate::gateway::FieldError {
            field: "title".into(),
            code: "required".into(),
            params: Default::default(),
            message: "is required".into(),
        };
        let page = |lang| {
            ActivityFormPage {
                frame: clerk(lang),
                f: ActivityForm::default(),
                errors: vec![text::field_error(&e, lang)],
                notice: String::new(),
                kinds: text::ACTIVITY_KINDS,
            }
            .render()
            .unwrap()
        };
        let en = page(text::Lang::En);
        for said in [
            "There is a problem",
            "Title is required",
            "Record a communication activity",
            "Meeting or briefing",
            "Save the activity",
        ] {
            assert!(en.contains(said), "{said}");
        }
        let vi = page(text::Lang::Vi);
        for said in [
            "Có lỗi cần sửa",
            "Hãy nhập tên hoạt động",
            ">Hội nghị, quán triệt, phổ biến</option>",
            "Lưu hoạt động",
        ] {
            assert!(vi.contains(said), "{said}");
        }
    }

    #[test]
    fn an_unreconciled_result_names_its_figures_in_english() {
        let e = crate::gateway::FieldError {
            field: "received".into(),
            code: "unreconciled".into(),
            params: [
                ("received", "1200"),
                ("resolved", "1000"),
                ("pending", "100"),
                ("returned", "50"),
                ("difference", "50"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
            message: "received 1200 ≠ …".into(),
        };
        assert_eq!(
            figures_shown(&e, text::Lang::En).message,
            "The dossiers received (1.200) must equal those resolved (1.000) plus those still being handled (100) plus those returned or withdrawn (50); they differ by 50"
        );
        assert!(
            figures_shown(&e, text::Lang::Vi)
                .message
                .starts_with("Số hồ sơ tiếp nhận (1.200)")
        );
    }
}
