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

/// Reads a spreadsheet file: CSV by its extension, else a workbook (XLSX, XLS, ODS).
pub fn read(path: &Path) -> anyhow::Result<Sheet> {
    // Opened here, once: a missing file is said once, not in every layer's words.
    let bytes = std::fs::read(path).with_context(|| format!("opening {}", path.display()))?;
    read_bytes(&path.display().to_string(), &bytes)
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

/// Reads CSV from any source (what the fuzz target drives too): separated by commas,
/// semicolons (what a spreadsheet on a Vietnamese Windows writes) or tabs, whichever
/// gives the header row most known columns; the header row may sit below title rows.
pub fn read_csv_from(mut source: impl std::io::Read) -> anyhow::Result<Sheet> {
    let mut bytes = Vec::new();
    source.read_to_end(&mut bytes)?;
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&bytes);
    let mut best: Option<(usize, Sheet)> = None;
    for sep in [b',', b';', b'\t'] {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(sep)
            .from_reader(bytes);
        let mut all = Vec::new();
        let mut failed = None;
        for (i, r) in reader.records().enumerate() {
            match r {
                Ok(r) => all.push((i as u32 + 1, r.iter().map(str::to_owned).collect())),
                Err(e) => {
                    failed = Some(anyhow::Error::new(e).context(format!("row {}", i + 1)));
                    break;
                }
            }
        }
        if all.is_empty() && failed.is_none() {
            anyhow::bail!("the file is empty");
        }
        let sheet = match failed {
            Some(e) if sep == b',' && best.is_none() => return Err(e),
            Some(_) => continue,
            None => with_header(all),
        };
        let known = known_columns(&sheet.headers);
        if best.as_ref().is_none_or(|(k, _)| known > *k) {
            best = Some((known, sheet));
        }
    }
    best.map(|(_, s)| s)
        .ok_or_else(|| anyhow::anyhow!("the file is empty"))
}

/// How many of `headers` name a column import knows.
fn known_columns(headers: &[String]) -> usize {
    headers.iter().filter(|h| column_of(h).is_some()).count()
}

/// Rows looked at for the header row: a sheet may open with the issuing body, a title
/// and a date before it.
const HEADER_SEARCH: usize = 30;

/// The sheet of `rows` (each with its 1-based number in the file): the header row is
/// the first of the top ones that names both the code and the name columns (else the
/// first row), the rows below it are the data.
fn with_header(mut rows: Vec<(u32, Vec<String>)>) -> Sheet {
    let names = |cells: &[String]| {
        let cols: Vec<Option<Column>> = cells.iter().map(|h| column_of(h)).collect();
        cols.contains(&Some(Column::Code)) && cols.contains(&Some(Column::Name))
    };
    let at = rows
        .iter()
        .take(HEADER_SEARCH)
        .position(|(_, cells)| names(cells))
        .unwrap_or(0);
    let mut rest = rows.split_off(at);
    if rest.is_empty() {
        return Sheet {
            headers: Vec::new(),
            rows: Vec::new(),
        };
    }
    let (_, headers) = rest.remove(0);
    Sheet {
        headers: headers.into_iter().map(|h| h.trim().to_owned()).collect(),
        rows: rest,
    }
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
    let rows: Vec<(u32, Vec<String>)> = range
        .rows()
        .enumerate()
        .map(|(i, r)| {
            (
                start + i as u32 + 1,
                r.iter().map(|c| c.to_string()).collect(),
            )
        })
        .collect();
    if rows.is_empty() {
        anyhow::bail!("{name} has an empty first sheet");
    }
    Ok(with_header(rows))
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

impl Column {
    /// The part of a procedure's content the column holds (ProcedureContent's JSON
    /// name); the code is no part.
    fn part(self) -> Option<&'static str> {
        Some(match self {
            Column::Code => return None,
            Column::Name => "name",
            Column::Level => "level",
            Column::Field => "field",
            Column::Agency => "implementing_agency",
            Column::Days => "processing_days",
            Column::Applicants => "applicants",
            Column::Steps => "steps",
            Column::Channels => "submission_channels",
            Column::Dossier => "dossier",
            Column::Result => "result",
            Column::Requirements => "requirements",
            Column::Fees => "fees",
            Column::Forms => "forms",
            Column::LegalBasis => "legal_basis",
            Column::Keywords => "keywords",
        })
    }
}

fn column_of(header: &str) -> Option<Column> {
    let h = fold(header);
    NAMES
        .iter()
        .find(|(_, names)| names.contains(&h.as_str()))
        .map(|(c, _)| *c)
}

