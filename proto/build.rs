//! Compiles every `.proto` under `cchc/` with protox, so no system `protoc` is needed.

use std::path::{Path, PathBuf};

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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut files = Vec::new();
    protos(Path::new("cchc"), &mut files);
    println!("cargo:rerun-if-changed=cchc");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let fds = protox::compile(&files, ["."])?;
    // The gateway speaks JSON with the same shapes as the gRPC messages; events stay
    // binary-only so their wire format is never confused with the public API.
    // The JSON shapes are documented in the gateway's OpenAPI from these same types.
    let serde =
        "#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)] #[serde(default)]";
    tonic_prost_build::configure()
        .type_attribute(".cchc.catalogue", serde)
        .type_attribute(".cchc.activity", serde)
        .type_attribute(".cchc.notification", serde)
        .type_attribute(".cchc.reporting", serde)
        .compile_fds(fds)?;
    Ok(())
}
