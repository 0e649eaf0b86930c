//! Field-level validation errors, carried from a service to the gateway inside the gRPC
//! status details (JSON), where they become the problem+json `errors` list.
//!
//! Every error names its reason by a stable [`Rule`] code with named parameters, so a
//! client (the console, a unit's own software) says it in its reader's language; the
//! English `message` is for whoever reads the raw answer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    /// The rule the value broke (see the API's list of codes), stable across releases.
    #[serde(default)]
    pub code: String,
    /// The rule's parameters, by name (`max`, `values`, …), as text.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
    /// The reason in English.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, rule: Rule) -> Self {
        Self {
            field: field.into(),
            code: rule.code().to_owned(),
            params: rule.params(),
            message: rule.message(),
        }
    }
}

/// Why a value was refused. One variant per reason a person can act on; the code and
/// the parameter names are part of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// A value must be given.
    Required,
    /// A text longer than `max` characters.
    TooLong {
        max: usize,
    },
    /// A text shorter than `min` characters.
    TooShort {
        min: usize,
    },
    /// A text outside `min` to `max` characters (empty included).
    Length {
        min: usize,
        max: usize,
    },
    /// A number (or a list's length) above `max`; `of` names what is counted in
    /// English ("VND", "working days", "lines"), empty for a bare number.
    AtMost {
        max: i64,
        of: &'static str,
    },
    /// A number (or a list's length) outside `min` to `max`.
    Between {
        min: i64,
        max: i64,
        of: &'static str,
    },
    NotNegative,
    Positive,
    /// A number with more than `max` digits after the decimal point.
    Decimals {
        max: u32,
    },
    /// A year outside `min` to `max`.
    Year {
        min: i32,
        max: i32,
    },
    /// A date before 1 January of `year`.
    TooEarly {
        year: i32,
    },
    /// Not a real date written YYYY-MM-DD.
    Date,
    NotFuture,
    Future,
    /// A date before the beginning of the period it belongs to.
    BeforePeriod,
    /// An effective date before the date of the decision that announced it.
    BeforeDecision,
    /// A period that has not begun: figures are given for a period that has.
    PeriodNotBegun,
    /// Not a period key (2020, 2020-H1, 2020-Q3, 2020-05).
    Period,
    /// A period outside the plan's year.
    OutsidePlanYear,
    /// A period given for what is kept by year only.
    YearOnly,
    /// Not an id (UUID) of `of` (unit, plan, recipient, …; empty: any).
    Id {
        of: &'static str,
    },
    /// An id of `of` that names nothing known.
    NoSuch {
        of: &'static str,
    },
    /// Not one of `values`.
    OneOf {
        values: String,
    },
    Url,
    Email,
    Boolean,
    /// Not lower-case letters, digits, `_` or `-`.
    Slug,
    /// Not `max` or fewer visible ASCII characters.
    VisibleAscii {
        max: usize,
    },
    /// Not a national procedure code such as 1.012753.H19.
    ProcedureCode,
    /// The revision (of a draft or plan) read before the change is missing or wrong.
    Revision,
    /// A value listed twice; `first` is where it first appears, when that helps.
    Duplicate {
        first: String,
    },
    /// A list that must name at least one `of` (unit, period, criterion, channel).
    AtLeastOne {
        of: &'static str,
    },
    /// Exactly one of `fields` must be given.
    ExactlyOne {
        fields: &'static str,
    },
    /// Applies only to the events `applies_to`.
    OnlyFor {
        applies_to: &'static str,
    },
    /// A control character where the text may not hold one.
    ControlCharacter {
        character: char,
        position: usize,
        lines: Lines,
    },
    /// A field the request does not have.
    UnknownField,
    /// The value has the wrong type or shape for the field.
    Malformed {
        detail: String,
    },
    /// A page token this API did not give.
    PageToken,
    /// A total that is computed from its parts and disagrees with them.
    Computed {
        parts: i64,
    },
    /// One-stop figures whose received total is not what was resolved, pending and
    /// returned.
    Unreconciled {
        received: i64,
        resolved: i64,
        pending: i64,
        returned: i64,
    },
    /// Answers to one criterion that add up to more than the responses.
    MoreThanResponses {
        very_satisfied: i64,
        satisfied: i64,
        dissatisfied: i64,
        responses: i64,
    },
    /// Lines that add up to more than a year may total.
    TotalTooLarge {
        total: i64,
        max: i64,
    },
    /// A recipient with a second webhook endpoint.
    OneWebhook,
    /// A webhook address holding a user name or password.
    UrlCredentials,
    /// A webhook address that is not public: `address` is of the `class` loopback,
    /// private, link-local, ….
    UrlNotPublic {
        address: String,
        class: &'static str,
    },
    /// A template without `placeholder`, which it must hold.
    MustContain {
        placeholder: &'static str,
    },
    /// A template subject holding `placeholder`, which belongs in the text.
    MustNotContain {
        placeholder: &'static str,
    },
    /// A template placeholder `name` its event does not offer (`offered` lists those
    /// it does).
    UnknownPlaceholder {
        name: String,
        offered: String,
    },
    /// A `{{` not closed by `}}`.
    UnclosedPlaceholder,
    /// A placeholder whose name is not lower-case letters and `_`.
    BadPlaceholder {
        name: String,
    },
    /// A password among the most common ones.
    CommonPassword,
    /// A password that is the account's e-mail address or name.
    PersonalPassword,
    /// An idempotency key used before for a different request.
    KeyReused,
}