/// A list cell's items: one per line, or, in a cell of one line, separated by
/// semicolons (so an item may hold a semicolon when the items go one per line, as the
/// export writes them).
fn list(cell: &str) -> Vec<String> {
    let by: &[char] = if cell.contains('\n') { &['\n'] } else { &[';'] };
    cell.split(by)
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

/// The ways to submit a cell names, in the cell's order.
fn channels(cell: &str) -> Vec<String> {
    let f = fold(cell);
    let mut found: Vec<(usize, &str)> = CHANNEL_NAMES
        .iter()
        .filter_map(|(ch, needles)| {
            let at = needles.iter().filter_map(|n| f.find(n)).min()?;
            Some((at, *ch))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, ch)| ch.to_owned()).collect()
}

/// Each way to submit, by the words a sheet names it with (folded); the first is how
/// the export writes it.
const CHANNEL_NAMES: &[(&str, &[&str])] = &[
    ("in_person", &["truc tiep", "in person"]),
    ("online", &["truc tuyen", "online"]),
    ("post", &["buu chinh", "post"]),
];

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

/// The columns the catalogue is exported with, in order, under the first name import
/// reads them by: what the export writes, the import reads back unchanged.
const EXPORTED: &[(Column, &str, f64)] = &[
    (Column::Code, "Mã thủ tục", 16.0),
    (Column::Name, "Tên thủ tục", 40.0),
    (Column::Level, "Cấp thực hiện", 12.0),
    (Column::Field, "Lĩnh vực", 20.0),
    (Column::Agency, "Cơ quan thực hiện", 24.0),
    (Column::Applicants, "Đối tượng thực hiện", 24.0),
    (Column::Steps, "Trình tự thực hiện", 48.0),
    (Column::Channels, "Cách thức thực hiện", 16.0),
    (Column::Dossier, "Thành phần hồ sơ", 40.0),
    (Column::Days, "Thời hạn giải quyết", 12.0),
    (Column::Fees, "Phí, lệ phí", 24.0),
    (Column::Result, "Kết quả thực hiện", 24.0),
    (Column::Requirements, "Yêu cầu, điều kiện", 32.0),
    (Column::Forms, "Mẫu đơn, tờ khai", 24.0),
    (Column::LegalBasis, "Căn cứ pháp lý", 40.0),
    (Column::Keywords, "Từ khóa", 20.0),
];

/// A procedure as the catalogue's export has it (other fields are not needed here).
#[derive(serde::Deserialize)]
struct Exported {
    code: String,
    #[serde(default)]
    content: ProcedureContent,
}

/// A fee as a sheet's cell says it: its note when the note reads back as the same way
/// and amount, else the way and the amount in words ("Trực tuyến: 20.000 đồng").
fn fee_text(f: &Fee) -> String {
    let reads_back = fees(&f.note)
        .first()
        .is_some_and(|r| r.channel == f.channel && r.amount_vnd == f.amount_vnd);
    if reads_back && !f.note.contains(['\n', ';']) {
        f.note.clone()
    } else {
        format!(
            "{}: {} đồng",
            channel_label(&f.channel),
            cchc_text::number_vi(f.amount_vnd)
        )
    }
}

fn channel_label(ch: &str) -> &str {
    match ch {
        "in_person" => "Trực tiếp",
        "online" => "Trực tuyến",
        "post" => "Bưu chính",
        other => other,
    }
}

fn level_label(level: &str) -> &str {
    match level {
        "province" => "Cấp tỉnh",
        "district" => "Cấp huyện",
        "commune" => "Cấp xã",
        other => other,
    }
}

/// The cell of `column` for a procedure, as text; the time limit is a number apart.
fn cell(column: Column, code: &str, c: &ProcedureContent) -> String {
    let lines = |items: &[String]| items.join("\n");
    match column {
        Column::Code => code.to_owned(),
        Column::Name => c.name.clone(),
        Column::Level => level_label(&c.level).to_owned(),
        Column::Field => c.field.clone(),
        Column::Agency => c.implementing_agency.clone(),
        Column::Applicants => lines(&c.applicants),
        Column::Steps => lines(&c.steps),
        Column::Channels => c
            .submission_channels
            .iter()
            .map(|ch| channel_label(ch))
            .collect::<Vec<_>>()
            .join("; "),
        Column::Dossier => c
            .dossier
            .iter()
            .map(|d| d.name.clone())
            .collect::<Vec<_>>()
            .join("\n"),
        Column::Days => String::new(),
        Column::Fees => c.fees.iter().map(fee_text).collect::<Vec<_>>().join("\n"),
        Column::Result => c.result.clone(),
        Column::Requirements => lines(&c.requirements),
        Column::Forms => lines(&c.forms),
        Column::LegalBasis => lines(&c.legal_basis),
        Column::Keywords => lines(&c.keywords),
    }
}

/// The published catalogue, as the gateway's JSON export gives it
/// (`{"procedures": [...]}`), as a workbook the office works in and imports back: one
/// row per procedure, lists one item per line, the time limit in working days as a
/// number. A dossier component's copies and a fee's note do not fit a cell; importing
/// the file back keeps them (see the import's help).
pub fn catalogue_xlsx(export: &serde_json::Value) -> anyhow::Result<Vec<u8>> {
    use rust_xlsxwriter::{Format, FormatBorder, Workbook};
    let procedures: Vec<Exported> = serde_json::from_value(export["procedures"].clone())
        .context("reading the catalogue's export")?;
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("Danh mục TTHC")?;
    let title = Format::new().set_bold().set_font_size(13);
    let header = Format::new()
        .set_bold()
        .set_text_wrap()
        .set_border(FormatBorder::Thin)
        .set_background_color("D9E2F3");
    let wrap = Format::new()
        .set_text_wrap()
        .set_border(FormatBorder::Thin)
        .set_align(rust_xlsxwriter::FormatAlign::Top);
    ws.write_string_with_format(0, 0, "DANH MỤC THỦ TỤC HÀNH CHÍNH ĐANG CÔNG BỐ", &title)?;
    ws.write_string(
        1,
        0,
        format!(
            "{} thủ tục. Sửa các cột rồi nhập lại tệp này: thủ tục đã có chỉ thay đổi ở các cột có trong tệp.",
            procedures.len()
        ),
    )?;
    const HEADER: u32 = 3;
    for (i, (_, name, width)) in EXPORTED.iter().enumerate() {
        let col = i as u16;
        ws.write_string_with_format(HEADER, col, *name, &header)?;
        ws.set_column_width(col, *width)?;
    }
    for (r, p) in procedures.iter().enumerate() {
        let row = HEADER + 1 + r as u32;
        for (i, (column, _, _)) in EXPORTED.iter().enumerate() {
            let col = i as u16;
            match (column, p.content.processing_days) {
                (Column::Days, Some(days)) => {
                    ws.write_number_with_format(row, col, days, &wrap)?;
                }
                _ => {
                    ws.write_string_with_format(
                        row,
                        col,
                        cell(*column, &p.code, &p.content),
                        &wrap,
                    )?;
                }
            }
        }
    }
    let last_row = HEADER + procedures.len() as u32;
    ws.set_freeze_panes(HEADER + 1, 2)?;
    ws.autofilter(HEADER, 0, last_row, EXPORTED.len() as u16 - 1)?;
    ws.set_landscape();
    ws.set_paper_size(9);
    ws.set_repeat_rows(HEADER, HEADER)?;
    ws.set_footer("&CTrang &P / &N");
    Ok(wb.save_to_buffer()?)
}

/// Why a cell could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    /// A level that is none of tỉnh, huyện, xã.
    Level(String),
    /// A processing time without a number of days.
    Days(String),
    /// A code the file gives to more than one row: every such row, by their numbers.
    Repeated(Vec<u32>),
}

