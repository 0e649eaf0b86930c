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
    /// A processing time of a fraction of a day ("0,5 ngày"), which the catalogue
    /// cannot hold yet: refused rather than rounded.
    FractionalDays(String),
    /// A code the file gives to more than one row: every such row, by their numbers.
    Repeated(Vec<u32>),
}

impl Unreadable {
    pub fn english(&self) -> String {
        match self {
            Unreadable::Level(cell) => format!("{cell:?} is not a level (tỉnh, xã, huyện)"),
            Unreadable::Days(cell) => format!("processing time {cell:?} has no number of days"),
            Unreadable::FractionalDays(cell) => format!(
                "processing time {cell:?} is a fraction of a day, which cannot be recorded yet"
            ),
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
            Unreadable::FractionalDays(cell) => format!(
                "Thời hạn giải quyết “{cell}” là một phần của ngày, hệ thống chưa ghi nhận được"
            ),
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

/// A number of days with a decimal part ("0,5", "1.5"): a comma or a dot followed by
/// one or two digits that are not all zero (thousands separators come in threes).
fn fractional(cell: &str) -> bool {
    let cs: Vec<char> = cell.chars().collect();
    cs.iter().enumerate().any(|(i, c)| {
        if !(*c == ',' || *c == '.') || i == 0 || !cs[i - 1].is_ascii_digit() {
            return false;
        }
        let decimals: Vec<char> = cs[i + 1..]
            .iter()
            .take_while(|d| d.is_ascii_digit())
            .copied()
            .collect();
        (1..=2).contains(&decimals.len()) && decimals.iter().any(|d| *d != '0')
    })
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
                Some(Column::Days) if fractional(cell) => {
                    problems.push(Unreadable::FractionalDays(cell.to_owned()))
                }
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
        assert_eq!(c.processing_days, 5);
        // Commas still work, quoted cells too.
        let s = read_csv_from("code,name\n1.000002.H19,\"A; B\"\n".as_bytes()).unwrap();
        assert_eq!(s.headers, ["code", "name"]);
        assert_eq!(s.rows[0].1, ["1.000002.H19", "A; B"]);
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
        assert_eq!(kept, ["1.000002.H19", "1.000004.H19"]);
        assert_eq!(rows[1].content.as_ref().unwrap().processing_days, 20_000);
        let refused: Vec<(u32, String)> = errors.iter().map(|e| (e.row, e.english())).collect();
        assert_eq!(
            refused,
            [
                (2, "the code is repeated in rows 2, 4".to_owned()),
                (4, "the code is repeated in rows 2, 4".to_owned()),
                (
                    5,
                    "processing time \"0,5 ngày làm việc\" is a fraction of a day, which cannot be recorded yet"
                        .to_owned()
                ),
            ]
        );
        assert_eq!(
            errors[0].problems[0].vietnamese(),
            "Mã thủ tục bị lặp lại ở các dòng 2, 4"
        );
    }
}
