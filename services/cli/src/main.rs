//! `cchc`: the operator and office command line. Every command goes through the
//! gateway's HTTP API with an API key, like any other client.

use cchc_cli::sheet;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(name = "cchc", about = "Operate cchc through its HTTP API", version)]
struct Cli {
    /// The gateway's base URL.
    #[arg(
        long,
        env = "CCHC_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    url: String,
    /// The API key (default: the contents of ./.cchc-bootstrap-token).
    #[arg(long, env = "CCHC_KEY", global = true, hide_env_values = true)]
    key: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create or update procedure drafts from a spreadsheet (XLSX or CSV, one row each).
    ///
    /// The header row may sit below title rows; CSV may be separated by commas,
    /// semicolons or tabs. Columns are named in Vietnamese or English, diacritics and
    /// case ignored; `Mã thủ tục` and `Tên thủ tục` are required:
    ///
    ///   Mã thủ tục (Mã, Mã TTHC, Mã số, code) · Tên thủ tục (Tên, Tên TTHC, name) ·
    ///   Cấp thực hiện (Cấp, level: tỉnh, huyện, xã) · Lĩnh vực (field) ·
    ///   Cơ quan thực hiện (Cơ quan, agency) · Thời hạn giải quyết (Thời hạn,
    ///   processing days: working days, "0,5" half a day, "Trong ngày" the same
    ///   day, "04 giờ" in working hours) · Đối tượng thực hiện (Đối tượng,
    ///   applicants) · Trình tự thực hiện (Trình tự, steps) · Cách thức thực hiện
    ///   (Cách thức, channels: trực tiếp, trực tuyến, bưu chính) · Thành phần hồ sơ
    ///   (Hồ sơ, dossier) · Kết quả thực hiện (Kết quả, result) · Yêu cầu, điều kiện
    ///   (requirements) · Phí, lệ phí (fees) · Mẫu đơn, tờ khai (forms) · Căn cứ pháp
    ///   lý (legal basis) · Từ khóa (keywords).
    ///
    /// Lists go one item per line or separated by semicolons. A code given to more than
    /// one row refuses all of them; refused rows are listed in the file's order.
    ///
    /// A procedure already in the catalogue changes only in the columns the file has:
    /// its other parts (keywords, forms, a dossier component's copies…) stay as they
    /// are. --dry-run says what each row would change, before and after, and changes
    /// nothing.
    #[command(verbatim_doc_comment)]
    ImportCatalogue {
        file: PathBuf,
        /// Rows sent per request.
        #[arg(long, default_value_t = 100)]
        batch: usize,
        /// Say what would change, row by row, and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write the published catalogue: json, jsonld (CPSV-AP), or xlsx — the office's
    /// working format, in the layout import-catalogue reads back (xlsx needs --output).
    ExportCatalogue {
        #[arg(long, default_value = "json")]
        format: String,
        /// Output file (default: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Create a unit.
    CreateUnit {
        #[arg(long)]
        name: String,
        /// department, division, high_school, district_office, commune_office, affiliated_unit, other
        #[arg(long)]
        kind: String,
        #[arg(long)]
        parent: Option<String>,
    },
    /// List units.
    Units,
    /// Issue an API key to a unit (shown once).
    IssueKey {
        #[arg(long)]
        unit: String,
        /// unit, office, leader, operator
        #[arg(long)]
        role: String,
        /// RFC 3339 expiry, e.g. 2026-12-31T00:00:00Z
        #[arg(long)]
        expires_at: Option<String>,
    },
    /// Revoke an API key at once.
    RevokeKey { key_id: String },
    /// Rebuild reporting's read models from scratch by replaying the event streams
    /// (operator key); shows progress until done.
    /// Generate the report of a plan for a period, with progress; optionally save an export.
    Report {
        #[arg(long)]
        plan: String,
        /// 2020-H1, 2020, ...
        #[arg(long)]
        period: String,
        /// json, csv, xlsx or docx
        #[arg(long, default_value = "docx")]
        format: String,
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// The report's number and symbol (default: "   /BC-" and the plan's issuer).
        #[arg(long)]
        number: Option<String>,
        /// The date under the motto, YYYY-MM-DD (default: the period's last day).
        #[arg(long)]
        date: Option<String>,
        /// The trích yếu (default: from the plan and the period).
        #[arg(long)]
        title: Option<String>,
        /// Who signs: the title (e.g. "KT. GIÁM ĐỐC\nPHÓ GIÁM ĐỐC") and the name
        /// (default: the plan's signer).
        #[arg(long)]
        signer_title: Option<String>,
        #[arg(long)]
        signer_name: Option<String>,
    },
    ReplayReadModels {
        /// Start it and return without waiting.
        #[arg(long)]
        no_wait: bool,
    },
}

struct Api {
    http: reqwest::Client,
    url: String,
    key: String,
}

impl Api {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(reqwest::StatusCode, bytes_or_json::Body)> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url.trim_end_matches('/')))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req
            .send()
            .await
            .with_context(|| format!("reaching {}", self.url))?;
        let status = res.status();
        let bytes = res.bytes().await?.to_vec();
        if !status.is_success() {
            anyhow::bail!("{}", problem_text(status, &bytes));
        }
        Ok((status, bytes_or_json::Body(bytes)))
    }
}

