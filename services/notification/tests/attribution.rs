//! Whom each write is attributed to: recipients name who created them and who last
//! changed them, subscriptions and template versions who made them, an inbox message
//! who first read it, and a delivery record every operator who retried it. What the
//! service does on its own is the system's; rows from before attribution name no one.

mod common;

use cchc_platform::vocabulary::unit_kind;
use cchc_platform::{Actor, Role};
use cchc_proto::events::v1::UnitRenamed;
use cchc_proto::notification::v1 as pb;
use cchc_testkit::WebhookReceiver;
use common::{Harness, SECRET, by, email, procedure};
use uuid::Uuid;

fn person() -> Actor {
    Actor::User(Uuid::new_v4())
}

/// A request from `actor` at the Department Office.
fn office<T>(actor: Actor, message: T) -> tonic::Request<T> {
    by(actor, Uuid::nil(), Role::Office, message)
}

fn body(name: &str) -> pb::RecipientInput {
    pb::RecipientInput {
        kind: "body".into(),
        name: name.into(),
        groups: vec!["outside".into()],
        contacts: vec![email("vanthu@ubnd.example.vn")],
        ..Default::default()
    }
}

async fn recipients(h: &Harness, group: &str) -> Vec<pb::Recipient> {
    h.client()
        .await
        .list_recipients(office(
            person(),
            pb::ListRecipientsRequest {
                group: group.into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .recipients
}

/// (created_by, updated_by) of a recipient.
fn who(r: &pb::Recipient) -> (&str, &str) {
    (r.created_by.as_str(), r.updated_by.as_str())
}

#[tokio::test]
async fn a_recipient_names_its_creator_and_its_latest_editor() {
    let h = Harness::start(&[]).await;
    let mut c = h.client().await;
    let (a, b) = (person(), person());
    let (a_, b_) = (a.to_string(), b.to_string());

    let made = c
        .create_recipient(office(a, body("UBND thành phố")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(who(&made), (a_.as_str(), a_.as_str()));
    assert_eq!(
        made.updated_at, made.created_at,
        "its creation is its change"
    );

    let changed = c
        .update_recipient(office(
            b,
            pb::UpdateRecipientRequest {
                id: made.id.clone(),
                recipient: Some(body("Ủy ban nhân dân thành phố")),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(who(&changed), (a_.as_str(), b_.as_str()));
    assert_eq!(changed.created_at, made.created_at);
    assert!(changed.updated_at > changed.created_at);
    assert_eq!(recipients(&h, "outside").await, [changed]);

    // A unit's recipient is kept from the gateway's events: the system's doing, even
    // after the office has edited it.
    let unit = h.unit("Trường THPT A", unit_kind::HIGH_SCHOOL).await;
    let system = Actor::System.to_string();
    let [kept] = &recipients(&h, unit_kind::HIGH_SCHOOL).await[..] else {
        panic!("one unit")
    };
    assert_eq!(who(kept), (system.as_str(), system.as_str()));
    let edited = c
        .update_recipient(office(
            a,
            pb::UpdateRecipientRequest {
                id: unit.to_string(),
                recipient: Some(pb::RecipientInput {
                    kind: "unit".into(),
                    name: "Trường THPT A".into(),
                    unit_id: unit.to_string(),
                    contacts: vec![email("thpt-a@example.vn")],
                    ..Default::default()
                }),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(who(&edited), (system.as_str(), a_.as_str()));
    h.publish(
        "gateway",
        &UnitRenamed {
            unit_id: unit.to_string(),
            old_name: "Trường THPT A".into(),
            new_name: "Trường THPT Chu Văn An".into(),
            ..Default::default()
        },
    )
    .await;
    let renamed = h
        .eventually(20, "the rename", || async {
            let r = recipients(&h, unit_kind::HIGH_SCHOOL).await.remove(0);
            (r.name == "Trường THPT Chu Văn An").then_some(r)
        })
        .await;
    assert_eq!(who(&renamed), (system.as_str(), system.as_str()));
    assert_eq!(
        renamed.contacts, edited.contacts,
        "the office's contacts stay"
    );

    // Recipients made before writes were attributed name no one.
    sqlx::query("UPDATE recipients SET created_by = NULL, updated_by = NULL")
        .execute(&h.pool)
        .await
        .unwrap();
    let old = recipients(&h, "").await;
    assert_eq!(old.len(), 2);
    assert!(old.iter().all(|r| who(r) == ("", "")));
}

#[tokio::test]
async fn subscriptions_and_template_versions_name_who_made_them() {
    let h = Harness::start(&[]).await;
    let mut c = h.client().await;
    let (a, b) = (person(), Actor::Key(Uuid::new_v4()));
    let outside = h.recipient(body("Sở Tài chính")).await;

    let subscribe = |actor, event_type: &str| {
        office(
            actor,
            pb::SubscriptionInput {
                event_type: event_type.into(),
                recipient_id: outside.id.clone(),
                channels: vec!["email".into()],
                ..Default::default()
            },
        )
    };
    let s1 = c
        .create_subscription(subscribe(a, "report_generated"))
        .await
        .unwrap()
        .into_inner();
    let s2 = c
        .create_subscription(subscribe(b, "report_due"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(s1.created_by, a.to_string());
    assert_eq!(s2.created_by, b.to_string());
    let list = c
        .list_subscriptions(office(a, pb::ListSubscriptionsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .subscriptions;
    let made: Vec<(&str, &str)> = list
        .iter()
        .map(|s| (s.id.as_str(), s.created_by.as_str()))
        .collect();
    let (a_, b_) = (a.to_string(), b.to_string());
    assert!(made.contains(&(s1.id.as_str(), a_.as_str())));
    assert!(made.contains(&(s2.id.as_str(), b_.as_str())));
    // The defaults are the system's.
    assert_eq!(
        list.len(),
        cchc_notification::store::default_subscriptions().len() + 2
    );
    assert!(
        list.iter()
            .filter(|s| s.id != s1.id && s.id != s2.id)
            .all(|s| s.created_by == "system")
    );

    // Each version of a template names who saved it; version 1 is the default.
    let save = |actor, subject: &str| {
        office(
            actor,
            pb::TemplateInput {
                key: "procedure_changed".into(),
                language: "vi".into(),
                subject: subject.into(),
                text: "Mã {{code}}: {{name}}".into(),
                ..Default::default()
            },
        )
    };
    let v2 = c
        .save_template(save(a, "Thủ tục {{name}}"))
        .await
        .unwrap()
        .into_inner();
    let v3 = c
        .save_template(save(b, "Thay đổi: {{name}}"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((v2.version, v2.created_by.as_str()), (2, a_.as_str()));
    assert_eq!((v3.version, v3.created_by.as_str()), (3, b_.as_str()));
    let reader = c.clone();
    let templates = || {
        let mut c = reader.clone();
        async move {
            c.list_templates(office(
                person(),
                pb::ListTemplatesRequest {
                    key: "procedure_changed".into(),
                },
            ))
            .await
            .unwrap()
            .into_inner()
            .templates
        }
    };
    let versions: Vec<(u32, String)> = templates()
        .await
        .into_iter()
        .map(|t| (t.version, t.created_by))
        .collect();
    assert_eq!(
        versions,
        [(3, b_.clone()), (2, a_.clone()), (1, "system".into())]
    );

    // Rows from before writes were attributed name no one.
    for sql in [
        "UPDATE subscriptions SET created_by = NULL",
        "UPDATE templates SET created_by = NULL",
    ] {
        sqlx::query(sql).execute(&h.pool).await.unwrap();
    }
    assert!(templates().await.iter().all(|t| t.created_by.is_empty()));
    let list = c
        .list_subscriptions(office(a, pb::ListSubscriptionsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .subscriptions;
    assert!(list.iter().all(|s| s.created_by.is_empty()));
}

#[tokio::test]
async fn an_inbox_message_names_who_first_read_it() {
    let h = Harness::start(&[]).await;
    let mut c = h.client().await;
    let school = h.unit("Trường THPT B", unit_kind::HIGH_SCHOOL).await;
    let (a, b) = (person(), person());
    let read_by = |actor, m: &pb::InboxMessage| {
        by(
            actor,
            school,
            Role::Unit,
            pb::MessageRef { id: m.id.clone() },
        )
    };
    for code in ["1.1.H19", "1.2.H19"] {
        h.publish("catalogue", &procedure(code, "Thủ tục", "Giáo dục"))
            .await;
    }
    let reader = c.clone();
    let inbox = || {
        let mut c = reader.clone();
        async move {
            c.list_inbox(by(
                person(),
                school,
                Role::Unit,
                pb::ListInboxRequest::default(),
            ))
            .await
            .unwrap()
            .into_inner()
            .messages
        }
    };
    let messages = h
        .eventually(20, "both messages arrive", || async {
            let m = inbox().await;
            (m.len() == 2).then_some(m)
        })
        .await;
    for m in &messages {
        assert_eq!(
            (m.read, m.read_at.as_str(), m.updated_at.as_str()),
            (false, "", "")
        );
        assert_eq!(m.updated_by, "", "unread: changed by no one");
    }

    let first = &messages[0];
    let read = c.mark_read(read_by(a, first)).await.unwrap().into_inner();
    assert!(read.read);
    assert!(!read.read_at.is_empty());
    assert_eq!(read.updated_at, read.read_at);
    assert_eq!(read.updated_by, a.to_string());

    // Reading it again, someone else changes nothing: the first reading stands.
    let again = c.mark_read(read_by(b, first)).await.unwrap().into_inner();
    assert_eq!(again, read);
    let other = c
        .mark_read(read_by(b, &messages[1]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(other.updated_by, b.to_string());
    assert_eq!(inbox().await, [read.clone(), other]);

    // A message read before reads were attributed is read, by no one known.
    sqlx::query("UPDATE messages SET read_by = NULL WHERE id = $1::uuid")
        .bind(&first.id)
        .execute(&h.pool)
        .await
        .unwrap();
    let old = inbox().await.remove(0);
    assert_eq!(old.id, first.id);
    assert_eq!(
        (old.read, old.read_at.as_str(), old.updated_by.as_str()),
        (true, read.read_at.as_str(), "")
    );
}

#[tokio::test]
async fn each_retry_names_the_operator_who_made_it() {
    let hook = WebhookReceiver::start(SECRET).await;
    hook.fail_next(1000, 500);
    let h = Harness::start(&[("CCHC_DELIVERY_MAX_ATTEMPTS", "1")]).await;
    let mut c = h.client().await;
    h.webhook_subscriber("UBND thành phố", &hook.url()).await;
    let env = h
        .publish("catalogue", &procedure("1.3.H19", "Thủ tục", "Giáo dục"))
        .await;
    let (id, _, _) = h
        .eventually(20, "the webhook message", || async {
            h.messages_of(&env.id).await.into_iter().next()
        })
        .await;
    let given_up = h.wait_status(id, "dead_lettered", 20).await;
    assert!(given_up.retries.is_empty(), "never retried");

    let (a, b) = (person(), person());
    let operator = |actor| {
        by(
            actor,
            Uuid::nil(),
            Role::Operator,
            pb::MessageRef { id: id.to_string() },
        )
    };
    let first = c.retry_message(operator(a)).await.unwrap().into_inner();
    let [retry] = &first.retries[..] else {
        panic!("one retry: {:?}", first.retries)
    };
    assert_eq!(
        (retry.actor.as_str(), retry.after_attempt),
        (a.to_string().as_str(), 1)
    );
    assert!(!retry.retried_at.is_empty());

    // Given up again, retried by someone else, and then delivered.
    h.wait_status(id, "dead_lettered", 20).await;
    hook.fail_next(0, 500);
    c.retry_message(operator(b)).await.unwrap();
    let done = h.wait_status(id, "delivered", 20).await;
    assert_eq!(done.attempts.len(), 3);
    let retries: Vec<(String, u32)> = done
        .retries
        .iter()
        .map(|r| (r.actor.clone(), r.after_attempt))
        .collect();
    assert_eq!(retries, [(a.to_string(), 1), (b.to_string(), 2)]);
    assert_eq!(done.retries[0], *retry);
    assert!(done.retries[1].retried_at > retry.retried_at);
}
