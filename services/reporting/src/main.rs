#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cchc_platform::service::main("reporting", 50054, cchc_reporting::run).await
}