mod bytes_or_json {
    pub struct Body(pub Vec<u8>);

    impl Body {
        pub fn json(&self) -> anyhow::Result<serde_json::Value> {
            Ok(serde_json::from_slice(&self.0)?)
        }
    }
}

/// A problem+json answer as lines a person can act on.
fn problem_text(status: reqwest::StatusCode, body: &[u8]) -> String {
    let Ok(p) = serde_json::from_slice::<Value>(body) else {
        return format!("{status}: {}", String::from_utf8_lossy(body));
    };
    let mut out = format!(
        "{status}: {}",
        p["detail"].as_str().or(p["title"].as_str()).unwrap_or("")
    );
    for e in p["errors"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "\n  {}: {}",
            e["field"].as_str().unwrap_or("?"),
            e["message"].as_str().unwrap_or("")
        ));
    }
    out
}

fn key(cli: &Cli) -> anyhow::Result<String> {
    if let Some(k) = &cli.key {
        return Ok(k.clone());
    }
    std::fs::read_to_string(".cchc-bootstrap-token")
        .map(|s| s.trim().to_owned())
        .map_err(|_| anyhow::anyhow!("no API key: pass --key or set CCHC_KEY"))
}

/// A part's value as the import report shows it: its JSON, cut short.
fn shown(json: &str) -> String {
    const MAX: usize = 60;
    if json.chars().count() <= MAX {
        json.to_owned()
    } else {
        format!("{}…", json.chars().take(MAX).collect::<String>())
    }
}

