//! The Department Office's units: the list, a new unit, and each unit's lifecycle
//! (rename, merge, close from a date, with the names it has had) and API keys (issued
//! with the key shown once, revoked at once).

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

/// The kinds of unit, in the Department's words and its order.
pub(crate) const UNIT_KINDS: &[(&str, &str)] = &[
    ("division", "Phòng chuyên môn thuộc Sở"),
    ("district_office", "Phòng Giáo dục và Đào tạo cấp huyện"),
    ("high_school", "Trường trung học phổ thông"),
    ("affiliated_unit", "Đơn vị trực thuộc"),
    ("commune_office", "Cấp xã"),
    ("department", "Sở Giáo dục và Đào tạo"),
    ("other", "Khác"),
];

/// [`UNIT_KINDS`] in English, in the same order.
const UNIT_KINDS_EN: &[(&str, &str)] = &[
    ("division", "Division of the Department"),
    (
        "district_office",
        "District Office of Education and Training",
    ),
    ("high_school", "Upper secondary school"),
    ("affiliated_unit", "Affiliated unit"),
    ("commune_office", "Commune level"),
    ("department", "Department of Education and Training"),
    ("other", "Other"),
];

/// The kinds of unit in `lang`.
fn unit_kinds(lang: text::Lang) -> &'static [(&'static str, &'static str)] {
    match lang {
        text::Lang::Vi => UNIT_KINDS,
        text::Lang::En => UNIT_KINDS_EN,
    }
}

/// A kind of unit in `lang`.
pub fn unit_kind<'a>(code: &'a str, lang: &text::Lang) -> &'a str {
    unit_kinds(*lang)
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(code, |(_, v)| v)
}

/// A unit's status in `lang`.
pub fn unit_status<'a>(code: &'a str, lang: &text::Lang) -> &'a str {
    match (lang, code) {
        (text::Lang::Vi, "active") => "Đang hoạt động",
        (text::Lang::Vi, "renamed") => "Đã đổi tên",
        (text::Lang::Vi, "merged") => "Đã sáp nhập",
        (text::Lang::Vi, "closed") => "Đã giải thể",
        (text::Lang::En, "active") => "Active",
        (text::Lang::En, "renamed") => "Renamed",
        (text::Lang::En, "merged") => "Merged",
        (text::Lang::En, "closed") => "Closed",
        (_, other) => other,
    }
}

/// The roles a key can be issued for (operators issue operators' keys with the API).
const KEY_ROLES: &[(&str, &str)] = &[
    ("unit", "Phần mềm của đơn vị (ghi số liệu của đơn vị)"),
    ("office", "Văn phòng Sở"),
    ("leader", "Lãnh đạo (chỉ xem)"),
];

/// [`KEY_ROLES`] in English, in the same order.
const KEY_ROLES_EN: &[(&str, &str)] = &[
    ("unit", "The unit's software (records the unit's figures)"),
    ("office", "Department Office"),
    ("leader", "Leadership (read only)"),
];

/// The unit pages' own labels for the API's fields.
const LABELS: &[(&str, &str)] = &[
    ("name", "Tên đơn vị"),
    ("kind", "Loại đơn vị"),
    ("into_unit_id", "Đơn vị nhận sáp nhập"),
];

// ---- The list and a new unit ----------------------------------------------------

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct NewUnit {
    csrf: String,
    name: String,
    kind: String,
    parent_id: String,
}

#[derive(Template)]
#[template(path = "units.html")]
pub(crate) struct UnitsPage {
    frame: Frame,
    units: Vec<UnitRow>,
    form: NewUnit,
    errors: Vec<Shown>,
    notice: String,
    saved: String,
    kinds: &'static [(&'static str, &'static str)],
}

impl FieldErrors for UnitsPage {
    fn errors(&self) -> &[Shown] {
        &self.errors
    }
}

impl UnitsPage {
    fn name_of(&self, id: &Option<String>) -> String {
        id.as_ref()
            .and_then(|id| self.units.iter().find(|u| &u.id == id))
            .map_or_else(String::new, |u| u.name.clone())
    }
}

/// Every unit, in the Department's order: by kind, then by name.
pub(crate) async fn all_units(app: &App, visit: &Visit) -> Result<Vec<UnitRow>, Problem> {
    let mut units = Vec::new();
    let mut token = String::new();
    loop {
        let page: Value = app
            .gateway
            .get(
                &format!("/v1/units?limit=500&page_token={}", encode(&token)),
                visit.on(),
            )
            .await?;
        let rows: Units = serde_json::from_value(page.clone()).unwrap_or_default();
        units.extend(rows.units);
        token = page["next_page_token"].as_str().unwrap_or("").to_owned();
        if token.is_empty() {
            break;
        }
    }
    let rank = |k: &str| UNIT_KINDS.iter().position(|(c, _)| *c == k).unwrap_or(99);
    units.sort_by(|a, b| {
        (rank(&a.kind), cchc_text::fold(&a.name)).cmp(&(rank(&b.kind), cchc_text::fold(&b.name)))
    });
    Ok(units)
}

