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
    levels: Vec<&'static str>,
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
            levels: vec!["province", "district", "commune"],
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
    pub processing_days: Option<f64>,
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

/// A way to submit, in `lang`.
pub fn channel_in<'a>(code: &'a str, lang: &text::Lang) -> &'a str {
    match (*lang, code) {
        (text::Lang::En, "in_person") => "In person",
        (text::Lang::En, "online") => "Online",
        (text::Lang::En, "post") => "By post",
        _ => channel(code),
    }
}

/// A kind of change, in `lang`.
pub fn change_type_in<'a>(code: &'a str, lang: &text::Lang) -> &'a str {
    match (*lang, code) {
        (text::Lang::En, "new") => "New",
        (text::Lang::En, "amended") => "Amended",
        (text::Lang::En, "replaced") => "Replaced",
        (text::Lang::En, "abolished") => "Abolished",
        _ => change_type(code),
    }
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

/// A printed line: the procedure, its number on the sheet, the QR code of its public
/// page, and the version and decision it reflects.
pub struct Printed {
    pub n: usize,
    pub line: SheetLine,
    pub url: String,
    pub qr: String,
    pub reflects: String,
}

/// Lines per printed A4 page.
pub const SHEET_LINES_PER_PAGE: usize = 10;

#[derive(Template)]
#[template(path = "posting_sheet.html")]
pub(crate) struct SheetPage {
    frame: Frame,
    unit_id: String,
    unit_name: String,
    pages: Vec<Vec<Printed>>,
    total: usize,
    today: String,
}

/// "Phiên bản 2, Quyết định số 1234/QĐ-UBND ngày 15/01/2020; hiệu lực từ 01/02/2020":
/// the same words on the page and in the PDF.
fn reflects(line: &SheetLine) -> String {
    let mut s = format!("Phiên bản {}", line.version);
    if let Some(d) = &line.decision {
        s.push_str(&format!(", Quyết định số {}", d.number));
        if !d.date.is_empty() {
            s.push_str(&format!(" ngày {}", text::date(&d.date)));
        }
    }
    s.push_str(&format!(
        "; hiệu lực từ {}",
        text::date(&line.effective_date)
    ));
    s
}

/// A unit's sheet from the gateway, each line with the public page its QR code names.
async fn sheet(app: &App, unit_id: &str) -> Result<(String, Vec<Printed>), Problem> {
    let sheet: Sheet = app
        .gateway
        .get(
            &format!("/v1/units/{}/posting-sheet", encode(unit_id)),
            On::default(),
        )
        .await?;
    let printed = sheet
        .procedures
        .into_iter()
        .enumerate()
        .map(|(i, line)| {
            let url = format!("{}/thu-tuc/{}", app.public_url, encode(&line.code));
            Printed {
                n: i + 1,
                qr: crate::qr::svg(&url),
                reflects: reflects(&line),
                url,
                line,
            }
        })
        .collect();
    Ok((sheet.unit_name, printed))
}

/// The posting sheet of a unit, to print (one A4 page per ten procedures), each
/// procedure with a QR code to its public page.
pub async fn posting_sheet(
    State(app): State<App>,
    Guest { frame, .. }: Guest,
    Path(unit_id): Path<String>,
) -> Response {
    let (unit_name, printed) = match sheet(&app, &unit_id).await {
        Ok(s) => s,
        Err(p) => return refused(frame, &p),
    };
    let total = printed.len();
    let mut pages = Vec::new();
    let mut rest = printed.into_iter().peekable();
    while rest.peek().is_some() {
        pages.push(rest.by_ref().take(SHEET_LINES_PER_PAGE).collect());
    }
    render(
        StatusCode::OK,
        &SheetPage {
            frame,
            unit_id: unit_id.clone(),
            unit_name,
            pages,
            total,
            today: text::today(),
        },
    )
}

