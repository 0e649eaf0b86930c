//! Webhooks cannot be turned on the service's own network: loopback, private and other
//! special-purpose addresses are refused when a URL is saved (in every spelling) and
//! when it is sent to (a name that resolves there), unless an operator allows the
//! network; a URL's user name and password are neither sent nor shown; and the delivery
//! record does not tell what listens on a port.

mod common;

use std::net::IpAddr;
use std::sync::Arc;

use cchc_notification::delivery::webhook::FixedLookup;
use cchc_platform::validation::field_errors;
use cchc_proto::notification::v1 as pb;
use cchc_testkit::{WebhookReceiver, free_port};
use common::{Harness, SECRET, leader, office, operator, procedure, webhook};
use tonic::Code;
use uuid::Uuid;

/// No network allowed beyond public addresses: the setting's default.
const NOTHING_ALLOWED: (&str, &str) = ("CCHC_WEBHOOK_ALLOW_NETWORKS", "");

fn body_with_webhook(url: &str) -> pb::RecipientInput {
    pb::RecipientInput {
        kind: "body".into(),
        name: "Ủy ban nhân dân thành phố".into(),
        groups: vec!["outside".into()],
        contacts: vec![webhook(url, SECRET)],
        ..Default::default()
    }
}

/// Subscribes the group `outside` to procedure changes by webhook.
async fn subscribe_outside(h: &Harness) {
    h.subscribe(pb::SubscriptionInput {
        event_type: "procedure_changed".into(),
        group: "outside".into(),
        channels: vec!["webhook".into()],
        ..Default::default()
    })
    .await;
}

/// Publishes a procedure change; returns its webhook messages.
async fn publish_change(h: &Harness, expected: usize) -> Vec<Uuid> {
    let env = h
        .publish(
            "catalogue",
            &procedure(
                "1.012753.H19",
                "Cấp bản sao văn bằng, chứng chỉ",
                "Văn bằng, chứng chỉ",
            ),
        )
        .await;
    h.eventually(20, "the webhook messages exist", || async {
        let ids: Vec<Uuid> = h
            .messages_of(&env.id)
            .await
            .into_iter()
            .filter(|(_, channel, _)| channel == "webhook")
            .map(|(id, _, _)| id)
            .collect();
        (ids.len() == expected).then_some(ids)
    })
    .await
}