impl Rule {
    /// A value listed twice.
    pub fn twice() -> Self {
        Rule::Duplicate {
            first: String::new(),
        }
    }

    /// Every code a [`Rule`] can carry, for clients that render them.
    pub const CODES: &'static [&'static str] = &[
        "required",
        "too_long",
        "too_short",
        "length",
        "at_most",
        "between",
        "not_negative",
        "positive",
        "decimals",
        "year",
        "too_early",
        "date",
        "not_future",
        "future",
        "before_period",
        "before_decision",
        "period_not_begun",
        "period",
        "outside_plan_year",
        "year_only",
        "id",
        "no_such",
        "one_of",
        "url",
        "email",
        "boolean",
        "slug",
        "visible_ascii",
        "procedure_code",
        "revision",
        "duplicate",
        "at_least_one",
        "exactly_one",
        "only_for",
        "control_character",
        "unknown_field",
        "malformed",
        "page_token",
        "computed",
        "unreconciled",
        "more_than_responses",
        "total_too_large",
        "one_webhook",
        "url_credentials",
        "url_not_public",
        "must_contain",
        "must_not_contain",
        "unknown_placeholder",
        "unclosed_placeholder",
        "bad_placeholder",
        "common_password",
        "personal_password",
        "key_reused",
    ];

    pub fn code(&self) -> &'static str {
        match self {
            Rule::Required => "required",
            Rule::TooLong { .. } => "too_long",
            Rule::TooShort { .. } => "too_short",
            Rule::Length { .. } => "length",
            Rule::AtMost { .. } => "at_most",
            Rule::Between { .. } => "between",
            Rule::NotNegative => "not_negative",
            Rule::Positive => "positive",
            Rule::Decimals { .. } => "decimals",
            Rule::Year { .. } => "year",
            Rule::TooEarly { .. } => "too_early",
            Rule::Date => "date",
            Rule::NotFuture => "not_future",
            Rule::Future => "future",
            Rule::BeforePeriod => "before_period",
            Rule::BeforeDecision => "before_decision",
            Rule::PeriodNotBegun => "period_not_begun",
            Rule::Period => "period",
            Rule::OutsidePlanYear => "outside_plan_year",
            Rule::YearOnly => "year_only",
            Rule::Id { .. } => "id",
            Rule::NoSuch { .. } => "no_such",
            Rule::OneOf { .. } => "one_of",
            Rule::Url => "url",
            Rule::Email => "email",
            Rule::Boolean => "boolean",
            Rule::Slug => "slug",
            Rule::VisibleAscii { .. } => "visible_ascii",
            Rule::ProcedureCode => "procedure_code",
            Rule::Revision => "revision",
            Rule::Duplicate { .. } => "duplicate",
            Rule::AtLeastOne { .. } => "at_least_one",
            Rule::ExactlyOne { .. } => "exactly_one",
            Rule::OnlyFor { .. } => "only_for",
            Rule::ControlCharacter { .. } => "control_character",
            Rule::UnknownField => "unknown_field",
            Rule::Malformed { .. } => "malformed",
            Rule::PageToken => "page_token",
            Rule::Computed { .. } => "computed",
            Rule::Unreconciled { .. } => "unreconciled",
            Rule::MoreThanResponses { .. } => "more_than_responses",
            Rule::TotalTooLarge { .. } => "total_too_large",
            Rule::OneWebhook => "one_webhook",
            Rule::UrlCredentials => "url_credentials",
            Rule::UrlNotPublic { .. } => "url_not_public",
            Rule::MustContain { .. } => "must_contain",
            Rule::MustNotContain { .. } => "must_not_contain",
            Rule::UnknownPlaceholder { .. } => "unknown_placeholder",
            Rule::UnclosedPlaceholder => "unclosed_placeholder",
            Rule::BadPlaceholder { .. } => "bad_placeholder",
            Rule::CommonPassword => "common_password",
            Rule::PersonalPassword => "personal_password",
            Rule::KeyReused => "key_reused",
        }
    }

    /// The parameters, by name, as text.
    pub fn params(&self) -> BTreeMap<String, String> {
        let pairs: Vec<(&str, String)> = match self {
            Rule::TooLong { max } | Rule::VisibleAscii { max } => vec![("max", max.to_string())],
            Rule::TooShort { min } => vec![("min", min.to_string())],
            Rule::Decimals { max } => vec![("max", max.to_string())],
            Rule::Length { min, max } => vec![("min", min.to_string()), ("max", max.to_string())],
            Rule::AtMost { max, of } => vec![("max", max.to_string()), ("of", of.to_string())],
            Rule::Between { min, max, of } => vec![
                ("min", min.to_string()),
                ("max", max.to_string()),
                ("of", of.to_string()),
            ],
            Rule::Year { min, max } => vec![("min", min.to_string()), ("max", max.to_string())],
            Rule::TooEarly { year } => vec![("year", year.to_string())],
            Rule::Id { of } | Rule::NoSuch { of } | Rule::AtLeastOne { of } => {
                vec![("of", of.to_string())]
            }
            Rule::OneOf { values } => vec![("values", values.clone())],
            Rule::Duplicate { first } => vec![("first", first.clone())],
            Rule::ExactlyOne { fields } => vec![("fields", fields.to_string())],
            Rule::OnlyFor { applies_to } => vec![("applies_to", applies_to.to_string())],
            Rule::ControlCharacter {
                character,
                position,
                ..
            } => vec![
                ("character", format!("U+{:04X}", u32::from(*character))),
                ("position", position.to_string()),
            ],
            Rule::Malformed { detail } => vec![("detail", detail.clone())],
            Rule::UrlNotPublic { address, class } => {
                vec![("address", address.clone()), ("class", class.to_string())]
            }
            Rule::UnknownPlaceholder { name, offered } => {
                vec![("name", name.clone()), ("offered", offered.clone())]
            }
            Rule::BadPlaceholder { name } => vec![("name", name.clone())],
            Rule::Computed { parts } => vec![("parts", parts.to_string())],
            Rule::Unreconciled {
                received,
                resolved,
                pending,
                returned,
            } => vec![
                ("received", received.to_string()),
                ("resolved", resolved.to_string()),
                ("pending", pending.to_string()),
                ("returned", returned.to_string()),
                (
                    "difference",
                    (received - resolved - pending - returned).to_string(),
                ),
            ],
            Rule::MoreThanResponses {
                very_satisfied,
                satisfied,
                dissatisfied,
                responses,
            } => vec![
                ("very_satisfied", very_satisfied.to_string()),
                ("satisfied", satisfied.to_string()),
                ("dissatisfied", dissatisfied.to_string()),
                (
                    "answers",
                    (very_satisfied + satisfied + dissatisfied).to_string(),
                ),
                ("responses", responses.to_string()),
            ],
            Rule::TotalTooLarge { total, max } => {
                vec![("total", total.to_string()), ("max", max.to_string())]
            }
            Rule::MustContain { placeholder } | Rule::MustNotContain { placeholder } => {
                vec![("placeholder", placeholder.to_string())]
            }
            _ => Vec::new(),
        };
        pairs
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_owned(), v))
            .collect()
    }

    /// The reason in English.
    pub fn message(&self) -> String {
        let of = |of: &str| {
            if of.is_empty() {
                String::new()
            } else {
                format!(" {of}")
            }
        };
        match self {
            Rule::Required => "is required".into(),
            Rule::TooLong { max } => format!("must be at most {max} characters"),
            Rule::TooShort { min } => format!("must be at least {min} characters"),
            Rule::Length { min, max } => format!("must be {min} to {max} characters"),
            Rule::AtMost { max, of: o } => format!("must be at most {max}{}", of(o)),
            Rule::Between { min, max, of: o } => {
                format!("must be between {min} and {max}{}", of(o))
            }
            Rule::NotNegative => "must not be negative".into(),
            Rule::Positive => "must be greater than 0".into(),
            Rule::Decimals { max } => format!("must have at most {max} digits after the decimal point"),
            Rule::Year { min, max } => format!("must be a year from {min} to {max}"),
            Rule::TooEarly { year } => format!("must be in {year} or later"),
            Rule::Date => "must be a real date written YYYY-MM-DD".into(),
            Rule::NotFuture => "must not be in the future".into(),
            Rule::Future => "must be in the future".into(),
            Rule::BeforePeriod => "must not be before the period begins".into(),
            Rule::BeforeDecision => "cannot be before the decision's date".into(),
            Rule::PeriodNotBegun => {
                "has not begun; figures can only be given for a period that has".into()
            }
            Rule::Period => "must be a year (2020), a half (2020-H1, 2020-H2), a quarter (2020-Q1 to 2020-Q4) or a month (2020-01 to 2020-12), in 2000 to 2200".into(),
            Rule::OutsidePlanYear => "must fall in the plan's year".into(),
            Rule::YearOnly => "is not used here: budget lines are listed by year".into(),
            Rule::Id { of: "" } => "must be a UUID".into(),
            Rule::Id { of } => format!("must be a {} id (UUID)", of.replace('_', " ")),
            Rule::NoSuch { of } => format!("names no {} known here", of.replace('_', " ")),
            Rule::OneOf { values } => format!("must be one of {values}"),
            Rule::Url => "must be an http(s) URL".into(),
            Rule::Email => "must be an e-mail address".into(),
            Rule::Boolean => "must be true or false".into(),
            Rule::Slug => "must be lower-case letters, digits, _ or -".into(),
            Rule::VisibleAscii { max } => format!("must be 1 to {max} visible ASCII characters"),
            Rule::ProcedureCode => "must be a national procedure code such as 1.012753.H19".into(),
            Rule::Revision => "must be the revision number read before the change".into(),
            Rule::Duplicate { first } if first.is_empty() => "is listed twice".into(),
            Rule::Duplicate { first } => format!("repeats {first}"),
            Rule::AtLeastOne { of } => format!("must name at least one {of}"),
            Rule::ExactlyOne { fields } => format!("give exactly one of {fields}"),
            Rule::OnlyFor { applies_to } => format!("applies to {applies_to} only"),
            Rule::ControlCharacter {
                character,
                position,
                lines,
            } => {
                let allowed = match lines {
                    Lines::One => "",
                    Lines::Many => " other than tab and line breaks",
                };
                format!(
                    "must not contain control characters{allowed} (U+{:04X} at character {position})",
                    u32::from(*character)
                )
            }
            Rule::UnknownField => "is not a field of this request".into(),
            Rule::Malformed { detail } => detail.clone(),
            Rule::PageToken => "is not a token this API issued".into(),
            Rule::Computed { parts } => {
                format!("is computed from its parts ({parts}); leave it out")
            }
            Rule::Unreconciled {
                received,
                resolved,
                pending,
                returned,
            } => format!(
                "received {received} ≠ resolved {resolved} + pending {pending} + returned or withdrawn {returned} (difference {})",
                received - resolved - pending - returned
            ),
            Rule::MoreThanResponses {
                very_satisfied,
                satisfied,
                dissatisfied,
                responses,
            } => format!(
                "very satisfied {very_satisfied} + satisfied {satisfied} + dissatisfied {dissatisfied} = {} exceeds the {responses} responses",
                very_satisfied + satisfied + dissatisfied
            ),
            Rule::TotalTooLarge { total, max } => {
                format!("the lines add up to {total} VND; a year may total at most {max} VND")
            }
            Rule::OneWebhook => "a recipient has at most one webhook endpoint".into(),
            Rule::UrlCredentials => "must not contain a user name or password (each POST is signed with the secret instead)".into(),
            Rule::UrlNotPublic { address, class } => format!(
                "must be a public address: {address} is {class} (an operator can allow a network inside the Department with CCHC_WEBHOOK_ALLOW_NETWORKS)"
            ),
            Rule::MustContain { placeholder } => format!("must contain {{{{{placeholder}}}}}"),
            Rule::MustNotContain { placeholder } => {
                format!("must not contain {{{{{placeholder}}}}}: it goes in the text")
            }
            Rule::UnknownPlaceholder { name, offered } => {
                format!("unknown placeholder {{{{{name}}}}}; the event offers: {offered}")
            }
            Rule::UnclosedPlaceholder => "a {{ is not closed by }}".into(),
            Rule::BadPlaceholder { name } => {
                format!("{{{{{name}}}}} is not a placeholder name (lower-case letters and _)")
            }
            Rule::CommonPassword => "is one of the most common passwords; choose another".into(),
            Rule::PersonalPassword => "must not be the e-mail address or the name".into(),
            Rule::KeyReused => {
                "was used before for a different request; use a new key".into()
            }
        }
    }

    /// One rule of each kind, for clients' tests that every code is rendered.
    pub fn examples() -> Vec<Rule> {
        vec![
            Rule::Required,
            Rule::TooLong { max: 300 },
            Rule::TooShort { min: 10 },
            Rule::Length { min: 1, max: 200 },
            Rule::AtMost {
                max: 365,
                of: "working days",
            },
            Rule::Between {
                min: 1,
                max: 500,
                of: "",
            },
            Rule::NotNegative,
            Rule::Positive,
            Rule::Decimals { max: 2 },
            Rule::Year {
                min: 2000,
                max: 2200,
            },
            Rule::TooEarly { year: 2000 },
            Rule::Date,
            Rule::NotFuture,
            Rule::Future,
            Rule::BeforePeriod,
            Rule::BeforeDecision,
            Rule::PeriodNotBegun,
            Rule::Period,
            Rule::OutsidePlanYear,
            Rule::YearOnly,
            Rule::Id { of: "unit" },
            Rule::NoSuch { of: "unit" },
            Rule::OneOf {
                values: "vi, en".into(),
            },
            Rule::Url,
            Rule::Email,
            Rule::Boolean,
            Rule::Slug,
            Rule::VisibleAscii { max: 200 },
            Rule::ProcedureCode,
            Rule::Revision,
            Rule::twice(),
            Rule::AtLeastOne { of: "channel" },
            Rule::ExactlyOne {
                fields: "recipient_id, group, affected",
            },
            Rule::OnlyFor {
                applies_to: "procedure_changed",
            },
            Rule::ControlCharacter {
                character: '\0',
                position: 4,
                lines: Lines::One,
            },
            Rule::UnknownField,
            Rule::Malformed {
                detail: "invalid type: string \"x\", expected i64".into(),
            },
            Rule::PageToken,
            Rule::Computed { parts: 120 },
            Rule::Unreconciled {
                received: 120,
                resolved: 100,
                pending: 10,
                returned: 5,
            },
            Rule::MoreThanResponses {
                very_satisfied: 60,
                satisfied: 40,
                dissatisfied: 10,
                responses: 100,
            },
            Rule::TotalTooLarge {
                total: MAX_VND + 1,
                max: MAX_VND,
            },
            Rule::OneWebhook,
            Rule::UrlCredentials,
            Rule::UrlNotPublic {
                address: "127.0.0.1".into(),
                class: "loopback",
            },
            Rule::MustContain {
                placeholder: "link",
            },
            Rule::MustNotContain {
                placeholder: "link",
            },
            Rule::UnknownPlaceholder {
                name: "ngay_hieu_luc".into(),
                offered: "name, code, effective_date".into(),
            },
            Rule::UnclosedPlaceholder,
            Rule::BadPlaceholder { name: "Ten".into() },
            Rule::CommonPassword,
            Rule::PersonalPassword,
            Rule::KeyReused,
        ]
    }
}

