//! The Department Office: procedures' drafts and publication, people.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::*;
use crate::App;
use crate::gateway::Problem;
use crate::text::{self, Shown};

// ---- Office: a procedure's draft and its publication ------------------------

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Draft {
    draft_revision: u64,
    status: String,
    version: u32,
    content: Value,
}

#[derive(Template)]
#[template(path = "procedure_edit.html")]
pub(crate) struct ProcedureEditPage {
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

impl FieldErrors for ProcedureEditPage {
    fn errors(&self) -> &[Shown] {
        &self.errors
    }
}

pub(crate) const CHANGE_TYPES: &[(&str, &str)] = &[
    ("amended", "Sửa đổi, bổ sung"),
    ("replaced", "Thay thế"),
    ("new", "Ban hành mới"),
    // Abolishing takes a decision too; it goes to the gateway's own request.
    ("abolished", "Bãi bỏ"),
];

/// [`CHANGE_TYPES`] in English, in the same order.
const CHANGE_TYPES_EN: &[(&str, &str)] = &[
    ("amended", "Amended"),
    ("replaced", "Replaced"),
    ("new", "New"),
    ("abolished", "Abolished"),
];

pub(crate) fn lines_of(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

pub(crate) fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// What became of a form: its errors, a notice, or what was saved.
#[derive(Default)]
pub(crate) struct Outcome {
    pub(crate) errors: Vec<Shown>,
    pub(crate) notice: String,
    pub(crate) saved: String,
}

impl Outcome {
    /// A refusal of the gateway: its field errors in the page's language, or, without
    /// any, what it means in a sentence.
    pub(crate) fn refused(p: &Problem, lang: text::Lang) -> Self {
        Self::refused_labelled(p, &[], lang)
    }

    /// [`Outcome::refused`] on a page whose fields have labels of their own.
    pub(crate) fn refused_labelled(p: &Problem, labels: &[(&str, &str)], lang: text::Lang) -> Self {
        let errors: Vec<Shown> = p
            .errors
            .iter()
            .map(|e| text::field_error_labelled(e, labels, lang))
            .collect();
        let notice = if errors.is_empty() {
            text::problem_in(p, lang)
        } else {
            String::new()
        };
        Self {
            errors,
            notice,
            saved: String::new(),
        }
    }
}

pub(crate) async fn procedure_edit(
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
        return forbidden(frame);
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
    let change_types = match frame.lang {
        text::Lang::Vi => CHANGE_TYPES,
        text::Lang::En => CHANGE_TYPES_EN,
    };
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
            processing_days: text::days_typed(c["processing_days"].as_f64()),
            result: str_of(&c["result"]),
            steps: lines_of(&c["steps"]),
            legal_basis: lines_of(&c["legal_basis"]),
            errors,
            notice,
            saved,
            change_types,
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
    // Read as the import reads a sheet's cell: "0,5", "Trong ngày", "04 giờ" too.
    let Ok(days) = cchc_cli::sheet::days(&f.processing_days) else {
        let errors = vec![Shown {
            field: "processing_days".into(),
            message: frame
                .t(
                    "Thời hạn giải quyết phải là một số ngày làm việc, ví dụ 5 hoặc 0,5",
                    "Time limit must be a number of working days, such as 5 or 0.5",
                )
                .into(),
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
            let saved = frame.t("Đã lưu dự thảo.", "Draft saved.").into();
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
            let status = status_of(&p, StatusCode::BAD_REQUEST);
            {
                let outcome = Outcome::refused(&p, frame.lang);
                procedure_edit(&app, &visit, frame, &code, status, outcome).await
            }
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
            message: frame
                .t(
                    "Ngày quyết định phải theo dạng ngày/tháng/năm",
                    "Date of the decision must be a date as day/month/year",
                )
                .into(),
        });
    }
    let effective = text::parse_date(&f.effective_date);
    if effective.is_none() {
        errors.push(Shown {
            field: "effective_date".into(),
            message: frame
                .t(
                    "Ngày có hiệu lực phải theo dạng ngày/tháng/năm",
                    "Effective date must be a date as day/month/year",
                )
                .into(),
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
    let abolish = f.change_type == "abolished";
    let mut body = json!({
        "decision": {"number": f.decision_number.trim(), "date": decision_date, "signer": f.decision_signer.trim()},
        "change_note": f.change_note.trim(),
        "effective_date": effective,
    });
    if !abolish {
        body["change_type"] = f.change_type.clone().into();
    }
    let verb = if abolish { "abolish" } else { "publish" };
    match app
        .gateway
        .post::<ProcedureView>(
            &format!("/v1/procedures/{}/{verb}", encode(&code)),
            visit.writing(&f.csrf),
            &body,
        )
        .await
    {
        Ok(v) => {
            let from = text::date(&v.effective_date);
            let saved = match (abolish, frame.lang) {
                (true, text::Lang::Vi) => format!("Đã bãi bỏ thủ tục từ {from}."),
                (true, text::Lang::En) => format!("The procedure is abolished from {from}."),
                (false, text::Lang::Vi) => {
                    format!("Đã công bố phiên bản {}, hiệu lực từ {from}.", v.version)
                }
                (false, text::Lang::En) => {
                    format!("Version {} is published, in force from {from}.", v.version)
                }
            };
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
            let errors: Vec<Shown> = p
                .errors
                .iter()
                .map(|e| text::field_error(e, frame.lang))
                .collect();
            let notice = if p.status == 422 {
                frame.t(
                    "Chưa công bố được: hồ sơ thủ tục còn thiếu thông tin theo Nghị định 63/2010/NĐ-CP, hoặc ngày hiệu lực không hợp lệ.",
                    "The draft could not be published: the procedure's record lacks information that Decree 63/2010/NĐ-CP requires, or the effective date is not valid.",
                ).to_owned()
            } else if errors.is_empty() {
                text::problem_in(&p, frame.lang)
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

// ---- Office: people ---------------------------------------------------------

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
    /// The account's status in `lang`.
    pub fn status_text(&self, lang: &text::Lang) -> &str {
        match (lang, self.status.as_str()) {
            (text::Lang::Vi, "invited") => "Đã mời, chưa kích hoạt",
            (text::Lang::Vi, "active") => "Đang hoạt động",
            (text::Lang::Vi, "disabled") => "Đã khóa",
            (text::Lang::En, "invited") => "Invited, not yet activated",
            (text::Lang::En, "active") => "Active",
            (text::Lang::En, "disabled") => "Locked",
            (_, other) => other,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Users {
    users: Vec<UserRow>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct UnitRow {
    pub id: String,
    pub name: String,
    pub status: String,
    pub kind: String,
    pub parent_id: Option<String>,
    pub merged_into: Option<String>,
    pub status_since: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Units {
    pub(crate) units: Vec<UnitRow>,
}

#[derive(Template)]
#[template(path = "people.html")]
pub(crate) struct PeoplePage {
    frame: Frame,
    users: Vec<UserRow>,
    units: Vec<UnitRow>,
    form: Invite,
    errors: Vec<Shown>,
    notice: String,
    saved: String,
    roles: &'static [(&'static str, &'static str)],
}

impl FieldErrors for PeoplePage {
    fn errors(&self) -> &[Shown] {
        &self.errors
    }
}

impl PeoplePage {
    fn unit_name(&self, id: &str) -> String {
        self.units
            .iter()
            .find(|u| u.id == id)
            .map_or_else(|| id.to_owned(), |u| u.name.clone())
    }
}

pub(crate) const ROLES: &[(&str, &str)] = &[
    ("unit", "Cán bộ đơn vị"),
    ("office", "Văn phòng Sở"),
    ("leader", "Lãnh đạo"),
];

/// [`ROLES`] in English, in the same order.
const ROLES_EN: &[(&str, &str)] = &[
    ("unit", "Unit staff"),
    ("office", "Department Office"),
    ("leader", "Leadership"),
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

pub(crate) async fn people_page(
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
    let roles = match frame.lang {
        text::Lang::Vi => ROLES,
        text::Lang::En => ROLES_EN,
    };
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
            roles,
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
            let saved = match frame.lang {
                text::Lang::Vi => format!(
                    "Đã mời {} ({}). Thư mời có liên kết đặt mật khẩu, hiệu lực 72 giờ.",
                    u.name, u.email
                ),
                text::Lang::En => format!(
                    "{} ({}) is invited. The invitation has a link to set a password, valid for 72 hours.",
                    u.name, u.email
                ),
            };
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
            let errors: Vec<Shown> = p
                .errors
                .iter()
                .map(|e| text::field_error(e, frame.lang))
                .collect();
            let notice = match p.status {
                409 => frame
                    .t(
                        "Địa chỉ e-mail này đã có tài khoản.",
                        "There is already an account with this e-mail address.",
                    )
                    .to_owned(),
                _ if errors.is_empty() => text::problem_in(&p, frame.lang),
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
            saved: match frame.lang {
                text::Lang::Vi => format!("Đã khóa tài khoản của {}.", u.name),
                text::Lang::En => format!("The account of {} is locked.", u.name),
            },
            ..Outcome::default()
        },
        Err(p) if p.status == 401 => return Redirect::to("/dang-nhap").into_response(),
        Err(p) => Outcome {
            notice: text::problem_in(&p, frame.lang),
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
