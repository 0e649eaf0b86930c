//! QR codes as inline SVG, for printed sheets: a phone's camera opens the page the code
//! names.

use qrcode::QrCode;
use qrcode::render::svg;

/// The QR code of `url` as an SVG element (black on white, with its quiet zone), or an
/// empty string for a text too long to encode.
pub fn svg(url: &str) -> String {
    match QrCode::new(url.as_bytes()) {
        Ok(code) => code
            .render::<svg::Color<'_>>()
            .min_dimensions(120, 120)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .build()
            // The XML declaration is for files; inline, the element alone.
            .split_once("?>")
            .map_or_else(String::new, |(_, rest)| rest.trim_start().to_owned()),
        Err(e) => {
            tracing::warn!(error = %e, "a text too long for a QR code");
            String::new()
        }
    }
}

/// The QR code of `url` as its side in modules and whether each module (row by row)
/// is dark, for drawing it in other forms (the PDF sheet); `None` for a text too long.
pub fn modules(url: &str) -> Option<(usize, Vec<bool>)> {
    let code = QrCode::new(url.as_bytes()).ok()?;
    let dark = code
        .to_colors()
        .into_iter()
        .map(|c| c == qrcode::Color::Dark)
        .collect();
    Some((code.width(), dark))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_url_becomes_an_inline_svg() {
        let s = super::svg("http://127.0.0.1:8090/thu-tuc/1.012753.H19");
        assert!(s.starts_with("<svg"), "{s}");
        assert!(s.ends_with("</svg>"));
        assert_eq!(s, super::svg("http://127.0.0.1:8090/thu-tuc/1.012753.H19"));
        assert_ne!(s, super::svg("http://127.0.0.1:8090/thu-tuc/1.012754.H19"));
    }
}
