//! DOCX: the report as an administrative document laid out per Decree 30/2020
//! (Nghị định 30/2020/NĐ-CP): A4, Times New Roman; the issuing body and the national
//! motto side by side at the top, the number and symbol, place and date; the title;
//! the sections with their tables; the recipients ("Nơi nhận") and the signature at
//! the end.

use std::io::Cursor;

use std::io::{Read, Write};

use docx_rs::{
    AlignmentType, Docx, Header, LineSpacing, PageMargin, PageNum, Paragraph, Run, RunFonts,
    SpecialIndentType, Table, TableCell, TableRow, WidthType,
};

use crate::domain::{kind_label, number_vi, per_label, percent_vi};
use crate::report::Snapshot;

const FONT: &str = "Times New Roman";
/// Text width of an A4 page with 30 mm left and 15 mm right margins, in twips.
const TEXT_WIDTH: usize = 9355;

fn run(text: impl Into<String>) -> Run {
    Run::new().add_text(text)
}

/// A body paragraph: justified, first line indented 1 cm, 6 pt after.
fn body(text: &str) -> Paragraph {
    Paragraph::new()
        .add_run(run(text))
        .align(AlignmentType::Both)
        .indent(None, Some(SpecialIndentType::FirstLine(567)), None, None)
        .line_spacing(LineSpacing::new().before(0).after(120))
}

fn centered(r: Run) -> Paragraph {
    Paragraph::new()
        .add_run(r)
        .align(AlignmentType::Center)
        .line_spacing(LineSpacing::new().before(0).after(0))
}

fn heading(text: &str) -> Paragraph {
    Paragraph::new()
        .add_run(run(text).bold())
        .align(AlignmentType::Both)
        .indent(None, Some(SpecialIndentType::FirstLine(567)), None, None)
        .line_spacing(LineSpacing::new().before(120).after(120))
        .keep_next(true)
}

fn cell(text: &str, width: usize, bold: bool, align: AlignmentType, keep: bool) -> TableCell {
    let mut r = run(text).size(24);
    if bold {
        r = r.bold();
    }
    TableCell::new()
        .add_paragraph(
            Paragraph::new()
                .add_run(r)
                .align(align)
                .line_spacing(LineSpacing::new().before(40).after(40))
                // A header row stays on the page of the first row under it.
                .keep_next(keep),
        )
        .width(width, WidthType::Dxa)
}

/// Where a line may break inside a word without a space (a zero-width space).
const BREAK: char = '\u{200b}';

/// A procedure code of the long national form (`1.001088.000.00.00.H19`) may break
/// after a dot, so that its column need not be as wide as the whole code; the short
/// form stays whole.
fn breakable_code(code: &str) -> String {
    if code.chars().count() > 12 {
        code.replace('.', &format!(".{BREAK}"))
    } else {
        code.to_owned()
    }
}

/// The words of a cell, as a line may break between them.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c.is_whitespace() || c == BREAK)
        .filter(|w| !w.is_empty())
}

/// A character's width at the tables' 12 pt, in twips: a little over what Times New
/// Roman's Vietnamese text takes as printed (capitals half as wide again), so that an
/// estimate errs towards wrapping.
const CHAR_TWIPS: usize = 105;

fn text_twips(text: &str) -> usize {
    text.chars()
        .map(|c| {
            if c.is_uppercase() {
                CHAR_TWIPS * 3 / 2
            } else {
                CHAR_TWIPS
            }
        })
        .sum()
}
/// A cell's left and right margins together, and a little room for bold.
const CELL_PAD: usize = 230;

