//! What people read: Vietnamese names for the API's codes, field errors in Vietnamese,
//! dates as dd/mm/yyyy and numbers with thousands separators.

use crate::gateway::{FieldError, Problem};

/// The language a page is written in: Vietnamese first, English on request (the
/// switch in the header, or a browser that prefers English).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Vi,
    En,
}

impl Lang {
    /// The cookie the switch sets.
    pub const COOKIE: &'static str = "cchc_lang";

    /// `vi` or `en` as the switch sends it; anything else is Vietnamese.
    pub fn parse(code: &str) -> Self {
        if code.eq_ignore_ascii_case("en") {
            Lang::En
        } else {
            Lang::Vi
        }
    }

    /// The browser's preference (Accept-Language): English only when it ranks an
    /// English tag above every Vietnamese one.
    pub fn preferred(accept_language: &str) -> Self {
        let mut tags: Vec<(f32, &str)> = accept_language
            .split(',')
            .filter_map(|t| {
                let mut parts = t.trim().split(';');
                let tag = parts.next()?.trim();
                let q = parts
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse().ok())
                    .unwrap_or(1.0);
                Some((q, tag))
            })
            .collect();
        // Stable: of equal weight, the first named wins.
        tags.sort_by(|a, b| b.0.total_cmp(&a.0));
        match tags.iter().find(|(_, t)| {
            let t = t.to_ascii_lowercase();
            t.starts_with("vi") || t.starts_with("en")
        }) {
            Some((_, t)) if t.to_ascii_lowercase().starts_with("en") => Lang::En,
            _ => Lang::Vi,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    /// The words of a page in this language.
    pub fn t<'a>(self, vi: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Vi => vi,
            Lang::En => en,
        }
    }
}

/// A procedure's level in `lang`.
pub fn level_in<'a>(code: &'a str, lang: &Lang) -> &'a str {
    match (*lang, code) {
        (Lang::En, "province") => "Provincial",
        (Lang::En, "district") => "District",
        (Lang::En, "commune") => "Commune",
        _ => level(code),
    }
}

/// A procedure's status in `lang`.
pub fn status_in<'a>(code: &'a str, lang: &Lang) -> &'a str {
    match (*lang, code) {
        (Lang::En, "published") => "In force",
        (Lang::En, "abolished") => "Abolished",
        (Lang::En, "draft") => "Draft",
        _ => status(code),
    }
}

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

const ACTIVITY_KINDS_EN: &[(&str, &str)] = &[
    ("briefing", "Meeting or briefing"),
    ("news_post", "News item on the portal or website"),
    ("training", "Training"),
    ("posting", "Public posting of procedures"),
    ("commendation", "Commendation"),
    ("criticism", "Criticism or reminder"),
    ("one_stop_publication", "Publication of one-stop results"),
    ("media_coordination", "Work with the press"),
    ("other", "Other"),
];

/// [`activity_kind`] in the page's language.
pub fn activity_kind_in<'a>(code: &'a str, lang: &Lang) -> &'a str {
    match lang {
        Lang::Vi => activity_kind(code),
        Lang::En => ACTIVITY_KINDS_EN
            .iter()
            .find(|(c, _)| *c == code)
            .map_or(code, |(_, v)| v),
    }
}

/// [`role`] in the page's language.
pub fn role_in<'a>(code: &'a str, lang: &Lang) -> &'a str {
    match (lang, code) {
        (Lang::En, "unit") => "Unit staff",
        (Lang::En, "office") => "Department Office",
        (Lang::En, "leader") => "Leadership",
        (Lang::En, "operator") => "Operator",
        _ => role(code),
    }
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

/// Today in Vietnam (UTC+7).
pub fn today_date() -> chrono::NaiveDate {
    let vietnam = chrono::FixedOffset::east_opt(7 * 3600).expect("UTC+7");
    chrono::Utc::now().with_timezone(&vietnam).date_naive()
}

