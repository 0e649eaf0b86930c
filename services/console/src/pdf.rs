//! The posting sheet as a PDF made on the server, for a unit whose staff cannot print
//! from a browser: A4, ten procedures to a page, each with its QR code drawn as vector
//! squares and a link to its public page.
//!
//! The text is set in DejaVu Sans Condensed (Vietnamese needs its precomposed letters,
//! and no PDF base font has them), embedded as a subset of the glyphs used, with a
//! ToUnicode map so the printed text can be searched, copied and read aloud.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::LazyLock;

use pdf_writer::types::{
    ActionType, AnnotationType, CidFontType, FontFlags, SystemInfo, UnicodeCmap,
};
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use unicode_normalization::UnicodeNormalization;

static REGULAR: &[u8] = include_bytes!("../fonts/DejaVuSansCondensed.ttf");
static BOLD: &[u8] = include_bytes!("../fonts/DejaVuSansCondensed-Bold.ttf");

struct Fonts {
    regular: ttf_parser::Face<'static>,
    bold: ttf_parser::Face<'static>,
}

static FONTS: LazyLock<Fonts> = LazyLock::new(|| Fonts {
    regular: ttf_parser::Face::parse(REGULAR, 0).expect("the embedded regular font parses"),
    bold: ttf_parser::Face::parse(BOLD, 0).expect("the embedded bold font parses"),
});

const MM: f32 = 72.0 / 25.4;
const PAGE_W: f32 = 210.0 * MM;
const PAGE_H: f32 = 297.0 * MM;
const MARGIN: f32 = 10.0 * MM;
const PAD: f32 = 1.5 * MM;
/// The QR code's side, its quiet zone included: big enough for a phone a metre away.
const QR_SIDE: f32 = 19.0 * MM;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Style {
    Regular,
    Bold,
}

impl Style {
    fn face(self) -> &'static ttf_parser::Face<'static> {
        match self {
            Style::Regular => &FONTS.regular,
            Style::Bold => &FONTS.bold,
        }
    }

    fn resource(self) -> Name<'static> {
        match self {
            Style::Regular => Name(b"F1"),
            Style::Bold => Name(b"F2"),
        }
    }

    fn glyph(self, c: char) -> u16 {
        self.face().glyph_index(c).map_or(0, |g| g.0)
    }

    /// The width of `text` at `size` points (advances only: DejaVu's Vietnamese needs
    /// no kerning to read well).
    fn width(self, text: &str, size: f32) -> f32 {
        let face = self.face();
        let units: u32 = text
            .chars()
            .map(|c| {
                u32::from(
                    face.glyph_hor_advance(ttf_parser::GlyphId(self.glyph(c)))
                        .unwrap_or(0),
                )
            })
            .sum();
        units as f32 * size / f32::from(face.units_per_em())
    }
}

/// What is drawn on a page, before the fonts are subset.
#[derive(Debug)]
enum Op {
    Text {
        style: Style,
        size: f32,
        gray: f32,
        x: f32,
        y: f32,
        text: String,
    },
    Fill {
        gray: f32,
        x: f32,
        y: f32,
        w: f32,
        h: f32,
    },
    Line {
        x1: f32,
        y1: f32,
        x2: f32,
        y2: f32,
    },
    Link {
        rect: Rect,
        url: String,
    },
}

/// One procedure on the sheet.
#[derive(Debug, Clone)]
pub struct Line {
    pub name: String,
    pub code: String,
    /// Its public page, which the QR code names.
    pub url: String,
    /// The version and the decision it reflects, as a sentence.
    pub reflects: String,
}

/// A run of text to set in a cell, wrapped to its width.
struct Block<'a> {
    style: Style,
    size: f32,
    gray: f32,
    text: &'a str,
    /// Break anywhere (a URL), not only between words.
    anywhere: bool,
}

