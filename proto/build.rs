//! Compiles every `.proto` under `cchc/` with protox, so no system `protoc` is needed.

use std::path::{Path, PathBuf};

include!("src/actor_fields.rs");

fn protos(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("proto directory is readable")
        .map(|e| e.expect("proto directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            protos(&path, out);
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
}

/// Each event's subject is written in its `.proto`, as the first word of the message's
/// comment (`// cchc.catalogue.procedure_published.v1 — ...`); this makes it the
/// message's `Event::TYPE`, so the name lives beside the type and nowhere else.
fn event_types(fds: &prost_types::FileDescriptorSet) -> Result<(), Box<dyn std::error::Error>> {
    // Field 4 of FileDescriptorProto is its top-level messages.
    const MESSAGE_TYPE: i32 = 4;
    let mut out = String::new();
    for file in &fds.file {
        if file.package() != "cchc.events.v1" {
            continue;
        }
        let Some(info) = &file.source_code_info else {
            return Err(format!("{} has no source information", file.name()).into());
        };
        for loc in &info.location {
            let [MESSAGE_TYPE, index] = loc.path[..] else {
                continue;
            };
            let message = &file.message_type[index as usize];
            let subject = loc
                .leading_comments()
                .split_whitespace()
                .next()
                .map(|w| w.trim_end_matches([':', ',']))
                .filter(|w| {
                    w.starts_with("cchc.")
                        && w.rsplit_once(".v")
                            .is_some_and(|(_, v)| v.parse::<u32>().is_ok())
                });
            if let Some(subject) = subject {
                out.push_str(&format!(
                    "impl Event for {} {{\n    const TYPE: &'static str = \"{subject}\";\n}}\n",
                    message.name()
                ));
            }
        }
    }
    let path = PathBuf::from(std::env::var("OUT_DIR")?).join("cchc.events.v1.types.rs");
    std::fs::write(path, out)?;
    Ok(())
}

/// The full names (`.pkg.Message.field`) of the string fields in [`ACTOR_FIELDS`] of
/// the messages under `packages`, nested messages included.
fn actor_fields(fds: &prost_types::FileDescriptorSet, packages: &[&str]) -> Vec<String> {
    fn walk(prefix: &str, m: &prost_types::DescriptorProto, out: &mut Vec<String>) {
        let path = format!("{prefix}.{}", m.name());
        for f in &m.field {
            if f.r#type() == prost_types::field_descriptor_proto::Type::String
                && ACTOR_FIELDS.contains(&f.name())
            {
                out.push(format!("{path}.{}", f.name()));
            }
        }
        for n in &m.nested_type {
            walk(&path, n, out);
        }
    }
    let mut out = Vec::new();
    for file in &fds.file {
        let package = format!(".{}", file.package());
        if packages.iter().any(|p| package.starts_with(p)) {
            for m in &file.message_type {
                walk(&package, m, &mut out);
            }
        }
    }
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut files = Vec::new();
    protos(Path::new("cchc"), &mut files);
    println!("cargo:rerun-if-changed=cchc");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let fds = protox::compile(&files, ["."])?;
    event_types(&fds)?;
    // The gateway speaks JSON with the same shapes as the gRPC messages; events stay
    // binary-only so their wire format is never confused with the public API.
    // The JSON shapes are documented in the gateway's OpenAPI from these same types.
    let serde =
        "#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)] #[serde(default)]";
    let packages = [
        ".cchc.catalogue",
        ".cchc.activity",
        ".cchc.notification",
        ".cchc.reporting",
    ];
    // Maps in a stable order, so answers are the same byte for byte.
    let mut config = tonic_prost_build::configure().btree_map(".");
    for p in packages {
        config = config.type_attribute(p, serde);
    }
    // A whole number of days reads back as it was written (5, not 5.0).
    config = config.field_attribute(
        ".cchc.catalogue.v1.ProcedureContent.processing_days",
        "#[serde(with = \"crate::days\")] #[schema(value_type = Option<f64>)]",
    );
    // The gateway answers with who each actor is, not the actor's text.
    for f in actor_fields(&fds, &packages) {
        config = config.field_attribute(f, "#[schema(value_type = Option<crate::ActorRef>)]");
    }
    config.compile_fds(fds)?;
    Ok(())
}
