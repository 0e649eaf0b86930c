#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cchc_platform::service::main_with("gateway", |config, shutdown| async move {
        let settings = cchc_gateway::Settings::load(&config)?;
        cchc_gateway::Application::build(settings, shutdown)
            .await?
            .run()
            .await
    })
    .await
}
