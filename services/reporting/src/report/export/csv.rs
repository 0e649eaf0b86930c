//! CSV: one row per covered unit with every figure, nothing else. Headers are stable
//! machine names (their meanings are in `docs/exports.md`); rates are percentages with
//! one decimal and a dot. Totals are in the XLSX and DOCX, not here: a total row would
//! put text ("3/4", "TỔNG CỘNG") in columns of figures.
//!
//! UTF-8 with a byte-order mark and CRLF line ends: spreadsheet programs on a
//! Vietnamese Windows read a file without the mark in the local code page, which
//! garbles every accented letter.
//!
//! Text cells hold what offices and units typed (unit names above all). A spreadsheet
//! opening the file would run a cell starting with `=`, `+`, `-`, `@`, tab or carriage
//! return as a formula, so such a cell is written as OWASP's CSV Injection sheet says:
//! a single quote in front, the cell quoted. Figures are written by the program and
//! stay numbers, negative ones too.

use cchc_platform::vocabulary::activity_kind;

use crate::report::{OneStopFigures, SatisfactionFigures, Snapshot};

/// Cells a spreadsheet would read as the start of a formula (or, for tab and carriage
/// return, as padding before one).
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A cell of a row: text someone typed, or a figure the report computed.
enum Cell {
    Text(String),
    Figure(String),
}

fn t(s: &str) -> Cell {
    Cell::Text(s.to_owned())
}

fn n(v: impl ToString) -> Cell {
    Cell::Figure(v.to_string())
}

/// Writes one record as RFC 4180 does: a cell is quoted when it holds a comma, a quote
/// or a line break (its quotes doubled), and a text cell that could start a formula is
/// prefixed with a single quote and quoted.
fn write_row(out: &mut Vec<u8>, row: &[Cell]) {
    for (i, cell) in row.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let (value, neutralised) = match cell {
            Cell::Text(s) if s.starts_with(FORMULA_START) => (format!("'{s}"), true),
            Cell::Text(s) | Cell::Figure(s) => (s.clone(), false),
        };
        if neutralised || value.contains([',', '"', '\n', '\r']) {
            out.push(b'"');
            out.extend_from_slice(value.replace('"', "\"\"").as_bytes());
            out.push(b'"');
        } else {
            out.extend_from_slice(value.as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// UTF-8's byte-order mark, first in the file.
const BOM: &[u8] = "\u{feff}".as_bytes();

fn rate(r: Option<f64>) -> Cell {
    n(r.map(|r| format!("{r:.1}")).unwrap_or_default())
}

fn one_stop_cells(o: Option<&OneStopFigures>) -> Vec<Cell> {
    match o {
        Some(o) => vec![
            n(o.received_total),
            n(o.resolved_early),
            n(o.resolved_on_time),
            n(o.resolved_late),
            n(o.pending_total),
            n(o.pending_overdue),
            rate(o.on_time_rate),
        ],
        None => (0..7).map(|_| n("")).collect(),
    }
}

fn satisfaction_cells(s: Option<&SatisfactionFigures>) -> Vec<Cell> {
    match s {
        Some(s) => vec![n(s.responses), rate(s.rate)],
        None => vec![n(""), n("")],
    }
}

pub fn render(s: &Snapshot) -> Result<Vec<u8>, String> {
    let mut out = BOM.to_vec();
    let mut header: Vec<Cell> = [
        "unit_id",
        "unit_name",
        "unit_kind",
        "reported",
        "submitted_at",
        "submitted_late",
        "activities_total",
        "head_count",
    ]
    .iter()
    .map(|h| t(h))
    .collect();
    header.extend(
        activity_kind::ALL
            .iter()
            .map(|k| Cell::Text(format!("activities_{k}"))),
    );
    header.extend(
        [
            "below_target",
            "postings_current",
            "postings_stale",
            "one_stop_received",
            "one_stop_resolved_early",
            "one_stop_resolved_on_time",
            "one_stop_resolved_late",
            "one_stop_pending",
            "one_stop_pending_overdue",
            "one_stop_on_time_rate",
            "satisfaction_responses",
            "satisfaction_rate",
            "budget_planned_vnd",
            "budget_spent_vnd",
        ]
        .iter()
        .map(|h| t(h)),
    );
    write_row(&mut out, &header);
    for u in &s.units {
        let mut row = vec![
            t(&u.unit_id),
            t(&u.name),
            t(&u.kind),
            n(u.reported),
            t(&u.submitted_at),
            n(u.submitted_late),
            n(u.activities_total),
            n(u.head_count),
        ];
        row.extend(u.activities.iter().map(|k| n(k.count)));
        row.push(t(&u.below_target.join(";")));
        row.push(n(u.postings_current));
        row.push(n(u.postings_stale));
        row.extend(one_stop_cells(u.one_stop.as_ref()));
        row.extend(satisfaction_cells(u.satisfaction.as_ref()));
        match &u.budget {
            Some(b) => {
                row.push(n(b.planned_vnd));
                row.push(n(b.spent_vnd));
            }
            None => row.extend([n(""), n("")]),
        }
        write_row(&mut out, &row);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(row: &[Cell]) -> String {
        let mut out = Vec::new();
        write_row(&mut out, row);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn text_that_could_start_a_formula_is_quoted_behind_a_single_quote() {
        assert_eq!(
            line(&[
                t("=1+1"),
                t("@SUM(1)"),
                t("+1"),
                t("-1"),
                t("\tx"),
                t("\rx")
            ]),
            "\"'=1+1\",\"'@SUM(1)\",\"'+1\",\"'-1\",\"'\tx\",\"'\rx\"\r\n"
        );
        assert_eq!(
            line(&[t("=HYPERLINK(\"u\",\"a\")")]),
            "\"'=HYPERLINK(\"\"u\"\",\"\"a\"\")\"\r\n"
        );
        // Ordinary text is written as RFC 4180 asks, and figures stay numbers.
        assert_eq!(
            line(&[t("Trường A-1"), t("a, b"), t(""), n(-5_000_000), n("87.5")]),
            "Trường A-1,\"a, b\",,-5000000,87.5\r\n"
        );
    }
}
