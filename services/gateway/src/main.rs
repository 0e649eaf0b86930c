#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let telemetry = cchc_platform::telemetry::init("gateway")?;
    let result = async {
        let config = cchc_platform::Config::from_env()?;
        let settings = cchc_gateway::Settings::load(&config)?;
        let shutdown = cchc_platform::shutdown::on_signal();
        cchc_gateway::Application::build(settings, shutdown)
            .await?
            .run()
            .await
    }
    .await;
    if let Err(e) = &result {
        tracing::error!(error = %format!("{e:#}"), "gateway stopped with an error");
    }
    telemetry.shutdown();
    result
}
