#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cchc_platform::service::main("catalogue", 50051, cchc_catalogue::run).await
}