/// Collects every problem with an input before answering, so the caller sees them all.
#[derive(Debug, Default)]
pub struct Errors(Vec<FieldError>);

impl Errors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, rule: Rule) {
        self.0.push(FieldError::new(field, rule));
    }

    /// Adds an error when `ok` is false.
    pub fn check(&mut self, ok: bool, field: &str, rule: Rule) {
        if !ok {
            self.add(field, rule);
        }
    }

    /// Refuses a control character `value` may not hold as a text of `lines`
    /// ([`stray_control`]), naming where it is.
    pub fn characters(&mut self, field: &str, value: &str, lines: Lines) {
        if let Some(found) = stray_control(value, lines) {
            self.add(field, found.rule(lines));
        }
    }

    /// Refuses a control character in a one-line text: a title, name, code or key.
    pub fn single_line(&mut self, field: &str, value: &str) {
        self.characters(field, value, Lines::One);
    }

    /// Refuses a control character other than tab and line breaks in a text that may
    /// run over several lines: a description, a note, a step.
    pub fn multi_line(&mut self, field: &str, value: &str) {
        self.characters(field, value, Lines::Many);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The errors collected, in the order they were added.
    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }

    /// `Ok` when nothing was added; otherwise a status of `code` listing every error.
    pub fn finish(self, code: tonic::Code, message: &str) -> Result<(), tonic::Status> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(status(code, message, self.0))
        }
    }
}