async fn import(
    api: &Api,
    file: &std::path::Path,
    batch: usize,
    dry_run: bool,
) -> anyhow::Result<bool> {
    let sheet = sheet::read(file)?;
    let (rows, unreadable) = sheet::import_rows(&sheet)?;
    let bar = indicatif::ProgressBar::new(rows.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows {msg}")
            .expect("valid template"),
    );
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    let mut rejected: Vec<(u64, String)> = unreadable
        .iter()
        .map(|e| {
            let line = format!("row {} ({}): {}", e.row, e.code, e.english());
            (u64::from(e.row), line)
        })
        .collect();
    counts.insert("rejected".into(), unreadable.len());
    let mut changed: Vec<(u64, String)> = Vec::new();
    for chunk in rows.chunks(batch.clamp(1, 1000)) {
        let body = json!({ "rows": chunk, "dry_run": dry_run });
        let (_, reply) = api
            .send(reqwest::Method::POST, "/v1/procedures/import", Some(&body))
            .await?;
        for r in reply.json()?["results"].as_array().into_iter().flatten() {
            let outcome = r["outcome"].as_str().unwrap_or("?").to_owned();
            if outcome == "rejected" {
                let why: Vec<String> = r["errors"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| {
                        format!(
                            "{} {}",
                            e["field"].as_str().unwrap_or(""),
                            e["message"].as_str().unwrap_or("")
                        )
                    })
                    .collect();
                rejected.push((
                    r["row"].as_u64().unwrap_or(0),
                    format!(
                        "row {} ({}): {}",
                        r["row"],
                        r["code"].as_str().unwrap_or(""),
                        why.join("; ")
                    ),
                ));
            }
            let changes = r["changes"].as_array().cloned().unwrap_or_default();
            if outcome == "updated" || (dry_run && outcome == "created") {
                let fields: Vec<&str> =
                    changes.iter().filter_map(|c| c["field"].as_str()).collect();
                let mut line = format!(
                    "row {} ({}): {}{} {}",
                    r["row"],
                    r["code"].as_str().unwrap_or(""),
                    if dry_run { "would be " } else { "" },
                    outcome,
                    fields.join(", ")
                );
                if dry_run {
                    for c in &changes {
                        line.push_str(&format!(
                            "\n      {}: {} → {}",
                            c["field"].as_str().unwrap_or(""),
                            shown(c["before"].as_str().unwrap_or("")),
                            shown(c["after"].as_str().unwrap_or(""))
                        ));
                    }
                }
                changed.push((r["row"].as_u64().unwrap_or(0), line));
            }
            *counts.entry(outcome).or_default() += 1;
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_with_message("done");
    let summary: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    if dry_run {
        println!("dry run, nothing changed: {}", summary.join(", "));
    } else {
        println!("{}", summary.join(", "));
    }
    changed.sort();
    for (_, c) in &changed {
        println!("  {c}");
    }
    // In the file's order: row 9 before row 10.
    rejected.sort();
    for (_, r) in &rejected {
        println!("  {r}");
    }
    Ok(rejected.is_empty())
}

/// Starts a replay (or joins the one running) and follows it to the end.
/// Follows a job at `path` (a report or a replay) with a progress bar until it ends;
/// returns its final state.
async fn follow(api: &Api, path: &str, detail: fn(&Value) -> String) -> anyhow::Result<Value> {
    let bar = indicatif::ProgressBar::new(100);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos:>3}% {msg}")
            .expect("valid template"),
    );
    loop {
        let (_, r) = api.send(reqwest::Method::GET, path, None).await?;
        let r = r.json()?;
        bar.set_position(r["percent"].as_u64().unwrap_or(0));
        bar.set_message(detail(&r));
        match r["state"].as_str().unwrap_or("") {
            "completed" => {
                bar.finish_with_message("done");
                return Ok(r);
            }
            "failed" => {
                bar.abandon();
                anyhow::bail!("failed: {}", r["error"].as_str().unwrap_or(""));
            }
            _ => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
        }
    }
}

async fn replay(api: &Api, wait: bool) -> anyhow::Result<bool> {
    let (_, r) = api
        .send(reqwest::Method::POST, "/v1/admin/replay", Some(&json!({})))
        .await?;
    let id = r.json()?["id"].as_str().unwrap_or("").to_owned();
    eprintln!("replay {id} started");
    if !wait {
        println!("{id}");
        return Ok(true);
    }
    let r = follow(api, &format!("/v1/admin/replay/{id}"), |r| {
        format!(
            "{} of {} events",
            r["applied"].as_i64().unwrap_or(0),
            r["total"].as_i64().unwrap_or(0)
        )
    })
    .await?;
    println!(
        "read models rebuilt from {} events",
        r["total"].as_i64().unwrap_or(0)
    );
    Ok(true)
}

/// Generates a plan's report for a period, follows it, and saves an export.
async fn report(
    api: &Api,
    request: &Value,
    format: &str,
    output: Option<&std::path::Path>,
) -> anyhow::Result<bool> {
    let (_, r) = api
        .send(reqwest::Method::POST, "/v1/reports", Some(request))
        .await?;
    let id = r.json()?["id"].as_str().unwrap_or("").to_owned();
    eprintln!("report {id} started");
    let r = follow(api, &format!("/v1/reports/{id}"), |r| {
        r["step"].as_str().unwrap_or("").to_owned()
    })
    .await?;
    if let Some(summary) = r["summary"].as_str() {
        eprintln!("{summary}");
    }
    if let Some(path) = output {
        let (_, body) = api
            .send(
                reqwest::Method::GET,
                &format!("/v1/reports/{id}/export?format={format}"),
                None,
            )
            .await?;
        std::fs::write(path, &body.0).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("{} written", path.display());
    }
    println!("{id}");
    Ok(true)
}

