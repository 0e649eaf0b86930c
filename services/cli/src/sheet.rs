//! Reading the Department's procedure lists (XLSX or CSV, one row per procedure) into
//! import rows. Headers are matched ignoring diacritics and case, in Vietnamese or
//! English; multi-valued cells are split on new lines or semicolons.

use std::path::Path;

use anyhow::Context;
use cchc_proto::catalogue::v1::{DossierComponent, Fee, ImportRow, ProcedureContent};
use cchc_text::fold;

/// A header row and the data rows (with their 1-based row numbers in the file).
pub struct Sheet {
    pub headers: Vec<String>,
    pub rows: Vec<(u32, Vec<String>)>,
}

pub fn read(path: &Path) -> anyhow::Result<Sheet> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "csv" => read_csv(path),
        "xlsx" | "xlsm" | "xls" | "ods" => read_workbook(path),
        _ => anyhow::bail!("{} is neither .csv nor .xlsx", path.display()),
    }
}

/// Reads a file sent by name and content (an upload): CSV by its name, else a workbook.
pub fn read_bytes(name: &str, bytes: &[u8]) -> anyhow::Result<Sheet> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".csv") {
        read_csv_from(bytes)
    } else if [".xlsx", ".xlsm", ".xls", ".ods"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        let wb = calamine::open_workbook_auto_from_rs(std::io::Cursor::new(bytes))
            .with_context(|| format!("opening {name}"))?;
        workbook_sheet(wb, name)
    } else {
        anyhow::bail!("{name} is neither .csv nor .xlsx")
    }
}

fn read_csv(path: &Path) -> anyhow::Result<Sheet> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    read_csv_from(file).with_context(|| format!("reading {}", path.display()))
}

/// Reads CSV (first row: headers) from any source; what the fuzz target drives too.
pub fn read_csv_from(source: impl std::io::Read) -> anyhow::Result<Sheet> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(source);
    let mut records = reader.records();
    let headers: Vec<String> = match records.next() {
        Some(r) => r?
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}').to_owned())
            .collect(),
        None => anyhow::bail!("the file is empty"),
    };
    let mut rows = Vec::new();
    for (i, r) in records.enumerate() {
        let r = r.with_context(|| format!("row {}", i + 2))?;
        rows.push((i as u32 + 2, r.iter().map(str::to_owned).collect()));
    }
    Ok(Sheet { headers, rows })
}

fn read_workbook(path: &Path) -> anyhow::Result<Sheet> {
    let wb = calamine::open_workbook_auto(path)
        .with_context(|| format!("opening {}", path.display()))?;
    workbook_sheet(wb, &path.display().to_string())
}

