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
                outcome.notice = format!("Đã có thủ tục mã {code}.");
            }
            let status = status_of(&p, StatusCode::BAD_REQUEST);
            catalogue_page(&app, &visit, frame, status, String::new(), f, outcome).await
        }
    }
}

/// The published catalogue as the gateway exports it (JSON, or CPSV-AP JSON-LD).
pub async fn export_catalogue(
    State(app): State<App>,
    Staff { visit, frame }: Staff,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let format = match q.get("dinh-dang").map(String::as_str) {
        Some("jsonld") => "jsonld",
        _ => "json",
    };
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
    pub fn outcome_text(&self) -> &str {
        match self.outcome.as_str() {
            "created" => "Thêm mới (dự thảo)",
            "updated" => "Cập nhật dự thảo",
            "unchanged" => "Không thay đổi",
            "rejected" => "Không nhập được",
            other => other,
        }
    }
}

#[derive(Template)]
#[template(path = "import_report.html")]
struct ImportReport {
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
        let outcome = refuse("Hãy chọn tệp danh mục (.xlsx hoặc .csv)");
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
        .map_err(|_| "Không đọc được tệp: hãy dùng bảng tính .xlsx hoặc tệp .csv (UTF-8)")
        .and_then(|s| {
            cchc_cli::sheet::import_rows(&s)
                .map_err(|_| "Bảng tính cần có cột “Mã thủ tục” và “Tên thủ tục” ở dòng đầu")
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
                reasons: e.problems.iter().map(|p| p.vietnamese()).collect(),
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
                    problem = text::problem(&p);
                    break;
                }
            }
            let done = ((i + 1) * BATCH).min(total);
            let line = format!(
                "<li>Đã xử lý {} / {} dòng</li>\n",
                text::number(&(done as i64)),
                text::number(&(total as i64))
            );
            if tx.send(line).await.is_err() {
                return;
            }
        }
        report.sort_by_key(|r| r.row);
        let count = |o: &str| report.iter().filter(|r| r.outcome == o).count();
        let counts = vec![
            ("Thêm mới (dự thảo)", count("created")),
            ("Cập nhật dự thảo", count("updated")),
            ("Không thay đổi", count("unchanged")),
            ("Không nhập được", count("rejected")),
        ];
        let summary = ImportReport {
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
            RowReport {
                row: r["row"].as_u64().unwrap_or(0) as u32,
                code: r["code"].as_str().unwrap_or("").to_owned(),
                outcome: r["outcome"].as_str().unwrap_or("").to_owned(),
                reasons: errors
                    .iter()
                    .map(|e| text::field_error(e, lang).message)
                    .collect(),
            }
        })
        .collect()
}