async fn units_page(
    app: &App,
    visit: &Visit,
    frame: Frame,
    status: StatusCode,
    form: NewUnit,
    outcome: Outcome,
) -> Response {
    if !frame.is_office() {
        return forbidden(frame);
    }
    let units = match all_units(app, visit).await {
        Ok(u) => u,
        Err(p) => return refused(frame, &p),
    };
    let kinds = unit_kinds(frame.lang);
    render(
        status,
        &UnitsPage {
            frame,
            units,
            form,
            errors: outcome.errors,
            notice: outcome.notice,
            saved: outcome.saved,
            kinds,
        },
    )
}

pub async fn units(State(app): State<App>, Staff { visit, frame }: Staff) -> Response {
    units_page(
        &app,
        &visit,
        frame,
        StatusCode::OK,
        NewUnit::default(),
        Outcome::default(),
    )
    .await
}

pub async fn create_unit(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Form(f): Form<NewUnit>,
) -> Response {
    let mut body = json!({"name": f.name.trim(), "kind": f.kind});
    if !f.parent_id.is_empty() {
        body["parent_id"] = f.parent_id.clone().into();
    }
    match app
        .gateway
        .post::<UnitRow>("/v1/units", visit.writing(&f.csrf), &body)
        .await
    {
        Ok(u) => Redirect::to(&format!("/van-phong/don-vi/{}", encode(&u.id))).into_response(),
        Err(p) if p.status == 401 => Redirect::to("/dang-nhap").into_response(),
        Err(p) => {
            let status = status_of(&p, StatusCode::BAD_REQUEST);
            let outcome = Outcome::refused_labelled(&p, LABELS, frame.lang);
            units_page(&app, &visit, frame, status, f, outcome).await
        }
    }
}

