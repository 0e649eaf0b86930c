//! Recipients and subscriptions as the office enters them, checked into values that
//! cannot be wrong: every problem is named by its field.

use cchc_platform::validation::{Errors, Rule, is_http_url};
use cchc_proto::notification::v1 as pb;
use uuid::Uuid;

use super::address::{AddressPolicy, UrlProblem, check_webhook_url};
use super::{Channel, Kind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientKind {
    /// A unit of the Department (đơn vị).
    Unit,
    /// An outside body, e.g. the city People's Committee (UBND thành phố).
    Body,
    /// A person, e.g. a member of the leadership (lãnh đạo Sở).
    Person,
}

impl RecipientKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecipientKind::Unit => "unit",
            RecipientKind::Body => "body",
            RecipientKind::Person => "person",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "unit" => RecipientKind::Unit,
            "body" => RecipientKind::Body,
            "person" => RecipientKind::Person,
            _ => return None,
        })
    }
}

/// A webhook endpoint: where to POST and the secret the body is signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub url: String,
    pub secret: String,
}

/// A checked recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecipient {
    pub kind: RecipientKind,
    pub name: String,
    pub unit_id: Option<Uuid>,
    pub groups: Vec<String>,
    pub emails: Vec<String>,
    pub webhook: Option<Webhook>,
    pub language: String,
}

const MAX_NAME: usize = 500;
const MAX_EMAILS: usize = 20;

/// A plausible e-mail address: one `@`, a dotted domain, no spaces or angle brackets.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && s.len() <= 254
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>(),;:\"[]\\".contains(c))
}

/// A group name: lower-case letters, digits, `_` and `-`.
fn is_group(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

impl NewRecipient {
    /// Checks the office's input; webhook URLs against `addresses`, the networks
    /// webhooks may go to.
    pub fn parse(
        input: &pb::RecipientInput,
        addresses: &AddressPolicy,
    ) -> Result<Self, tonic::Status> {
        let mut e = Errors::new();
        let kind = RecipientKind::parse(&input.kind);
        e.check(
            kind.is_some(),
            "kind",
            Rule::OneOf {
                values: "unit, body, person".into(),
            },
        );
        let name = input.name.trim().to_owned();
        e.check(
            !name.is_empty() && name.chars().count() <= MAX_NAME,
            "name",
            Rule::Length { min: 1, max: 500 },
        );
        let unit_id = if input.unit_id.is_empty() {
            None
        } else {
            let id = input.unit_id.parse::<Uuid>().ok();
            e.check(id.is_some(), "unit_id", Rule::Id { of: "unit" });
            id
        };
        if kind == Some(RecipientKind::Unit) {
            e.check(unit_id.is_some(), "unit_id", Rule::Required);
        }
        let mut groups: Vec<String> = Vec::new();
        for (i, g) in input.groups.iter().enumerate() {
            let g = g.trim();
            if !is_group(g) {
                e.add(format!("groups[{i}]"), Rule::Slug);
            } else if !groups.iter().any(|x| x == g) {
                groups.push(g.to_owned());
            }
        }
        let mut emails: Vec<String> = Vec::new();
        let mut webhook = None;
        for (i, c) in input.contacts.iter().enumerate() {
            match Channel::parse(&c.channel) {
                Some(Channel::Email) => {
                    let a = c.address.trim();
                    if !is_email(a) {
                        e.add(format!("contacts[{i}].address"), Rule::Email);
                    } else if !emails.iter().any(|x| x.eq_ignore_ascii_case(a)) {
                        emails.push(a.to_owned());
                    }
                }
                Some(Channel::Webhook) => {
                    let url = c.url.trim();
                    let problem = if is_http_url(url) {
                        check_webhook_url(url, addresses).err()
                    } else {
                        Some(UrlProblem::NotHttp)
                    };
                    if let Some(problem) = problem {
                        e.add(format!("contacts[{i}].url"), problem.rule());
                    }
                    if c.secret.len() < 16 || c.secret.len() > 200 {
                        e.add(
                            format!("contacts[{i}].secret"),
                            Rule::Length { min: 16, max: 200 },
                        );
                    }
                    if webhook.is_some() {
                        e.add(format!("contacts[{i}]"), Rule::OneWebhook);
                    }
                    webhook = Some(Webhook {
                        url: c.url.trim().to_owned(),
                        secret: c.secret.clone(),
                    });
                }
                _ => e.add(
                    format!("contacts[{i}].channel"),
                    Rule::OneOf {
                        values: "email, webhook".into(),
                    },
                ),
            }
        }
        e.check(
            emails.len() <= MAX_EMAILS,
            "contacts",
            Rule::AtMost {
                max: MAX_EMAILS as i64,
                of: "e-mail addresses",
            },
        );
        let language = if input.language.is_empty() {
            "vi".to_owned()
        } else {
            input.language.clone()
        };
        e.check(
            language == "vi" || language == "en",
            "language",
            Rule::OneOf {
                values: "vi, en".into(),
            },
        );
        e.finish(tonic::Code::InvalidArgument, "the recipient is not valid")?;
        Ok(Self {
            kind: kind.expect("checked"),
            name,
            unit_id,
            groups,
            emails,
            webhook,
            language,
        })
    }
}

/// Which recipients a subscription addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    Recipient(Uuid),
    Group(String),
    /// The recipients the event itself concerns.
    Affected,
}

