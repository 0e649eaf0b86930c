//! Charts drawn on the server as SVG, so they need no script and print as they show:
//! horizontal bars, each labelled with its name and its figure, and a title that
//! screen readers announce (the figures are also in a table beside each chart).
//! The words (title, names) are the caller's, already in the page's language; the
//! figures are written as everywhere in the console (1.200, 95,5%).

use cchc_text::html_escape;

const WIDTH: i64 = 720;
const LABEL: i64 = 360;
const ROW: i64 = 30;

/// Horizontal bars for `rows` (name, figure), scaled to the largest figure.
pub fn bars(title: &str, rows: &[(String, i64)]) -> String {
    let labelled: Vec<(String, i64, String)> = rows
        .iter()
        .map(|(name, n)| (name.clone(), *n, cchc_text::number_vi(*n)))
        .collect();
    let max = rows.iter().map(|(_, n)| *n).max().unwrap_or(0);
    bars_labelled(title, &labelled, max)
}

/// Bars for rates in percent (0–100, one decimal), on a scale to 100%.
pub fn percent_bars(title: &str, rows: &[(String, f64)]) -> String {
    let labelled: Vec<(String, i64, String)> = rows
        .iter()
        .map(|(name, r)| {
            let shown = format!("{r:.1}%").replace('.', ",");
            (name.clone(), (r * 10.0).round() as i64, shown)
        })
        .collect();
    bars_labelled(title, &labelled, 1000)
}

/// Bars for `rows` (name, figure, the figure as shown), `max` filling the room.
fn bars_labelled(title: &str, rows: &[(String, i64, String)], max: i64) -> String {
    let max = max.max(1);
    let height = ROW * rows.len() as i64 + 10;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" viewBox=\"0 0 {WIDTH} {height}\" width=\"100%\" style=\"max-width:{WIDTH}px\"><title>{}</title>",
        html_escape(title)
    );
    let room = WIDTH - LABEL - 70;
    for (i, (name, n, shown)) in rows.iter().enumerate() {
        let y = i as i64 * ROW + 5;
        let w = (n * room / max).max(if *n > 0 { 2 } else { 0 });
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"14\" fill=\"#0b0c0c\">{}</text>\
             <rect x=\"{LABEL}\" y=\"{y}\" width=\"{w}\" height=\"20\" fill=\"#1d4f91\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"14\" fill=\"#0b0c0c\">{}</text>",
            LABEL - 8,
            y + 15,
            html_escape(name),
            LABEL + w + 6,
            y + 15,
            html_escape(shown),
        ));
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::{bars, percent_bars};

    #[test]
    fn rates_are_drawn_on_a_scale_to_a_hundred() {
        let svg = percent_bars("Đúng hạn", &[("A".into(), 50.0), ("B".into(), 95.5)]);
        assert!(svg.contains("width=\"145\""), "{svg}");
        assert!(svg.contains("95,5%"), "{svg}");
    }

    #[test]
    fn bars_scale_to_the_largest_and_escape_names() {
        let svg = bars(
            "Hoạt động",
            &[
                ("Tin <bài>".into(), 1200),
                ("Hội nghị".into(), 600),
                ("Khác".into(), 0),
            ],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("<title>Hoạt động</title>"));
        assert!(svg.contains("Tin &lt;bài&gt;"));
        assert!(svg.contains("1.200"));
        // The largest fills the room; half of it, half the room; nothing, no bar.
        assert!(svg.contains("width=\"290\""), "{svg}");
        assert!(svg.contains("width=\"145\""), "{svg}");
        assert!(svg.contains("width=\"0\""), "{svg}");
    }

    #[test]
    fn english_words_are_drawn_as_given() {
        let svg = bars(
            "Communication activities by month",
            &[("January".into(), 3), ("The units' posts".into(), 1)],
        );
        assert!(svg.contains("<title>Communication activities by month</title>"));
        assert!(svg.contains(">January</text>"), "{svg}");
        assert!(svg.contains("The units&#39; posts"), "{svg}");
    }
}
