//! Lists page by the platform's one rule: a page exactly full is the last one when
//! nothing follows (no token to an empty page), and a limit over 500 is refused with
//! the message every list gives, not cut down.

mod common;

use cchc_platform::Role;
use cchc_platform::page::LIMIT_RULE;
use cchc_platform::validation::field_errors;
use cchc_platform::vocabulary::unit_kind;
use cchc_proto::notification::v1 as pb;
use common::{Harness, from, office, operator, procedure};
use tonic::Code;

fn body(name: &str) -> pb::RecipientInput {
    pb::RecipientInput {
        kind: "body".into(),
        name: name.into(),
        groups: vec!["outside".into()],
        ..Default::default()
    }
}

async fn recipients(h: &Harness, limit: u32, page_token: &str) -> pb::ListRecipientsResponse {
    h.client()
        .await
        .list_recipients(office(pb::ListRecipientsRequest {
            group: "outside".into(),
            limit,
            page_token: page_token.into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn an_exactly_full_page_is_the_last_and_a_limit_over_500_is_refused() {
    let h = Harness::start(&[]).await;
    let first = h.recipient(body("UBND thành phố")).await;
    let second = h.recipient(body("Sở Tài chính")).await;

    let all = recipients(&h, 2, "").await;
    assert_eq!(all.recipients.len(), 2);
    assert_eq!(
        all.next_page_token, "",
        "nothing follows an exactly full page"
    );

    let one = recipients(&h, 1, "").await;
    assert_eq!(one.recipients[0].id, first.id);
    assert!(!one.next_page_token.is_empty());
    let last = recipients(&h, 1, &one.next_page_token).await;
    assert_eq!(last.recipients[0].id, second.id);
    assert_eq!(
        last.next_page_token, "",
        "the last page, though full, leads nowhere"
    );

    // The inbox pages the same way.
    let unit = h.unit("Trường THPT A", unit_kind::HIGH_SCHOOL).await;
    h.publish(
        "catalogue",
        &procedure("1.1.H19", "Thủ tục một", "Giáo dục"),
    )
    .await;
    h.publish(
        "catalogue",
        &procedure("1.2.H19", "Thủ tục hai", "Giáo dục"),
    )
    .await;
    let mut c = h.client().await;
    let inbox = |limit| pb::ListInboxRequest {
        limit,
        ..Default::default()
    };
    h.eventually(20, "both changes reach the unit", || {
        let mut c = c.clone();
        async move {
            let n = c
                .list_inbox(from(unit, Role::Unit, inbox(0)))
                .await
                .unwrap()
                .into_inner()
                .messages
                .len();
            (n == 2).then_some(())
        }
    })
    .await;
    let page = c
        .list_inbox(from(unit, Role::Unit, inbox(2)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (page.messages.len(), page.next_page_token.as_str()),
        (2, "")
    );

    // Over the maximum: refused, naming the field, in every list.
    let refused = [
        c.list_recipients(office(pb::ListRecipientsRequest {
            limit: 501,
            ..Default::default()
        }))
        .await
        .unwrap_err(),
        c.list_inbox(from(unit, Role::Unit, inbox(501)))
            .await
            .unwrap_err(),
        c.list_dead_letters(operator(pb::ListDeadLettersRequest {
            limit: 501,
            ..Default::default()
        }))
        .await
        .unwrap_err(),
    ];
    for e in refused {
        assert_eq!(e.code(), Code::InvalidArgument);
        let fields = field_errors(&e);
        assert_eq!(fields.len(), 1);
        assert_eq!(
            (fields[0].field.as_str(), fields[0].code.as_str()),
            ("limit", LIMIT_RULE.code())
        );
    }
    assert_eq!(recipients(&h, 500, "").await.recipients.len(), 2);
}