async fn run(cli: Cli) -> anyhow::Result<bool> {
    let api = Api {
        http: reqwest::Client::new(),
        url: cli.url.clone(),
        key: key(&cli)?,
    };
    match &cli.command {
        Command::ImportCatalogue {
            file,
            batch,
            dry_run,
        } => return import(&api, file, *batch, *dry_run).await,
        Command::ReplayReadModels { no_wait } => return replay(&api, !no_wait).await,
        Command::Report {
            plan,
            period,
            format,
            output,
            number,
            date,
            title,
            signer_title,
            signer_name,
        } => {
            let request = json!({
                "plan_id": plan, "period": period,
                "number_symbol": number.as_deref().unwrap_or(""),
                "report_date": date.as_deref().unwrap_or(""),
                "title": title.as_deref().unwrap_or(""),
                "signer_title": signer_title.as_deref().unwrap_or("").replace("\\n", "\n"),
                "signer_name": signer_name.as_deref().unwrap_or(""),
            });
            return report(&api, &request, format, output.as_deref()).await;
        }
        Command::ExportCatalogue { format, output } => {
            let xlsx = format == "xlsx";
            if xlsx && output.is_none() {
                anyhow::bail!("a workbook is no text: give it a file with --output");
            }
            let asked = if xlsx { "json" } else { format.as_str() };
            let (_, body) = api
                .send(
                    reqwest::Method::GET,
                    &format!("/v1/catalogue/export?format={asked}"),
                    None,
                )
                .await?;
            let bytes = if xlsx {
                sheet::catalogue_xlsx(&body.json()?)?
            } else {
                body.0
            };
            match output {
                Some(path) => std::fs::write(path, &bytes)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => println!("{}", String::from_utf8_lossy(&bytes)),
            }
        }
        Command::CreateUnit { name, kind, parent } => {
            let body = json!({"name": name, "kind": kind, "parent_id": parent});
            let (_, u) = api
                .send(reqwest::Method::POST, "/v1/units", Some(&body))
                .await?;
            let u = u.json()?;
            println!(
                "{}\t{}\t{}",
                u["id"].as_str().unwrap_or(""),
                u["kind"].as_str().unwrap_or(""),
                u["name"].as_str().unwrap_or("")
            );
        }
        Command::Units => {
            let mut token = String::new();
            loop {
                let (_, page) = api
                    .send(
                        reqwest::Method::GET,
                        &format!("/v1/units?limit=500&page_token={token}"),
                        None,
                    )
                    .await?;
                let page = page.json()?;
                for u in page["units"].as_array().into_iter().flatten() {
                    println!(
                        "{}\t{}\t{}",
                        u["id"].as_str().unwrap_or(""),
                        u["kind"].as_str().unwrap_or(""),
                        u["name"].as_str().unwrap_or("")
                    );
                }
                token = page["next_page_token"].as_str().unwrap_or("").to_owned();
                if token.is_empty() {
                    break;
                }
            }
        }
        Command::IssueKey {
            unit,
            role,
            expires_at,
        } => {
            let body = json!({"role": role, "expires_at": expires_at});
            let (_, k) = api
                .send(
                    reqwest::Method::POST,
                    &format!("/v1/units/{unit}/api-keys"),
                    Some(&body),
                )
                .await?;
            let k = k.json()?;
            eprintln!(
                "key id {} (role {}); the key is shown only now:",
                k["id"].as_str().unwrap_or(""),
                k["role"].as_str().unwrap_or("")
            );
            println!("{}", k["key"].as_str().unwrap_or(""));
        }
        Command::RevokeKey { key_id } => {
            api.send(
                reqwest::Method::DELETE,
                &format!("/v1/api-keys/{key_id}"),
                None,
            )
            .await?;
            println!("revoked {key_id}");
        }
    }
    Ok(true)
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(true) => ExitCode::SUCCESS,
        // Some rows were rejected: the report above says which and why.
        Ok(false) => ExitCode::from(2),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
