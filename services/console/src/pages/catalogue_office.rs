//! The Department Office's catalogue: finding a procedure to edit, starting a new one,
//! importing the office's spreadsheet (read as `cchc import` reads it, sent in batches
//! while the page shows how far it has got, then the report of every row) and
//! exporting the published catalogue.

use std::collections::BTreeMap;
use std::convert::Infallible;

use askama::Template;
use axum::Form;
use axum::body::Body;
use axum::extract::{Multipart, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::*;
use crate::App;
use crate::gateway::FieldError;
use crate::text::{self, Shown};

/// Rows sent to the gateway at once: the page moves on after each batch.
const BATCH: usize = 100;

/// What the catalogue page's fields are called.
const LABELS: &[(&str, &str)] = &[("code", "Mã thủ tục"), ("content.name", "Tên thủ tục")];

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct CatalogueQuery {
    q: String,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default)]
pub struct NewProcedure {
    csrf: String,
    code: String,
    name: String,
}

#[derive(Template)]
#[template(path = "catalogue_office.html")]
pub(crate) struct CataloguePage {
    frame: Frame,
    q: String,
    results: Vec<Summary>,
    total: u64,
    form: NewProcedure,
    errors: Vec<Shown>,
    notice: String,
    /// Where the import's progress and report go while the page is streamed.
    importing: bool,
}

