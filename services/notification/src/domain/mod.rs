//! The notification domain: kinds of notices and the placeholders each offers, channels,
//! notices, checked recipients, subscriptions and templates, the rules of delivery, and
//! the addresses webhooks may go to.

pub mod account;
pub mod address;
pub mod delivery;
pub mod notice;
pub mod recipient;
pub mod template;

use cchc_platform::vocabulary::change_type;

/// What a notice is about. Subscriptions and templates are keyed by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A procedure was published, amended, replaced or abolished.
    ProcedureChanged,
    /// A unit's posting (niêm yết) stayed out of date.
    PostingStale,
    /// A reporting period's due date approaches and the unit has not reported.
    ReportDue,
    /// A due date passed; leadership hears which units are late.
    ReportOverdue,
    /// The office reopened a unit's submission of a period: the unit submits again.
    ReportReopened,
    /// A report is ready.
    ReportGenerated,
    /// A person is invited to the system: a one-time link to set a first password.
    AccountInvitation,
    /// A person asked to reset a password: a one-time link to set a new one.
    PasswordReset,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::ProcedureChanged,
        Kind::PostingStale,
        Kind::ReportDue,
        Kind::ReportOverdue,
        Kind::ReportReopened,
        Kind::ReportGenerated,
        Kind::AccountInvitation,
        Kind::PasswordReset,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ProcedureChanged => "procedure_changed",
            Kind::PostingStale => "posting_stale",
            Kind::ReportDue => "report_due",
            Kind::ReportOverdue => "report_overdue",
            Kind::ReportReopened => "report_reopened",
            Kind::ReportGenerated => "report_generated",
            Kind::AccountInvitation => "account_invitation",
            Kind::PasswordReset => "password_reset",
        }
    }

    /// Whether recipients subscribe to it. An account link is mailed to the person it
    /// is for alone, at the address the gateway gave, never to subscribers.
    pub fn subscribable(self) -> bool {
        !matches!(self, Kind::AccountInvitation | Kind::PasswordReset)
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The placeholders a template of this kind may use, besides [`template::COMMON`].
    pub fn placeholders(self) -> &'static [&'static str] {
        match self {
            Kind::ProcedureChanged => &[
                "code",
                "name",
                "field",
                "level",
                "agency",
                "change_type",
                "change",
                "decision_number",
                "effective_date",
                "version",
            ],
            Kind::PostingStale => &[
                "code",
                "procedure_name",
                "posted_version",
                "current_version",
                "stale_since",
                "days_stale",
            ],
            Kind::ReportDue => &[
                "plan_number",
                "plan_title",
                "plan_year",
                "period",
                "period_title",
                "period_start",
                "period_end",
                "due_date",
                "days_left",
            ],
            Kind::ReportOverdue => &[
                "plan_number",
                "plan_title",
                "plan_year",
                "period",
                "period_title",
                "due_date",
                "late_count",
                "late_units",
            ],
            Kind::ReportReopened => &[
                "plan_number",
                "plan_title",
                "plan_year",
                "period",
                "period_title",
                "period_start",
                "period_end",
                "due_date",
                "reason",
            ],
            Kind::ReportGenerated => &[
                "plan_number",
                "period",
                "title",
                "report_id",
                "as_of",
                "export_links",
            ],
            Kind::AccountInvitation => &[
                "name",
                "email",
                "unit_name",
                "role",
                "invited_by",
                "link",
                "expires_at",
                "valid_for",
            ],
            Kind::PasswordReset => &["name", "email", "link", "expires_at", "valid_for"],
        }
    }

    pub fn offers(self, name: &str) -> bool {
        self.placeholders().contains(&name) || template::COMMON.contains(&name)
    }
}

/// How a message reaches its recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    /// The in-app inbox, read through `GET /v1/notifications`.
    Inbox,
    Email,
    Webhook,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Inbox, Channel::Email, Channel::Webhook];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Inbox => "inbox",
            Channel::Email => "email",
            Channel::Webhook => "webhook",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// A day as the Department writes it: `05/03/2020`.
pub fn vietnamese_day(d: chrono::NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// `2020-03-05` as the Department writes it, `05/03/2020`; anything else as it is.
pub fn vietnamese_date(iso: &str) -> String {
    chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d")
        .map(vietnamese_day)
        .unwrap_or_else(|_| iso.to_owned())
}

/// The words for a change type, as a unit reads them.
pub fn change_words(change: &str) -> &'static str {
    match change {
        change_type::AMENDED => "sửa đổi, bổ sung",
        change_type::REPLACED => "thay thế",
        change_type::ABOLISHED => "bãi bỏ",
        _ => "công bố mới",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_channels_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Some(c));
        }
        assert_eq!(Kind::parse("procedure_published"), None);
        assert!(Kind::ReportOverdue.offers("recipient_name"));
        assert!(!Kind::ReportOverdue.offers("code"));
        assert!(Kind::ReportReopened.offers("reason") && !Kind::ReportDue.offers("reason"));
        assert!(Kind::PasswordReset.offers("link") && !Kind::PasswordReset.offers("role"));
        assert!(!Kind::AccountInvitation.subscribable() && Kind::ReportDue.subscribable());
    }

    #[test]
    fn dates_and_change_words() {
        assert_eq!(vietnamese_date("2020-03-05"), "05/03/2020");
        assert_eq!(vietnamese_date("soon"), "soon");
        assert_eq!(change_words(change_type::ABOLISHED), "bãi bỏ");
        assert_eq!(change_words(change_type::NEW), "công bố mới");
    }
}
