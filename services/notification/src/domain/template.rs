//! Templates: text with `{{placeholder}}`s, one set of placeholders per kind of notice,
//! checked when a template is saved so that rendering can never meet an unknown one.

use std::collections::BTreeMap;

use cchc_platform::validation::{Errors, Rule};
use cchc_proto::notification::v1 as pb;

use super::Kind;

/// The placeholder values of one notice, by name.
pub type Values = BTreeMap<&'static str, String>;

/// Every placeholder is offered for every recipient.
pub const COMMON: &[&str] = &["recipient_name"];

/// A template that refers to something it may not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown placeholder {{{{{name}}}}}; {kind} offers: {offered}")]
    Unknown {
        name: String,
        kind: &'static str,
        offered: String,
    },
    #[error("a {{{{ is not closed by }}}}")]
    Unclosed,
    #[error("{{{{{0}}}}} is not a placeholder name (lower-case letters and _)")]
    BadName(String),
}

impl TemplateError {
    /// The field rule the template broke.
    pub fn rule(&self) -> Rule {
        match self {
            TemplateError::Unknown { name, offered, .. } => Rule::UnknownPlaceholder {
                name: name.clone(),
                offered: offered.clone(),
            },
            TemplateError::Unclosed => Rule::UnclosedPlaceholder,
            TemplateError::BadName(name) => Rule::BadPlaceholder { name: name.clone() },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece<'a> {
    Text(&'a str),
    Field(&'a str),
}

fn parse(text: &str) -> Result<Vec<Piece<'_>>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            out.push(Piece::Text(&rest[..open]));
        }
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or(TemplateError::Unclosed)?;
        let name = after[..close].trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
            return Err(TemplateError::BadName(name.to_owned()));
        }
        out.push(Piece::Field(name));
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

/// Checks that `text` refers only to placeholders `kind` offers.
pub fn check(kind: Kind, text: &str) -> Result<(), TemplateError> {
    for piece in parse(text)? {
        if let Piece::Field(name) = piece
            && !kind.offers(name)
        {
            let mut offered: Vec<&str> = kind.placeholders().to_vec();
            offered.extend_from_slice(COMMON);
            return Err(TemplateError::Unknown {
                name: name.to_owned(),
                kind: kind.as_str(),
                offered: offered.join(", "),
            });
        }
    }
    Ok(())
}

/// Whether `text` refers to placeholder `name`.
pub fn uses(text: &str, name: &str) -> bool {
    parse(text).is_ok_and(|pieces| pieces.contains(&Piece::Field(name)))
}

/// Fills `text` with `values`; `escape` is applied to each value (HTML).
pub fn render(text: &str, values: &Values, escape: fn(&str) -> String) -> String {
    match parse(text) {
        Ok(pieces) => pieces
            .into_iter()
            .map(|p| match p {
                Piece::Text(t) => t.to_owned(),
                Piece::Field(f) => escape(values.get(f).map(String::as_str).unwrap_or("")),
            })
            .collect(),
        // Saved templates were checked; a broken one still renders as written.
        Err(_) => text.to_owned(),
    }
}

pub fn plain(s: &str) -> String {
    s.to_owned()
}

pub use cchc_text::html_escape;

/// The HTML part when a template has none: the text, escaped, paragraph by paragraph.
pub fn html_from_text(subject: &str, text: &str) -> String {
    let paragraphs: String = text
        .split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|p| format!("<p>{}</p>\n", html_escape(p.trim()).replace('\n', "<br>\n")))
        .collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"vi\"><head><meta charset=\"utf-8\"><title>{}</title></head>\n<body>\n{paragraphs}</body></html>\n",
        html_escape(subject)
    )
}

/// A template as stored: one version of one kind in one language.
#[derive(Debug, Clone)]
pub struct Template {
    pub key: String,
    pub language: String,
    pub version: i32,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// What a template gives for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Template {
    pub fn render(&self, values: &Values) -> Rendered {
        // A subject is one line, whatever a value holds.
        let subject = render(&self.subject, values, plain).replace(['\r', '\n'], " ");
        let text = render(&self.text, values, plain);
        let html = if self.html.trim().is_empty() {
            html_from_text(&subject, &text)
        } else {
            render(&self.html, values, html_escape)
        };
        Rendered {
            subject,
            text,
            html,
        }
    }
}

/// A template as the office saves it, checked: a known kind, a language served, a
/// subject and text within their lengths, and only the placeholders its kind offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTemplate {
    pub kind: Kind,
    pub language: &'static str,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// An example value for each placeholder a template of `kind` offers, as a notice of
