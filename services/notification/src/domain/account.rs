//! One-time account links (an invitation to set a first password, or a password
//! reset), as the gateway announces them: sealed with the services' key, so the stream
//! holds nothing usable. The link is opened to check it when the event arrives, kept
//! sealed beside its message, and opened again only by the delivery worker as it
//! sends. The stored text carries [`LINK_PLACEHOLDER`] where the link goes: the link
//! itself is never written to the database, a log or an answer. Once the e-mail is
//! delivered, given up, replaced or expired, the sealed link is dropped and the
//! placeholder becomes words saying so.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use cchc_platform::{CallerKey, Role};
use cchc_proto::events::v1::AccountLinkIssued;

use super::Kind;
use super::template::{Values, html_escape};

/// The purpose the gateway seals account links under.
pub const LINK_PURPOSE: &str = "account-link";

/// Where the link goes in a message's stored text and HTML. Plain ASCII without `&<>"'`,
/// so HTML escaping leaves it as it is.
pub const LINK_PLACEHOLDER: &str = "[[cchc-account-link]]";

/// What the stored text says in the link's place once the e-mail was delivered.
pub const LINK_SENT: &str = "[liên kết đã gửi]";

/// What it says once the link was dropped without being delivered (expired, given up,
/// replaced by a newer one).
pub const LINK_DROPPED: &str = "[liên kết đã bị hủy]";

/// The e-mail one account link asks for, checked.
pub struct AccountEmail {
    pub kind: Kind,
    pub link_id: Uuid,
    /// The person (a user of the gateway, not a recipient).
    pub user_id: Uuid,
    pub address: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The link as sealed by the gateway; opened only to check it and to send it.
    pub sealed: SealedLink,
    /// The template's values; `link` is [`LINK_PLACEHOLDER`].
    pub values: Values,
}

/// A sealed link: bytes that must not be logged (they are of no use without the key,
/// but there is no reason to spread them either).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedLink(pub Vec<u8>);

impl std::fmt::Debug for SealedLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealedLink({} bytes)", self.0.len())
    }
}

/// What to do with an account link event.
pub enum Decision {
    Send(Box<AccountEmail>),
    /// The link stopped working before the event was handled (an event replayed from
    /// the stream): an e-mail could only mislead.
    Expired {
        link_id: Uuid,
    },
}

/// Why an event cannot be acted on; never says anything of the link itself.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    #[error("account link event: {field} {value:?} is not valid")]
    Field { field: &'static str, value: String },
    #[error("account link {0}: the e-mail address is not valid")]
    Address(Uuid),
    #[error(
        "account link {0}: the link does not open with this service's key \
         (sealed under another key or purpose, or altered)"
    )]
    Sealed(Uuid),
    #[error("account link {0}: the opened link is not an http(s) URL")]
    NotALink(Uuid),
}

/// The kind of e-mail for an event's `purpose`.
fn kind_of(purpose: &str) -> Option<Kind> {
    match purpose {
        "invitation" => Some(Kind::AccountInvitation),
        "password_reset" => Some(Kind::PasswordReset),
        _ => None,
    }
}

/// A role as an invitation names it.
pub fn role_words(role: &str) -> String {
    match Role::parse(role) {
        Some(Role::Unit) => "cán bộ đơn vị".into(),
        Some(Role::Office) => "Văn phòng Sở".into(),
        Some(Role::Leader) => "lãnh đạo".into(),
        Some(Role::Operator) => "quản trị kỹ thuật".into(),
        None => role.to_owned(),
    }
}

/// An instant as the Department writes it, in Vietnam: `05/03/2025 14:30`.
pub fn vietnam_time(t: DateTime<Utc>) -> String {
    cchc_platform::time::in_vietnam(t)
        .format("%d/%m/%Y %H:%M")
        .to_string()
}

/// How long a link works, to the minute, in words: "1 giờ", "30 phút", "7 ngày",
/// "1 giờ 30 phút".
pub fn duration_words(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let minutes = ((to - from).num_seconds().max(0) + 30) / 60;
    let (days, hours, mins) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(format!("{days} ngày"));
    }
    if hours > 0 {
        parts.push(format!("{hours} giờ"));
    }
    if mins > 0 || parts.is_empty() {
        parts.push(format!("{mins} phút"));
    }
    parts.join(" ")
}