// ---- One unit: its names, lifecycle and keys -------------------------------------

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct UnitName {
    pub name: String,
    pub valid_from: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct KeyRow {
    pub id: String,
    pub role: String,
    pub prefix: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub last_used_at: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Keys {
    api_keys: Vec<KeyRow>,
}

/// A lifecycle form: the new name or the unit merged into, from a date.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct Change {
    csrf: String,
    name: String,
    into_unit_id: String,
    effective_date: String,
    role: String,
    expires_on: String,
}

#[derive(Template)]
#[template(path = "unit_admin.html")]
pub(crate) struct UnitAdminPage {
    frame: Frame,
    unit: UnitRow,
    names: Vec<UnitName>,
    keys: Vec<KeyRow>,
    others: Vec<UnitRow>,
    form: Change,
    /// The key just issued, shown this once.
    new_key: String,
    errors: Vec<Shown>,
    notice: String,
    saved: String,
    roles: &'static [(&'static str, &'static str)],
}

impl FieldErrors for UnitAdminPage {
    fn errors(&self) -> &[Shown] {
        &self.errors
    }
}

impl UnitAdminPage {
    fn merged_into_name(&self) -> String {
        self.unit
            .merged_into
            .as_ref()
            .and_then(|id| self.others.iter().find(|u| &u.id == id))
            .map_or_else(String::new, |u| u.name.clone())
    }

    fn acts(&self) -> bool {
        self.unit.status != "merged" && self.unit.status != "closed"
    }
}

#[derive(Default)]
struct Told {
    new_key: String,
    outcome: Outcome,
}

async fn unit_admin(
    app: &App,
    visit: &Visit,
    frame: Frame,
    id: &str,
    status: StatusCode,
    form: Change,
    shown: Told,
) -> Response {
    if !frame.is_office() {
        return forbidden(frame);
    }
    let (unit_path, keys_path) = (
        format!("/v1/units/{}", encode(id)),
        format!("/v1/units/{}/api-keys", encode(id)),
    );
    let (unit, keys, others) = tokio::join!(
        app.gateway.get::<Value>(&unit_path, visit.on()),
        app.gateway.get::<Keys>(&keys_path, visit.on()),
        all_units(app, visit),
    );
    let unit = match unit {
        Ok(u) => u,
        Err(p) => return refused(frame, &p),
    };
    let names: Vec<UnitName> = serde_json::from_value(unit["names"].clone()).unwrap_or_default();
    let unit: UnitRow = serde_json::from_value(unit).unwrap_or_default();
    let others = others
        .unwrap_or_default()
        .into_iter()
        .filter(|u| u.id != unit.id)
        .collect();
    let roles = match frame.lang {
        text::Lang::Vi => KEY_ROLES,
        text::Lang::En => KEY_ROLES_EN,
    };
    render(
        status,
        &UnitAdminPage {
            frame,
            unit,
            names,
            keys: keys.unwrap_or_default().api_keys,
            others,
            form,
            new_key: shown.new_key,
            errors: shown.outcome.errors,
            notice: shown.outcome.notice,
            saved: shown.outcome.saved,
            roles,
        },
    )
}

pub async fn unit_page(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Path(id): Path<String>,
) -> Response {
    unit_admin(
        &app,
        &visit,
        frame,
        &id,
        StatusCode::OK,
        Change::default(),
        Told::default(),
    )
    .await
}

/// Renames, merges or closes the unit (`action` is the gateway's verb).
pub async fn change_unit(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<Change>,
) -> Response {
    let (verb, done) = match action.as_str() {
        "doi-ten" => (
            "rename",
            frame.t("Đã đổi tên đơn vị.", "The unit is renamed."),
        ),
        "sap-nhap" => (
            "merge",
            frame.t(
                "Đã sáp nhập đơn vị; các khóa truy cập của đơn vị đã bị thu hồi.",
                "The unit is merged; its access keys are revoked.",
            ),
        ),
        "giai-the" => (
            "close",
            frame.t(
                "Đã giải thể đơn vị; các khóa truy cập của đơn vị đã bị thu hồi.",
                "The unit is closed; its access keys are revoked.",
            ),
        ),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let mut body = json!({"effective_date": text::api_date(&f.effective_date)});
    match verb {
        "rename" => body["name"] = f.name.trim().into(),
        "merge" => body["into_unit_id"] = f.into_unit_id.clone().into(),
        _ => {}
    }
    let answer = app
        .gateway
        .post::<UnitRow>(
            &format!("/v1/units/{}/{verb}", encode(&id)),
            visit.writing(&f.csrf),
            &body,
        )
        .await;
    let (status, form, outcome) = match answer {
        Ok(_) => (
            StatusCode::OK,
            Change::default(),
            Outcome {
                saved: done.into(),
                ..Outcome::default()
            },
        ),
        Err(p) if p.status == 401 => return Redirect::to("/dang-nhap").into_response(),
        Err(p) => {
            let mut o = Outcome::refused_labelled(&p, LABELS, frame.lang);
            if o.errors.is_empty() && p.status == 422 {
                o.notice = lifecycle_refusal(&p, frame.lang).into();
            }
            (status_of(&p, StatusCode::BAD_REQUEST), f, o)
        }
    };
    unit_admin(
        &app,
        &visit,
        frame,
        &id,
        status,
        form,
        Told {
            new_key: String::new(),
            outcome,
        },
    )
    .await
}

/// A rule of the lifecycle the gateway named by its problem type, in `lang`.
fn lifecycle_refusal(p: &Problem, lang: text::Lang) -> &'static str {
    let (vi, en) = match p.slug() {
        "unit-ended" => (
            "Đơn vị đã sáp nhập hoặc giải thể, không thay đổi được nữa.",
            "The unit has been merged or closed and can no longer be changed.",
        ),
        "department-unit" => (
            "Không thể sáp nhập hay giải thể chính Sở.",
            "The Department itself cannot be merged or closed.",
        ),
        "same-name" => ("Đơn vị đã có tên này.", "The unit already has this name."),
        "merge-into-itself" => (
            "Không thể sáp nhập một đơn vị vào chính nó.",
            "A unit cannot be merged into itself.",
        ),
        "no-merge-target" => (
            "Đơn vị nhận sáp nhập không có trong hệ thống.",
            "The unit to merge into is not in the system.",
        ),
        _ => (
            "Thao tác chưa thực hiện được vì trái quy định nghiệp vụ.",
            "This cannot be done: it breaks a business rule.",
        ),
    };
    lang.t(vi, en)
}

/// Issues a key for the unit; the key is shown on this page once and never again.
pub async fn issue_key(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Path(id): Path<String>,
    Form(f): Form<Change>,
) -> Response {
    let mut body = json!({"role": f.role});
    let expires = f.expires_on.trim();
    if !expires.is_empty() {
        match text::parse_date(expires) {
            // The key works through the day typed, Vietnam time.
            Some(d) => body["expires_at"] = format!("{d}T23:59:59+07:00").into(),
            None => {
                let outcome = Outcome {
                    errors: vec![Shown {
                        field: "expires_on".into(),
                        message: frame
                            .t(
                                "Ngày hết hạn phải theo dạng ngày/tháng/năm, ví dụ 31/12/2026",
                                "Expiry date must be a date as day/month/year, for example 31/12/2026",
                            )
                            .into(),
                    }],
                    ..Outcome::default()
                };
                return unit_admin(
                    &app,
                    &visit,
                    frame,
                    &id,
                    StatusCode::BAD_REQUEST,
                    f,
                    Told {
                        new_key: String::new(),
                        outcome,
                    },
                )
                .await;
            }
        }
    }
    let answer = app
        .gateway
        .post::<Value>(
            &format!("/v1/units/{}/api-keys", encode(&id)),
            visit.writing(&f.csrf),
            &body,
        )
        .await;
    let (status, form, shown) = match answer {
        Ok(k) => (
            StatusCode::OK,
            Change::default(),
            Told {
                new_key: k["key"].as_str().unwrap_or_default().to_owned(),
                outcome: Outcome {
                    saved: frame
                        .t(
                            "Đã cấp khóa truy cập. Hãy sao chép khóa ngay: khóa chỉ hiện một lần này.",
                            "Access key issued. Copy the key now: it is shown this once only.",
                        )
                        .into(),
                    ..Outcome::default()
                },
            },
        ),
        Err(p) if p.status == 401 => return Redirect::to("/dang-nhap").into_response(),
        Err(p) => {
            let mut outcome = Outcome::refused_labelled(&p, LABELS, frame.lang);
            if p.slug() == "unit-ended" {
                outcome.notice = frame
                    .t(
                        "Đơn vị đã sáp nhập hoặc giải thể: không cấp khóa mới.",
                        "The unit has been merged or closed: no new key can be issued.",
                    )
                    .into();
            }
            for e in &mut outcome.errors {
                if e.field == "expires_at" {
                    e.field = "expires_on".into();
                    e.message = frame
                        .t(
                            "Ngày hết hạn phải là một ngày trong tương lai",
                            "Expiry date must be in the future",
                        )
                        .into();
                }
            }
            (
                status_of(&p, StatusCode::BAD_REQUEST),
                f,
                Told {
                    new_key: String::new(),
                    outcome,
                },
            )
        }
    };
    unit_admin(&app, &visit, frame, &id, status, form, shown).await
}

/// Revokes one of the unit's keys at once.
pub async fn revoke_key(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Path((id, key_id)): Path<(String, String)>,
    Form(f): Form<Csrf>,
) -> Response {
    let outcome = match app
        .gateway
        .delete(
            &format!("/v1/api-keys/{}", encode(&key_id)),
            visit.writing(&f.csrf),
        )
        .await
    {
        Ok(()) => Outcome {
            saved: frame
                .t(
                    "Đã thu hồi khóa truy cập; khóa không dùng được nữa.",
                    "Access key revoked; it no longer works.",
                )
                .into(),
            ..Outcome::default()
        },
        Err(p) if p.status == 401 => return Redirect::to("/dang-nhap").into_response(),
        Err(p) => Outcome::refused_labelled(&p, LABELS, frame.lang),
    };
    unit_admin(
        &app,
        &visit,
        frame,
        &id,
        StatusCode::OK,
        Change::default(),
        Told {
            new_key: String::new(),
            outcome,
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(lang: text::Lang, errors: Vec<Shown>) -> String {
        let unit = |id: &str, name: &str, kind: &str, status: &str| UnitRow {
            id: id.into(),
            name: name.into(),
            kind: kind.into(),
            status: status.into(),
            ..UnitRow::default()
        };
        UnitsPage {
            frame: Frame::nobody(lang),
            units: vec![
                unit("s", "Sở Giáo dục và Đào tạo", "department", "active"),
                unit("m", "Trường THPT Lê Lợi", "high_school", "merged"),
            ],
            form: NewUnit::default(),
            errors,
            notice: String::new(),
            saved: String::new(),
            kinds: unit_kinds(lang),
        }
        .render()
        .unwrap()
    }

    #[test]
    fn the_units_are_listed_in_either_language() {
        let vi = page(text::Lang::Vi, Vec::new());
        for said in [
            "<h1>Đơn vị</h1>",
            "Thêm đơn vị",
            "Trường trung học phổ thông",
            "Đã sáp nhập",
        ] {
            assert!(vi.contains(said), "{said}: {vi}");
        }
        let required = Shown {
            field: "name".into(),
            message: "Name is required".into(),
        };
        let en = page(text::Lang::En, vec![required]);
        for said in [
            "<h1>Units</h1>",
            "<h2>Add a unit</h2>",
            "Name of the unit",
            "Upper secondary school",
            "Merged",
            "Parent unit (if any)",
            r#"id="name-error">Name is required<"#,
        ] {
            assert!(en.contains(said), "{said}: {en}");
        }
        assert_eq!(
            lifecycle_refusal(
                &Problem {
                    kind: "https://cchc.example/problems/same-name".into(),
                    status: 422,
                    ..Problem::default()
                },
                text::Lang::En
            ),
            "The unit already has this name."
        );
    }
}