/// that kind would carry it.
pub fn examples(kind: Kind) -> Values {
    let person = matches!(kind, Kind::AccountInvitation | Kind::PasswordReset);
    let mut v = Values::new();
    for name in kind.placeholders().iter().chain(COMMON) {
        let value = match *name {
            "code" => "1.012753.H19",
            "name" if person => "Nguyễn Thị Lan",
            "name" | "procedure_name" => "Cấp bản sao văn bằng, chứng chỉ từ sổ gốc",
            "field" => "Văn bằng, chứng chỉ",
            "level" => "Cấp tỉnh",
            "agency" => "Sở Giáo dục và Đào tạo",
            "change_type" => "Sửa đổi, bổ sung",
            "change" => "Rút ngắn thời hạn giải quyết còn 03 ngày làm việc",
            "decision_number" => "456/QĐ-UBND",
            "effective_date" | "stale_since" => "01/06/2020",
            "version" | "current_version" => "2",
            "posted_version" => "1",
            "days_stale" => "14",
            "plan_number" => "109/KH-SGDĐT-VP",
            "plan_title" => "Kế hoạch tuyên truyền cải cách hành chính năm 2020",
            "plan_year" => "2020",
            "period" => "2020-H1",
            "period_title" => "6 tháng đầu năm 2020",
            "period_start" => "01/01/2020",
            "period_end" => "30/06/2020",
            "due_date" => "10/06/2020",
            "days_left" => "3",
            "late_count" => "2",
            "late_units" => "Trường THPT Chu Văn An; Trường THPT Phan Bội Châu",
            "reason" => "Số lượt tuyên truyền chưa khớp với biên bản",
            "title" => "Báo cáo công tác cải cách hành chính 6 tháng đầu năm 2020",
            "report_id" => "8f4c2b1e-0000-4000-8000-000000000001",
            "as_of" => "30/06/2020 17:00",
            "export_links" => "https://cchc.example.vn/bao-cao/8f4c2b1e",
            "email" => "lan.nguyen@thpt-cva.edu.vn",
            "unit_name" => "Trường THPT Chu Văn An",
            "role" => "Cán bộ đơn vị",
            "invited_by" => "Trần Văn Bình",
            "link" => "https://cchc.example.vn/account/password?token=…",
            "expires_at" => "05/06/2020 08:00",
            "valid_for" => "72 giờ",
            "recipient_name" => "Trường THPT Chu Văn An",
            _ => "…",
        };
        v.insert(name, value.to_owned());
    }
    v
}

impl NewTemplate {
    /// The template rendered with [`examples`] of its kind's values.
    pub fn preview(&self) -> Rendered {
        Template {
            key: self.kind.as_str().to_owned(),
            language: self.language.to_owned(),
            version: 0,
            subject: self.subject.clone(),
            text: self.text.clone(),
            html: self.html.clone(),
        }
        .render(&examples(self.kind))
    }

    pub fn parse(t: pb::TemplateInput) -> Result<Self, tonic::Status> {
        let mut e = Errors::new();
        let kind = Kind::parse(&t.key);
        if kind.is_none() {
            let known: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
            e.add(
                "key",
                Rule::OneOf {
                    values: known.join(", "),
                },
            );
        }
        let language = match t.language.as_str() {
            "" | "vi" => Some("vi"),
            "en" => Some("en"),
            _ => None,
        };
        e.check(
            language.is_some(),
            "language",
            Rule::OneOf {
                values: "vi, en".into(),
            },
        );
        e.check(
            !t.subject.trim().is_empty() && t.subject.chars().count() <= 500,
            "subject",
            Rule::Length { min: 1, max: 500 },
        );
        e.check(
            !t.text.trim().is_empty() && t.text.chars().count() <= 20_000,
            "text",
            Rule::Length {
                min: 1,
                max: 20_000,
            },
        );
        e.check(
            t.html.chars().count() <= 50_000,
            "html",
            Rule::TooLong { max: 50000 },
        );
        if let Some(kind) = kind {
            for (field, text) in [
                ("subject", &t.subject),
                ("text", &t.text),
                ("html", &t.html),
            ] {
                if let Err(err) = check(kind, text) {
                    e.add(field, err.rule());
                }
            }
            // An account e-mail is there to carry its link, in the body: a subject
            // travels in headers and mail logs.
            if kind.offers("link") {
                e.check(
                    !uses(&t.subject, "link"),
                    "subject",
                    Rule::MustNotContain {
                        placeholder: "link",
                    },
                );
                e.check(
                    uses(&t.text, "link"),
                    "text",
                    Rule::MustContain {
                        placeholder: "link",
                    },
                );
                e.check(
                    t.html.trim().is_empty() || uses(&t.html, "link"),
                    "html",
                    Rule::MustContain {
                        placeholder: "link",
                    },
                );
            }
        }
        e.finish(tonic::Code::InvalidArgument, "the template is not valid")?;
        Ok(Self {
            kind: kind.expect("checked"),
            language: language.expect("checked"),
            subject: t.subject,
            text: t.text,
            html: t.html,
        })
    }
}