/// Column widths (twips) that fill the page's text width, sized by what the columns
/// hold: the fewest lines the tallest cell can take (a column no narrower than its
/// longest word, so a date, a code or a number never breaks), each column as narrow as
/// that allows, and the room left shared in proportion.
fn fit_widths(headers: &[&str], rows: &[Vec<String>]) -> Vec<usize> {
    let n = headers.len();
    let body = |c: usize| {
        rows.iter()
            .filter_map(move |r| r.get(c).map(String::as_str))
    };
    // The header is bold: a fifth wider.
    let bold = |w: usize| CELL_PAD + w.saturating_sub(CELL_PAD) * 5 / 6;
    let min: Vec<usize> = (0..n)
        .map(|c| {
            let widest = |ws: &mut dyn Iterator<Item = &str>| {
                ws.map(|w| text_twips(w) + CELL_PAD).max().unwrap_or(0)
            };
            let head = widest(&mut words(headers[c]));
            let head = CELL_PAD + head.saturating_sub(CELL_PAD) * 6 / 5;
            head.max(widest(&mut body(c).flat_map(words)))
                .max(CELL_PAD + CHAR_TWIPS)
        })
        .collect();
    // The narrowest width at which every cell of column `c` (its header too, or not)
    // takes at most `lines`.
    let need_of = |c: usize, lines: usize, header: bool| -> usize {
        let fits = |w: usize| {
            (!header || lines_in(headers[c], bold(w)) <= lines)
                && body(c).all(|t| lines_in(t, w) <= lines)
        };
        let (mut lo, mut hi) = (min[c], min[c].max(TEXT_WIDTH));
        if !fits(hi) {
            return hi;
        }
        while lo < hi {
            let mid = (lo + hi) / 2;
            if fits(mid) { hi = mid } else { lo = mid + 1 }
        }
        lo
    };
    let need = |c: usize, lines: usize| need_of(c, lines, true);
    let at = |lines: usize| -> Vec<usize> { (0..n).map(|c| need(c, lines)).collect() };
    let fits_page = |w: &[usize]| w.iter().sum::<usize>() <= TEXT_WIDTH;
    // The fewest lines that fit the page, found by halving (more lines never need more).
    let (mut lo, mut hi) = (1, 64);
    if !fits_page(&at(hi)) {
        let sum: usize = min.iter().sum();
        return min.iter().map(|m| m * TEXT_WIDTH / sum).collect();
    }
    while lo < hi {
        let mid = (lo + hi) / 2;
        if fits_page(&at(mid)) {
            hi = mid
        } else {
            lo = mid + 1
        }
    }
    let mut needed = at(lo);
    // Room left over first lets other columns' rows take fewer lines (one line if it
    // can), the cheapest first: a unit's name on one line rather than three beside a
    // list; a header may wrap for it.
    for fewer in 1..lo {
        let mut order: Vec<(usize, usize)> =
            (0..n).map(|c| (need_of(c, fewer, false), c)).collect();
        order.sort_by_key(|&(w, c)| w.saturating_sub(needed[c]));
        for (w, c) in order {
            let sum: usize = needed.iter().sum();
            if w > needed[c] && sum - needed[c] + w <= TEXT_WIDTH {
                needed[c] = w;
            }
        }
    }
    let sum: usize = needed.iter().sum();
    let mut widths: Vec<usize> = needed.iter().map(|w| w * TEXT_WIDTH / sum).collect();
    // What the integer division left over goes to the widest column.
    let short = TEXT_WIDTH - widths.iter().sum::<usize>();
    if let Some(widest) = (0..n).max_by_key(|&c| widths[c]) {
        widths[widest] += short;
    }
    widths
}

/// How many lines a cell's text takes in a column `width` twips wide (an estimate,
/// word by word, with [`text_twips`]).
fn lines_in(text: &str, width: usize) -> usize {
    let room = width.saturating_sub(CELL_PAD).max(CHAR_TWIPS);
    let space = CHAR_TWIPS / 2;
    let mut lines = 1;
    let mut used = 0;
    for word in words(text) {
        let w = text_twips(word);
        if used == 0 {
            used = w;
        } else if used + space + w <= room {
            used += space + w;
        } else {
            lines += 1;
            used = w;
        }
        while used > room {
            lines += 1;
            used -= room;
        }
    }
    lines
}

