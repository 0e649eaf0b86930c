//! Vietnamese-aware text folding for search and for matching spreadsheet headers: diacritics and case are ignored, đ/Đ is d,
//! and NFC or NFD input folds to the same text.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Lower-case ASCII words separated by single spaces.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = true;
    for c in s.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        let c = match c {
            'đ' | 'Đ' => 'd',
            c => c,
        };
        for c in c.to_lowercase() {
            if c.is_alphanumeric() {
                out.push(c);
                space = false;
            } else if !space {
                out.push(' ');
                space = true;
            }
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}

/// The words of a query, folded.
pub fn terms(q: &str) -> Vec<String> {
    fold(q)
        .split(' ')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `s` as HTML text or attribute value: the five characters HTML gives meaning escaped.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// 12450 as "12.450", as Vietnamese writes numbers.
pub fn number_vi(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_vietnamese() {
        assert_eq!(
            fold("Cấp bản sao văn bằng, chứng chỉ từ sổ gốc"),
            "cap ban sao van bang chung chi tu so goc"
        );
        assert_eq!(fold("ĐĂNG KÝ Đào tạo"), "dang ky dao tao");
        assert_eq!(fold("  Giáo dục -- đào tạo  "), "giao duc dao tao");
        // NFD input (decomposed marks) folds like NFC input.
        let nfd: String = "Chuyển trường".nfd().collect();
        assert_ne!(nfd, "Chuyển trường");
        assert_eq!(fold(&nfd), fold("Chuyển trường"));
        assert_eq!(terms("cap  BẢN sao"), ["cap", "ban", "sao"]);
        assert!(terms(" ,. ").is_empty());
    }
}