/// Narrows a subscription to some notices of its kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Filters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<Uuid>,
}

impl Filters {
    /// Whether a notice with these attributes passes. A filter on an attribute the
    /// notice does not carry lets nothing through.
    pub fn admit(&self, field: Option<&str>, plan_id: Option<Uuid>) -> bool {
        let field_ok = match (&self.field, field) {
            (None, _) => true,
            (Some(want), Some(got)) => {
                cchc_platform::text::fold(want) == cchc_platform::text::fold(got)
            }
            (Some(_), None) => false,
        };
        let plan_ok = match (self.plan_id, plan_id) {
            (None, _) => true,
            (Some(want), Some(got)) => want == got,
            (Some(_), None) => false,
        };
        field_ok && plan_ok
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSubscription {
    pub kind: Kind,
    pub audience: Audience,
    pub filters: Filters,
    pub channels: Vec<Channel>,
}

impl NewSubscription {
    pub fn parse(input: &pb::SubscriptionInput) -> Result<Self, tonic::Status> {
        let mut e = Errors::new();
        let kind = Kind::parse(&input.event_type).filter(|k| k.subscribable());
        if kind.is_none() {
            let known: Vec<&str> = Kind::ALL
                .iter()
                .filter(|k| k.subscribable())
                .map(|k| k.as_str())
                .collect();
            e.add(
                "event_type",
                Rule::OneOf {
                    values: known.join(", "),
                },
            );
        }
        let chosen = [
            !input.recipient_id.is_empty(),
            !input.group.is_empty(),
            input.affected,
        ]
        .iter()
        .filter(|b| **b)
        .count();
        let mut audience = None;
        if chosen != 1 {
            e.add(
                "recipient_id",
                Rule::ExactlyOne {
                    fields: "recipient_id, group, affected",
                },
            );
        } else if !input.recipient_id.is_empty() {
            match input.recipient_id.parse() {
                Ok(id) => audience = Some(Audience::Recipient(id)),
                Err(_) => e.add("recipient_id", Rule::Id { of: "recipient" }),
            }
        } else if !input.group.is_empty() {
            if is_group(&input.group) {
                audience = Some(Audience::Group(input.group.clone()));
            } else {
                e.add("group", Rule::Slug);
            }
        } else {
            audience = Some(Audience::Affected);
        }
        let f = input.filters.clone().unwrap_or_default();
        let mut filters = Filters::default();
        if !f.field.trim().is_empty() {
            e.check(
                kind == Some(Kind::ProcedureChanged),
                "filters.field",
                Rule::OnlyFor {
                    applies_to: "procedure_changed",
                },
            );
            filters.field = Some(f.field.trim().to_owned());
        }
        if !f.plan_id.is_empty() {
            e.check(
                matches!(
                    kind,
                    Some(
                        Kind::ReportDue
                            | Kind::ReportOverdue
                            | Kind::ReportReopened
                            | Kind::ReportGenerated
                    )
                ),
                "filters.plan_id",
                Rule::OnlyFor {
                    applies_to: "report_due, report_overdue, report_reopened, report_generated",
                },
            );
            match f.plan_id.parse() {
                Ok(id) => filters.plan_id = Some(id),
                Err(_) => e.add("filters.plan_id", Rule::Id { of: "plan" }),
            }
        }
        let mut channels = Vec::new();
        for (i, c) in input.channels.iter().enumerate() {
            match Channel::parse(c) {
                Some(c) if !channels.contains(&c) => channels.push(c),
                Some(_) => {}
                None => e.add(
                    format!("channels[{i}]"),
                    Rule::OneOf {
                        values: "inbox, email, webhook".into(),
                    },
                ),
            }
        }
        e.check(
            !input.channels.is_empty(),
            "channels",
            Rule::AtLeastOne { of: "channel" },
        );
        e.finish(
            tonic::Code::InvalidArgument,
            "the subscription is not valid",
        )?;
        channels.sort();
        Ok(Self {
            kind: kind.expect("checked"),
            audience: audience.expect("checked"),
            filters,
            channels,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cchc_platform::validation::field_errors;
    use cchc_platform::vocabulary::unit_kind;

    fn fields(s: tonic::Status) -> Vec<String> {
        field_errors(&s).into_iter().map(|f| f.field).collect()
    }

    #[test]
    fn a_recipient_with_every_contact() {
        let r = NewRecipient::parse(
            &pb::RecipientInput {
                kind: "body".into(),
                name: " UBND thành phố ".into(),
                groups: vec!["outside".into(), "outside".into()],
                contacts: vec![
                    pb::Contact {
                        channel: "email".into(),
                        address: "vanthu@ubnd.example.vn".into(),
                        ..Default::default()
                    },
                    pb::Contact {
                        channel: "webhook".into(),
                        url: "https://ubnd.example.vn/hooks/cchc".into(),
                        secret: "0123456789abcdef".into(),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
            &AddressPolicy::default(),
        )
        .unwrap();
        assert_eq!(r.name, "UBND thành phố");
        assert_eq!(r.groups, vec!["outside"]);
        assert_eq!(r.language, "vi");
        assert_eq!(r.emails, vec!["vanthu@ubnd.example.vn"]);
        assert!(r.webhook.is_some());
    }

    #[test]
    fn every_recipient_problem_is_named() {
        let e = NewRecipient::parse(
            &pb::RecipientInput {
                kind: "unit".into(),
                name: "".into(),
                unit_id: Uuid::new_v4().to_string(),
                groups: vec!["Lãnh đạo".into()],
                contacts: vec![
                    pb::Contact {
                        channel: "email".into(),
                        address: "not an address".into(),
                        ..Default::default()
                    },
                    pb::Contact {
                        channel: "webhook".into(),
                        url: "ftp://x".into(),
                        secret: "short".into(),
                        ..Default::default()
                    },
                    pb::Contact {
                        channel: "fax".into(),
                        ..Default::default()
                    },
                ],
                language: "fr".into(),
            },
            &AddressPolicy::default(),
        )
        .unwrap_err();
        assert_eq!(
            fields(e),
            vec![
                "name",
                "groups[0]",
                "contacts[0].address",
                "contacts[1].url",
                "contacts[1].secret",
                "contacts[2].channel",
                "language"
            ]
        );
    }

    #[test]
    fn subscriptions_name_one_audience_and_fitting_filters() {
        let ok = NewSubscription::parse(&pb::SubscriptionInput {
            event_type: "procedure_changed".into(),
            group: unit_kind::HIGH_SCHOOL.into(),
            filters: Some(pb::SubscriptionFilters {
                field: "Văn bằng, chứng chỉ".into(),
                ..Default::default()
            }),
            channels: vec!["webhook".into(), "email".into(), "email".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(ok.audience, Audience::Group(unit_kind::HIGH_SCHOOL.into()));
        assert_eq!(ok.channels, vec![Channel::Email, Channel::Webhook]);
        assert!(ok.filters.admit(Some("van bang, CHUNG CHI"), None));
        assert!(!ok.filters.admit(Some("Giáo dục"), None));

        let e = NewSubscription::parse(&pb::SubscriptionInput {
            event_type: "procedure_published".into(),
            group: "x".into(),
            affected: true,
            filters: Some(pb::SubscriptionFilters {
                plan_id: "nope".into(),
                ..Default::default()
            }),
            channels: vec!["sms".into()],
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(
            fields(e),
            vec![
                "event_type",
                "recipient_id",
                "filters.plan_id",
                "filters.plan_id",
                "channels[0]"
            ]
        );

        // Account e-mails go to their person alone: nobody subscribes to them.
        let e = NewSubscription::parse(&pb::SubscriptionInput {
            event_type: "password_reset".into(),
            group: "leadership".into(),
            channels: vec!["email".into()],
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(fields(e), vec!["event_type"]);
    }

    #[test]
    fn email_addresses() {
        assert!(is_email("a.b@sgddt.example.vn"));
        assert!(!is_email("a@b"));
        assert!(!is_email("a b@c.vn"));
        assert!(!is_email("<a@c.vn>"));
        assert!(!is_email("@c.vn"));
    }
}