/// A bordered table: a bold header row, the rows, and a bold last row when `total`.
/// `align` has a letter per column: `L`eft (text), `C`entre, `R`ight (figures). Rows
/// never break across pages; the columns are sized by [`fit_widths`].
fn table(headers: &[&str], rows: Vec<Vec<String>>, total: bool, align: &str) -> Table {
    let widths = fit_widths(headers, &rows);
    let widths = &widths[..];
    let aligns: Vec<AlignmentType> = align
        .chars()
        .map(|c| match c {
            'L' => AlignmentType::Left,
            'C' => AlignmentType::Center,
            _ => AlignmentType::Right,
        })
        .collect();
    let mut out = vec![
        TableRow::new(
            headers
                .iter()
                .zip(widths)
                .map(|(h, w)| cell(h, *w, true, AlignmentType::Center, true))
                .collect(),
        )
        .cant_split(),
    ];
    let last = rows.len();
    for (i, row) in rows.into_iter().enumerate() {
        let bold = total && i + 1 == last;
        out.push(
            TableRow::new(
                row.iter()
                    .zip(widths)
                    .zip(&aligns)
                    .map(|((v, w), a)| cell(v, *w, bold, *a, false))
                    .collect(),
            )
            .cant_split(),
        );
    }
    Table::new(out)
        .set_grid(widths.to_vec())
        .width(widths.iter().sum(), WidthType::Dxa)
}

/// A numbered part of a section, kept on the page of what follows it.
fn part(text: &str) -> Paragraph {
    body(text)
        .line_spacing(LineSpacing::new().before(120).after(60))
        .keep_next(true)
}

/// `2020-03-01` as `01/03/2020`.
fn date(iso: &str) -> String {
    chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d")
        .map(|d| d.format("%d/%m/%Y").to_string())
        .unwrap_or_else(|_| iso.to_owned())
}

fn rate(r: Option<f64>) -> String {
    r.map(percent_vi).unwrap_or_else(|| "-".to_owned())
}

/// The top of the first page: issuing body left, national motto right (both
/// borderless), as in Decree 30/2020's layout.
fn top(s: &Snapshot) -> Table {
    let d = &s.document;
    let left_w = 3755;
    let right_w = TEXT_WIDTH - left_w;
    let mut left = TableCell::new().width(left_w, WidthType::Dxa);
    if !d.governing_body.is_empty() {
        left = left.add_paragraph(centered(run(d.governing_body.to_uppercase()).size(24)));
    }
    left = left
        .add_paragraph(centered(run(d.issuing_body.to_uppercase()).size(24).bold()))
        .add_paragraph(centered(run("________").size(26)))
        .add_paragraph(
            centered(run(format!("Số: {}", d.number_symbol)).size(26))
                .line_spacing(LineSpacing::new().before(120).after(0)),
        );
    let right = TableCell::new()
        .width(right_w, WidthType::Dxa)
        .add_paragraph(centered(
            run("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM").size(24).bold(),
        ))
        .add_paragraph(centered(run("Độc lập - Tự do - Hạnh phúc").size(26).bold()))
        .add_paragraph(centered(run("______________________").size(26)))
        .add_paragraph(
            centered(run(&d.place_and_date).size(28).italic())
                .line_spacing(LineSpacing::new().before(120).after(0)),
        );
    Table::without_borders(vec![TableRow::new(vec![left, right])])
        .set_grid(vec![left_w, right_w])
        .width(TEXT_WIDTH, WidthType::Dxa)
}

/// The end: recipients left, signature right.
fn end(s: &Snapshot) -> Table {
    let d = &s.document;
    let left_w = 4400;
    let right_w = TEXT_WIDTH - left_w;
    let mut left = TableCell::new()
        .width(left_w, WidthType::Dxa)
        .add_paragraph(
            Paragraph::new()
                .add_run(run("Nơi nhận:").size(24).bold().italic())
                .line_spacing(LineSpacing::new().before(0).after(0)),
        );
    let n = s.recipients.len();
    for (i, r) in s.recipients.iter().enumerate() {
        let end = if i + 1 == n { "." } else { ";" };
        let line = if r.ends_with('.') || r.ends_with(';') {
            format!("- {r}")
        } else {
            format!("- {r}{end}")
        };
        left = left.add_paragraph(
            Paragraph::new()
                .add_run(run(line).size(22))
                .line_spacing(LineSpacing::new().before(0).after(0)),
        );
    }
    let mut right = TableCell::new().width(right_w, WidthType::Dxa);
    for line in d.signer_title.lines() {
        right = right.add_paragraph(centered(run(line.to_uppercase()).size(28).bold()));
    }
    // Room for the signature and seal.
    for _ in 0..4 {
        right = right.add_paragraph(centered(run("")));
    }
    if !d.signer_name.is_empty() {
        right = right.add_paragraph(centered(run(&d.signer_name).size(28).bold()));
    }
    Table::without_borders(vec![TableRow::new(vec![left, right])])
        .set_grid(vec![left_w, right_w])
        .width(TEXT_WIDTH, WidthType::Dxa)
}

