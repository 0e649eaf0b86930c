//! The `cchc import-catalogue` command against the real system: good rows land, bad
//! rows are reported with their row number, and importing the same file again changes
//! nothing. Then the published catalogue is exported as CPSV-AP JSON-LD and as the
//! office's workbook, which imports back unchanged; a sheet of a few columns changes
//! only those, and a dry run says so first.

use std::process::Command;

use cchc_e2e::{System, bin_dir, publication};
use reqwest::Method;
use serde_json::json;

const HEADER: &[&str] = &[
    "Mã thủ tục",
    "Tên thủ tục",
    "Cấp thực hiện",
    "Lĩnh vực",
    "Cơ quan thực hiện",
    "Đối tượng thực hiện",
    "Trình tự thực hiện",
    "Cách thức thực hiện",
    "Thành phần hồ sơ",
    "Thời hạn giải quyết",
    "Kết quả",
    "Phí, lệ phí",
    "Căn cứ pháp lý",
];

fn row(code: &str, name: &str, level: &str) -> Vec<String> {
    [
        code,
        name,
        level,
        "Văn bằng, chứng chỉ",
        "Sở Giáo dục và Đào tạo",
        "Cá nhân",
        "Bước 1: Nộp hồ sơ\nBước 2: Nhận kết quả",
        "Trực tiếp; Trực tuyến; Bưu chính",
        "- Đơn đề nghị\n- Bản sao giấy tờ tùy thân",
        "05 ngày làm việc",
        "Bản sao văn bằng",
        "Không",
        "Nghị định số 23/2015/NĐ-CP",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn rows() -> Vec<Vec<String>> {
    vec![
        row(
            "1.005001.H19",
            "Cấp bản sao văn bằng, chứng chỉ từ sổ gốc",
            "Cấp tỉnh",
        ),
        row(
            "1.005002.H19",
            "Chỉnh sửa nội dung văn bằng, chứng chỉ",
            "Cấp tỉnh",
        ),
        row(
            "1.005003.H19",
            "Công nhận văn bằng do cơ sở nước ngoài cấp",
            "Cấp xã",
        ),
        row("1.005004.H19", "Một dòng có cấp sai", "Cấp liên bang"),
        row("không-phải-mã", "Một dòng có mã sai", "Cấp tỉnh"),
    ]
}

fn write_xlsx(path: &std::path::Path) {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in HEADER.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for (r, cells) in rows().iter().enumerate() {
        for (c, v) in cells.iter().enumerate() {
            ws.write_string(r as u32 + 1, c as u16, v).unwrap();
        }
    }
    wb.save(path).unwrap();
}

fn write_csv(path: &std::path::Path) {
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(HEADER).unwrap();
    for r in rows() {
        w.write_record(&r).unwrap();
    }
    w.flush().unwrap();
}

fn cchc(sys: &System, args: &[&str]) -> (i32, String) {
    let out = Command::new(bin_dir().join("cchc"))
        .args(args)
        .env("CCHC_URL", &sys.gateway)
        .env("CCHC_KEY", &sys.office_key)
        .output()
        .expect("the cchc binary is built (cargo build --bins)");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// `cchc export-catalogue` in `format` into `path`, which must succeed.
fn export(sys: &System, format: &str, path: &std::path::Path) {
    let (status, out) = cchc(
        sys,
        &[
            "export-catalogue",
            "--format",
            format,
            "-o",
            path.to_str().unwrap(),
        ],
    );
    assert_eq!(status, 0, "{out}");
}

#[tokio::test]
async fn import_spreadsheets_then_export_cpsv_ap() {
    let sys = System::start("import").await;
    let dir = tempfile::tempdir().unwrap();
    let xlsx = dir.path().join("danh-muc.xlsx");
    let csv = dir.path().join("danh-muc.csv");
    write_xlsx(&xlsx);
    write_csv(&csv);

    let (code, out) = cchc(&sys, &["import-catalogue", xlsx.to_str().unwrap()]);
    assert_eq!(code, 2, "rejected rows make the exit code 2:\n{out}");
    assert!(
        out.contains("created 3") && out.contains("rejected 2"),
        "{out}"
    );
    assert!(
        out.contains("row 5 (1.005004.H19)"),
        "the bad level is reported by row: {out}"
    );
    assert!(
        out.contains("row 6 (không-phải-mã): code"),
        "the bad code is reported by row: {out}"
    );

    // The same rows again, from CSV this time: nothing changes.
    let (_, out) = cchc(&sys, &["import-catalogue", csv.to_str().unwrap()]);
    assert!(
        out.contains("unchanged 3") && out.contains("rejected 2") && !out.contains("created"),
        "{out}"
    );

    let (s, draft) = sys
        .get("/v1/procedures/1.005001.H19/draft", Some(&sys.office_key))
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        draft["draft_revision"], 1,
        "re-import did not touch the draft"
    );
    let c = &draft["content"];
    assert_eq!(c["processing_days"], 5);
    assert_eq!(
        c["submission_channels"],
        serde_json::json!(["in_person", "online", "post"])
    );
    assert_eq!(c["dossier"].as_array().unwrap().len(), 2);

    // Imported drafts are complete enough to publish.
    let (s, p) = sys
        .post(
            "/v1/procedures/1.005001.H19/publish",
            Some(&sys.office_key),
            &publication("2020-02-01"),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    let out_file = dir.path().join("catalogue.jsonld");
    export(&sys, "jsonld", &out_file);
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out_file).unwrap()).unwrap();
    let graph = doc["@graph"].as_array().unwrap();
    assert_eq!(graph.len(), 1);
    assert_eq!(graph[0]["@type"], "cpsv:PublicService");
    assert_eq!(graph[0]["dct:identifier"], "1.005001.H19");
    assert_eq!(graph[0]["cv:processingTime"], "P5D");
    let (s, _) = sys.get("/v1/catalogue/export?format=pdf", None).await;
    assert_eq!(s, 400);

    // The office adds what a sheet cannot say (a component's copies) and what this one
    // does not (keywords, forms), and publishes it.
    let code = "1.005001.H19";
    let office = Some(sys.office_key.as_str());
    let (_, draft) = sys
        .get(&format!("/v1/procedures/{code}/draft"), office)
        .await;
    let mut content = draft["content"].clone();
    content["keywords"] = json!(["bản sao", "văn bằng"]);
    content["forms"] = json!(["Mẫu đơn đề nghị cấp bản sao"]);
    content["dossier"][1]["copies"] = json!(2);
    let edit = json!({"revision": draft["draft_revision"], "content": content});
    let (s, p) = sys
        .call(
            Method::PUT,
            &format!("/v1/procedures/{code}/draft"),
            office,
            Some(&edit),
        )
        .await;
    assert_eq!(s, 200, "{p}");
    let mut amend = publication("2020-03-01");
    amend["change_type"] = json!("amended");
    let (s, p) = sys
        .post(&format!("/v1/procedures/{code}/publish"), office, &amend)
        .await;
    assert_eq!(s, 200, "{p}");

    // The catalogue as the office's workbook, imported back: nothing changes.
    let workbook = dir.path().join("danh-muc-xuat.xlsx");
    export(&sys, "xlsx", &workbook);
    let (status, out) = cchc(&sys, &["import-catalogue", workbook.to_str().unwrap()]);
    assert_eq!((status, out.contains("unchanged 1")), (0, true), "{out}");
    assert!(!out.contains("updated"), "{out}");
    let (_, after) = sys
        .get(&format!("/v1/procedures/{code}/draft"), office)
        .await;
    assert_eq!(
        after["draft_revision"],
        draft["draft_revision"].as_u64().unwrap() + 1
    );

    // A sheet of three columns changes those columns only: first said, then done.
    let partial = dir.path().join("thoi-han.csv");
    std::fs::write(
        &partial,
        format!(
            "Mã thủ tục;Tên thủ tục;Thời hạn giải quyết\r\n{code};{};0,5 ngày làm việc\r\n",
            content["name"].as_str().unwrap()
        ),
    )
    .unwrap();
    let (status, out) = cchc(
        &sys,
        &["import-catalogue", "--dry-run", partial.to_str().unwrap()],
    );
    assert_eq!(status, 0, "{out}");
    assert!(
        out.contains("dry run, nothing changed:") && out.contains("updated 1"),
        "{out}"
    );
    assert!(
        out.contains(&format!("row 2 ({code}): would be updated processing_days"))
            && out.contains("processing_days: 5 → 0.5"),
        "{out}"
    );
    let (_, unchanged) = sys
        .get(&format!("/v1/procedures/{code}/draft"), office)
        .await;
    assert_eq!(
        unchanged["draft_revision"], after["draft_revision"],
        "a dry run writes nothing"
    );
    let (status, out) = cchc(&sys, &["import-catalogue", partial.to_str().unwrap()]);
    assert_eq!(status, 0, "{out}");
    assert!(
        out.contains(&format!("row 2 ({code}): updated processing_days")),
        "{out}"
    );
    let (_, changed) = sys
        .get(&format!("/v1/procedures/{code}/draft"), office)
        .await;
    let c = &changed["content"];
    assert_eq!(c["processing_days"], 0.5);
    assert_eq!(c["keywords"], json!(["bản sao", "văn bằng"]), "{c}");
    assert_eq!(c["forms"], json!(["Mẫu đơn đề nghị cấp bản sao"]), "{c}");
    assert_eq!(c["dossier"][1]["copies"], 2, "{c}");

    // Half a working day is a time limit the catalogue publishes.
    let mut amend = publication("2020-04-01");
    amend["change_type"] = json!("amended");
    let (s, p) = sys
        .post(&format!("/v1/procedures/{code}/publish"), office, &amend)
        .await;
    assert_eq!(s, 200, "{p}");
    let (_, doc) = sys.get("/v1/catalogue/export?format=jsonld", None).await;
    assert_eq!(doc["@graph"][0]["cv:processingTime"], "P0DT4H", "{doc}");
    sys.stop().await;
}
