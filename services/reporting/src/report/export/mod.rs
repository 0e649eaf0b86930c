//! The documents a report is exported as, rendered from its [`Snapshot`] only: JSON (the
//! snapshot itself), CSV (a row per unit), XLSX (a sheet per section) and DOCX (the
//! administrative report laid out per Decree 30/2020). Document metadata times are the
//! snapshot's "as of" time, so the same snapshot always gives the same bytes.

mod csv;
mod docx;
mod xlsx;

use super::Snapshot;

pub const FORMATS: &[&str] = &["json", "csv", "xlsx", "docx"];

/// Gateway paths of a report's exports.
pub fn export_paths(id: uuid::Uuid) -> Vec<String> {
    FORMATS
        .iter()
        .map(|f| format!("/v1/reports/{id}/export?format={f}"))
        .collect()
}

/// A rendered document.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub format: &'static str,
    pub content_type: &'static str,
    pub file_name: String,
    pub content: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("unknown format {0:?}; use one of json, csv, xlsx, docx")]
    UnknownFormat(String),
    #[error("rendering {format}: {message}")]
    Render {
        format: &'static str,
        message: String,
    },
}

fn failed(format: &'static str) -> impl Fn(String) -> ExportError {
    move |message| ExportError::Render { format, message }
}

/// "bao-cao-109-kh-sgddt-vp-2020-h1": an ASCII name any file system and mail client takes.
pub fn base_name(s: &Snapshot) -> String {
    let raw = format!("bao cao {} {}", s.plan.number_symbol, s.period.key);
    let folded = cchc_platform::text::fold(&raw);
    let mut out = String::new();
    for c in folded.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

pub fn render(s: &Snapshot, format: &str) -> Result<Rendered, ExportError> {
    let base = base_name(s);
    let (format, content_type, content): (&'static str, &'static str, Vec<u8>) = match format {
        "json" => (
            "json",
            "application/json",
            serde_json::to_vec_pretty(s).map_err(|e| failed("json")(e.to_string()))?,
        ),
        "csv" => (
            "csv",
            "text/csv; charset=utf-8",
            csv::render(s).map_err(failed("csv"))?,
        ),
        "xlsx" => (
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            xlsx::render(s).map_err(failed("xlsx"))?,
        ),
        "docx" => (
            "docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            docx::render(s).map_err(failed("docx"))?,
        ),
        other => return Err(ExportError::UnknownFormat(other.to_owned())),
    };
    Ok(Rendered {
        format,
        content_type,
        file_name: format!("{base}.{format}"),
        content,
    })
}

/// A rate in percent (one decimal) as a fraction for a cell formatted "0.0%": tenths
/// over 1000, so 90.6 is exactly the double nearest 0.906.
fn fraction(rate: Option<f64>) -> Option<f64> {
    rate.map(|r| (r * 10.0).round() / 1000.0)
}