fn build(s: &Snapshot) -> Result<Vec<u8>, String> {
    let as_of = chrono::DateTime::parse_from_rfc3339(&s.as_of)
        .map_err(|e| format!("as of {:?}: {e}", s.as_of))?;
    let stamp = as_of.to_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let local = cchc_platform::time::in_vietnam(as_of.to_utc());
    let o = &s.overall;
    let fonts = RunFonts::new()
        .ascii(FONT)
        .hi_ansi(FONT)
        .cs(FONT)
        .east_asia(FONT);
    let mut doc = Docx::new()
        .page_size(11906, 16838)
        .page_margin(
            PageMargin::new()
                .top(1134)
                .bottom(1134)
                .left(1701)
                .right(850)
                .header(720)
                .footer(720),
        )
        .default_fonts(fonts)
        .default_size(28)
        // Decree 30/2020: page numbers from the second page on, top centre.
        .header(
            Header::new().add_paragraph(
                Paragraph::new()
                    .add_page_num(PageNum::new())
                    .align(AlignmentType::Center),
            ),
        )
        .first_header(Header::new())
        .created_at(&stamp)
        .updated_at(&stamp)
        .add_table(top(s))
        .add_paragraph(
            centered(run("BÁO CÁO").bold()).line_spacing(LineSpacing::new().before(360).after(0)),
        )
        .add_paragraph(centered(run(&s.document.title).bold()))
        .add_paragraph(
            centered(run("__________")).line_spacing(LineSpacing::new().before(0).after(240)),
        );

    // I. Overall results, in words.
    doc = doc.add_paragraph(heading("I. KẾT QUẢ CHUNG"));
    for p in &s.narrative {
        doc = doc.add_paragraph(body(p));
    }

    // II. Activities.
    doc = doc
        .add_paragraph(heading("II. HOẠT ĐỘNG TUYÊN TRUYỀN CẢI CÁCH HÀNH CHÍNH"))
        .add_paragraph(part("1. Số hoạt động theo hình thức tuyên truyền"));
    let mut rows: Vec<Vec<String>> = o
        .by_kind
        .iter()
        .map(|k| vec![k.label.clone(), number_vi(k.count), number_vi(k.head_count)])
        .collect();
    rows.push(vec![
        "Tổng cộng".into(),
        number_vi(o.activities_total),
        number_vi(o.head_count_total),
    ]);
    doc = doc.add_table(table(
        &[
            "Hình thức tuyên truyền",
            "Số hoạt động",
            "Lượt người tham dự",
        ],
        rows,
        true,
        "LRR",
    ));
    if !s.targets.is_empty() {
        doc = doc.add_paragraph(part("2. Kết quả thực hiện chỉ tiêu"));
        doc = doc.add_paragraph(body(
            "Một đơn vị đạt chỉ tiêu khi số hoạt động của hình thức đó trong kỳ không ít hơn \
             yêu cầu trong kỳ (chỉ tiêu quy đổi theo độ dài của kỳ); chỉ tiêu niêm yết tính cả \
             các lượt xác nhận niêm yết thủ tục của đơn vị trong kỳ. Chỉ tiêu tính cho cả năm \
             được theo dõi theo tiến độ: đơn vị chưa đủ là đang thực hiện, không tính là chưa đạt.",
        ));
        let rows = s
            .targets
            .iter()
            .map(|t| {
                vec![
                    t.label.clone(),
                    format!("{}/{}", number_vi(t.min_per_unit), per_label(&t.per)),
                    if t.progress {
                        format!("{} (cả {})", number_vi(t.required), per_label(&t.per))
                    } else {
                        number_vi(t.required)
                    },
                    number_vi(t.units_meeting),
                    if t.progress {
                        format!("{} đang thực hiện", number_vi(t.units_in_progress))
                    } else {
                        number_vi(t.units_below)
                    },
                ]
            })
            .collect();
        doc = doc.add_table(table(
            &[
                "Hình thức",
                "Chỉ tiêu mỗi đơn vị",
                "Yêu cầu trong kỳ",
                "Số đơn vị đạt",
                "Số đơn vị chưa đạt",
            ],
            rows,
            false,
            "LCRRR",
        ));
    }
    doc = doc.add_paragraph(part(if s.targets.is_empty() {
        "2. Kết quả của từng đơn vị"
    } else {
        "3. Kết quả của từng đơn vị"
    }));
    let rows = s
        .units
        .iter()
        .enumerate()
        .map(|(i, u)| {
            vec![
                (i + 1).to_string(),
                u.name.clone(),
                number_vi(u.activities_total),
                number_vi(u.head_count),
                u.below_target
                    .iter()
                    .map(|k| kind_label(k))
                    .collect::<Vec<_>>()
                    .join("; "),
            ]
        })
        .collect();
    doc = doc.add_table(table(
        &[
            "STT",
            "Đơn vị",
            "Số hoạt động",
            "Lượt người tham dự",
            "Chưa đạt chỉ tiêu",
        ],
        rows,
        false,
        "CLRRL",
    ));

    // III. Catalogue currency.
    let c = &s.catalogue;
    doc = doc
        .add_paragraph(heading("III. CẬP NHẬT, CÔNG KHAI THỦ TỤC HÀNH CHÍNH"))
        .add_paragraph(part(
            "1. Thủ tục hành chính được công bố, sửa đổi, bãi bỏ trong kỳ",
        ));
    if c.changes.is_empty() {
        doc = doc.add_paragraph(body("Trong kỳ không có thủ tục hành chính thay đổi."));
    } else {
        let rows = c
            .changes
            .iter()
            .map(|ch| {
                vec![
                    breakable_code(&ch.code),
                    ch.name.clone(),
                    super::xlsx::change_label(&ch.change_type).to_owned(),
                    ch.decision_number.clone(),
                    date(&ch.effective_date),
                ]
            })
            .collect();
        doc = doc.add_table(table(
            &[
                "Mã thủ tục",
                "Tên thủ tục",
                "Nội dung",
                "Quyết định công bố",
                "Ngày hiệu lực",
            ],
            rows,
            false,
            "LLLLC",
        ));
    }
    doc = doc.add_paragraph(part("2. Niêm yết thủ tục hành chính tại đơn vị"));
    let mut rows: Vec<Vec<String>> = s
        .units
        .iter()
        .enumerate()
        .map(|(i, u)| {
            vec![
                (i + 1).to_string(),
                u.name.clone(),
                number_vi(u.postings_current),
                number_vi(u.postings_stale),
            ]
        })
        .collect();
    rows.push(vec![
        String::new(),
        "Tổng cộng".into(),
        number_vi(c.postings_current),
        number_vi(c.postings_stale),
    ]);
    doc = doc.add_table(table(
        &["STT", "Đơn vị", "Đúng phiên bản hiện hành", "Chưa cập nhật"],
        rows,
        true,
        "CLRR",
    ));

    // IV. One-stop results and satisfaction.
    let f = &s.one_stop.figures;
    doc = doc
        .add_paragraph(heading(
            "IV. KẾT QUẢ THỰC HIỆN CƠ CHẾ MỘT CỬA, MỘT CỬA LIÊN THÔNG VÀ SỰ HÀI LÒNG",
        ))
        .add_table(table(
            &["Chỉ tiêu", "Số lượng"],
            vec![
                vec![
                    "Số đơn vị báo cáo".into(),
                    number_vi(s.one_stop.units_submitted),
                ],
                vec![
                    "Tổng số hồ sơ tiếp nhận".into(),
                    number_vi(f.received_total),
                ],
                vec![
                    "- Tiếp nhận trực tuyến".into(),
                    number_vi(f.received_online),
                ],
                vec![
                    "- Tiếp nhận trực tiếp và qua bưu chính".into(),
                    number_vi(f.received_in_person_or_post),
                ],
                vec![
                    "- Kỳ trước chuyển sang".into(),
                    number_vi(f.received_carried_over),
                ],
                vec!["Số hồ sơ đã giải quyết".into(), number_vi(f.resolved_total)],
                vec!["- Trước hạn".into(), number_vi(f.resolved_early)],
                vec!["- Đúng hạn".into(), number_vi(f.resolved_on_time)],
                vec!["- Quá hạn".into(), number_vi(f.resolved_late)],
                vec![
                    "Số hồ sơ đang giải quyết".into(),
                    number_vi(f.pending_total),
                ],
                vec!["- Trong hạn".into(), number_vi(f.pending_within_time)],
                vec!["- Quá hạn".into(), number_vi(f.pending_overdue)],
                vec![
                    "Số hồ sơ trả lại, rút hồ sơ".into(),
                    number_vi(f.returned_withdrawn),
                ],
                vec!["Tỷ lệ giải quyết đúng hạn".into(), rate(f.on_time_rate)],
                vec![
                    "Số phiếu khảo sát sự hài lòng".into(),
                    number_vi(s.satisfaction.figures.responses),
                ],
                vec![
                    "Tỷ lệ hài lòng và rất hài lòng".into(),
                    rate(s.satisfaction.figures.rate),
                ],
            ],
            false,
            "LR",
        ))
        .add_paragraph(body(
            "Tỷ lệ giải quyết đúng hạn là số hồ sơ giải quyết trước hạn và đúng hạn trên tổng số \
             hồ sơ đã giải quyết. Tỷ lệ hài lòng là số lượt đánh giá \"rất hài lòng\" và \"hài lòng\" \
             trên tổng số lượt đánh giá của các tiêu chí (phiếu bỏ trống một tiêu chí không tính \
             cho tiêu chí đó), không phải trên số phiếu.",
        ));
    let rows: Vec<Vec<String>> = s
        .units
        .iter()
        .filter_map(|u| {
            u.one_stop.as_ref().map(|o| {
                vec![
                    u.name.clone(),
                    number_vi(o.received_total),
                    number_vi(o.resolved_total),
                    number_vi(o.resolved_early + o.resolved_on_time),
                    number_vi(o.resolved_late),
                    rate(o.on_time_rate),
                ]
            })
        })
        .collect();
    if !rows.is_empty() {
        doc = doc
            .add_paragraph(part("Kết quả của từng đơn vị:"))
            .add_table(table(
                &[
                    "Đơn vị",
                    "Tiếp nhận",
                    "Đã giải quyết",
                    "Trước hạn, đúng hạn",
                    "Quá hạn",
                    "Tỷ lệ đúng hạn",
                ],
                rows,
                false,
                "LRRRRR",
            ));
    }
    if !s.satisfaction.criteria.is_empty() {
        let rows = s
            .satisfaction
            .criteria
            .iter()
            .map(|k| {
                vec![
                    k.name.clone(),
                    number_vi(k.very_satisfied),
                    number_vi(k.satisfied),
                    number_vi(k.dissatisfied),
                    rate(k.rate),
                ]
            })
            .collect();
        doc = doc
            .add_paragraph(part("Sự hài lòng theo tiêu chí:"))
            .add_table(table(
                &[
                    "Tiêu chí",
                    "Rất hài lòng",
                    "Hài lòng",
                    "Không hài lòng",
                    "Tỷ lệ hài lòng",
                ],
                rows,
                false,
                "LRRRR",
            ));
    }

    // V. Budget.
    let b = &s.budget;
    doc = doc.add_paragraph(heading("V. KINH PHÍ TUYÊN TRUYỀN"));
    let mut rows: Vec<Vec<String>> = s
        .units
        .iter()
        .filter_map(|u| {
            u.budget.as_ref().map(|x| {
                vec![
                    u.name.clone(),
                    number_vi(x.planned_vnd),
                    number_vi(x.spent_vnd),
                    rate(x.execution_rate),
                ]
            })
        })
        .collect();
    rows.push(vec![
        "Tổng cộng".into(),
        number_vi(b.figures.planned_vnd),
        number_vi(b.figures.spent_vnd),
        rate(b.figures.execution_rate),
    ]);
    doc = doc.add_table(table(
        &[
            "Đơn vị",
            &format!("Dự toán năm {} (đồng)", b.year),
            "Đã chi (đồng)",
            "Tỷ lệ",
        ],
        rows,
        true,
        "LRRR",
    ));

    // VI. Units that reported nothing.
    doc = doc.add_paragraph(heading("VI. ĐƠN VỊ CHƯA BÁO CÁO"));
    doc = doc.add_paragraph(body(
        "Đơn vị được tính là đã báo cáo khi đã nộp báo cáo kỳ trên hệ thống (xác nhận số liệu \
         của kỳ) và báo cáo đó không bị Văn phòng Sở mở lại; số liệu gửi mà chưa nộp báo cáo \
         không được tính.",
    ));
    if o.silent_units.is_empty() {
        doc = doc.add_paragraph(body("Tất cả các đơn vị đã báo cáo."));
    } else {
        for (i, u) in o.silent_units.iter().enumerate() {
            doc = doc.add_paragraph(body(&format!("{}. {}", i + 1, u.name)));
        }
    }
    doc = doc
        .add_paragraph(
            Paragraph::new()
                .add_run(
                    run(format!(
                        "Số liệu tổng hợp đến {} ngày {}.",
                        local.format("%H giờ %M"),
                        local.format("%d/%m/%Y")
                    ))
                    .italic(),
                )
                .align(AlignmentType::Both)
                .indent(None, Some(SpecialIndentType::FirstLine(567)), None, None)
                .line_spacing(LineSpacing::new().before(120).after(240)),
        )
        .add_table(end(s));

    let mut out = Cursor::new(Vec::new());
    doc.build().pack(&mut out).map_err(|e| e.to_string())?;
    // "Báo cáo kết quả thực hiện …": the document's title after its kind, as a sentence.
    let mut chars = s.document.title.chars();
    let rest: String = match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    };
    let title = format!("Báo cáo {rest}");
    finish(&out.into_inner(), &title, &s.document.issuing_body).map_err(|e| e.to_string())
}