/// The Vietnamese templates every database starts with (version 1 of each kind).
pub fn defaults() -> Vec<(Kind, &'static str, &'static str)> {
    vec![
        (
            Kind::ProcedureChanged,
            "Thủ tục hành chính {{change}}: {{name}}",
            "Thủ tục \"{{name}}\" (mã {{code}}, lĩnh vực {{field}}) được {{change}} theo Quyết định số {{decision_number}}, có hiệu lực từ ngày {{effective_date}}. \
             Đề nghị đơn vị niêm yết phiên bản {{version}} tại trụ sở và xác nhận niêm yết.",
        ),
        (
            Kind::PostingStale,
            "Nhắc niêm yết lại thủ tục: {{procedure_name}}",
            "Kính gửi {{recipient_name}},\n\n\
             Thủ tục \"{{procedure_name}}\" (mã {{code}}) đã có phiên bản {{current_version}}; đơn vị đang niêm yết phiên bản {{posted_version}} \
             từ ngày {{stale_since}} ({{days_stale}} ngày). Đề nghị đơn vị niêm yết phiên bản mới tại trụ sở và xác nhận niêm yết.",
        ),
        (
            Kind::ReportDue,
            "Nhắc báo cáo {{period_title}} – hạn {{due_date}}",
            "Kính gửi {{recipient_name}},\n\n\
             Theo Kế hoạch số {{plan_number}} ({{plan_title}}), đơn vị báo cáo kết quả {{period_title}} (từ {{period_start}} đến {{period_end}}) \
             chậm nhất ngày {{due_date}}, còn {{days_left}} ngày. Đến nay đơn vị chưa nộp báo cáo kỳ này.",
        ),
        (
            Kind::ReportOverdue,
            "Đơn vị chưa báo cáo {{period_title}} – Kế hoạch số {{plan_number}}",
            "Kính gửi {{recipient_name}},\n\n\
             Đã quá hạn báo cáo {{period_title}} ngày {{due_date}} theo Kế hoạch số {{plan_number}} ({{plan_title}}). \
             {{late_count}} đơn vị chưa báo cáo:\n\n{{late_units}}",
        ),
        (
            Kind::ReportReopened,
            "Báo cáo {{period_title}} được mở lại – Kế hoạch số {{plan_number}}",
            "Kính gửi {{recipient_name}},\n\n\
             Văn phòng Sở đã mở lại báo cáo kỳ {{period_title}} của Kế hoạch {{plan_number}}: {{reason}}. \
             Đề nghị đơn vị rà soát số liệu và nộp lại.",
        ),
        (
            Kind::ReportGenerated,
            "Báo cáo {{period}} – Kế hoạch số {{plan_number}}",
            "Kính gửi {{recipient_name}},\n\n\
             Báo cáo \"{{title}}\" (kỳ {{period}}, số liệu đến {{as_of}}) đã sẵn sàng. Tải về:\n\n{{export_links}}",
        ),
        (
            Kind::AccountInvitation,
            "Mời tham gia hệ thống CCHC – Sở Giáo dục và Đào tạo",
            "Kính gửi {{name}},\n\n\
             {{invited_by}} mời anh/chị tham gia hệ thống theo dõi công tác cải cách hành chính (CCHC) \
             của Sở Giáo dục và Đào tạo, với vai trò {{role}} của {{unit_name}}.\n\n\
             Để kích hoạt tài khoản {{email}}, anh/chị mở liên kết dưới đây và đặt mật khẩu:\n\n\
             {{link}}\n\n\
             Liên kết chỉ dùng được một lần và hết hạn lúc {{expires_at}} (giờ Việt Nam). \
             Nếu anh/chị không chờ đợi lời mời này, hãy bỏ qua thư này.",
        ),
        (
            Kind::PasswordReset,
            "Đặt lại mật khẩu – Hệ thống CCHC Sở Giáo dục và Đào tạo",
            "Kính gửi {{name}},\n\n\
             Hệ thống CCHC của Sở Giáo dục và Đào tạo nhận được yêu cầu đặt lại mật khẩu cho tài khoản {{email}}. \
             Để đặt mật khẩu mới, anh/chị mở liên kết dưới đây:\n\n\
             {{link}}\n\n\
             Liên kết có hiệu lực trong {{valid_for}}, đến {{expires_at}} (giờ Việt Nam), và chỉ dùng được một lần.\n\n\
             Nếu không phải bạn yêu cầu, hãy bỏ qua thư này: mật khẩu hiện tại vẫn giữ nguyên.",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_placeholder_has_an_example_and_a_preview_fills_them() {
        for kind in Kind::ALL {
            let v = examples(kind);
            for name in kind.placeholders().iter().chain(COMMON) {
                assert_ne!(v[name], "…", "{} {name}", kind.as_str());
            }
        }
        let t = NewTemplate {
            kind: Kind::ReportDue,
            language: "vi",
            subject: "Sắp đến hạn báo cáo {{period_title}}".into(),
            text: "Kính gửi {{recipient_name}}, hạn nộp là {{due_date}}.".into(),
            html: String::new(),
        };
        let r = t.preview();
        assert_eq!(r.subject, "Sắp đến hạn báo cáo 6 tháng đầu năm 2020");
        assert_eq!(
            r.text,
            "Kính gửi Trường THPT Chu Văn An, hạn nộp là 10/06/2020."
        );
        assert!(
            r.html.contains("<p>Kính gửi Trường THPT Chu Văn An"),
            "{}",
            r.html
        );
    }

    #[test]
    fn every_default_template_uses_only_what_its_kind_offers() {
        for (kind, subject, text) in defaults() {
            check(kind, subject).unwrap();
            check(kind, text).unwrap();
            if kind.offers("link") {
                assert!(uses(text, "link") && !uses(subject, "link"), "{kind:?}");
            }
        }
        assert_eq!(defaults().len(), Kind::ALL.len());
    }

    #[test]
    fn unknown_and_malformed_placeholders_are_named() {
        let e = check(Kind::ProcedureChanged, "Thủ tục {{ten_thu_tuc}}").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("unknown placeholder {{ten_thu_tuc}}"),
            "{e}"
        );
        assert!(e.to_string().contains("decision_number"), "{e}");
        assert_eq!(
            check(Kind::ProcedureChanged, "a {{name"),
            Err(TemplateError::Unclosed)
        );
        assert!(matches!(
            check(Kind::ProcedureChanged, "{{Name}}"),
            Err(TemplateError::BadName(_))
        ));
        check(Kind::ReportDue, "{{ due_date }} {{recipient_name}}").unwrap();
    }

    #[test]
    fn an_account_template_carries_its_link_in_the_body_only() {
        let input = |subject: &str, text: &str, html: &str| pb::TemplateInput {
            key: "password_reset".into(),
            language: "vi".into(),
            subject: subject.into(),
            text: text.into(),
            html: html.into(),
        };
        let fields = |s: tonic::Status| -> Vec<String> {
            cchc_platform::validation::field_errors(&s)
                .into_iter()
                .map(|f| f.field)
                .collect()
        };
        NewTemplate::parse(input("Đặt lại mật khẩu", "Mở {{ link }}", "")).unwrap();
        let e = NewTemplate::parse(input("Đặt lại mật khẩu", "Không có liên kết", "")).unwrap_err();
        assert_eq!(fields(e), vec!["text"]);
        let e =
            NewTemplate::parse(input("Mở {{link}}", "Mở {{link}}", "<p>Không</p>")).unwrap_err();
        assert_eq!(fields(e), vec!["subject", "html"]);
        let e = NewTemplate::parse(input("S", "{{link}} {{role}}", "")).unwrap_err();
        assert_eq!(fields(e), vec!["text"]);
    }

    #[test]
    fn html_values_are_escaped_and_subjects_stay_on_one_line() {
        let t = Template {
            key: "procedure_changed".into(),
            language: "vi".into(),
            version: 3,
            subject: "Thủ tục {{name}}".into(),
            text: "Mã {{code}}".into(),
            html: "<b>{{name}}</b>".into(),
        };
        let values = Values::from([("name", "A <b>&\nB".to_owned()), ("code", "1.0".to_owned())]);
        let r = t.render(&values);
        assert_eq!(r.subject, "Thủ tục A <b>& B");
        assert_eq!(r.text, "Mã 1.0");
        assert_eq!(r.html, "<b>A &lt;b&gt;&amp;\nB</b>");
        let plain_html = html_from_text("S", "one\n\ntwo <x>\nthree");
        assert!(
            plain_html.contains("<p>one</p>") && plain_html.contains("two &lt;x&gt;<br>"),
            "{plain_html}"
        );
    }
}
