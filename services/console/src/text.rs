//! What people read: Vietnamese names for the API's codes, field errors in Vietnamese,
//! dates as dd/mm/yyyy and numbers with thousands separators.

use crate::gateway::{FieldError, Problem};

/// The kinds of activity of the plan, in the plan's words.
pub const ACTIVITY_KINDS: &[(&str, &str)] = &[
    ("briefing", "Hội nghị, quán triệt, phổ biến"),
    ("news_post", "Tin, bài trên cổng/trang thông tin điện tử"),
    ("training", "Tập huấn, bồi dưỡng"),
    ("posting", "Niêm yết công khai thủ tục hành chính"),
    ("commendation", "Khen thưởng"),
    ("criticism", "Phê bình, nhắc nhở"),
    ("one_stop_publication", "Công khai kết quả một cửa"),
    ("media_coordination", "Phối hợp với cơ quan báo chí"),
    ("other", "Hình thức khác"),
];

pub fn activity_kind(code: &str) -> &str {
    ACTIVITY_KINDS
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(code, |(_, v)| v)
}

pub fn role(code: &str) -> &str {
    match code {
        "unit" => "Cán bộ đơn vị",
        "office" => "Văn phòng Sở",
        "leader" => "Lãnh đạo",
        "operator" => "Quản trị hệ thống",
        other => other,
    }
}

pub fn level(code: &str) -> &str {
    match code {
        "province" => "Cấp tỉnh",
        "district" => "Cấp huyện",
        "commune" => "Cấp xã",
        other => other,
    }
}

pub fn status(code: &str) -> &str {
    match code {
        "published" => "Đang hiệu lực",
        "abolished" => "Đã bãi bỏ",
        "draft" => "Dự thảo",
        other => other,
    }
}

/// `2020-04-02` (or an RFC 3339 time) as `02/04/2020`; other text as it is.
pub fn date(iso: &str) -> String {
    let d = iso.get(..10).unwrap_or(iso);
    match chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d") {
        Ok(d) => d.format("%d/%m/%Y").to_string(),
        Err(_) => iso.to_owned(),
    }
}

/// Today in Vietnam (UTC+7), as dd/mm/yyyy.
pub fn today() -> String {
    let vietnam = chrono::FixedOffset::east_opt(7 * 3600).expect("UTC+7");
    chrono::Utc::now()
        .with_timezone(&vietnam)
        .format("%d/%m/%Y")
        .to_string()
}

/// `dd/mm/yyyy` as people type it (also `d/m/yyyy`, with `-` or `.`) to ISO; `None`
/// when it is no date.
pub fn parse_date(typed: &str) -> Option<String> {
    let t = typed.trim().replace(['-', '.'], "/");
    chrono::NaiveDate::parse_from_str(&t, "%d/%m/%Y")
        .ok()
        .map(|d| d.format("%Y-%m-%d").to_string())
}

/// 1234567 as `1.234.567` (templates hand over references).
pub fn number(n: &i64) -> String {
    cchc_text::number_vi(*n)
}

/// A count or an amount of money as people type it (`1.500.000`, `1 500 000`,
/// `35`); empty is 0, anything else that is no whole number is `None`.
pub fn count(typed: &str) -> Option<i64> {
    let digits = typed.trim().replace(['.', ' '], "");
    if digits.is_empty() {
        Some(0)
    } else {
        digits.parse().ok()
    }
}

/// A rate (0..1) as people read it, "95,5%"; a dash when there is none.
pub fn percent(rate: Option<f64>) -> String {
    rate.map_or("–".into(), |r| {
        format!("{:.1}%", r * 100.0).replace('.', ",")
    })
}

/// An error shown beside its field and in the summary at the top of the page.
#[derive(Debug, Clone)]
pub struct Shown {
    /// The form field's id, for the summary's link.
    pub field: String,
    pub message: String,
}

/// The label of an API field on the activity form.
fn label(field: &str) -> &str {
    let base = field.split('[').next().unwrap_or(field);
    match base {
        "kind" => "Hình thức",
        "date" => "Ngày thực hiện",
        "title" => "Tên hoạt động",
        "description" => "Nội dung",
        "channel" => "Kênh thông tin",
        "audience" => "Đối tượng",
        "head_count" => "Số người tham dự",
        "evidence_links" => "Đường dẫn minh chứng",
        "procedure_codes" => "Mã thủ tục",
        "email" => "Địa chỉ e-mail",
        "name" => "Họ và tên",
        "unit_id" => "Đơn vị",
        "role" => "Vai trò",
        "password" => "Mật khẩu",
        "location" => "Nơi niêm yết",
        "posted_on" => "Ngày niêm yết",
        "version" => "Phiên bản",
        "period" => "Kỳ báo cáo",
        "decision.number" => "Số quyết định",
        "decision.date" => "Ngày quyết định",
        "decision.signer" => "Người ký",
        "change_type" => "Loại thay đổi",
        "change_note" => "Nội dung thay đổi",
        "effective_date" => "Ngày có hiệu lực",
        "content.name" => "Tên thủ tục",
        "content.processing_days" | "processing_days" => "Thời hạn giải quyết",
        "note" => "Ghi chú",
        "received.online" => "Số hồ sơ tiếp nhận trực tuyến",
        "received.in_person_or_post" => "Số hồ sơ tiếp nhận trực tiếp hoặc qua bưu chính",
        "received.carried_over" => "Số hồ sơ kỳ trước chuyển sang",
        "resolved.early" => "Số hồ sơ giải quyết trước hạn",
        "resolved.on_time" => "Số hồ sơ giải quyết đúng hạn",
        "resolved.late" => "Số hồ sơ giải quyết quá hạn",
        "pending.within_time" => "Số hồ sơ đang giải quyết trong hạn",
        "pending.overdue" => "Số hồ sơ đang giải quyết quá hạn",
        "returned_withdrawn" => "Số hồ sơ trả lại hoặc rút",
        _ => "Giá trị",
    }
}

