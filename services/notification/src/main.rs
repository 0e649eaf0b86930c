#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cchc_platform::service::main("notification", 50053, cchc_notification::run).await
}
