#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cchc_platform::service::main("activity", 50052, cchc_activity::run).await
}
