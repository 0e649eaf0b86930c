#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cchc_platform::service::main_with("console", |config, shutdown| async move {
        let settings = cchc_console::Settings::load(&config)?;
        cchc_console::run(settings, shutdown).await
    })
    .await
}