/// The most money one entered figure may state: 10^13 VND (10 trillion dong). A
/// provincial Department of Education's whole yearly budget is of that order, and what
/// a unit spends on communication is a small part of it, so no true figure comes near;
/// yet a million such figures still add up far below `i64::MAX` (about 9.2 × 10^18),
/// so sums over every unit and line of a report cannot overflow.
pub const MAX_VND: i64 = 10_000_000_000_000;

/// The most one entered count may state (dossiers, responses, people): 10^9, above
/// any province's population, and summed over a million entries still far below
/// `i64::MAX`.
pub const MAX_COUNT: i64 = 1_000_000_000;

/// Whether a text is written on one line or may run over several.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    One,
    Many,
}

/// A control character where a text may not hold one, and where it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrayControl {
    pub character: char,
    /// 1-based, counted in characters.
    pub position: usize,
}

impl StrayControl {
    pub fn rule(self, lines: Lines) -> Rule {
        Rule::ControlCharacter {
            character: self.character,
            position: self.position,
            lines,
        }
    }
}

/// The one rule for characters in entered text, for every service: no control
/// characters (C0, DEL, C1), except that a text of several lines may hold tab, line
/// feed and carriage return. PostgreSQL refuses NUL in text and JSON outright, so a NUL
/// that got through would fail the whole write as an internal error; the other
/// controls are invisible in a document or a report and only ever arrive by mistake or
/// malice.
pub fn stray_control(value: &str, lines: Lines) -> Option<StrayControl> {
    let line_break_or_tab = |c: char| matches!(c, '\t' | '\n' | '\r');
    value
        .chars()
        .enumerate()
        .find(|&(_, c)| c.is_control() && !(lines == Lines::Many && line_break_or_tab(c)))
        .map(|(i, character)| StrayControl {
            character,
            position: i + 1,
        })
}