impl FieldErrors for CataloguePage {
    fn errors(&self) -> &[Shown] {
        &self.errors
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Found {
    procedures: Vec<Summary>,
    total: u64,
}

async fn catalogue_page(
    app: &App,
    visit: &Visit,
    frame: Frame,
    status: StatusCode,
    q: String,
    form: NewProcedure,
    outcome: Outcome,
) -> Response {
    if !frame.is_office() {
        return forbidden(frame);
    }
    let path = format!(
        "/v1/procedures?{}",
        query_string(&[("q", q.trim()), ("limit", "50")])
    );
    let found: Found = app.gateway.get(&path, visit.on()).await.unwrap_or_default();
    render(
        status,
        &CataloguePage {
            frame,
            q,
            results: found.procedures,
            total: found.total,
            form,
            errors: outcome.errors,
            notice: outcome.notice,
            importing: false,
        },
    )
}

pub async fn office_catalogue(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Query(q): Query<CatalogueQuery>,
) -> Response {
    catalogue_page(
        &app,
        &visit,
        frame,
        StatusCode::OK,
        q.q,
        NewProcedure::default(),
        Outcome::default(),
    )
    .await
}

/// Starts a procedure with its code and name; the rest is filled on its draft page.
pub async fn new_procedure(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Form(f): Form<NewProcedure>,
) -> Response {
    let code = f.code.trim().to_owned();
    let body = json!({"code": code, "content": {"name": f.name.trim()}});
    match app
        .gateway
        .post::<Value>("/v1/procedures", visit.writing(&f.csrf), &body)
        .await
    {
        Ok(_) => Redirect::to(&format!("/van-phong/thu-tuc/{}", encode(&code))).into_response(),
        Err(p) if p.status == 401 => Redirect::to("/dang-nhap").into_response(),
        Err(p) => {
            let mut outcome = Outcome::refused_labelled(&p, LABELS, frame.lang);
            if p.status == 409 {
                outcome.notice = match frame.lang {
                    text::Lang::Vi => format!("Đã có thủ tục mã {code}."),
                    text::Lang::En => format!("There is already a procedure with code {code}."),
                };
            }
            let status = status_of(&p, StatusCode::BAD_REQUEST);
            catalogue_page(&app, &visit, frame, status, String::new(), f, outcome).await
        }
    }
}

/// The published catalogue as the gateway exports it (JSON, or CPSV-AP JSON-LD), or
/// as the workbook the import reads back, made here from the JSON.
pub async fn export_catalogue(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let format = match q.get("dinh-dang").map(String::as_str) {
        Some("jsonld") => "jsonld",
        Some("xlsx") => "xlsx",
        _ => "json",
    };
    if format == "xlsx" {
        let export: serde_json::Value = match app
            .gateway
            .get("/v1/catalogue/export?format=json", visit.on())
            .await
        {
            Ok(e) => e,
            Err(p) => return refused(frame, &p),
        };
        return match cchc_cli::sheet::catalogue_xlsx(&export) {
            Ok(bytes) => served(crate::gateway::Download {
                content_type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                    .into(),
                disposition: format!(
                    "attachment; filename=\"danh-muc-tthc-{}.xlsx\"",
                    text::today_date().format("%Y-%m-%d")
                ),
                bytes,
            }),
            Err(e) => {
                tracing::error!(error = %e, "catalogue workbook");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        };
    }
    match app
        .gateway
        .download(&format!("/v1/catalogue/export?format={format}"), visit.on())
        .await
    {
        Ok(d) => served(d),
        Err(p) => refused(frame, &p),
    }
}

/// One row of the import's report.
#[derive(Debug, Clone, Default)]
pub struct RowReport {
    pub row: u32,
    pub code: String,
    pub outcome: String,
    pub reasons: Vec<String>,
}

impl RowReport {
    pub fn outcome_text(&self, lang: &text::Lang) -> &str {
        outcome_text(&self.outcome, *lang)
    }
}

/// What became of a row of the import, in `lang`.
fn outcome_text(outcome: &str, lang: text::Lang) -> &str {
    match (lang, outcome) {
        (text::Lang::Vi, "created") => "Thêm mới (dự thảo)",
        (text::Lang::Vi, "updated") => "Cập nhật dự thảo",
        (text::Lang::Vi, "unchanged") => "Không thay đổi",
        (text::Lang::Vi, "rejected") => "Không nhập được",
        (text::Lang::En, "created") => "Added (draft)",
        (text::Lang::En, "updated") => "Draft updated",
        (text::Lang::En, "unchanged") => "Unchanged",
        (text::Lang::En, "rejected") => "Not imported",
        (_, other) => other,
    }
}

/// Why a cell of the sheet could not be read, in `lang`.
fn unreadable_in(u: &cchc_cli::sheet::Unreadable, lang: text::Lang) -> String {
    use cchc_cli::sheet::Unreadable;
    match (lang, u) {
        (text::Lang::Vi, _) => u.vietnamese(),
        (text::Lang::En, Unreadable::Level(cell)) => {
            format!("Level “{cell}” is not provincial, district or commune")
        }
        (text::Lang::En, Unreadable::Days(cell)) => {
            format!("Time limit “{cell}” has no number of days")
        }
        (text::Lang::En, Unreadable::Repeated(rows)) => {
            let rows: Vec<String> = rows.iter().map(u32::to_string).collect();
            format!("The procedure code is repeated in rows {}", rows.join(", "))
        }
    }
}

#[derive(Template)]
#[template(path = "import_report.html")]
struct ImportReport {
    lang: text::Lang,
    counts: Vec<(&'static str, usize)>,
    rows: Vec<RowReport>,
    problem: String,
}

/// Reads the uploaded spreadsheet and imports it in batches. The page is sent as it
/// goes: its top at once, a line per batch, then the report of every row in the order
/// of the file, so a long import shows its progress without any script.
pub async fn import_catalogue(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    mut form: Multipart,
) -> Response {
    if !frame.is_office() {
        return forbidden(frame);
    }
    let mut csrf = String::new();
    let mut file: Option<(String, Vec<u8>)> = None;
    while let Ok(Some(field)) = form.next_field().await {
        match field.name() {
            Some("csrf") => csrf = field.text().await.unwrap_or_default(),
            Some("file") => {
                let name = field.file_name().unwrap_or("").to_owned();
                if let Ok(bytes) = field.bytes().await {
                    file = Some((name, bytes.to_vec()));
                }
            }
            _ => {}
        }
    }
    let refuse = |message: &str| Outcome {
        errors: vec![Shown {
            field: "file".into(),
            message: message.into(),
        }],
        ..Outcome::default()
    };
    let Some((name, bytes)) = file.filter(|(n, b)| !n.is_empty() && !b.is_empty()) else {
        let outcome = refuse(frame.t(
            "Hãy chọn tệp danh mục (.xlsx hoặc .csv)",
            "Choose a catalogue file (.xlsx or .csv)",
        ));
        return catalogue_page(
            &app,
            &visit,
            frame,
            StatusCode::BAD_REQUEST,
            String::new(),
            NewProcedure::default(),
            outcome,
        )
        .await;
    };
    let sheet = cchc_cli::sheet::read_bytes(&name, &bytes)
        .map_err(|_| {
            frame.t(
                "Không đọc được tệp: hãy dùng bảng tính .xlsx hoặc tệp .csv (UTF-8)",
                "The file cannot be read: use an .xlsx spreadsheet or a .csv file (UTF-8)",
            )
        })
        .and_then(|s| {
            cchc_cli::sheet::import_rows(&s).map_err(|_| {
                frame.t(
                    "Bảng tính cần có cột “Mã thủ tục” và “Tên thủ tục” ở dòng đầu",
                    "The spreadsheet needs the columns “Mã thủ tục” (Code) and “Tên thủ tục” (Name) in its first row",
                )
            })
        });
    let (rows, unreadable) = match sheet {
        Ok(r) => r,
        Err(message) => {
            return catalogue_page(
                &app,
                &visit,
                frame,
                StatusCode::BAD_REQUEST,
                String::new(),
                NewProcedure::default(),
                refuse(message),
            )
            .await;
        }
    };
    // The page is streamed once begun, so a form without its token is refused before
    // (the gateway refuses each batch too).
    if csrf.is_empty() || csrf != frame.csrf {
        return forbidden(frame);
    }
    let lang = frame.lang;
    // The page, cut where the progress goes.
    let page = CataloguePage {
        frame,
        q: String::new(),
        results: Vec::new(),
        total: 0,
        form: NewProcedure::default(),
        errors: Vec::new(),
        notice: String::new(),
        importing: true,
    }
    .render()
    .unwrap_or_default();
    let (head, tail) = match page.split_once(PROGRESS) {
        Some((h, t)) => (h.to_owned(), t.to_owned()),
        None => (page, String::new()),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<String>(4);
    tokio::spawn(async move {
        let total = rows.len();
        let mut report: Vec<RowReport> = unreadable
            .iter()
            .map(|e| RowReport {
                row: e.row,
                code: e.code.clone(),
                outcome: "rejected".into(),
                reasons: e.problems.iter().map(|p| unreadable_in(p, lang)).collect(),
            })
            .collect();
        let _ = tx.send(head).await;
        let mut problem = String::new();
        for (i, chunk) in rows.chunks(BATCH).enumerate() {
            let answer = app
                .gateway
                .post::<Value>(
                    "/v1/procedures/import",
                    visit.writing(&csrf),
                    &json!({ "rows": chunk }),
                )
                .await;
            match answer {
                Ok(a) => report.extend(row_reports(&a, lang)),
                Err(p) => {
                    problem = text::problem_in(&p, lang);
                    break;
                }
            }
            let done = ((i + 1) * BATCH).min(total);
            let (d, t) = (text::number(&(done as i64)), text::number(&(total as i64)));
            let line = match lang {
                text::Lang::Vi => format!("<li>Đã xử lý {d} / {t} dòng</li>\n"),
                text::Lang::En => format!("<li>Processed {d} of {t} rows</li>\n"),
            };
            if tx.send(line).await.is_err() {
                return;
            }
        }
        report.sort_by_key(|r| r.row);
        let count = |o: &str| report.iter().filter(|r| r.outcome == o).count();
        let counts = ["created", "updated", "unchanged", "rejected"]
            .into_iter()
            .map(|o| (outcome_text(o, lang), count(o)))
            .collect();
        let summary = ImportReport {
            lang,
            counts,
            rows: report,
            problem,
        }
        .render()
        .unwrap_or_default();
        let _ = tx.send(summary).await;
        let _ = tx.send(tail).await;
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, Infallible>(chunk), rx))
    });
    let mut res = Body::from_stream(stream).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    res
}

/// The marker in the catalogue page where an import's progress is streamed.
pub(crate) const PROGRESS: &str = "<!--progress-->";

/// The gateway's results of one batch, each row's reasons in the page's language.
fn row_reports(answer: &Value, lang: text::Lang) -> Vec<RowReport> {
    answer["results"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let errors: Vec<FieldError> =
                serde_json::from_value(r["errors"].clone()).unwrap_or_default();
            let outcome = r["outcome"].as_str().unwrap_or("").to_owned();
            let mut reasons: Vec<String> = errors
                .iter()
                .map(|e| text::field_error(e, lang).message)
                .collect();
            // An update names the parts it changed: the others were kept as they were.
            if outcome == "updated" {
                let parts: Vec<String> = r["changes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c["field"].as_str())
                    .map(|f| text::content_part(f, lang))
                    .collect();
                reasons.push(format!(
                    "{} {}",
                    lang.t("Đã thay đổi:", "Changed:"),
                    parts.join(", ")
                ));
            }
            RowReport {
                row: r["row"].as_u64().unwrap_or(0) as u32,
                code: r["code"].as_str().unwrap_or("").to_owned(),
                outcome,
                reasons,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(lang: text::Lang) -> String {
        CataloguePage {
            frame: Frame::nobody(lang),
            q: "bản sao".into(),
            results: Vec::new(),
            total: 2,
            form: NewProcedure::default(),
            errors: Vec::new(),
            notice: String::new(),
            importing: false,
        }
        .render()
        .unwrap()
    }

    #[test]
    fn the_catalogue_and_its_import_in_either_language() {
        let vi = page(text::Lang::Vi);
        assert!(
            vi.contains("<p>2 thủ tục đang hiệu lực khớp với “bản sao”.</p>"),
            "{vi}"
        );
        let en = page(text::Lang::En);
        for said in [
            "<h1>Catalogue of administrative procedures</h1>",
            "<p>2 procedures in force matching “bản sao”.</p>",
            "<h2>Add a procedure</h2>",
            "Create draft",
            "Import catalogue",
        ] {
            assert!(en.contains(said), "{said}: {en}");
        }
        let report = ImportReport {
            lang: text::Lang::En,
            counts: vec![(outcome_text("created", text::Lang::En), 2)],
            rows: vec![RowReport {
                row: 3,
                code: "1.008952.H19".into(),
                outcome: "rejected".into(),
                reasons: vec![unreadable_in(
                    &cchc_cli::sheet::Unreadable::Level("Cấp trung ương".into()),
                    text::Lang::En,
                )],
            }],
            problem: String::new(),
        }
        .render()
        .unwrap();
        for said in [
            "<li>Added (draft): 2</li>",
            "Not imported",
            "Level “Cấp trung ương” is not provincial, district or commune",
        ] {
            assert!(report.contains(said), "{said}: {report}");
        }
    }
}