/// The same sheet as a PDF made here, for a unit that cannot print from a browser.
pub async fn posting_sheet_pdf(
    State(app): State<App>,
    Guest { frame, .. }: Guest,
    Path(unit_id): Path<String>,
) -> Response {
    let (unit_name, printed) = match sheet(&app, &unit_id).await {
        Ok(s) => s,
        Err(p) => return refused(frame, &p),
    };
    let lines: Vec<crate::pdf::Line> = printed
        .into_iter()
        .map(|p| crate::pdf::Line {
            name: p.line.name,
            code: p.line.code,
            url: p.url,
            reflects: p.reflects,
        })
        .collect();
    // Laying out and subsetting the fonts is CPU work: off the request threads.
    let today = text::today();
    let name = unit_name.clone();
    let pdf =
        match tokio::task::spawn_blocking(move || crate::pdf::posting_sheet(&name, &today, &lines))
            .await
        {
            Ok(pdf) => pdf,
            Err(e) => {
                tracing::error!(error = %e, "the posting sheet's PDF was not made");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        };
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "inline; filename=\"niem-yet-{}.pdf\"",
                    unit_id
                        .chars()
                        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                        .collect::<String>()
                ),
            ),
        ],
        pdf,
    )
        .into_response()
}

// ---- Public: what changed between two versions --------------------------------

/// One part of the record that differs between two versions: what was there, what is
/// there now, and for lists the items taken out and put in.
#[derive(Debug, Clone, Default)]
pub struct Changed {
    pub label: &'static str,
    pub before: String,
    pub after: String,
    pub removed: Vec<String>,
    pub added: Vec<String>,
}

/// The record's parts as people read them: a single text, or a list of items.
enum Part {
    One(String),
    Many(Vec<String>),
}

fn parts(c: &Content) -> Vec<(&'static str, Part)> {
    let fee = |f: &Fee| {
        let mut s = format!(
            "{} đồng ({})",
            text::number(&f.amount_vnd),
            channel(&f.channel)
        );
        if !f.note.is_empty() {
            s.push_str(&format!(": {}", f.note));
        }
        s
    };
    let dossier = |d: &Dossier| {
        format!(
            "{} ({} bản chính, {} bản sao){}",
            d.name,
            d.originals,
            d.copies,
            if d.required { "" } else { ", nếu có" }
        )
    };
    vec![
        ("Tên thủ tục", Part::One(c.name.clone())),
        ("Lĩnh vực", Part::One(c.field.clone())),
        ("Cấp thực hiện", Part::One(text::level(&c.level).to_owned())),
        (
            "Cơ quan thực hiện",
            Part::One(c.implementing_agency.clone()),
        ),
        ("Đối tượng thực hiện", Part::Many(c.applicants.clone())),
        ("Trình tự thực hiện", Part::Many(c.steps.clone())),
        (
            "Cách thức thực hiện",
            Part::Many(
                c.submission_channels
                    .iter()
                    .map(|x| channel(x).to_owned())
                    .collect(),
            ),
        ),
        (
            "Thành phần hồ sơ",
            Part::Many(c.dossier.iter().map(dossier).collect()),
        ),
        (
            "Thời hạn giải quyết",
            Part::One(text::days(&c.processing_days, &text::Lang::Vi)),
        ),
        ("Phí, lệ phí", Part::Many(c.fees.iter().map(fee).collect())),
        ("Kết quả thực hiện", Part::One(c.result.clone())),
        ("Yêu cầu, điều kiện", Part::Many(c.requirements.clone())),
        ("Mẫu đơn, tờ khai", Part::Many(c.forms.clone())),
        ("Căn cứ pháp lý", Part::Many(c.legal_basis.clone())),
    ]
}

