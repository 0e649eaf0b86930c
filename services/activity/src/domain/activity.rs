//! What a valid activity (hoạt động tuyên truyền) is.

use cchc_platform::time::today;
use cchc_platform::validation::{Errors, Rule, is_http_url, parse_date};
use cchc_platform::vocabulary::activity_kind;
use cchc_proto::activity::v1::RecordActivityRequest;

const MAX_TITLE: usize = 500;
const MAX_TEXT: usize = 20_000;
const MAX_SHORT: usize = 500;
const MAX_LINKS: usize = 50;
const MAX_CODES: usize = 100;
const MAX_REASON: usize = 2_000;
/// More people than any one activity reaches; a larger figure is a typing slip.
const MAX_HEAD_COUNT: i64 = 10_000_000;
/// Most activities one batch may carry.
pub const MAX_BATCH: usize = 1000;

/// A checked activity. Only [`check`] builds one, so every value passed every rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewActivity {
    kind: String,
    date: chrono::NaiveDate,
    title: String,
    description: String,
    channel: String,
    audience: String,
    head_count: i64,
    evidence_links: Vec<String>,
    procedure_codes: Vec<String>,
}

impl NewActivity {
    pub fn kind(&self) -> &str {
        &self.kind
    }
    pub fn date(&self) -> chrono::NaiveDate {
        self.date
    }
    pub fn title(&self) -> &str {
        &self.title
    }
    pub fn description(&self) -> &str {
        &self.description
    }
    pub fn channel(&self) -> &str {
        &self.channel
    }
    pub fn audience(&self) -> &str {
        &self.audience
    }
    pub fn head_count(&self) -> i64 {
        self.head_count
    }
    pub fn evidence_links(&self) -> &[String] {
        &self.evidence_links
    }
    pub fn procedure_codes(&self) -> &[String] {
        &self.procedure_codes
    }
}

/// Checks every field, naming each violation.
pub fn check(r: &RecordActivityRequest) -> Result<NewActivity, Errors> {
    let mut e = Errors::new();
    check_kind(&mut e, &r.kind);
    let date = parse_date(&mut e, "date", &r.date);
    if let Some(d) = date {
        e.check(d <= today(), "date", Rule::NotFuture);
        e.check(
            chrono::Datelike::year(&d) >= 2000,
            "date",
            Rule::TooEarly { year: 2000 },
        );
    }
    let title = r.title.trim();
    e.check(!title.is_empty(), "title", Rule::Required);
    e.check(
        title.chars().count() <= MAX_TITLE,
        "title",
        Rule::TooLong { max: MAX_TITLE },
    );
    e.check(
        r.description.chars().count() <= MAX_TEXT,
        "description",
        Rule::TooLong { max: MAX_TEXT },
    );
    e.check(
        r.channel.chars().count() <= MAX_SHORT,
        "channel",
        Rule::TooLong { max: MAX_SHORT },
    );
    e.check(
        r.audience.chars().count() <= MAX_SHORT,
        "audience",
        Rule::TooLong { max: MAX_SHORT },
    );
    e.single_line("title", title);
    e.multi_line("description", &r.description);
    e.single_line("channel", &r.channel);
    e.single_line("audience", &r.audience);
    e.check(r.head_count >= 0, "head_count", Rule::NotNegative);
    e.check(
        r.head_count <= MAX_HEAD_COUNT,
        "head_count",
        Rule::AtMost {
            max: MAX_HEAD_COUNT,
            of: "",
        },
    );
    e.check(
        r.evidence_links.len() <= MAX_LINKS,
        "evidence_links",
        Rule::AtMost {
            max: MAX_LINKS as i64,
            of: "links",
        },
    );
    for (i, l) in r.evidence_links.iter().enumerate() {
        e.check(is_http_url(l), &format!("evidence_links[{i}]"), Rule::Url);
    }
    e.check(
        r.procedure_codes.len() <= MAX_CODES,
        "procedure_codes",
        Rule::AtMost {
            max: MAX_CODES as i64,
            of: "codes",
        },
    );
    for (i, c) in r.procedure_codes.iter().enumerate() {
        e.check(
            !c.trim().is_empty() && c.len() <= 40 && !c.chars().any(char::is_control),
            &format!("procedure_codes[{i}]"),
            Rule::ProcedureCode,
        );
    }
    super::check_idempotency_key(&mut e, &r.idempotency_key);
    match (e.is_empty(), date) {
        (true, Some(date)) => Ok(NewActivity {
            kind: r.kind.clone(),
            date,
            title: title.to_owned(),
            description: r.description.clone(),
            channel: r.channel.clone(),
            audience: r.audience.clone(),
            head_count: r.head_count,
            evidence_links: r.evidence_links.clone(),
            procedure_codes: r
                .procedure_codes
                .iter()
                .map(|c| c.trim().to_owned())
                .collect(),
        }),
        _ => Err(e),
    }
}

/// Checks that `kind` is one of the plan's kinds of activity.
pub fn check_kind(e: &mut Errors, kind: &str) {
    e.check(
        activity_kind::ALL.contains(&kind),
        "kind",
        Rule::OneOf {
            values: activity_kind::ALL.join(", "),
        },
    );
}

/// Checks the reason given for a correction.
pub fn check_reason(e: &mut Errors, reason: &str) -> String {
    let reason = reason.trim();
    e.check(
        reason.chars().count() <= MAX_REASON,
        "reason",
        Rule::TooLong { max: MAX_REASON },
    );
    e.multi_line("reason", reason);
    reason.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> RecordActivityRequest {
        RecordActivityRequest {
            kind: activity_kind::NEWS_POST.into(),
            date: "2020-05-04".into(),
            title: "Tuyên truyền CCHC trên website".into(),
            head_count: 40,
            evidence_links: vec!["https://thpt.example.vn/tin/1".into()],
            ..Default::default()
        }
    }

    #[test]
    fn accepts_a_good_activity() {
        assert!(check(&good()).is_ok());
    }

    #[test]
    fn names_every_violation() {
        let r = RecordActivityRequest {
            kind: "party".into(),
            date: "2999-01-01".into(),
            title: " ".into(),
            head_count: -1,
            evidence_links: vec!["not a url".into()],
            ..good()
        };
        let e = check(&r).err().unwrap();
        let s = e.finish(tonic::Code::InvalidArgument, "x").unwrap_err();
        let fields: Vec<String> = cchc_platform::validation::field_errors(&s)
            .into_iter()
            .map(|f| f.field)
            .collect();
        assert_eq!(
            fields,
            ["kind", "date", "title", "head_count", "evidence_links[0]"]
        );
    }
}