fn port_of(url: &str) -> u16 {
    reqwest::Url::parse(url).unwrap().port().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[tokio::test]
async fn every_spelling_of_an_internal_address_is_refused_when_saved() {
    let h = Harness::start(&[NOTHING_ALLOWED]).await;
    let mut c = h.client().await;
    for url in [
        "http://127.0.0.1:4222/hook",
        "http://2130706433:5432/hook",
        "http://0x7f000001/hook",
        "http://0177.0.0.1/hook",
        "http://127.1/hook",
        "http://127.0.0.1./hook",
        "http://0.0.0.0:50053/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::ffff:7f00:1]/hook",
        "http://localhost/hook",
        "http://LocalHost./hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/hook",
        "http://192.168.1.1/hook",
        "http://100.64.0.1/hook",
        "https://[fd00:ec2::254]/hook",
        "http://[fe80::1]/hook",
        "http://224.0.0.1/hook",
    ] {
        let e = c
            .create_recipient(office(body_with_webhook(url)))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{url}: {e:?}");
        let errors = field_errors(&e);
        assert_eq!(errors.len(), 1, "{url}: {errors:?}");
        assert_eq!(errors[0].field, "contacts[0].url", "{url}");
        assert!(
            errors[0].message.contains("public address"),
            "{url}: {}",
            errors[0].message
        );
    }
    // The message names the address the URL really points at.
    let e = c
        .create_recipient(office(body_with_webhook("http://2130706433/hook")))
        .await
        .unwrap_err();
    assert!(
        field_errors(&e)[0]
            .message
            .contains("127.0.0.1 is loopback"),
        "{e:?}"
    );

    // Changing a recipient is checked the same way.
    let r = h
        .recipient(body_with_webhook("https://ubnd.example.vn/hooks/cchc"))
        .await;
    let e = c
        .update_recipient(office(pb::UpdateRecipientRequest {
            id: r.id.clone(),
            recipient: Some(body_with_webhook("http://0x7f.1:5432/")),
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(field_errors(&e)[0].field, "contacts[0].url");
    assert_eq!(
        h.count("SELECT count(*) FROM recipients WHERE webhook_url LIKE '%ubnd.example.vn%'")
            .await,
        1
    );
}

/// Points recipients at `urls` as if they had been saved so (before such URLs were
/// checked, or under a name whose DNS answer changed since).
async fn recipients_at(h: &Harness, urls: &[String]) {
    for url in urls {
        let r = h
            .recipient(body_with_webhook("https://ubnd.example.vn/hooks/cchc"))
            .await;
        sqlx::query("UPDATE recipients SET webhook_url = $2 WHERE id = $1::uuid")
            .bind(&r.id)
            .bind(url)
            .execute(&h.pool)
            .await
            .unwrap();
    }
}

/// Publishes a change to `n` webhook recipients and checks that every attempt failed
/// with the generic reason and the receiver got nothing.
async fn nothing_reaches(h: &Harness, hook: &WebhookReceiver, n: usize) {
    subscribe_outside(h).await;
    for id in publish_change(h, n).await {
        let r = h.wait_status(id, "dead_lettered", 30).await;
        assert_eq!(r.attempts.len(), 2, "{r:?}");
        for a in &r.attempts {
            assert_eq!(
                (a.status.as_str(), a.reason.as_str()),
                ("temporary_failure", "connection failed"),
                "{}: {r:?}",
                r.destination
            );
        }
    }
    assert!(hook.received().is_empty(), "{:?}", hook.received());
}

#[tokio::test]
async fn a_name_that_resolves_to_loopback_gets_nothing_sent() {
    let hook = WebhookReceiver::start(SECRET).await;
    let port = port_of(&hook.url());
    // The names were public when the office saved them; now their DNS answers loopback.
    let lookup = FixedLookup::new([
        ("hooks.ubnd.example.vn", vec![ip("127.0.0.1")]),
        ("both.ubnd.example.vn", vec![ip("::1"), ip("127.0.0.1")]),
        ("mapped.ubnd.example.vn", vec![ip("::ffff:127.0.0.1")]),
    ]);
    let h = Harness::start_with_lookup(
        &[NOTHING_ALLOWED, ("CCHC_DELIVERY_MAX_ATTEMPTS", "2")],
        Arc::new(lookup),
    )
    .await;
    let urls: Vec<String> = ["hooks", "both", "mapped"]
        .iter()
        .map(|n| format!("http://{n}.ubnd.example.vn:{port}/hook"))
        .collect();
    recipients_at(&h, &urls).await;
    nothing_reaches(&h, &hook, urls.len()).await;
}

#[tokio::test]
async fn loopback_urls_saved_earlier_get_nothing_sent() {
    let hook = WebhookReceiver::start(SECRET).await;
    let port = port_of(&hook.url());
    // The system's resolver: `localhost` is loopback by /etc/hosts.
    let h = Harness::start(&[NOTHING_ALLOWED, ("CCHC_DELIVERY_MAX_ATTEMPTS", "2")]).await;
    let urls: Vec<String> = ["localhost", "2130706433", "[::ffff:127.0.0.1]", "127.1"]
        .iter()
        .map(|host| format!("http://{host}:{port}/hook"))
        .collect();
    recipients_at(&h, &urls).await;
    nothing_reaches(&h, &hook, urls.len()).await;
}

#[tokio::test]
async fn an_allowed_network_is_delivered_to_and_only_its_addresses_are_used() {
    let hook = WebhookReceiver::start(SECRET).await;
    let port = port_of(&hook.url());
    // A Department posting inside its own network. The name also has an address that
    // is not allowed, listed first: it is never connected to.
    let other = tokio::net::TcpListener::bind(("127.0.0.2", port))
        .await
        .expect("127.0.0.2 is loopback too");
    let tried = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = tried.clone();
    let watcher = tokio::spawn(async move {
        while other.accept().await.is_ok() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let lookup = FixedLookup::new([("hooks.so.lan", vec![ip("127.0.0.2"), ip("127.0.0.1")])]);
    let h = Harness::start_with_lookup(
        &[("CCHC_WEBHOOK_ALLOW_NETWORKS", "127.0.0.1/32")],
        Arc::new(lookup),
    )
    .await;
    // An allowed address is accepted in any spelling.
    h.recipient(body_with_webhook(&format!("http://2130706433:{port}/hook")))
        .await;
    h.recipient(body_with_webhook(&format!(
        "http://hooks.so.lan:{port}/hook"
    )))
    .await;
    subscribe_outside(&h).await;
    let ids = publish_change(&h, 2).await;
    for id in ids {
        let r = h.wait_status(id, "delivered", 30).await;
        assert_eq!(r.attempts.len(), 1, "{r:?}");
    }
    let got = hook.wait_for_accepted(2, 10).await;
    assert_eq!(got.len(), 2);
    assert_eq!(tried.load(std::sync::atomic::Ordering::SeqCst), 0);
    watcher.abort();
}

#[tokio::test]
async fn credentials_in_a_url_are_refused_never_sent_and_not_shown() {
    let hook = WebhookReceiver::start(SECRET).await;
    let h = Harness::start(&[]).await;
    let mut c = h.client().await;
    let with_credentials = hook.url().replace("http://", "http://vanthu:mat-khau@");
    let e = c
        .create_recipient(office(body_with_webhook(&with_credentials)))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let errors = field_errors(&e);
    assert_eq!(errors[0].field, "contacts[0].url", "{errors:?}");
    assert!(errors[0].message.contains("password"), "{errors:?}");

    // One saved before credentials were refused, with a token in its query too.
    let r = h.recipient(body_with_webhook(&hook.url())).await;
    let saved = format!("{with_credentials}?token=sgddt-abc");
    sqlx::query("UPDATE recipients SET webhook_url = $2 WHERE id = $1::uuid")
        .bind(&r.id)
        .bind(&saved)
        .execute(&h.pool)
        .await
        .unwrap();
    subscribe_outside(&h).await;
    let ids = publish_change(&h, 1).await;
    let report = h.wait_status(ids[0], "delivered", 30).await;
    let got = hook.wait_for_accepted(1, 10).await;
    assert_eq!(got[0].authorization, None, "{got:?}");
    assert!(!report.destination.contains("mat-khau"), "{report:?}");

    let origin = hook.url().trim_end_matches("/hook").to_owned();
    for (role, req) in [
        ("leader", leader(pb::ListRecipientsRequest::default())),
        ("office", office(pb::ListRecipientsRequest::default())),
        ("operator", operator(pb::ListRecipientsRequest::default())),
    ] {
        let list = c.list_recipients(req).await.unwrap().into_inner();
        let contact = list
            .recipients
            .iter()
            .find(|x| x.id == r.id)
            .and_then(|x| x.contacts.iter().find(|c| c.channel == "webhook"))
            .cloned()
            .unwrap();
        assert!(contact.secret.is_empty(), "{role}: {contact:?}");
        assert!(
            !contact.url.contains("mat-khau") && !contact.url.contains("vanthu"),
            "{role}: {contact:?}"
        );
        if role == "leader" {
            // Where notices go, without the path and query that may be a token.
            assert_eq!(contact.url, origin, "{role}");
        } else {
            assert!(
                contact.url.contains("token=sgddt-abc"),
                "{role}: {contact:?}"
            );
        }
    }
}

#[tokio::test]
async fn delivery_errors_do_not_tell_what_listens_on_a_port() {
    let h = Harness::start(&[("CCHC_DELIVERY_MAX_ATTEMPTS", "1")]).await;
    let targets = [
        ("nothing", free_port()),
        ("nats", port_of(&h.nats.url())),
        ("postgresql", port_of(&h.database_url)),
        ("grpc", port_of(&h.grpc_url)),
    ];
    for (_, port) in targets {
        h.recipient(body_with_webhook(&format!("http://127.0.0.1:{port}/hook")))
            .await;
    }
    subscribe_outside(&h).await;
    let mut reasons = Vec::new();
    for id in publish_change(&h, targets.len()).await {
        let r = h.wait_status(id, "dead_lettered", 30).await;
        assert_eq!(r.attempts.len(), 1, "{r:?}");
        reasons.push((r.destination.clone(), r.attempts[0].reason.clone()));
    }
    for (destination, reason) in &reasons {
        assert_eq!(reason, "connection failed", "{destination}: {reasons:?}");
    }
}

#[tokio::test]
async fn the_upgrade_drops_credentials_saved_earlier() {
    let h = Harness::start(&[]).await;
    let r = h
        .recipient(body_with_webhook("https://ubnd.example.vn/hooks/cchc"))
        .await;
    let keep = h
        .recipient(body_with_webhook("https://so.example.vn/hook?next=a@b"))
        .await;
    sqlx::query("UPDATE recipients SET webhook_url = $2 WHERE id = $1::uuid")
        .bind(&r.id)
        .bind("https://vanthu:m@t-khau@ubnd.example.vn:8443/hooks/cchc?x=@")
        .execute(&h.pool)
        .await
        .unwrap();
    // The migration, run again over the rows an older version left.
    sqlx::raw_sql(include_str!("../migrations/0004_webhook_credentials.sql"))
        .execute(&h.pool)
        .await
        .unwrap();
    let url = |id: String| {
        let pool = h.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT webhook_url FROM recipients WHERE id = $1::uuid",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(
        url(r.id).await,
        "https://ubnd.example.vn:8443/hooks/cchc?x=@"
    );
    assert_eq!(url(keep.id).await, "https://so.example.vn/hook?next=a@b");
}