impl Unreadable {
    pub fn english(&self) -> String {
        match self {
            Unreadable::Level(cell) => format!("{cell:?} is not a level (tỉnh, xã, huyện)"),
            Unreadable::Days(cell) => format!("processing time {cell:?} has no number of days"),
            Unreadable::Repeated(rows) => format!("the code is repeated in rows {}", joined(rows)),
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
            Unreadable::Repeated(rows) => {
                format!("Mã thủ tục bị lặp lại ở các dòng {}", joined(rows))
            }
        }
    }
}

fn joined(rows: &[u32]) -> String {
    rows.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A time limit as the Department writes it, in working days: "05 ngày làm việc" is 5,
/// "0,5 ngày" (or "0.5") half a day, "Trong ngày" the same day (0), "04 giờ làm việc"
/// half a day (eight working hours to a day). An empty cell is no time limit at all,
/// not 0. A comma or a point is always the decimal separator: a time limit is at most
/// 365 days, so "1.125" is a day and an hour, never a thousand and more.
pub fn days(cell: &str) -> Result<Option<f64>, Unreadable> {
    let folded = fold(cell);
    if folded.trim().is_empty() {
        return Ok(None);
    }
    let Some(number) = decimal(cell) else {
        return if folded.contains("trong ngay") {
            Ok(Some(0.0))
        } else {
            Err(Unreadable::Days(cell.to_owned()))
        };
    };
    let hours = folded.contains("gio") && !folded.contains("ngay");
    Ok(Some(if hours { number / 8.0 } else { number }))
}

/// The first number in a cell, with a decimal comma or point.
fn decimal(cell: &str) -> Option<f64> {
    let token = cell
        .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .find(|s| s.starts_with(|c: char| c.is_ascii_digit()))?
        .trim_end_matches([',', '.']);
    let (whole, part) = match token.split_once([',', '.']) {
        Some((w, p)) => (w.to_owned(), p.replace([',', '.'], "")),
        None => (token.to_owned(), String::new()),
    };
    format!("{whole}.{part}0").parse().ok()
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
    // The parts the file has: an existing draft keeps the others.
    let mut parts: Vec<String> = Vec::new();
    for part in columns.iter().flatten().filter_map(|c| c.part()) {
        if !parts.iter().any(|p| p == part) {
            parts.push(part.to_owned());
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
                Some(Column::Days) => match days(cell) {
                    Ok(d) => c.processing_days = d,
                    Err(e) => problems.push(e),
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
                columns: parts.clone(),
            });
        } else {
            errors.push(RowError {
                row: *number,
                code,
                problems,
            });
        }
    }
    // A code given to two rows would make one overwrite the other: all of them are
    // refused, each naming the others.
    let mut rows_of: std::collections::HashMap<String, Vec<u32>> = Default::default();
    for (row, code) in rows
        .iter()
        .map(|r| (r.row, &r.code))
        .chain(errors.iter().map(|e| (e.row, &e.code)))
    {
        if !code.is_empty() {
            rows_of.entry(fold(code)).or_default().push(row);
        }
    }
    let repeated = |code: &str| {
        rows_of.get(&fold(code)).filter(|r| r.len() > 1).map(|r| {
            let mut r = r.clone();
            r.sort_unstable();
            r
        })
    };
    for e in &mut errors {
        if let Some(r) = repeated(&e.code) {
            e.problems.push(Unreadable::Repeated(r));
        }
    }
    let (kept, twice): (Vec<ImportRow>, Vec<ImportRow>) =
        rows.into_iter().partition(|r| repeated(&r.code).is_none());
    errors.extend(twice.into_iter().map(|r| RowError {
        problems: vec![Unreadable::Repeated(repeated(&r.code).unwrap_or_default())],
        row: r.row,
        code: r.code,
    }));
    errors.sort_by_key(|e| e.row);
    Ok((kept, errors))
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
        assert_eq!(c.processing_days, Some(5.0));
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

    #[test]
    fn the_header_row_is_found_below_title_rows_and_semicolons_are_sniffed() {
        let file = "SỞ GIÁO DỤC VÀ ĐÀO TẠO;;\r\nDANH MỤC THỦ TỤC HÀNH CHÍNH;;\r\n;;\r\n\
                    Mã thủ tục;Tên thủ tục;Thời hạn giải quyết\r\n\
                    1.000001.H19;Cấp bản sao, chứng thực;05 ngày\r\n";
        let with_bom = format!("\u{feff}{file}");
        let s = read_csv_from(with_bom.as_bytes()).unwrap();
        assert_eq!(
            s.headers,
            ["Mã thủ tục", "Tên thủ tục", "Thời hạn giải quyết"]
        );
        assert_eq!(s.rows.len(), 1);
        // Its number is the row's in the file, title rows counted.
        assert_eq!(s.rows[0].0, 5);
        let (rows, errors) = import_rows(&s).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        let c = rows[0].content.clone().unwrap();
        assert_eq!(c.name, "Cấp bản sao, chứng thực");
        assert_eq!(c.processing_days, Some(5.0));
        // Commas still work, quoted cells too.
        let s = read_csv_from("code,name\n1.000002.H19,\"A; B\"\n".as_bytes()).unwrap();
        assert_eq!(s.headers, ["code", "name"]);
        assert_eq!(s.rows[0].1, ["1.000002.H19", "A; B"]);
    }

    #[test]
    fn the_exported_workbook_reads_back_as_the_same_content() {
        let content = ProcedureContent {
            name: "Cấp bản sao văn bằng, chứng chỉ".into(),
            level: "province".into(),
            field: "Văn bằng, chứng chỉ".into(),
            implementing_agency: "Sở GD&ĐT".into(),
            applicants: vec!["Cá nhân".into(), "Tổ chức".into()],
            steps: vec!["Nộp hồ sơ; nhận phiếu hẹn".into(), "Nhận kết quả".into()],
            submission_channels: vec!["online".into(), "in_person".into()],
            dossier: vec![DossierComponent {
                name: "Đơn đề nghị".into(),
                originals: 1,
                required: true,
                ..Default::default()
            }],
            processing_days: Some(0.5),
            result: "Bản sao văn bằng".into(),
            fees: vec![
                Fee {
                    channel: "online".into(),
                    amount_vnd: 20_000,
                    note: "Trực tuyến: 20.000 đồng/bản".into(),
                },
                Fee {
                    channel: "in_person".into(),
                    amount_vnd: 30_000,
                    note: String::new(),
                },
            ],
            keywords: vec!["bằng".into()],
            legal_basis: vec!["Nghị định 23/2015/NĐ-CP".into()],
            ..Default::default()
        };
        let export = serde_json::json!({"procedures": [
            {"code": "1.012753.H19", "version": 3, "published_by": {"kind": "user"}, "content": content},
            {"code": "1.000002.H19", "content": {"name": "Trong ngày", "processing_days": 0}},
        ]});
        let bytes = catalogue_xlsx(&export).unwrap();
        let sheet = read_bytes("danh-muc.xlsx", &bytes).unwrap();
        assert_eq!(sheet.rows[0].0, 5, "the header is below the title rows");
        let (rows, errors) = import_rows(&sheet).unwrap();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rows.len(), 2);
        let back = rows[0].content.clone().unwrap();
        // The fee without a note comes back in words; importing keeps the draft's.
        assert_eq!(back.fees[1].note, "Trực tiếp: 30.000 đồng");
        let mut expected = content.clone();
        expected.fees[1].note = back.fees[1].note.clone();
        assert_eq!(back, expected);
        assert_eq!(rows[1].content.as_ref().unwrap().processing_days, Some(0.0));
        assert_eq!(
            rows[0].columns.len(),
            EXPORTED.len() - 1,
            "every part but the code"
        );
    }

    #[test]
    fn time_limits_are_read_as_working_days_with_their_fractions() {
        for (cell, expected) in [
            ("05 ngày làm việc", Some(5.0)),
            ("0,5 ngày làm việc", Some(0.5)),
            ("1.5", Some(1.5)),
            ("0,125", Some(0.125)),
            ("Trong ngày", Some(0.0)),
            ("0", Some(0.0)),
            ("04 giờ làm việc", Some(0.5)),
            ("1.125", Some(1.125)),
            ("20.000", Some(20.0)),
            ("", None),
            ("  ", None),
        ] {
            assert_eq!(days(cell), Ok(expected), "{cell:?}");
        }
        assert_eq!(
            days("theo quy định"),
            Err(Unreadable::Days("theo quy định".into()))
        );
    }

    #[test]
    fn a_code_repeated_in_the_file_refuses_every_row_that_has_it_in_row_order() {
        let s = sheet(
            &["code", "name", "thoi han"],
            &[
                &["1.000001.H19", "A", "5"],
                &["1.000002.H19", "B", "5"],
                &["1.000001.h19", "A again", "3"],
                &["1.000003.H19", "C", "0,5 ngày làm việc"],
                &["1.000004.H19", "D", "20.000"],
            ],
        );
        let (rows, errors) = import_rows(&s).unwrap();
        let kept: Vec<&str> = rows.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(kept, ["1.000002.H19", "1.000003.H19", "1.000004.H19"]);
        assert_eq!(rows[1].content.as_ref().unwrap().processing_days, Some(0.5));
        assert_eq!(
            rows[2].content.as_ref().unwrap().processing_days,
            Some(20.0)
        );
        let refused: Vec<(u32, String)> = errors.iter().map(|e| (e.row, e.english())).collect();
        assert_eq!(
            refused,
            [
                (2, "the code is repeated in rows 2, 4".to_owned()),
                (4, "the code is repeated in rows 2, 4".to_owned()),
            ]
        );
        assert_eq!(
            errors[0].problems[0].vietnamese(),
            "Mã thủ tục bị lặp lại ở các dòng 2, 4"
        );
    }
}