/// `dd/mm/yyyy` as people type it (also `d/m/yyyy`, with `-` or `.`) to ISO; `None`
/// when it is no date.
pub fn parse_date(typed: &str) -> Option<String> {
    let t = typed.trim().replace(['-', '.'], "/");
    chrono::NaiveDate::parse_from_str(&t, "%d/%m/%Y")
        .ok()
        .map(|d| d.format("%Y-%m-%d").to_string())
}

/// The date typed as dd/mm/yyyy, in the API's form; a typed text that is no date is
/// passed on as it is, for the gateway to refuse beside its field.
pub fn api_date(typed: &str) -> String {
    parse_date(typed).unwrap_or_else(|| typed.trim().to_owned())
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

/// A number of working days as typed in a form: "0,5" with a decimal comma, whole
/// days without one, nothing for none.
pub fn days_typed(days: Option<f64>) -> String {
    days.map_or(String::new(), |d| d.to_string().replace('.', ","))
}

/// A time limit as people read it: "5 ngày làm việc", "0,5 ngày làm việc", "Trong
/// ngày" for the same day, a dash when the record has none yet.
pub fn days(days: &Option<f64>, lang: &Lang) -> String {
    match (days, lang) {
        (None, _) => "–".into(),
        (Some(d), Lang::Vi) if *d == 0.0 => "Trong ngày làm việc".into(),
        (Some(d), Lang::En) if *d == 0.0 => "The same working day".into(),
        (Some(d), Lang::Vi) => format!("{} ngày làm việc", days_typed(Some(*d))),
        (Some(d), Lang::En) => format!("{d} working days"),
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

/// A part of a procedure's content (`processing_days`) as the office calls it; in
/// English, its API name in words.
pub fn content_part(part: &str, lang: Lang) -> String {
    match lang {
        Lang::Vi => label(&format!("content.{part}")).to_owned(),
        Lang::En => part.replace('_', " "),
    }
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
        "code" => "Mã thủ tục",
        "content.level" => "Cấp thực hiện",
        "content.field" => "Lĩnh vực",
        "content.implementing_agency" => "Cơ quan thực hiện",
        "content.applicants" => "Đối tượng thực hiện",
        "content.steps" => "Trình tự thực hiện",
        "content.submission_channels" => "Cách thức thực hiện",
        "content.dossier" => "Thành phần hồ sơ",
        "content.result" => "Kết quả thực hiện",
        "content.legal_basis" => "Căn cứ pháp lý",
        "content.fees" => "Phí, lệ phí",
        "content.forms" => "Mẫu đơn, tờ khai",
        "content.keywords" => "Từ khóa",
        "content.requirements" => "Yêu cầu, điều kiện",
        "content.processing_days" | "processing_days" => "Thời hạn giải quyết",
        "note" => "Ghi chú",
        "criteria" => "Tiêu chí",
        "responses" => "Số phiếu",
        "lines" => "Dòng kinh phí",
        "items" => "Hoạt động",
        "subject" => "Tiêu đề",
        "text" => "Nội dung",
        "html" => "Nội dung HTML",
        "key" => "Mẫu",
        "language" => "Ngôn ngữ",
        "url" | "contacts" => "Địa chỉ",
        "type" => "Loại văn bản",
        "summary" => "Trích yếu",
        "number" => "Số, ký hiệu",
        "issuer" => "Cơ quan ban hành",
        "issued_on" => "Ngày ban hành",
        "parent_id" => "Đơn vị cấp trên",
        "year" => "Năm",
        "limit" => "Số dòng mỗi trang",
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

/// One refusal in the page's language, from the rule the service named and its
/// parameters.
pub fn field_error(e: &FieldError, lang: Lang) -> Shown {
    field_error_labelled(e, &[], lang)
}

/// An API field as an English reader names it: `received.online` is "Received
/// online", `periods[1].due_date` "Periods 2 due date".
fn field_name_en(field: &str) -> String {
    let mut words = Vec::new();
    for part in field.split(['.', '[', ']']).filter(|p| !p.is_empty()) {
        match part.parse::<usize>() {
            Ok(i) => words.push((i + 1).to_string()),
            Err(_) => words.push(part.replace('_', " ")),
        }
    }
    let name = words.join(" ");
    let mut chars = name.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => "The value".into(),
    }
}

/// [`field_error`] on a page whose fields have labels of their own (`name` of a unit
/// is "Tên đơn vị", not a person's name). In English, the service's own sentence.
pub fn field_error_labelled(e: &FieldError, own: &[(&str, &str)], lang: Lang) -> Shown {
    if lang == Lang::En {
        return Shown {
            field: field_id(&e.field),
            message: format!("{} {}", field_name_en(&e.field), e.message),
        };
    }
    let base = e.field.split('[').next().unwrap_or(&e.field);
    let l = own
        .iter()
        .find(|(f, _)| *f == base)
        .map_or_else(|| label(&e.field), |(_, l)| l);
    let message = said(e, l).unwrap_or_else(|| format!("{l} chưa hợp lệ"));
    Shown {
        field: field_id(&e.field),
        message,
    }
}

/// What is counted, in Vietnamese (the `of` of a rule).
fn noun(of: &str) -> &str {
    match of {
        "VND" => "đồng",
        "working days" => "ngày làm việc",
        "activities" => "hoạt động",
        "links" => "đường dẫn",
        "codes" => "mã",
        "lines" => "dòng",
        "criteria" | "criterion" => "tiêu chí",
        "e-mail addresses" => "địa chỉ e-mail",
        "unit" => "đơn vị",
        "period" => "kỳ báo cáo",
        "channel" => "kênh",
        "plan" => "kế hoạch",
        "recipient" => "nơi nhận",
        "legal_document" => "văn bản",
        other => other,
    }
}

/// The rule in Vietnamese; `None` for a code this console does not know yet.
fn said(e: &FieldError, l: &str) -> Option<String> {
    let lower = l.to_lowercase();
    let p = |k: &str| e.params.get(k).map_or("", String::as_str).to_owned();
    // Figures are shown the way they are typed here: 1.500.000.
    let n = |k: &str| {
        let v = p(k);
        v.parse::<i64>().map_or(v, |x| number(&x))
    };
    let of = || {
        let o = p("of");
        if o.is_empty() {
            o
        } else {
            format!(" {}", noun(&o))
        }
    };
    Some(match e.code.as_str() {
        "required" => format!("Hãy nhập {lower}"),
        "too_long" => format!("{l} dài tối đa {} ký tự", n("max")),
        "too_short" => format!("{l} phải có ít nhất {} ký tự", n("min")),
        "length" => format!("{l} phải có từ {} đến {} ký tự", n("min"), n("max")),
        "at_most" => format!("{l} tối đa là {}{}", n("max"), of()),
        "between" => format!("{l} phải từ {} đến {}{}", n("min"), n("max"), of()),
        "not_negative" => format!("{l} không được là số âm"),
        "positive" => format!("{l} phải lớn hơn 0"),
        "decimals" => format!("{l} chỉ được có tối đa {} chữ số sau dấu phẩy", n("max")),
        "year" => format!("{l} phải là một năm từ {} đến {}", p("min"), p("max")),
        "too_early" => format!("{l} phải từ năm {} trở đi", p("year")),
        "date" => format!("{l} phải là ngày theo dạng ngày/tháng/năm, ví dụ 02/04/2020"),
        "not_future" => format!("{l} không được là ngày trong tương lai"),
        "future" => format!("{l} phải là một thời điểm trong tương lai"),
        "before_period" => format!("{l} không được trước ngày bắt đầu kỳ báo cáo"),
        "before_decision" => format!("{l} không được trước ngày ban hành quyết định"),
        "period_not_begun" => {
            "Kỳ báo cáo này chưa bắt đầu; chỉ nhập số liệu cho kỳ đã bắt đầu".into()
        }
        "period" => "Kỳ báo cáo phải là một năm (2020), nửa năm (2020-H1), quý (2020-Q3) hoặc tháng (2020-07)".into(),
        "outside_plan_year" => format!("{l} phải thuộc năm của kế hoạch"),
        "year_only" => "Kinh phí được lập theo năm, không theo kỳ".into(),
        "id" => format!("{l} không phải là mã định danh{} hợp lệ", of()),
        "no_such" => format!("{l} không có trong hệ thống"),
        "one_of" => format!("Hãy chọn {lower} trong danh sách"),
        "url" => format!("{l} phải là địa chỉ bắt đầu bằng http:// hoặc https://"),
        "email" => format!("{l} phải là một địa chỉ e-mail, ví dụ vanthu@truong.edu.vn"),
        "boolean" => format!("{l} phải là có hoặc không"),
        "slug" => format!("{l} chỉ gồm chữ thường không dấu, chữ số, dấu _ hoặc -"),
        "visible_ascii" => format!("{l} gồm 1 đến {} ký tự ASCII nhìn thấy được", n("max")),
        "procedure_code" => format!("{l} phải là mã thủ tục quốc gia, ví dụ 1.012753.H19"),
        "revision" => "Dữ liệu vừa được thay đổi ở nơi khác; hãy tải lại trang và làm lại".into(),
        "duplicate" => match position(&p("first")) {
            Some(i) => format!("{l} trùng với mục thứ {i}"),
            // What already has it, named (a unit: "Trường THPT A (its id)").
            None if !p("first").is_empty() => format!("{l} trùng với {}", p("first")),
            None => format!("{l} bị lặp lại"),
        },
        "at_least_one" => format!("Hãy nhập ít nhất một{}", of()),
        "exactly_one" => format!("Hãy chọn đúng một trong: {}", p("fields")),
        "only_for" => format!("{l} chỉ dùng cho loại sự kiện {}", p("applies_to")),
        "control_character" => format!(
            "{l} chứa ký tự điều khiển không được phép ({} ở ký tự thứ {})",
            p("character"),
            p("position")
        ),
        "unknown_field" => format!("Trường {} không có trong yêu cầu này", e.field),
        "malformed" => format!("{l} có kiểu dữ liệu không đúng"),
        "page_token" => "Trang danh sách không hợp lệ; hãy quay lại trang đầu".into(),
        "computed" => format!(
            "{l} được tính từ các số thành phần ({}); hãy để trống",
            n("parts")
        ),
        "unreconciled" => format!(
            "Số hồ sơ tiếp nhận ({}) phải bằng số đã giải quyết ({}) cộng số đang giải quyết ({}) và số trả lại, rút ({}); hiện đang lệch {} hồ sơ",
            n("received"),
            n("resolved"),
            n("pending"),
            n("returned"),
            n("difference")
        ),
        "more_than_responses" => format!(
            "Rất hài lòng {} + hài lòng {} + không hài lòng {} = {}, nhiều hơn số phiếu ({})",
            n("very_satisfied"),
            n("satisfied"),
            n("dissatisfied"),
            n("answers"),
            n("responses")
        ),
        "total_too_large" => format!(
            "Tổng các dòng là {} đồng, vượt mức tối đa {} đồng một năm",
            n("total"),
            n("max")
        ),
        "one_webhook" => "Mỗi nơi nhận chỉ có một địa chỉ webhook".into(),
        "url_credentials" => format!("{l} không được chứa tên đăng nhập hoặc mật khẩu"),
        "url_not_public" => format!(
            "{l} phải là địa chỉ công khai: {} là địa chỉ nội bộ",
            p("address")
        ),
        "must_contain" => format!("{l} phải chứa {{{{{}}}}}", p("placeholder")),
        "must_not_contain" => format!(
            "{l} không được chứa {{{{{}}}}}; hãy đặt nó trong nội dung",
            p("placeholder")
        ),
        "unknown_placeholder" => format!(
            "{l} có trường {{{{{}}}}} không dùng được ở mẫu này; các trường dùng được: {}",
            p("name"),
            p("offered")
        ),
        "unclosed_placeholder" => format!("{l} có dấu {{{{ chưa được đóng bằng }}}}"),
        "bad_placeholder" => format!(
            "{l}: {{{{{}}}}} không phải tên trường (chỉ gồm chữ thường không dấu và _)",
            p("name")
        ),
        "common_password" => "Mật khẩu này nằm trong số mật khẩu phổ biến nhất, dễ bị đoán; hãy chọn mật khẩu khác".into(),
        "personal_password" => "Mật khẩu không được trùng với địa chỉ e-mail hoặc họ tên".into(),
        "key_reused" => "Yêu cầu này đã được gửi với nội dung khác; hãy tải lại trang".into(),
        _ => return None,
    })
}

/// `criteria[2]` as the third item.
fn position(field: &str) -> Option<usize> {
    let i = field.split_once('[')?.1.split_once(']')?.0;
    i.parse::<usize>().ok().map(|i| i + 1)
}

/// [`problem`] in English, for the public pages.
pub fn problem_en(p: &Problem) -> &'static str {
    match p.status {
        0 => "The service is not answering for now. Please try again in a few minutes.",
        401 => "Your session has ended. Please sign in again.",
        409 => "The data was changed elsewhere meanwhile. Please reload the page and try again.",
        422 => "This cannot be done: it breaks a business rule.",
        403 => "You are not allowed to do this.",
        404 => "There is nothing here.",
        429 => "Too many requests. Please wait a few minutes and try again.",
        _ => "Something went wrong. Please try again.",
    }
}

/// [`problem`] in the page's language.
pub fn problem_in(p: &Problem, lang: Lang) -> String {
    match lang {
        Lang::Vi => problem(p),
        Lang::En => problem_en(p).to_owned(),
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
    fn english_only_when_the_browser_ranks_it_above_vietnamese() {
        assert_eq!(Lang::preferred("en-GB,en;q=0.9"), Lang::En);
        assert_eq!(Lang::preferred("vi-VN,vi;q=0.9,en-US;q=0.8"), Lang::Vi);
        assert_eq!(Lang::preferred("fr, en;q=0.5, vi;q=0.4"), Lang::En);
        assert_eq!(Lang::preferred("vi;q=0.3, en;q=0.2"), Lang::Vi);
        assert_eq!(Lang::preferred("fr"), Lang::Vi);
        assert_eq!(Lang::preferred(""), Lang::Vi);
        assert_eq!(Lang::parse("EN"), Lang::En);
        assert_eq!(Lang::parse("xx"), Lang::Vi);
    }

    /// WCAG 2.1 contrast of two `#rrggbb` colours.
    fn contrast(a: &str, b: &str) -> f64 {
        let lum = |hex: &str| {
            let c = |i: usize| {
                let v = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap()) / 255.0;
                if v <= 0.03928 {
                    v / 12.92
                } else {
                    ((v + 0.055) / 1.055).powf(2.4)
                }
            };
            0.2126 * c(1) + 0.7152 * c(3) + 0.0722 * c(5)
        };
        let (x, y) = (lum(a), lum(b));
        (x.max(y) + 0.05) / (x.min(y) + 0.05)
    }

    #[test]
    fn every_colour_pair_of_the_pages_meets_wcag_aa() {
        let css = include_str!("../templates/base.html");
        let var = |name: &str| {
            let at = css
                .find(&format!("--{name}: "))
                .unwrap_or_else(|| panic!("--{name}"));
            css[at + name.len() + 4..at + name.len() + 11].to_owned()
        };
        let white = "#ffffff";
        // Text on its background, as the style sheet pairs them.
        let pairs = [
            ("ink on white", var("ink"), white.to_owned()),
            ("hints", var("muted"), white.to_owned()),
            ("links", var("link"), white.to_owned()),
            ("errors", var("error"), white.to_owned()),
            ("the header", white.to_owned(), var("band")),
            ("buttons", white.to_owned(), var("ok")),
            ("notices", var("ink"), "#f3f2f1".to_owned()),
            ("tags", "#10403c".to_owned(), "#e8f1e4".to_owned()),
            ("stale tags", "#6e3619".to_owned(), "#fcd6c3".to_owned()),
            ("the skip link", var("ink"), var("focus")),
        ];
        for (what, fg, bg) in pairs {
            let r = contrast(&fg, &bg);
            assert!(r >= 4.5, "{what}: {fg} on {bg} is {r:.2}:1");
        }
        // The focus ring against the page and the header.
        assert!(contrast(&var("focus"), &var("band")) >= 3.0);
    }

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
    fn in_english_a_field_error_is_the_services_own_sentence_after_the_fields_name() {
        let e = field_error(
            &error("head_count", cchc_platform::validation::Rule::NotNegative),
            Lang::En,
        );
        assert_eq!(e.field, "head_count");
        assert!(e.message.starts_with("Head count must"), "{}", e.message);
        let e = field_error(
            &error(
                "periods[1].due_date",
                cchc_platform::validation::Rule::Required,
            ),
            Lang::En,
        );
        assert_eq!(e.message, "Periods 2 due date is required");
        assert_eq!(
            problem_in(
                &Problem {
                    status: 403,
                    ..Problem::default()
                },
                Lang::En
            ),
            "You are not allowed to do this."
        );
    }

    fn error(field: &str, rule: cchc_platform::validation::Rule) -> FieldError {
        let e = cchc_platform::validation::FieldError::new(field, rule);
        FieldError {
            field: e.field,
            code: e.code,
            params: e.params,
            message: e.message,
        }
    }

    #[test]
    fn field_errors_are_said_in_vietnamese() {
        use cchc_platform::validation::Rule;
        assert_eq!(
            field_error(&error("title", Rule::Required), Lang::Vi).message,
            "Hãy nhập tên hoạt động"
        );
        assert_eq!(
            field_error(&error("head_count", Rule::NotNegative), Lang::Vi).message,
            "Số người tham dự không được là số âm"
        );
        let link = field_error(&error("evidence_links[1]", Rule::Url), Lang::Vi);
        assert_eq!(link.field, "evidence_links");
        assert!(link.message.starts_with("Đường dẫn minh chứng"));
        let money = Rule::AtMost {
            max: 10_000_000_000_000,
            of: "VND",
        };
        assert_eq!(
            field_error(&error("note", money), Lang::Vi).message,
            "Ghi chú tối đa là 10.000.000.000.000 đồng"
        );
        let twice = Rule::Duplicate {
            first: "criteria[0]".into(),
        };
        assert_eq!(
            field_error(&error("criteria[2].name", twice), Lang::Vi).message,
            "Tiêu chí trùng với mục thứ 1"
        );
    }

    #[test]
    fn every_rule_the_services_name_is_said_in_vietnamese() {
        for rule in cchc_platform::validation::Rule::examples() {
            let e = error("title", rule);
            let said = said(&e, "Tên").unwrap_or_else(|| panic!("no Vietnamese for {}", e.code));
            // Nothing in English nor a parameter left unsaid.
            assert!(!said.contains(&e.message), "{said}");
            for (k, v) in &e.params {
                // Nouns are translated, choices shown as a list, English detail and
                // classes of address left to the message.
                if !["of", "first", "values", "class", "detail", "offered"].contains(&k.as_str()) {
                    let shown = v.parse::<i64>().map_or(v.clone(), |x| number(&x));
                    assert!(
                        said.contains(&shown) || said.contains(v),
                        "{}: {said} lacks {k}={v}",
                        e.code
                    );
                }
            }
        }
    }
}