fn workbook_sheet<R: std::io::Read + std::io::Seek>(
    mut wb: calamine::Sheets<R>,
    name: &str,
) -> anyhow::Result<Sheet> {
    use calamine::Reader;
    let range = wb
        .worksheet_range_at(0)
        .ok_or_else(|| anyhow::anyhow!("{name} has no sheet"))??;
    let start = range.start().map_or(0, |(r, _)| r);
    let mut it = range.rows();
    let headers: Vec<String> = it
        .next()
        .ok_or_else(|| anyhow::anyhow!("{name} has an empty first sheet"))?
        .iter()
        .map(|c| c.to_string())
        .collect();
    let rows = it
        .enumerate()
        .map(|(i, r)| {
            (
                start + i as u32 + 2,
                r.iter().map(|c| c.to_string()).collect(),
            )
        })
        .collect();
    Ok(Sheet { headers, rows })
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Column {
    Code,
    Name,
    Level,
    Field,
    Agency,
    Days,
    Applicants,
    Steps,
    Channels,
    Dossier,
    Result,
    Requirements,
    Fees,
    Forms,
    LegalBasis,
    Keywords,
}

/// Folded header names for each column.
const NAMES: &[(Column, &[&str])] = &[
    (
        Column::Code,
        &["ma", "ma thu tuc", "ma tthc", "ma so", "code"],
    ),
    (Column::Name, &["ten", "ten thu tuc", "ten tthc", "name"]),
    (Column::Level, &["cap", "cap thuc hien", "level"]),
    (Column::Field, &["linh vuc", "field"]),
    (
        Column::Agency,
        &[
            "co quan thuc hien",
            "co quan",
            "implementing agency",
            "agency",
        ],
    ),
    (
        Column::Days,
        &[
            "thoi han giai quyet",
            "thoi han",
            "processing days",
            "processing time",
        ],
    ),
    (
        Column::Applicants,
        &["doi tuong thuc hien", "doi tuong", "applicants"],
    ),
    (Column::Steps, &["trinh tu thuc hien", "trinh tu", "steps"]),
    (
        Column::Channels,
        &[
            "cach thuc thuc hien",
            "cach thuc",
            "channels",
            "submission channels",
        ],
    ),
    (Column::Dossier, &["thanh phan ho so", "ho so", "dossier"]),
    (Column::Result, &["ket qua", "ket qua thuc hien", "result"]),
    (
        Column::Requirements,
        &["yeu cau dieu kien", "yeu cau", "dieu kien", "requirements"],
    ),
    (Column::Fees, &["phi le phi", "phi", "le phi", "fees"]),
    (Column::Forms, &["mau don to khai", "mau don", "forms"]),
    (Column::LegalBasis, &["can cu phap ly", "legal basis"]),
    (Column::Keywords, &["tu khoa", "keywords"]),
];

fn column_of(header: &str) -> Option<Column> {
    let h = fold(header);
    NAMES
        .iter()
        .find(|(_, names)| names.contains(&h.as_str()))
        .map(|(c, _)| *c)
}

fn list(cell: &str) -> Vec<String> {
    cell.split(['\n', ';'])
        .map(|s| {
            s.trim()
                .trim_start_matches(['-', '+', '•'])
                .trim()
                .to_owned()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

fn level(cell: &str) -> Result<String, Unreadable> {
    let f = fold(cell);
    Ok(match f.as_str() {
        "" => String::new(),
        _ if f.contains("tinh") || f == "province" => "province".into(),
        _ if f.contains("huyen") || f == "district" => "district".into(),
        _ if f.contains("xa") || f == "commune" => "commune".into(),
        _ => return Err(Unreadable::Level(cell.to_owned())),
    })
}

fn channels(cell: &str) -> Vec<String> {
    let f = fold(cell);
    let mut out = Vec::new();
    for (needles, ch) in [
        (["truc tiep", "in person"], "in_person"),
        (["truc tuyen", "online"], "online"),
        (["buu chinh", "post"], "post"),
    ] {
        if needles.iter().any(|n| f.contains(n)) {
            out.push(ch.to_owned());
        }
    }
    out
}

/// The first whole number in a cell, ignoring thousands separators ("20.000 đồng").
fn first_number(cell: &str) -> Option<i64> {
    let digits: String = cell
        .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .find(|s| s.chars().any(|c| c.is_ascii_digit()))?
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn fees(cell: &str) -> Vec<Fee> {
    list(cell)
        .into_iter()
        .filter_map(|item| {
            let amount = first_number(&item)?;
            let ch = channels(&item)
                .into_iter()
                .next()
                .unwrap_or_else(|| "in_person".into());
            Some(Fee {
                channel: ch,
                amount_vnd: amount,
                note: item,
            })
        })
        .collect()
}

/// Why a cell could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    /// A level that is none of tỉnh, huyện, xã.
    Level(String),
    /// A processing time without a number of days.
    Days(String),
}

impl Unreadable {
    pub fn english(&self) -> String {
        match self {
            Unreadable::Level(cell) => format!("{cell:?} is not a level (tỉnh, xã, huyện)"),
            Unreadable::Days(cell) => format!("processing time {cell:?} has no number of days"),
        }
    }

    pub fn vietnamese(&self) -> String {
        match self {
            Unreadable::Level(cell) => {
                format!("Cấp thực hiện “{cell}” không phải cấp tỉnh, cấp huyện hay cấp xã")
            }
            Unreadable::Days(cell) => {
                format!("Thời hạn giải quyết “{cell}” không có số ngày")
            }
        }
    }
}

/// A row that could not be read, with the reasons.
#[derive(Debug)]
pub struct RowError {
    pub row: u32,
    pub code: String,
    pub problems: Vec<Unreadable>,
}

impl RowError {
    pub fn english(&self) -> String {
        let all: Vec<String> = self.problems.iter().map(Unreadable::english).collect();
        all.join("; ")
    }
}

/// Turns sheet rows into import rows; rows that cannot be read are reported, not sent.
pub fn import_rows(sheet: &Sheet) -> anyhow::Result<(Vec<ImportRow>, Vec<RowError>)> {
    let columns: Vec<Option<Column>> = sheet.headers.iter().map(|h| column_of(h)).collect();
    for needed in [Column::Code, Column::Name] {
        if !columns.contains(&Some(needed)) {
            anyhow::bail!(
                "the sheet has no {needed:?} column (headers: {})",
                sheet.headers.join(", ")
            );
        }
    }
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (number, cells) in &sheet.rows {
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let mut code = String::new();
        let mut c = ProcedureContent::default();
        let mut problems = Vec::new();
        for (col, cell) in columns.iter().zip(cells) {
            let cell = cell.trim();
            match col {
                Some(Column::Code) => code = cell.to_owned(),
                Some(Column::Name) => c.name = cell.to_owned(),
                Some(Column::Level) => match level(cell) {
                    Ok(l) => c.level = l,
                    Err(e) => problems.push(e),
                },
                Some(Column::Field) => c.field = cell.to_owned(),
                Some(Column::Agency) => c.implementing_agency = cell.to_owned(),
                Some(Column::Days) if !cell.is_empty() => match first_number(cell) {
                    Some(d) if d <= u32::MAX as i64 => c.processing_days = d as u32,
                    _ => problems.push(Unreadable::Days(cell.to_owned())),
                },
                Some(Column::Applicants) => c.applicants = list(cell),
                Some(Column::Steps) => c.steps = list(cell),
                Some(Column::Channels) => c.submission_channels = channels(cell),
                Some(Column::Dossier) => {
                    c.dossier = list(cell)
                        .into_iter()
                        .map(|name| DossierComponent {
                            name,
                            originals: 1,
                            required: true,
                            ..Default::default()
                        })
                        .collect()
                }
                Some(Column::Result) => c.result = cell.to_owned(),
                Some(Column::Requirements) => c.requirements = list(cell),
                Some(Column::Fees) => c.fees = fees(cell),
                Some(Column::Forms) => c.forms = list(cell),
                Some(Column::LegalBasis) => c.legal_basis = list(cell),
                Some(Column::Keywords) => c.keywords = list(cell),
                _ => {}
            }
        }
        if problems.is_empty() {
            rows.push(ImportRow {
                row: *number,
                code,
                content: Some(c),
            });
        } else {
            errors.push(RowError {
                row: *number,
                code,
                problems,
            });
        }
    }
    Ok((rows, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet(headers: &[&str], rows: &[&[&str]]) -> Sheet {
        Sheet {
            headers: headers.iter().map(|s| s.to_string()).collect(),
            rows: rows
                .iter()
                .enumerate()
                .map(|(i, r)| (i as u32 + 2, r.iter().map(|s| s.to_string()).collect()))
                .collect(),
        }
    }

    #[test]
    fn reads_vietnamese_headers_and_cells() {
        let s = sheet(
            &[
                "Mã thủ tục",
                "Tên thủ tục",
                "Cấp thực hiện",
                "Thời hạn giải quyết",
                "Cách thức thực hiện",
                "Phí, lệ phí",
                "Thành phần hồ sơ",
            ],
            &[&[
                "1.012753.H19",
                "Cấp bản sao văn bằng",
                "Cấp tỉnh",
                "05 ngày làm việc",
                "Trực tiếp; Trực tuyến",
                "Trực tuyến: 20.000 đồng",
                "- Đơn đề nghị\n- Bản sao CCCD",
            ]],
        );
        let (rows, errors) = import_rows(&s).unwrap();
        assert!(errors.is_empty());
        let c = rows[0].content.clone().unwrap();
        assert_eq!(rows[0].code, "1.012753.H19");
        assert_eq!(c.level, "province");
        assert_eq!(c.processing_days, 5);
        assert_eq!(c.submission_channels, ["in_person", "online"]);
        assert_eq!(c.fees[0].amount_vnd, 20_000);
        assert_eq!(c.fees[0].channel, "online");
        assert_eq!(
            c.dossier
                .iter()
                .map(|d| d.name.as_str())
                .collect::<Vec<_>>(),
            ["Đơn đề nghị", "Bản sao CCCD"]
        );
    }

    #[test]
    fn bad_cells_are_row_errors_and_missing_columns_are_refused() {
        let s = sheet(
            &["code", "name", "level"],
            &[
                &["1.000001.H19", "A", "liên bang"],
                &["1.000002.H19", "B", "xã"],
                &["", "", ""],
            ],
        );
        let (rows, errors) = import_rows(&s).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].row, 2);
        assert!(import_rows(&sheet(&["name"], &[])).is_err());
    }
}