/// `text` broken into lines no wider than `width`.
fn wrap(text: &str, style: Style, size: f32, width: f32, anywhere: bool) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    let fits = |s: &str| style.width(s, size) <= width;
    let pieces: Vec<String> = if anywhere {
        text.chars().map(String::from).collect()
    } else {
        text.split_whitespace().map(str::to_owned).collect()
    };
    for piece in pieces {
        let joined = if line.is_empty() || anywhere {
            format!("{line}{piece}")
        } else {
            format!("{line} {piece}")
        };
        if fits(&joined) {
            line = joined;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        // A word wider than the cell is broken where it must be.
        for c in piece.chars() {
            if !line.is_empty() && !fits(&format!("{line}{c}")) {
                lines.push(std::mem::take(&mut line));
            }
            line.push(c);
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

const LEADING: f32 = 1.18;

/// Sets `blocks` one under the other in the box whose top left corner is (`x`, `top`):
/// smaller when they do not fit, and at the smallest size the last line that fits ends
/// with "…".
fn set(blocks: &[Block<'_>], x: f32, top: f32, width: f32, height: f32) -> Vec<Op> {
    let scales = [1.0, 0.92, 0.84, 0.76];
    for (i, scale) in scales.iter().enumerate() {
        let laid: Vec<(usize, Vec<String>, f32)> = blocks
            .iter()
            .enumerate()
            .map(|(b, block)| {
                let size = block.size * scale;
                (
                    b,
                    wrap(block.text, block.style, size, width, block.anywhere),
                    size,
                )
            })
            .collect();
        let needed: f32 = laid
            .iter()
            .map(|(_, lines, size)| lines.len() as f32 * size * LEADING)
            .sum();
        let last = i + 1 == scales.len();
        if needed > height && !last {
            continue;
        }
        let mut ops = Vec::new();
        let mut y = top;
        'blocks: for (b, lines, size) in laid {
            let block = &blocks[b];
            for line in lines {
                let step = size * LEADING;
                if y - step < top - height - 0.01 {
                    // Out of room even at the smallest size: say that something is cut.
                    if let Some(Op::Text { text, .. }) = ops.last_mut() {
                        text.push('…');
                    }
                    break 'blocks;
                }
                ops.push(Op::Text {
                    style: block.style,
                    size,
                    gray: block.gray,
                    x,
                    y: y - size * 0.93,
                    text: line,
                });
                y -= step;
            }
        }
        return ops;
    }
    Vec::new()
}

fn centred(text: &str, style: Style, size: f32, top: f32) -> Op {
    let width = PAGE_W - 2.0 * MARGIN;
    let mut size = size;
    while style.width(text, size) > width && size > 6.0 {
        size -= 0.5;
    }
    Op::Text {
        style,
        size,
        gray: 0.0,
        x: (PAGE_W - style.width(text, size)) / 2.0,
        y: top - size * 0.93,
        text: text.to_owned(),
    }
}

/// The QR code of `url` as filled squares in the square of side `side` whose top left
/// corner is (`x`, `top`), quiet zone included.
fn qr(url: &str, x: f32, top: f32, side: f32) -> Vec<Op> {
    let Some((width, dark)) = crate::qr::modules(url) else {
        return Vec::new();
    };
    let quiet = 2;
    let module = side / (width + 2 * quiet) as f32;
    let mut ops = Vec::new();
    for row in 0..width {
        // A row's consecutive dark modules are one rectangle: fewer, and no hairline
        // gaps between them when a viewer anti-aliases.
        let mut col = 0;
        while col < width {
            if !dark[row * width + col] {
                col += 1;
                continue;
            }
            let start = col;
            while col < width && dark[row * width + col] {
                col += 1;
            }
            ops.push(Op::Fill {
                gray: 0.0,
                x: x + (start + quiet) as f32 * module,
                y: top - (row + quiet + 1) as f32 * module,
                w: (col - start) as f32 * module,
                h: module,
            });
        }
    }
    ops.push(Op::Link {
        rect: Rect::new(x, top - side, x + side, top),
        url: url.to_owned(),
    });
    ops
}

/// Lines per A4 page, as in the browser's print of the same sheet.
pub const LINES_PER_PAGE: usize = crate::pages::SHEET_LINES_PER_PAGE;

/// The sheet of `unit_name` as a PDF: a title on every page, a table of ten procedures
/// to a page, and "Trang i/n" at the foot.
pub fn posting_sheet(unit_name: &str, updated: &str, lines: &[Line]) -> Vec<u8> {
    let title = "DANH MỤC THỦ TỤC HÀNH CHÍNH NIÊM YẾT CÔNG KHAI";
    let sub = format!("{unit_name} · cập nhật ngày {updated}");
    let chunks: Vec<&[Line]> = if lines.is_empty() {
        vec![&[]]
    } else {
        lines.chunks(LINES_PER_PAGE).collect()
    };
    let count = chunks.len();
    let inner = PAGE_W - 2.0 * MARGIN;
    // Columns: number, procedure, version and decision, QR code.
    let widths = [9.0 * MM, 0.0, 62.0 * MM, QR_SIDE + 2.0 * PAD];
    let widths = [
        widths[0],
        inner - widths[0] - widths[2] - widths[3],
        widths[2],
        widths[3],
    ];
    let mut xs = [MARGIN; 5];
    for i in 0..4 {
        xs[i + 1] = xs[i] + widths[i];
    }
    let head_top = PAGE_H - MARGIN - 32.0;
    let head_h = 16.0;
    let body_top = head_top - head_h;
    let foot = MARGIN + 14.0;
    let row_h = (body_top - foot) / LINES_PER_PAGE as f32;

    let mut pages = Vec::with_capacity(count);
    let mut n = 0;
    for (p, chunk) in chunks.iter().enumerate() {
        let mut ops = vec![
            centred(title, Style::Bold, 13.0, PAGE_H - MARGIN),
            centred(&sub, Style::Regular, 10.0, PAGE_H - MARGIN - 17.0),
            Op::Fill {
                gray: 0.9,
                x: MARGIN,
                y: body_top,
                w: inner,
                h: head_h,
            },
        ];
        let heads = ["STT", "Thủ tục", "Phiên bản, quyết định công bố", "Tra cứu"];
        for (i, head) in heads.iter().enumerate() {
            ops.extend(set(
                &[Block {
                    style: Style::Bold,
                    size: 9.0,
                    gray: 0.0,
                    text: head,
                    anywhere: false,
                }],
                xs[i] + PAD,
                head_top - 4.0,
                widths[i] - 2.0 * PAD,
                head_h - 4.0,
            ));
        }
        if chunk.is_empty() {
            ops.extend(set(
                &[Block {
                    style: Style::Regular,
                    size: 10.0,
                    gray: 0.0,
                    text: "Đơn vị chưa niêm yết thủ tục nào.",
                    anywhere: false,
                }],
                MARGIN + PAD,
                body_top - PAD,
                inner - 2.0 * PAD,
                row_h,
            ));
        }
        let mut bottom = body_top;
        for (r, line) in chunk.iter().enumerate() {
            n += 1;
            let top = body_top - r as f32 * row_h;
            bottom = top - row_h;
            let code = format!("Mã {}", line.code);
            let number = n.to_string();
            let cell = |i: usize, blocks: &[Block<'_>]| {
                set(
                    blocks,
                    xs[i] + PAD,
                    top - PAD,
                    widths[i] - 2.0 * PAD,
                    row_h - 2.0 * PAD,
                )
            };
            let plain = |text| Block {
                style: Style::Regular,
                size: 9.0,
                gray: 0.0,
                text,
                anywhere: false,
            };
            ops.extend(cell(0, &[plain(&number)]));
            ops.extend(cell(
                1,
                &[
                    Block {
                        style: Style::Bold,
                        size: 10.0,
                        ..plain(&line.name)
                    },
                    plain(&code),
                    Block {
                        size: 7.0,
                        gray: 0.3,
                        anywhere: true,
                        ..plain(&line.url)
                    },
                ],
            ));
            ops.extend(cell(2, &[plain(&line.reflects)]));
            ops.extend(qr(&line.url, xs[3] + PAD, top - PAD, QR_SIDE));
            ops.push(Op::Line {
                x1: MARGIN,
                y1: bottom,
                x2: MARGIN + inner,
                y2: bottom,
            });
        }
        // The table's frame: its top, the header's foot, and the column rules.
        for y in [head_top, body_top] {
            ops.push(Op::Line {
                x1: MARGIN,
                y1: y,
                x2: MARGIN + inner,
                y2: y,
            });
        }
        let bottom = if chunk.is_empty() {
            body_top - row_h
        } else {
            bottom
        };
        if chunk.is_empty() {
            ops.push(Op::Line {
                x1: MARGIN,
                y1: bottom,
                x2: MARGIN + inner,
                y2: bottom,
            });
        }
        for (i, x) in xs.iter().enumerate() {
            // An empty sheet's one line spans the table.
            if chunk.is_empty() && i > 0 && i < 4 {
                continue;
            }
            ops.push(Op::Line {
                x1: *x,
                y1: head_top,
                x2: *x,
                y2: bottom,
            });
        }
        let page_no = format!("Trang {}/{}", p + 1, count);
        ops.push(Op::Text {
            style: Style::Regular,
            size: 8.0,
            gray: 0.3,
            x: PAGE_W - MARGIN - Style::Regular.width(&page_no, 8.0),
            y: MARGIN + 2.0,
            text: page_no,
        });
        pages.push(ops);
    }
    write(
        &pages,
        &format!("Danh mục thủ tục hành chính niêm yết công khai – {unit_name}"),
        unit_name,
    )
}

/// The glyphs a document uses in one font, renumbered for its subset, with the
/// character each one stands for.
struct Used {
    remapper: subsetter::GlyphRemapper,
    chars: BTreeMap<u16, char>,
}

fn compressed(data: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(data).expect("writing to memory");
    z.finish().expect("writing to memory")
}

fn write(pages: &[Vec<Op>], title: &str, author: &str) -> Vec<u8> {
    // Text as the reader will see it: composed, so "ệ" is one glyph, not three.
    let normal = |s: &str| s.nfc().collect::<String>();
    let mut used: BTreeMap<Style, Used> = BTreeMap::new();
    for op in pages.iter().flatten() {
        if let Op::Text { style, text, .. } = op {
            let u = used.entry(*style).or_insert_with(|| Used {
                remapper: subsetter::GlyphRemapper::new(),
                chars: BTreeMap::new(),
            });
            for c in normal(text).chars() {
                let gid = style.glyph(c);
                u.remapper.remap(gid);
                u.chars.entry(gid).or_insert(c);
            }
        }
    }

    let mut next = 1;
    let mut id = || {
        let r = Ref::new(next);
        next += 1;
        r
    };
    let catalog = id();
    let tree = id();
    let info = id();
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree).lang(TextStr("vi"));
    pdf.document_info(info)
        .title(TextStr(title))
        .author(TextStr(author))
        .creator(TextStr("cchc"));

    let system = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };
    let mut fonts = Vec::new();
    for (style, u) in &used {
        let (type0, cid, descriptor, file, cmap) = (id(), id(), id(), id(), id());
        let face = style.face();
        let data = match style {
            Style::Regular => REGULAR,
            Style::Bold => BOLD,
        };
        let name = match style {
            Style::Regular => &b"CCHCAA+DejaVuSansCondensed"[..],
            Style::Bold => &b"CCHCAB+DejaVuSansCondensed-Bold"[..],
        };
        let per_em = f32::from(face.units_per_em());
        let scale = |v: f32| v * 1000.0 / per_em;
        pdf.type0_font(type0)
            .base_font(Name(name))
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(cid)
            .to_unicode(cmap);
        let widths: Vec<f32> = u
            .remapper
            .remapped_gids()
            .map(|g| {
                scale(f32::from(
                    face.glyph_hor_advance(ttf_parser::GlyphId(g)).unwrap_or(0),
                ))
            })
            .collect();
        let mut font = pdf.cid_font(cid);
        font.subtype(CidFontType::Type2)
            .base_font(Name(name))
            .system_info(system)
            .font_descriptor(descriptor)
            .default_width(0.0)
            .cid_to_gid_map_predefined(Name(b"Identity"));
        font.widths().consecutive(0, widths);
        font.finish();
        let bbox = face.global_bounding_box();
        pdf.font_descriptor(descriptor)
            .name(Name(name))
            .flags(FontFlags::NON_SYMBOLIC)
            .bbox(Rect::new(
                scale(f32::from(bbox.x_min)),
                scale(f32::from(bbox.y_min)),
                scale(f32::from(bbox.x_max)),
                scale(f32::from(bbox.y_max)),
            ))
            .italic_angle(0.0)
            .ascent(scale(f32::from(face.ascender())))
            .descent(scale(f32::from(face.descender())))
            .cap_height(scale(f32::from(
                face.capital_height().unwrap_or(face.ascender()),
            )))
            .stem_v(if *style == Style::Bold { 120.0 } else { 80.0 })
            .font_file2(file);
        let program = subsetter::subset(data, 0, &u.remapper).expect("the embedded font subsets");
        pdf.stream(file, &compressed(&program))
            .filter(Filter::FlateDecode)
            .pair(Name(b"Length1"), program.len() as i32);
        let mut map = UnicodeCmap::new(Name(b"Custom"), system);
        for (gid, c) in &u.chars {
            if let Some(new) = u.remapper.get(*gid) {
                map.pair(new, *c);
            }
        }
        pdf.cmap(cmap, &map.finish());
        fonts.push((*style, type0));
    }

    let mut kids = Vec::new();
    for ops in pages {
        let (page, contents) = (id(), id());
        kids.push(page);
        let mut c = Content::new();
        let mut links = Vec::new();
        c.set_line_width(0.6);
        c.set_stroke_gray(0.35);
        for op in ops {
            match op {
                Op::Text {
                    style,
                    size,
                    gray,
                    x,
                    y,
                    text,
                } => {
                    let u = &used[style];
                    let glyphs: Vec<u8> = normal(text)
                        .chars()
                        .flat_map(|ch| u.remapper.get(style.glyph(ch)).unwrap_or(0).to_be_bytes())
                        .collect();
                    c.set_fill_gray(*gray);
                    c.begin_text();
                    c.set_font(style.resource(), *size);
                    c.next_line(*x, *y);
                    c.show(Str(&glyphs));
                    c.end_text();
                }
                Op::Fill { gray, x, y, w, h } => {
                    c.set_fill_gray(*gray);
                    c.rect(*x, *y, *w, *h);
                    c.fill_nonzero();
                }
                Op::Line { x1, y1, x2, y2 } => {
                    c.move_to(*x1, *y1);
                    c.line_to(*x2, *y2);
                    c.stroke();
                }
                Op::Link { rect, url } => links.push((id(), *rect, url)),
            }
        }
        pdf.stream(contents, &compressed(&c.finish()))
            .filter(Filter::FlateDecode);
        let mut p = pdf.page(page);
        p.media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
            .parent(tree)
            .contents(contents);
        {
            let mut resources = p.resources();
            let mut dict = resources.fonts();
            for (style, font) in &fonts {
                dict.pair(style.resource(), *font);
            }
        }
        p.annotations(links.iter().map(|(r, _, _)| *r));
        p.finish();
        for (r, rect, url) in links {
            let mut a = pdf.annotation(r);
            a.subtype(AnnotationType::Link)
                .rect(rect)
                .border(0.0, 0.0, 0.0, None);
            a.action()
                .action_type(ActionType::Uri)
                .uri(Str(url.as_bytes()));
        }
    }
    pdf.pages(tree).count(kids.len() as i32).kids(kids);
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(i: usize) -> Line {
        Line {
            name: format!("Thủ tục xét tuyển học sinh vào lớp mười số {i}"),
            code: format!("1.0{i:05}.H19"),
            url: format!("http://127.0.0.1:8090/thu-tuc/1.0{i:05}.H19"),
            reflects:
                "Phiên bản 2, Quyết định số 1234/QĐ-UBND ngày 15/01/2020; hiệu lực từ 01/02/2020"
                    .into(),
        }
    }

    #[test]
    fn words_wrap_to_the_width_and_urls_anywhere() {
        let lines = wrap(
            "Thủ tục công nhận trường trung học phổ thông đạt chuẩn quốc gia",
            Style::Regular,
            10.0,
            120.0,
            false,
        );
        assert!(lines.len() > 1, "{lines:?}");
        assert!(lines.iter().all(|l| Style::Regular.width(l, 10.0) <= 120.0));
        assert_eq!(
            lines.join(" "),
            "Thủ tục công nhận trường trung học phổ thông đạt chuẩn quốc gia"
        );
        let url = "http://127.0.0.1:8090/thu-tuc/1.012753.H19";
        let broken = wrap(url, Style::Regular, 7.0, 60.0, true);
        assert!(broken.len() > 1);
        assert_eq!(broken.concat(), url);
    }

    #[test]
    fn a_name_too_long_for_its_cell_is_set_smaller_then_cut_visibly() {
        let long = "Thủ tục rất dài ".repeat(40);
        let ops = set(
            &[Block {
                style: Style::Bold,
                size: 10.0,
                gray: 0.0,
                text: &long,
                anywhere: false,
            }],
            0.0,
            100.0,
            100.0,
            40.0,
        );
        let texts: Vec<&str> = ops
            .iter()
            .filter_map(|o| match o {
                Op::Text { text, y, .. } => {
                    assert!(*y >= 60.0, "drawn below its cell: {y}");
                    Some(text.as_str())
                }
                _ => None,
            })
            .collect();
        assert!(texts.last().unwrap().ends_with('…'), "{texts:?}");
    }

    #[test]
    fn a_sheet_is_a_pdf_of_one_page_per_ten_procedures_with_a_link_per_qr_code() {
        let lines: Vec<Line> = (1..=23).map(line).collect();
        let pdf = posting_sheet("Trường THPT Ngô Quyền", "03/12/2026", &lines);
        assert!(pdf.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("/Count 3"), "three pages");
        assert_eq!(text.matches("/Subtype /Link").count(), 23);
        assert!(text.contains("(http://127.0.0.1:8090/thu-tuc/1.000023.H19)"));
        // The fonts are subsets: the whole sheet weighs far less than one font file.
        assert!(pdf.len() < 120_000, "{} bytes", pdf.len());
        let empty = posting_sheet("Trường THPT Ngô Quyền", "03/12/2026", &[]);
        assert!(String::from_utf8_lossy(&empty).contains("/Count 1"));
    }
}
