//! The permissions of `deploy/nats/auth.conf`, tried as an attacker would against a real
//! nats-server: without credentials nothing connects, and no service can publish
//! another's events or touch another's stream.

use std::time::Duration;

use async_nats::jetstream;
use cchc_testkit::NatsServer;

const FORGED: &str = "cchc.catalogue.procedure_published.v1";

/// Publishes to JetStream and waits for the stream's ack (a refused publish never gets
/// one).
async fn stored(js: &jetstream::Context, subject: &'static str) -> bool {
    match js.publish(subject, "x".into()).await {
        Ok(ack) => tokio::time::timeout(Duration::from_secs(3), ack)
            .await
            .is_ok_and(|a| a.is_ok()),
        Err(_) => false,
    }
}

async fn messages(admin: &jetstream::Context, stream: &str) -> u64 {
    admin
        .get_stream(stream)
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .state
        .messages
}

#[tokio::test]
async fn a_client_without_credentials_is_refused() {
    let nats = NatsServer::start_secured().await;
    let refused = async_nats::connect(nats.anonymous_url()).await;
    assert!(refused.is_err(), "an anonymous client connected");
    let wrong = cchc_platform::nats::connect_once(&format!(
        "nats://catalogue:not-the-password@127.0.0.1:{}",
        nats.anonymous_url().rsplit(':').next().unwrap()
    ))
    .await;
    assert!(wrong.is_err(), "a wrong password was accepted");
}

#[tokio::test]
async fn no_service_can_publish_or_manage_another_services_events() {
    let nats = NatsServer::start_secured().await;
    let admin = jetstream::new(nats.connect().await);
    let catalogue = jetstream::new(nats.connect_as("catalogue").await.unwrap());
    cchc_platform::events::ensure_stream(&catalogue, "catalogue")
        .await
        .unwrap();
    assert!(stored(&catalogue, FORGED).await, "the owner publishes");

    // Each other service tries, at once (a refused request only times out).
    let attempts = ["gateway", "activity", "notification", "reporting"].map(|user| {
        let nats = &nats;
        async move {
            let js = jetstream::new(nats.connect_as(user).await.unwrap());
            assert!(!stored(&js, FORGED).await, "{user} published {FORGED}");
            // Nor can it take the stream away or make one for another's subjects.
            let deleted =
                tokio::time::timeout(Duration::from_secs(3), js.delete_stream("CCHC_CATALOGUE"))
                    .await;
            assert!(
                !deleted.is_ok_and(|d| d.is_ok()),
                "{user} deleted the catalogue's stream"
            );
            let created = tokio::time::timeout(
                Duration::from_secs(3),
                cchc_platform::events::ensure_stream(&js, "intruder"),
            )
            .await;
            assert!(!created.is_ok_and(|c| c.is_ok()), "{user} created a stream");
        }
    });
    futures::future::join_all(attempts).await;
    assert_eq!(
        messages(&admin, "CCHC_CATALOGUE").await,
        1,
        "only the owner's"
    );
}

#[tokio::test]
async fn a_service_reads_no_one_elses_replies() {
    let nats = NatsServer::start_secured().await;
    let activity = nats.connect_as("activity").await.unwrap();
    // Subscribing beyond its own inbox is refused by the server, which closes the
    // subscription: nothing ever arrives on it.
    let mut snoop = activity.subscribe("_INBOX.>").await.unwrap();
    let mut events = activity.subscribe("cchc.>").await.unwrap();
    let catalogue = jetstream::new(nats.connect_as("catalogue").await.unwrap());
    cchc_platform::events::ensure_stream(&catalogue, "catalogue")
        .await
        .unwrap();
    assert!(stored(&catalogue, FORGED).await);
    use futures::StreamExt as _;
    for sub in [&mut snoop, &mut events] {
        let got = tokio::time::timeout(Duration::from_millis(500), sub.next()).await;
        assert!(
            !matches!(got, Ok(Some(_))),
            "activity read another service's traffic"
        );
    }
}
