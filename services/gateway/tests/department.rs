//! Replicas of the gateway start together against one database: each makes sure the
//! Department's unit exists before it takes its configured keys, and all of them must
//! end with the same one.

use cchc_gateway::store::Store;
use cchc_platform::outbox::Outbox;

#[tokio::test]
async fn gateways_starting_at_once_share_one_department() {
    let url = cchc_testkit::unique_database_url("gateway");
    let pool = cchc_platform::db::connect_and_migrate(&url, &cchc_gateway::MIGRATOR)
        .await
        .unwrap();
    // Each starter its own store and connections, as separate processes have.
    let starters = (0..8).map(|_| {
        let store = Store::new(pool.clone(), Outbox::new("gateway"));
        tokio::spawn(async move { store.department().await.map(|(id, _)| id) })
    });
    let mut ids = Vec::new();
    for s in starters.collect::<Vec<_>>() {
        ids.push(
            s.await
                .unwrap()
                .expect("every starter finds or makes the Department"),
        );
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one Department for all: {ids:?}");
    let departments: i64 =
        sqlx::query_scalar("SELECT count(*) FROM units WHERE kind = 'department'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(departments, 1);
}