/// A status carrying field errors.
pub fn status(code: tonic::Code, message: &str, mut errors: Vec<FieldError>) -> tonic::Status {
    // The details travel in one HTTP/2 header, which a peer refuses past 16 KiB (the
    // whole answer then fails as a protocol error): the first errors tell the client
    // enough to fix its request.
    let total = errors.len();
    errors.truncate(MAX_FIELD_ERRORS);
    let message = if total > MAX_FIELD_ERRORS {
        format!("{message} (the first {MAX_FIELD_ERRORS} of {total} errors)")
    } else {
        message.to_owned()
    };
    let details = serde_json::to_vec(&errors).unwrap_or_default();
    tonic::Status::with_details(code, message, details.into())
}

/// Field errors carried by one status at most.
pub const MAX_FIELD_ERRORS: usize = 50;

/// The field errors a status carries (empty when none).
pub fn field_errors(status: &tonic::Status) -> Vec<FieldError> {
    serde_json::from_slice(status.details()).unwrap_or_default()
}

/// Logs an internal failure with its chain and answers opaquely.
pub fn internal(e: impl Into<anyhow::Error>) -> tonic::Status {
    let e = e.into();
    tracing::error!(error = %format!("{e:#}"), "internal error");
    tonic::Status::internal("internal error")
}