/// The form field's id for an API field: `evidence_links[2]` → `evidence_links`,
/// `received.online` → `received_online`.
pub fn field_id(api_field: &str) -> String {
    api_field
        .split('[')
        .next()
        .unwrap_or(api_field)
        .replace('.', "_")
}

/// One refusal in Vietnamese, from what the service said of the field.
pub fn field_error(e: &FieldError) -> Shown {
    let l = label(&e.field);
    let m = e.message.as_str();
    let number_in = || {
        m.split(|c: char| !c.is_ascii_digit())
            .find(|s| !s.is_empty())
            .unwrap_or("")
            .to_owned()
    };
    let message = if m == "is required" {
        format!("Hãy nhập {}", l.to_lowercase())
    } else if m.contains("in the future") {
        format!("{l} không được là ngày trong tương lai")
    } else if m.contains("characters") && m.starts_with("must be at most") {
        format!("{l} dài tối đa {} ký tự", number_in())
    } else if m.starts_with("must be at most") {
        format!("{l} tối đa là {}", number_in())
    } else if m.contains("negative") {
        format!("{l} không được là số âm")
    } else if m.contains("http(s) URL") {
        format!("{l} phải là địa chỉ bắt đầu bằng http:// hoặc https://")
    } else if e.field == "period" {
        "Kỳ báo cáo phải là một năm (2020), nửa năm (2020-H1), quý (2020-Q3) hoặc tháng (2020-07) đã bắt đầu".to_owned()
    } else if m.contains("YYYY-MM-DD") || m.contains("date") {
        format!("{l} phải là ngày theo dạng ngày/tháng/năm, ví dụ 02/04/2020")
    } else if m.starts_with("must be one of") {
        format!("Hãy chọn {}", l.to_lowercase())
    } else {
        format!("{l} chưa hợp lệ")
    };
    Shown {
        field: field_id(&e.field),
        message,
    }
}

/// What to tell a person of a refused request without field errors.
pub fn problem(p: &Problem) -> String {
    match p.status {
        0 => "Hệ thống tạm thời không phản hồi. Vui lòng thử lại sau ít phút.".into(),
        401 => "Phiên làm việc đã hết hạn. Vui lòng đăng nhập lại.".into(),
        403 => "Anh/chị không có quyền thực hiện thao tác này.".into(),
        404 => "Không tìm thấy nội dung này.".into(),
        409 => "Dữ liệu vừa được thay đổi ở nơi khác. Vui lòng tải lại trang và thử lại.".into(),
        422 => "Thao tác chưa thực hiện được vì trái quy định nghiệp vụ.".into(),
        429 => "Anh/chị thao tác quá nhiều lần. Vui lòng chờ ít phút rồi thử lại.".into(),
        _ => "Đã có lỗi. Vui lòng thử lại.".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_numbers_read_the_vietnamese_way() {
        assert_eq!(date("2020-04-02"), "02/04/2020");
        assert_eq!(date("2020-04-02T08:00:00Z"), "02/04/2020");
        assert_eq!(parse_date("2/4/2020").as_deref(), Some("2020-04-02"));
        assert_eq!(parse_date("02-04-2020").as_deref(), Some("2020-04-02"));
        assert_eq!(parse_date("2020-04-02"), None);
        assert_eq!(number(&1_234_567), "1.234.567");
        assert_eq!(number(&-1000), "-1.000");
        assert_eq!(number(&12), "12");
        assert_eq!(count("1.500.000"), Some(1_500_000));
        assert_eq!(count(" "), Some(0));
        assert_eq!(count("1,5 triệu"), None);
        assert_eq!(percent(Some(0.955)), "95,5%");
        assert_eq!(percent(None), "–");
    }

    #[test]
    fn field_errors_are_said_in_vietnamese() {
        let e = |field: &str, message: &str| {
            field_error(&FieldError {
                field: field.into(),
                message: message.into(),
            })
        };
        assert_eq!(e("title", "is required").message, "Hãy nhập tên hoạt động");
        assert_eq!(
            e("head_count", "must not be negative").message,
            "Số người tham dự không được là số âm"
        );
        let link = e("evidence_links[1]", "must be an http(s) URL");
        assert_eq!(link.field, "evidence_links");
        assert!(link.message.starts_with("Đường dẫn minh chứng"));
    }
}
