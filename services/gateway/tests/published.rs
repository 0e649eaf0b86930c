//! The gateway's copy of the public catalogue against a real NATS with the project's
//! permissions: the catalogue's events drop what they change, and nothing is served
//! while the gateway does not hear them.

use std::time::Duration;

use async_nats::jetstream;
use axum::body::Bytes;
use cchc_gateway::published::{Key, Published};
use cchc_platform::Actor;
use cchc_platform::events::{Event, envelope};
use cchc_proto::events::v1::{
    LegalDocumentIssued, PostingConfirmed, ProcedureChanged, ProcedurePublished,
};
use cchc_testkit::NatsServer;
use prost::Message as _;
use tokio_util::sync::CancellationToken;

async fn until(what: &str, mut ok: impl FnMut() -> bool) {
    for _ in 0..200 {
        if ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not within 10 s: {what}");
}

async fn tell<E: Event>(js: &jetstream::Context, event: &E) {
    let env = envelope("catalogue", &Actor::System, event);
    js.publish(E::TYPE, env.encode_to_vec().into())
        .await
        .unwrap()
        .await
        .unwrap();
}

const A: &str = "1.000001.H19";
const B: &str = "1.000002.H19";

fn keep_some(p: &Published) {
    for key in [
        Key::Current(A.into()),
        Key::Current(B.into()),
        Key::Search("q=sao".into()),
    ] {
        p.keep(p.ticket(), key, Bytes::from_static(b"{}"), 0);
    }
}

fn kept(p: &Published, code: &str) -> bool {
    p.get(&Key::Current(code.into()), 0).is_some()
}

#[tokio::test]
async fn events_drop_what_they_change_and_nothing_is_served_unheard() {
    let mut nats = NatsServer::start_secured().await;
    let catalogue = jetstream::new(nats.connect_as("catalogue").await.unwrap());
    cchc_platform::events::ensure_stream(&catalogue, "catalogue")
        .await
        .unwrap();
    // As the gateway signs in: its own user, its own inbox.
    let gateway = jetstream::new(nats.connect_as("gateway").await.unwrap());
    let published = Published::default();
    let shutdown = CancellationToken::new();
    let follower = tokio::spawn(published.clone().follow(gateway, shutdown.clone()));
    until("the gateway listens", || published.is_live()).await;

    keep_some(&published);
    assert!(kept(&published, A));
    // A unit's posting changes no answer.
    let posting = PostingConfirmed {
        code: A.into(),
        ..Default::default()
    };
    tell(&catalogue, &posting).await;
    // A version made current drops its procedure and the searches, not the others.
    let version = ProcedurePublished {
        code: A.into(),
        version: 2,
        ..Default::default()
    };
    tell(&catalogue, &version).await;
    until("the published procedure is dropped", || {
        !kept(&published, A)
    })
    .await;
    assert!(published.get(&Key::Search("q=sao".into()), 0).is_none());
    assert!(kept(&published, B));

    // So does a draft saved (the answer names its last change).
    let saved = ProcedureChanged {
        code: B.into(),
        change: "draft_saved".into(),
    };
    tell(&catalogue, &saved).await;
    until("the changed procedure is dropped", || !kept(&published, B)).await;

    // A legal document (some procedure's legal basis) drops everything.
    keep_some(&published);
    tell(&catalogue, &LegalDocumentIssued::default()).await;
    until("a legal document drops everything", || {
        !kept(&published, A) && !kept(&published, B)
    })
    .await;

    // NATS gone: nothing kept is served, nothing new is kept.
    keep_some(&published);
    nats.kill().await;
    until("the gateway stops serving", || !published.is_live()).await;
    assert!(!kept(&published, B));
    keep_some(&published);
    assert!(!kept(&published, B));
    // Back: it listens again and keeps answers.
    nats.restart().await;
    until("the gateway listens again", || published.is_live()).await;
    keep_some(&published);
    assert!(kept(&published, B));
    let text = published.render();
    assert!(text.contains("cchc_gateway_published_live 1"), "{text}");

    shutdown.cancel();
    follower.await.unwrap();
    assert!(!published.is_live());
}
