//! XLSX: a sheet per section, counts as "#,##0", rates as "0.0%", Times New Roman.
//! Every sheet says what it is above its table (issuing body, report, plan and period,
//! "số liệu tính đến" in Vietnam's time), then a bold header row, frozen and repeated
//! on every printed page; a page header and "Trang x/y" at the foot; an empty section
//! says "Không có". The workbook's creation time is the "as of" time.

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, FormatBorder, Workbook, XlsxError};

use cchc_platform::vocabulary::change_type;

use super::fraction;
use crate::domain::{kind_label, per_label};
use crate::report::Snapshot;

enum Cell {
    Text(String),
    /// A date (YYYY-MM-DD) as a spreadsheet date, shown dd/mm/yyyy.
    Date(String),
    Int(i64),
    Rate(Option<f64>),
    Empty,
}

fn t(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

/// What every sheet shares: its formats, and the lines that identify it.
struct Formats {
    /// Above each table: the issuing body, the report, the plan and period, the time.
    top: Vec<String>,
    /// The printed page's header (Excel's codes: `&L`, `&R`; a literal `&` doubled).
    page_header: String,
    ident: Format,
    ident_bold: Format,
    header: Format,
    text: Format,
    wrap: Format,
    int: Format,
    rate: Format,
    date: Format,
    total_text: Format,
    total_int: Format,
    total_rate: Format,
}

impl Formats {
    fn new(s: &Snapshot) -> Self {
        let base = Format::new()
            .set_font_name("Times New Roman")
            .set_font_size(12);
        let cell = base.clone().set_border(FormatBorder::Thin);
        let top = vec![
            s.document.issuing_body.to_uppercase(),
            format!("Báo cáo: {}", s.document.title),
            format!(
                "Kế hoạch số {}, kỳ báo cáo {}",
                s.plan.number_symbol, s.period.title
            ),
            format!("Số liệu tính đến {} (giờ Việt Nam)", as_of_vi(&s.as_of)),
        ];
        let page_header = format!(
            "&L{}&R{}",
            s.document.issuing_body.replace('&', "&&"),
            format!("Kế hoạch số {} · {}", s.plan.number_symbol, s.period.title).replace('&', "&&")
        );
        Self {
            top,
            page_header,
            ident: base.clone(),
            ident_bold: base.clone().set_bold(),
            header: cell
                .clone()
                .set_bold()
                .set_text_wrap()
                .set_align(rust_xlsxwriter::FormatAlign::Center)
                .set_align(rust_xlsxwriter::FormatAlign::VerticalCenter),
            text: cell.clone(),
            wrap: base.set_text_wrap(),
            int: cell.clone().set_num_format("#,##0"),
            rate: cell.clone().set_num_format("0.0%"),
            date: cell.clone().set_num_format("dd/mm/yyyy"),
            total_text: cell.clone().set_bold(),
            total_int: cell.clone().set_bold().set_num_format("#,##0"),
            total_rate: cell.set_bold().set_num_format("0.0%"),
        }
    }
}

/// Adds a sheet: `headers` (name, column width) in row 0, frozen, then `rows`; the
/// last row is bold when `total` is set.
fn sheet(
    wb: &mut Workbook,
    f: &Formats,
    name: &str,
    headers: &[(&str, f64)],
    rows: Vec<Vec<Cell>>,
    total: bool,
) -> Result<(), XlsxError> {
    let ws = wb.add_worksheet();
    ws.set_name(name)?;
    for (i, line) in f.top.iter().enumerate() {
        let format = if i < 2 { &f.ident_bold } else { &f.ident };
        ws.write_string_with_format(i as u32, 0, line, format)?;
    }
    // The identification lines, a blank row, then the table.
    let head = f.top.len() as u32 + 1;
    for (c, (h, width)) in headers.iter().enumerate() {
        ws.set_column_width(c as u16, *width)?;
        ws.write_string_with_format(head, c as u16, *h, &f.header)?;
    }
    // A header wrapped in its column gets the height of its lines.
    let lines = headers
        .iter()
        .map(|(h, width)| (h.chars().count() as f64 / (width * 0.95)).ceil())
        .fold(1.0, f64::max);
    ws.set_row_height(head, 16.0 * lines)?;
    ws.set_freeze_panes(head + 1, 0)?;
    // Printed on A4, as wide as the page (landscape when wide), the header row on
    // every page, the plan and period at the top and the page number at the foot.
    ws.set_paper_size(9);
    ws.set_print_fit_to_pages(1, 0);
    ws.set_repeat_rows(head, head)?;
    ws.set_header(&f.page_header);
    ws.set_footer("&CTrang &P/&N");
    if headers.len() > 6 {
        ws.set_landscape();
    }
    if rows.is_empty() {
        ws.write_string_with_format(head + 1, 0, "Không có", &f.text)?;
    }
    let last = rows.len();
    for (i, row) in rows.into_iter().enumerate() {
        let r = head + 1 + i as u32;
        let bold = total && i + 1 == last;
        for (c, cell) in row.into_iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Text(s) => {
                    ws.write_string_with_format(
                        r,
                        c,
                        s,
                        if bold { &f.total_text } else { &f.text },
                    )?;
                }
                Cell::Date(iso) => match ExcelDateTime::parse_from_str(&iso) {
                    Ok(d) => {
                        ws.write_datetime_with_format(r, c, &d, &f.date)?;
                    }
                    // Not a date after all: as text, never lost.
                    Err(_) => {
                        ws.write_string_with_format(r, c, iso, &f.text)?;
                    }
                },
                Cell::Int(n) => {
                    ws.write_number_with_format(
                        r,
                        c,
                        n as f64,
                        if bold { &f.total_int } else { &f.int },
                    )?;
                }
                Cell::Rate(Some(v)) => {
                    ws.write_number_with_format(
                        r,
                        c,
                        v,
                        if bold { &f.total_rate } else { &f.rate },
                    )?;
                }
                Cell::Rate(None) | Cell::Empty => {
                    ws.write_blank(r, c, if bold { &f.total_text } else { &f.text })?;
                }
            }
        }
    }
    Ok(())
}