fn field(field: &'static str, value: &str) -> Refused {
    Refused::Field {
        field,
        value: value.to_owned(),
    }
}

/// Opens a sealed link: `None` when it does not open under `key`, or is not text.
pub fn open(key: &CallerKey, sealed: &[u8]) -> Option<String> {
    key.open(LINK_PURPOSE, sealed)
        .and_then(|b| String::from_utf8(b).ok())
}

/// Reads an event into the e-mail it asks for, as of `now`: an expired link is not
/// checked further (nothing will be sent); otherwise every field must be valid and the
/// link must open under `key`.
pub fn decide(
    e: &AccountLinkIssued,
    key: &CallerKey,
    issued_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Decision, Refused> {
    let link_id: Uuid = e
        .link_id
        .parse()
        .map_err(|_| field("link_id", &e.link_id))?;
    let kind = kind_of(&e.purpose).ok_or_else(|| field("purpose", &e.purpose))?;
    let expires_at = DateTime::parse_from_rfc3339(&e.expires_at)
        .map_err(|_| field("expires_at", &e.expires_at))?
        .to_utc();
    if expires_at <= now {
        return Ok(Decision::Expired { link_id });
    }
    let user_id: Uuid = e
        .user_id
        .parse()
        .map_err(|_| field("user_id", &e.user_id))?;
    let address = e.email.trim();
    if address.parse::<lettre::Address>().is_err() {
        return Err(Refused::Address(link_id));
    }
    let link = open(key, &e.sealed_link).ok_or(Refused::Sealed(link_id))?;
    if !cchc_platform::validation::is_http_url(&link) {
        return Err(Refused::NotALink(link_id));
    }
    let name = if e.name.trim().is_empty() {
        address.to_owned()
    } else {
        e.name.trim().to_owned()
    };
    let invited_by = if e.issued_by_name.trim().is_empty() {
        "Sở Giáo dục và Đào tạo".to_owned()
    } else {
        e.issued_by_name.trim().to_owned()
    };
    // An envelope without its time counts from now.
    let valid_from = if issued_at.timestamp() > 0 {
        issued_at
    } else {
        now
    };
    let mut values = Values::from([
        ("recipient_name", name.clone()),
        ("name", name),
        ("email", address.to_owned()),
        ("link", LINK_PLACEHOLDER.to_owned()),
        ("expires_at", vietnam_time(expires_at)),
        ("valid_for", duration_words(valid_from, expires_at)),
    ]);
    if kind == Kind::AccountInvitation {
        values.insert("unit_name", e.unit_name.trim().to_owned());
        values.insert("role", role_words(e.role.trim()));
        values.insert("invited_by", invited_by);
    }
    Ok(Decision::Send(Box::new(AccountEmail {
        kind,
        link_id,
        user_id,
        address: address.to_owned(),
        issued_at,
        expires_at,
        sealed: SealedLink(e.sealed_link.clone()),
        values,
    })))
}

/// The text and HTML to send: the stored ones with the link in its place (escaped in
/// the HTML).
pub fn with_link(text: &str, html: &str, link: &str) -> (String, String) {
    (
        text.replace(LINK_PLACEHOLDER, link),
        html.replace(LINK_PLACEHOLDER, &html_escape(link)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const LINK: &str = "https://cchc.example.vn/account/password?token=cchl_abc&x=1";

    fn event(key: &CallerKey, expires_at: DateTime<Utc>) -> AccountLinkIssued {
        AccountLinkIssued {
            link_id: Uuid::new_v4().to_string(),
            user_id: Uuid::new_v4().to_string(),
            email: "nguyen.van.an@thpt-chuvanan.edu.vn".into(),
            name: "Nguyễn Văn An".into(),
            purpose: "invitation".into(),
            unit_name: "Trường THPT Chu Văn An".into(),
            role: "unit".into(),
            expires_at: expires_at.to_rfc3339(),
            sealed_link: key.seal(LINK_PURPOSE, LINK.as_bytes()),
            issued_by_name: "Trần Thị Bình".into(),
        }
    }

    #[test]
    fn an_invitation_reads_in_vietnamese_without_its_link() {
        let key = CallerKey::new("the-services-internal-key");
        let now = Utc.with_ymd_and_hms(2025, 3, 5, 1, 0, 0).unwrap();
        let e = event(&key, now + chrono::Duration::days(7));
        let Ok(Decision::Send(m)) = decide(&e, &key, now, now) else {
            panic!("the invitation is sent");
        };
        assert_eq!(m.kind, Kind::AccountInvitation);
        assert_eq!(m.values["role"], "cán bộ đơn vị");
        assert_eq!(m.values["invited_by"], "Trần Thị Bình");
        // 01:00 UTC is 08:00 in Vietnam.
        assert_eq!(m.values["expires_at"], "12/03/2025 08:00");
        assert_eq!(m.values["valid_for"], "7 ngày");
        assert_eq!(m.values["link"], LINK_PLACEHOLDER);
        assert!(m.values.values().all(|v| !v.contains("cchl_abc")));
        assert_eq!(
            format!("{:?}", m.sealed),
            format!("SealedLink({} bytes)", e.sealed_link.len())
        );
    }

    #[test]
    fn expired_foreign_and_malformed_links_are_told_apart() {
        let key = CallerKey::new("the-services-internal-key");
        let now = Utc.with_ymd_and_hms(2025, 3, 5, 1, 0, 0).unwrap();
        let e = event(&key, now - chrono::Duration::seconds(1));
        assert!(matches!(
            decide(&e, &key, now, now),
            Ok(Decision::Expired { .. })
        ));

        let later = now + chrono::Duration::hours(1);
        let foreign = event(&CallerKey::new("another-key-entirely"), later);
        let link_id = foreign.link_id.parse().unwrap();
        let err = decide(&foreign, &key, now, now).err().unwrap();
        assert_eq!(err, Refused::Sealed(link_id));
        // The reason names the link's id, never the sealed bytes.
        assert!(
            !err.to_string()
                .contains(&format!("{:?}", foreign.sealed_link))
        );

        let mut altered = event(&key, later);
        *altered.sealed_link.last_mut().unwrap() ^= 1;
        assert!(matches!(
            decide(&altered, &key, now, now),
            Err(Refused::Sealed(_))
        ));
        let mut not_a_link = event(&key, later);
        not_a_link.sealed_link = key.seal(LINK_PURPOSE, b"javascript:alert(1)");
        assert!(matches!(
            decide(&not_a_link, &key, now, now),
            Err(Refused::NotALink(_))
        ));
        let mut bad_address = event(&key, later);
        bad_address.email = "a@b, c@d".into();
        assert!(matches!(
            decide(&bad_address, &key, now, now),
            Err(Refused::Address(_))
        ));
        let mut unknown = event(&key, later);
        unknown.purpose = "welcome".into();
        assert!(matches!(
            decide(&unknown, &key, now, now),
            Err(Refused::Field {
                field: "purpose",
                ..
            })
        ));
    }

    #[test]
    fn words_for_roles_times_and_durations() {
        assert_eq!(role_words("office"), "Văn phòng Sở");
        assert_eq!(role_words("leader"), "lãnh đạo");
        assert_eq!(role_words("operator"), "quản trị kỹ thuật");
        assert_eq!(role_words("auditor"), "auditor");
        let t = Utc.with_ymd_and_hms(2025, 12, 31, 17, 5, 0).unwrap();
        assert_eq!(vietnam_time(t), "01/01/2026 00:05");
        let d = |secs: i64| duration_words(t, t + chrono::Duration::seconds(secs));
        assert_eq!(d(3600), "1 giờ");
        assert_eq!(d(3599), "1 giờ");
        assert_eq!(d(1800), "30 phút");
        assert_eq!(d(5400), "1 giờ 30 phút");
        assert_eq!(d(7 * 86400), "7 ngày");
        assert_eq!(d(0), "0 phút");
    }

    #[test]
    fn the_link_goes_where_the_placeholder_is() {
        let (text, html) = with_link(
            &format!("Mở {LINK_PLACEHOLDER}."),
            &format!("<a href=\"{LINK_PLACEHOLDER}\">{LINK_PLACEHOLDER}</a>"),
            LINK,
        );
        assert_eq!(text, format!("Mở {LINK}."));
        let escaped = LINK.replace('&', "&amp;");
        assert_eq!(html, format!("<a href=\"{escaped}\">{escaped}</a>"));
        assert_eq!(html_escape(LINK_PLACEHOLDER), LINK_PLACEHOLDER);
    }
}