fn xml_escape(v: &str) -> String {
    v.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// What docx-rs cannot say, said on its package: each table's first row repeats at the
/// top of every page the table runs onto; the core properties name the issuing body as
/// author, the report's title and its language; every part is compressed (docx-rs
/// stores them), with fixed times so the same report gives the same bytes.
fn finish(package: &[u8], title: &str, author: &str) -> zip::result::ZipResult<Vec<u8>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(package))?;
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    for i in 0..archive.len() {
        let mut part = archive.by_index(i)?;
        let name = part.name().to_owned();
        if part.is_dir() {
            out.add_directory(name, options)?;
            continue;
        }
        let mut data = Vec::new();
        part.read_to_end(&mut data)?;
        let data = match name.as_str() {
            "word/document.xml" => repeat_header_rows(&String::from_utf8_lossy(&data)).into_bytes(),
            "docProps/core.xml" => {
                let (author, title) = (xml_escape(author), xml_escape(title));
                String::from_utf8_lossy(&data)
                    .replace(
                        "<dc:creator>unknown</dc:creator>",
                        &format!("<dc:creator>{author}</dc:creator>"),
                    )
                    .replace(
                        "<cp:lastModifiedBy>unknown</cp:lastModifiedBy>",
                        &format!("<cp:lastModifiedBy>{author}</cp:lastModifiedBy>"),
                    )
                    .replace(
                        "</cp:coreProperties>",
                        &format!(
                            "<dc:title>{title}</dc:title><dc:language>vi-VN</dc:language></cp:coreProperties>"
                        ),
                    )
                    .into_bytes()
            }
            _ => data,
        };
        out.start_file(name, options)?;
        out.write_all(&data)?;
    }
    Ok(out.finish()?.into_inner())
}