fn build(s: &Snapshot) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let as_of = chrono::DateTime::parse_from_rfc3339(&s.as_of)
        .map(|t| t.timestamp())
        .unwrap_or(0);
    wb.set_properties(
        &DocProperties::new()
            .set_title(&s.document.title)
            .set_subject(format!("{} — {}", s.plan.number_symbol, s.period.title))
            .set_author(&s.document.issuing_body)
            .set_company(&s.document.issuing_body)
            .set_creation_datetime(&ExcelDateTime::from_timestamp(as_of)?),
    );
    let f = Formats::new(s);
    let o = &s.overall;

    // Summary: the key figures, then the narrative.
    let mut rows = vec![
        vec![t("Kỳ báo cáo"), t(&s.period.title)],
        vec![t("Số liệu tính đến"), t(as_of_vi(&s.as_of))],
        vec![t("Số đơn vị thuộc kế hoạch"), Cell::Int(o.units_covered)],
        vec![t("Số đơn vị đã báo cáo"), Cell::Int(o.units_reported)],
        vec![t("Trong đó nộp sau hạn"), Cell::Int(o.units_late)],
        vec![t("Số đơn vị chưa báo cáo"), Cell::Int(o.units_silent)],
        vec![
            t("Số đơn vị chưa đạt chỉ tiêu"),
            Cell::Int(o.units_below_target),
        ],
        vec![
            t("Tổng số hoạt động tuyên truyền"),
            Cell::Int(o.activities_total),
        ],
        vec![t("Lượt người tham dự"), Cell::Int(o.head_count_total)],
        vec![
            t("Thủ tục hành chính công bố mới"),
            Cell::Int(s.catalogue.procedures_new),
        ],
        vec![
            t("Thủ tục hành chính sửa đổi, bổ sung"),
            Cell::Int(s.catalogue.procedures_amended),
        ],
        vec![
            t("Thủ tục hành chính thay thế"),
            Cell::Int(s.catalogue.procedures_replaced),
        ],
        vec![
            t("Thủ tục hành chính bãi bỏ"),
            Cell::Int(s.catalogue.procedures_abolished),
        ],
        vec![
            t("Lượt niêm yết đúng phiên bản hiện hành"),
            Cell::Int(s.catalogue.postings_current),
        ],
        vec![
            t("Lượt niêm yết chưa cập nhật"),
            Cell::Int(s.catalogue.postings_stale),
        ],
        vec![
            t("Hồ sơ một cửa tiếp nhận"),
            Cell::Int(s.one_stop.figures.received_total),
        ],
        vec![
            t("Hồ sơ một cửa đã giải quyết"),
            Cell::Int(s.one_stop.figures.resolved_total),
        ],
        vec![
            t("Tỷ lệ giải quyết đúng hạn"),
            Cell::Rate(fraction(s.one_stop.figures.on_time_rate)),
        ],
        vec![
            t("Tỷ lệ hài lòng"),
            Cell::Rate(fraction(s.satisfaction.figures.rate)),
        ],
        vec![
            t("Kinh phí dự toán (đồng)"),
            Cell::Int(s.budget.figures.planned_vnd),
        ],
        vec![
            t("Kinh phí đã chi (đồng)"),
            Cell::Int(s.budget.figures.spent_vnd),
        ],
    ];
    let figures = rows.len();
    sheet(
        &mut wb,
        &f,
        "Tổng hợp",
        &[("Nội dung", 45.0), ("Số liệu", 30.0)],
        std::mem::take(&mut rows),
        false,
    )?;
    {
        let ws = wb.worksheet_from_name("Tổng hợp")?;
        // Below the figures (which start under the identification lines and the
        // header row), after a blank row.
        let mut r = (f.top.len() + 1 + figures + 2) as u32;
        ws.write_string_with_format(r, 0, "Tóm tắt", &f.total_text)?;
        for p in &s.narrative {
            r += 1;
            ws.merge_range(r, 0, r, 1, p, &f.wrap)?;
            // Room for the wrapped text: about 75 characters a line across both columns.
            let lines = (p.chars().count() / 75 + 1) as f64;
            ws.set_row_height(r, 15.0 * lines)?;
        }
    }

    // Activities per unit and kind.
    let mut headers: Vec<(String, f64)> = vec![("STT".into(), 6.0), ("Đơn vị".into(), 40.0)];
    headers.extend(o.by_kind.iter().map(|k| (k.label.clone(), 14.0)));
    headers.extend([
        ("Tổng số hoạt động".into(), 12.0),
        ("Lượt người tham dự".into(), 12.0),
        ("Chưa đạt chỉ tiêu".into(), 30.0),
    ]);
    let mut rows: Vec<Vec<Cell>> = s
        .units
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let mut r = vec![Cell::Int(i as i64 + 1), t(&u.name)];
            r.extend(u.activities.iter().map(|k| Cell::Int(k.count)));
            r.push(Cell::Int(u.activities_total));
            r.push(Cell::Int(u.head_count));
            r.push(t(u
                .below_target
                .iter()
                .map(|k| kind_label(k))
                .collect::<Vec<_>>()
                .join("; ")));
            r
        })
        .collect();
    let mut total = vec![Cell::Empty, t("TỔNG CỘNG")];
    total.extend(o.by_kind.iter().map(|k| Cell::Int(k.count)));
    total.extend([
        Cell::Int(o.activities_total),
        Cell::Int(o.head_count_total),
        t(format!("{} đơn vị", o.units_below_target)),
    ]);
    rows.push(total);
    let h: Vec<(&str, f64)> = headers.iter().map(|(h, w)| (h.as_str(), *w)).collect();
    sheet(&mut wb, &f, "Hoạt động", &h, rows, true)?;

    // Targets.
    let rows = s
        .targets
        .iter()
        .map(|tg| {
            vec![
                t(&tg.label),
                Cell::Int(tg.min_per_unit),
                t(per_label(&tg.per)),
                Cell::Int(tg.required),
                Cell::Int(tg.units_meeting),
                Cell::Int(tg.units_below),
                Cell::Int(tg.units_in_progress),
                t(if tg.progress {
                    "Theo dõi tiến độ cả năm"
                } else {
                    ""
                }),
            ]
        })
        .collect();
    sheet(
        &mut wb,
        &f,
        "Chỉ tiêu",
        &[
            ("Hình thức", 40.0),
            ("Tối thiểu mỗi đơn vị", 12.0),
            ("Mỗi", 10.0),
            ("Yêu cầu trong kỳ", 12.0),
            ("Số đơn vị đạt", 12.0),
            ("Số đơn vị chưa đạt", 12.0),
            ("Số đơn vị đang thực hiện", 12.0),
            ("Ghi chú", 24.0),
        ],
        rows,
        false,
    )?;

    // Units that reported nothing.
    let rows = o
        .silent_units
        .iter()
        .enumerate()
        .map(|(i, u)| vec![Cell::Int(i as i64 + 1), t(&u.name)])
        .collect();
    sheet(
        &mut wb,
        &f,
        "Chưa báo cáo",
        &[("STT", 6.0), ("Đơn vị chưa báo cáo", 50.0)],
        rows,
        false,
    )?;

    // Catalogue changes and legal documents.
    let rows = s
        .catalogue
        .changes
        .iter()
        .map(|c| {
            vec![
                t(&c.code),
                Cell::Int(i64::from(c.version)),
                t(&c.name),
                t(&c.field),
                t(change_label(&c.change_type)),
                Cell::Date(c.effective_date.clone()),
                t(&c.decision_number),
            ]
        })
        .collect();
    sheet(
        &mut wb,
        &f,
        "Thủ tục hành chính",
        &[
            ("Mã thủ tục", 16.0),
            ("Phiên bản", 9.0),
            ("Tên thủ tục", 50.0),
            ("Lĩnh vực", 25.0),
            ("Nội dung thay đổi", 18.0),
            ("Ngày hiệu lực", 13.0),
            ("Quyết định công bố", 20.0),
        ],
        rows,
        false,
    )?;
    let rows = s
        .catalogue
        .legal_documents
        .iter()
        .map(|d| {
            vec![
                t(&d.number_symbol),
                t(&d.doc_type),
                t(&d.summary),
                t(&d.issuer),
                t(cchc_platform::vocabulary::legal_status::label_vi(&d.status)),
                Cell::Date(d.effective_date.clone()),
            ]
        })
        .collect();
    sheet(
        &mut wb,
        &f,
        "Văn bản QPPL",
        &[
            ("Số, ký hiệu", 20.0),
            ("Loại văn bản", 15.0),
            ("Trích yếu", 50.0),
            ("Cơ quan ban hành", 25.0),
            ("Tình trạng", 12.0),
            ("Ngày hiệu lực", 13.0),
        ],
        rows,
        false,
    )?;

    // Postings.
    let mut rows: Vec<Vec<Cell>> = s
        .units
        .iter()
        .enumerate()
        .map(|(i, u)| {
            vec![
                Cell::Int(i as i64 + 1),
                t(&u.name),
                Cell::Int(u.postings_current),
                Cell::Int(u.postings_stale),
            ]
        })
        .collect();
    rows.push(vec![
        Cell::Empty,
        t("TỔNG CỘNG"),
        Cell::Int(s.catalogue.postings_current),
        Cell::Int(s.catalogue.postings_stale),
    ]);
    sheet(
        &mut wb,
        &f,
        "Niêm yết",
        &[
            ("STT", 6.0),
            ("Đơn vị", 40.0),
            ("Niêm yết đúng phiên bản hiện hành", 16.0),
            ("Niêm yết chưa cập nhật", 16.0),
        ],
        rows,
        true,
    )?;
    let rows = s
        .catalogue
        .stale_postings
        .iter()
        .map(|p| {
            vec![
                t(&p.unit_name),
                t(&p.code),
                t(&p.procedure_name),
                Cell::Int(i64::from(p.posted_version)),
                Cell::Int(i64::from(p.current_version)),
            ]
        })
        .collect();
    sheet(
        &mut wb,
        &f,
        "Niêm yết chưa cập nhật",
        &[
            ("Đơn vị", 40.0),
            ("Mã thủ tục", 16.0),
            ("Tên thủ tục", 50.0),
            ("Phiên bản đã niêm yết", 12.0),
            ("Phiên bản hiện hành", 12.0),
        ],
        rows,
        false,
    )?;

    // One-stop results.
    let one_stop_row = |name: &str, o: &crate::report::OneStopFigures| -> Vec<Cell> {
        vec![
            t(name),
            Cell::Int(o.received_online),
            Cell::Int(o.received_in_person_or_post),
            Cell::Int(o.received_carried_over),
            Cell::Int(o.received_total),
            Cell::Int(o.resolved_early),
            Cell::Int(o.resolved_on_time),
            Cell::Int(o.resolved_late),
            Cell::Int(o.resolved_total),
            Cell::Int(o.pending_within_time),
            Cell::Int(o.pending_overdue),
            Cell::Int(o.returned_withdrawn),
            Cell::Rate(fraction(o.on_time_rate)),
        ]
    };
    let mut rows: Vec<Vec<Cell>> = s
        .units
        .iter()
        .filter_map(|u| u.one_stop.as_ref().map(|o| one_stop_row(&u.name, o)))
        .collect();
    rows.push(one_stop_row("TỔNG CỘNG", &s.one_stop.figures));
    sheet(
        &mut wb,
        &f,
        "Một cửa",
        &[
            ("Đơn vị", 40.0),
            ("Tiếp nhận trực tuyến", 12.0),
            ("Tiếp nhận trực tiếp, bưu chính", 12.0),
            ("Kỳ trước chuyển sang", 12.0),
            ("Tổng số tiếp nhận", 12.0),
            ("Giải quyết trước hạn", 12.0),
            ("Giải quyết đúng hạn", 12.0),
            ("Giải quyết quá hạn", 12.0),
            ("Tổng số đã giải quyết", 12.0),
            ("Đang giải quyết trong hạn", 12.0),
            ("Đang giải quyết quá hạn", 12.0),
            ("Trả lại, rút hồ sơ", 12.0),
            ("Tỷ lệ đúng hạn", 10.0),
        ],
        rows,
        true,
    )?;

    // Satisfaction.
    let sat_row = |name: &str, v: &crate::report::SatisfactionFigures| -> Vec<Cell> {
        vec![
            t(name),
            Cell::Int(v.responses),
            Cell::Int(v.very_satisfied),
            Cell::Int(v.satisfied),
            Cell::Int(v.dissatisfied),
            Cell::Rate(fraction(v.rate)),
        ]
    };
    let mut rows: Vec<Vec<Cell>> = s
        .units
        .iter()
        .filter_map(|u| u.satisfaction.as_ref().map(|v| sat_row(&u.name, v)))
        .collect();
    rows.push(sat_row("TỔNG CỘNG", &s.satisfaction.figures));
    sheet(
        &mut wb,
        &f,
        "Hài lòng",
        &[
            ("Đơn vị", 40.0),
            ("Số phiếu", 10.0),
            ("Rất hài lòng", 12.0),
            ("Hài lòng", 12.0),
            ("Không hài lòng", 12.0),
            ("Tỷ lệ hài lòng", 10.0),
        ],
        rows,
        true,
    )?;
    let rows = s
        .satisfaction
        .criteria
        .iter()
        .map(|c| {
            vec![
                t(&c.name),
                Cell::Int(c.very_satisfied),
                Cell::Int(c.satisfied),
                Cell::Int(c.dissatisfied),
                Cell::Rate(fraction(c.rate)),
            ]
        })
        .collect();
    sheet(
        &mut wb,
        &f,
        "Tiêu chí hài lòng",
        &[
            ("Tiêu chí", 45.0),
            ("Rất hài lòng", 12.0),
            ("Hài lòng", 12.0),
            ("Không hài lòng", 12.0),
            ("Tỷ lệ hài lòng", 10.0),
        ],
        rows,
        false,
    )?;

    // Budget.
    let mut rows: Vec<Vec<Cell>> = s
        .units
        .iter()
        .filter_map(|u| {
            u.budget.as_ref().map(|b| {
                vec![
                    t(&u.name),
                    Cell::Int(b.planned_vnd),
                    Cell::Int(b.spent_vnd),
                    Cell::Rate(fraction(b.execution_rate)),
                ]
            })
        })
        .collect();
    rows.push(vec![
        t("TỔNG CỘNG"),
        Cell::Int(s.budget.figures.planned_vnd),
        Cell::Int(s.budget.figures.spent_vnd),
        Cell::Rate(fraction(s.budget.figures.execution_rate)),
    ]);
    sheet(
        &mut wb,
        &f,
        "Kinh phí",
        &[
            ("Đơn vị", 40.0),
            ("Dự toán (đồng)", 18.0),
            ("Đã chi (đồng)", 18.0),
            ("Tỷ lệ thực hiện", 10.0),
        ],
        rows,
        true,
    )?;

    wb.save_to_buffer()
}

pub fn change_label(change: &str) -> &'static str {
    match change {
        change_type::NEW => "Công bố mới",
        change_type::AMENDED => "Sửa đổi, bổ sung",
        change_type::REPLACED => "Thay thế",
        change_type::ABOLISHED => "Bãi bỏ",
        _ => "Khác",
    }
}

/// An RFC 3339 instant as "dd/mm/yyyy hh:mm" in Vietnam's time.
fn as_of_vi(stamp: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(stamp)
        .map(|t| {
            cchc_platform::time::in_vietnam(t.to_utc())
                .format("%d/%m/%Y %H:%M")
                .to_string()
        })
        .unwrap_or_else(|_| stamp.to_owned())
}

pub fn render(s: &Snapshot) -> Result<Vec<u8>, String> {
    build(s).map_err(|e| e.to_string())
}