/// Parses a `YYYY-MM-DD` date, naming the field when it is not a real date.
pub fn parse_date(errors: &mut Errors, field: &str, value: &str) -> Option<chrono::NaiveDate> {
    match chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        Ok(d) if value.len() == 10 => Some(d),
        _ => {
            errors.add(field, Rule::Date);
            None
        }
    }
}

/// A plausible absolute http(s) URL.
pub fn is_http_url(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(r) => {
            let host = r.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty()
                && s.len() <= 2000
                && !s.chars().any(|c| c.is_whitespace() || c.is_control())
                && s.parse::<http::Uri>().is_ok()
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_carries_at_most_its_share_of_field_errors() {
        let errors = (0..200)
            .map(|i| {
                FieldError::new(
                    format!("lines[{i}].planned_vnd"),
                    Rule::AtMost {
                        max: MAX_VND,
                        of: "VND",
                    },
                )
            })
            .collect();
        let s = status(
            tonic::Code::InvalidArgument,
            "the budget is not valid",
            errors,
        );
        assert_eq!(field_errors(&s).len(), MAX_FIELD_ERRORS);
        assert!(s.details().len() < 8 * 1024, "{} bytes", s.details().len());
        assert_eq!(
            s.message(),
            "the budget is not valid (the first 50 of 200 errors)"
        );
    }

    #[test]
    fn every_code_is_listed_once_with_an_example() {
        let codes: Vec<_> = Rule::examples().iter().map(Rule::code).collect();
        assert_eq!(codes, Rule::CODES);
        let unique: std::collections::BTreeSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), codes.len());
        for r in Rule::examples() {
            assert!(!r.message().is_empty(), "{r:?}");
        }
    }

    #[test]
    fn an_error_carries_its_code_and_parameters() {
        let e = FieldError::new("title", Rule::TooLong { max: 300 });
        assert_eq!(e.code, "too_long");
        assert_eq!(e.params["max"], "300");
        assert_eq!(e.message, "must be at most 300 characters");
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["params"]["max"], "300");
        // A bare number has no noun to name.
        let n = FieldError::new(
            "limit",
            Rule::Between {
                min: 1,
                max: 500,
                of: "",
            },
        );
        assert!(!n.params.contains_key("of"));
        assert_eq!(n.message, "must be between 1 and 500");
    }

    #[test]
    fn errors_travel_in_status_details() {
        let mut e = Errors::new();
        e.add("title", Rule::Required);
        e.check(false, "date", Rule::Date);
        let s = e
            .finish(tonic::Code::InvalidArgument, "invalid")
            .unwrap_err();
        assert_eq!(field_errors(&s).len(), 2);
        assert_eq!(field_errors(&s)[0].field, "title");
    }

    #[test]
    fn control_characters_are_refused_by_shape() {
        assert_eq!(stray_control("Tuyên truyền CCHC", Lines::One), None);
        assert_eq!(
            stray_control("a\u{0}b", Lines::One),
            Some(StrayControl {
                character: '\0',
                position: 2
            })
        );
        // Tab and line breaks belong in a text of several lines, not in a title.
        let multi = "Bước 1:\tnộp hồ sơ\r\nBước 2: nhận kết quả\n";
        assert_eq!(stray_control(multi, Lines::Many), None);
        assert!(stray_control(multi, Lines::One).is_some());
        for c in ['\0', '\u{1b}', '\u{7f}', '\u{85}', '\u{9f}'] {
            let s = format!("x{c}");
            assert!(stray_control(&s, Lines::Many).is_some(), "{c:?}");
        }
        let mut e = Errors::new();
        e.single_line("title", "Hội\u{0}nghị");
        e.multi_line("description", "dòng 1\ndòng 2");
        e.multi_line("note", "ghi\u{7}chú");
        let fields: Vec<_> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["title", "note"]);
        assert_eq!(
            e.0[0].message,
            "must not contain control characters (U+0000 at character 4)"
        );
        assert_eq!(
            e.0[1].message,
            "must not contain control characters other than tab and line breaks (U+0007 at character 4)"
        );
    }

    #[test]
    fn dates_and_urls() {
        let mut e = Errors::new();
        assert!(parse_date(&mut e, "d", "2020-02-29").is_some());
        assert!(parse_date(&mut e, "d", "2021-02-29").is_none());
        assert!(parse_date(&mut e, "d", "2021-2-3").is_none());
        assert_eq!(e.0.len(), 2);
        assert!(is_http_url("https://sgddt.example.vn/tin-tuc/1?a=b"));
        assert!(!is_http_url("javascript:alert(1)"));
        assert!(!is_http_url("https:// spaced"));
        assert!(!is_http_url("https://"));
    }
}