/// Marks the first row of every bordered table (those with a header row: the ones
/// whose first row keeps with the next) as a header row that repeats on each page.
fn repeat_header_rows(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len() + 1024);
    let mut rest = xml;
    while let Some(at) = rest.find("<w:tbl>") {
        let (before, table) = rest.split_at(at);
        out.push_str(before);
        // The table's first row and its properties, as docx-rs writes them.
        match table.find("<w:tr>") {
            Some(row) if table[row..].starts_with("<w:tr><w:trPr>") => {
                let cut = row + "<w:tr><w:trPr>".len();
                out.push_str(&table[..cut]);
                out.push_str("<w:tblHeader />");
                rest = &table[cut..];
            }
            _ => {
                out.push_str("<w:tbl>");
                rest = &table["<w:tbl>".len()..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Renders on a thread of its own: docx-rs numbers paragraphs with a per-thread
/// counter, so a fresh thread gives the same numbers every time.
pub fn render(s: &Snapshot) -> Result<Vec<u8>, String> {
    let s = s.clone();
    std::thread::spawn(move || build(&s))
        .join()
        .map_err(|_| "the document renderer panicked".to_owned())?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn most_lines(headers: &[&str], rows: &[Vec<String>]) -> usize {
        let widths = fit_widths(headers, rows);
        rows.iter()
            .chain(std::iter::once(
                &headers.iter().map(|h| h.to_string()).collect(),
            ))
            .flat_map(|r| r.iter().zip(&widths).map(|(t, w)| lines_in(t, *w)))
            .max()
            .unwrap()
    }

    #[test]
    fn columns_are_sized_so_no_row_wraps_to_six_lines() {
        let units = [
            "STT",
            "Đơn vị",
            "Số hoạt động",
            "Lượt người tham dự",
            "Chưa đạt chỉ tiêu",
        ];
        let below = vec![
            "1".to_owned(),
            "Trung tâm Giáo dục nghề nghiệp - Giáo dục thường xuyên quận Dương Kinh".to_owned(),
            "0".to_owned(),
            "0".to_owned(),
            "Tin bài đăng trên trang thông tin điện tử; Quán triệt, phổ biến tại cuộc họp; \
             Niêm yết công khai; Tập huấn, bồi dưỡng"
                .to_owned(),
        ];
        let widths = fit_widths(&units, std::slice::from_ref(&below));
        assert_eq!(widths.iter().sum::<usize>(), TEXT_WIDTH);
        assert!(most_lines(&units, &[below]) <= 5);
        // A date, a decision number and a code never break; a long name takes the room.
        let changes = [
            "Mã thủ tục",
            "Tên thủ tục",
            "Nội dung",
            "Quyết định công bố",
            "Ngày hiệu lực",
        ];
        let row = vec![
            breakable_code("1.001088.000.00.00.H19"),
            // Among the longest names in the national catalogue (170 characters).
            "Chuyển đổi nhà trẻ, trường mẫu giáo, trường mầm non tư thục do nhà đầu tư \
             trong nước đầu tư sang nhà trẻ, trường mẫu giáo, trường mầm non tư thục hoạt \
             động không vì lợi nhuận"
                .to_owned(),
            "Sửa đổi, bổ sung".to_owned(),
            "1234/QĐ-UBND".to_owned(),
            "01/06/2020".to_owned(),
        ];
        let widths = fit_widths(&changes, std::slice::from_ref(&row));
        for (cell, width) in row.iter().zip(&widths).skip(2) {
            assert!(
                cell.split_whitespace().all(|w| lines_in(w, *width) == 1),
                "{cell:?} breaks in {width}"
            );
        }
        let most = most_lines(&changes, std::slice::from_ref(&row));
        assert!(most <= 5, "{most} lines in {widths:?}");
    }
}