/// The parts of the record that differ from `old` to `new`, in the record's order.
pub fn changes(old: &Content, new: &Content) -> Vec<Changed> {
    parts(old)
        .into_iter()
        .zip(parts(new))
        .filter_map(|((label, before), (_, after))| match (before, after) {
            (Part::One(b), Part::One(a)) if a != b => Some(Changed {
                label,
                before: b,
                after: a,
                ..Changed::default()
            }),
            (Part::Many(b), Part::Many(a)) if a != b => Some(Changed {
                label,
                removed: b.iter().filter(|x| !a.contains(x)).cloned().collect(),
                added: a.iter().filter(|x| !b.contains(x)).cloned().collect(),
                // Same items in another order: the order is the change.
                before: b.join("; "),
                after: a.join("; "),
            }),
            _ => None,
        })
        .collect()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CompareQuery {
    tu: u32,
    den: u32,
}

#[derive(Template)]
#[template(path = "compare.html")]
pub(crate) struct ComparePage {
    frame: Frame,
    code: String,
    name: String,
    old: ProcedureView,
    new: ProcedureView,
    changes: Vec<Changed>,
}

/// Version `tu` beside version `den` of a procedure (by default, the current one and
/// the one before it): only what changed.
pub async fn compare(
    State(app): State<App>,
    Guest { frame, .. }: Guest,
    Path(code): Path<String>,
    Query(q): Query<CompareQuery>,
) -> Response {
    let code = encode(code.trim());
    let versions: Versions = match app
        .gateway
        .get(&format!("/v1/procedures/{code}/versions"), On::default())
        .await
    {
        Ok(v) => v,
        Err(p) => return refused(frame, &p),
    };
    let last = versions
        .versions
        .iter()
        .map(|v| v.version)
        .max()
        .unwrap_or(0);
    let new_v = if q.den == 0 { last } else { q.den };
    let old_v = if q.tu == 0 {
        new_v.saturating_sub(1)
    } else {
        q.tu
    };
    let find = |n: u32| versions.versions.iter().find(|v| v.version == n).cloned();
    let (Some(old), Some(new)) = (find(old_v), find(new_v)) else {
        return message(
            StatusCode::NOT_FOUND,
            frame,
            "Không tìm thấy",
            "Thủ tục không có phiên bản này.".into(),
        );
    };
    let changes = changes(&old.content, &new.content);
    render(
        StatusCode::OK,
        &ComparePage {
            frame,
            code: new.code.clone(),
            name: new.content.name.clone(),
            old,
            new,
            changes,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_changed_is_compared() {
        let old = Content {
            name: "Cấp bản sao văn bằng".into(),
            processing_days: Some(5.0),
            steps: vec!["Nộp hồ sơ".into(), "Nhận kết quả".into()],
            ..Content::default()
        };
        let mut new = old.clone();
        new.processing_days = Some(0.5);
        new.steps.insert(1, "Nộp lệ phí".into());
        let c = changes(&old, &new);
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(c[0].label, "Trình tự thực hiện");
        assert_eq!(c[0].added, ["Nộp lệ phí"]);
        assert!(c[0].removed.is_empty());
        assert_eq!(c[1].label, "Thời hạn giải quyết");
        assert_eq!(
            (c[1].before.as_str(), c[1].after.as_str()),
            ("5 ngày làm việc", "0,5 ngày làm việc")
        );
        assert!(changes(&old, &old).is_empty());
    }
}

// ---- Public: a unit's published one-stop results and satisfaction ------------------

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Published {
    unit_id: String,
    unit_name: String,
    one_stop: Vec<OneStop>,
    satisfaction: Vec<Survey>,
}

#[derive(Template)]
#[template(path = "results.html")]
pub(crate) struct ResultsPage {
    frame: Frame,
    r: Published,
}

/// A unit's one-stop results and satisfaction, period by period, for anyone.
pub async fn published_results(
    State(app): State<App>,
    Guest { frame, .. }: Guest,
    Path(unit_id): Path<String>,
) -> Response {
    match app
        .gateway
        .get::<Published>(
            &format!("/v1/units/{}/published-results", encode(&unit_id)),
            On::default(),
        )
        .await
    {
        Ok(r) => render(StatusCode::OK, &ResultsPage { frame, r }),
        Err(p) => refused(frame, &p),
    }
}
