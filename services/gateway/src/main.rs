//! `cchc-gateway` serves the API; `cchc-gateway first-user --email E [--name N]` makes
//! the first office account of a new installation and prints its one-time link.

use anyhow::Context;

const USAGE: &str = "usage: cchc-gateway [first-user --email ADDRESS [--name NAME]]";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => serve().await,
        Some("first-user") => first_user(&args[1..]).await,
        Some("-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => anyhow::bail!("unknown command {other:?}\n{USAGE}"),
    }
}

async fn serve() -> anyhow::Result<()> {
    cchc_platform::service::main_with("gateway", |config, shutdown| async move {
        let settings = cchc_gateway::Settings::load(&config)?;
        cchc_gateway::Application::build(settings, shutdown)
            .await?
            .run()
            .await
    })
    .await
}

/// Prints the link on stdout (nowhere else: it lets whoever holds it in); what
/// happened, on stderr.
async fn first_user(args: &[String]) -> anyhow::Result<()> {
    let mut email = None;
    let mut name = "Văn phòng Sở".to_owned();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let value = || {
            it.clone()
                .next()
                .cloned()
                .context(format!("{a} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--email" => email = Some(value()?),
            "--name" => name = value()?,
            _ => anyhow::bail!("unknown option {a:?}\n{USAGE}"),
        }
        it.next();
    }
    let email = email.context(format!("--email is required\n{USAGE}"))?;
    let config = cchc_platform::Config::from_env()?;
    let settings = cchc_gateway::Settings::load(&config)?;
    match cchc_gateway::first_user(&settings, &email, &name).await? {
        Some(link) => {
            eprintln!("{email}: office account invited; its one-time link to set a password:");
            println!("{link}");
        }
        None => eprintln!("{email} is already active: sign in with its password"),
    }
    Ok(())
}
