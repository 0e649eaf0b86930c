//! The public pages: the catalogue search, a procedure's page, a unit's posting sheet.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::*;
use crate::App;
use crate::gateway::On;
use crate::text::{self};

// ---- Public catalogue -------------------------------------------------------

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
pub(crate) struct SearchAnswer {
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
pub(crate) struct SearchPage {
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
pub(crate) struct Versions {
    versions: Vec<ProcedureView>,
}

#[derive(Template)]
#[template(path = "procedure.html")]
pub(crate) struct ProcedurePage {
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

// ---- Public: a unit's posting sheet (niêm yết) ------------------------------

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
pub(crate) struct Sheet {
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
pub(crate) struct SheetPage {
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
