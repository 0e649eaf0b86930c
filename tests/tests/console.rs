//! The console in a real headless Chromium against the whole system: the public
//! catalogue signed out, a clerk signing in, a stale posting confirmed after the office
//! amends the procedure, an activity refused with the error beside its field in
//! Vietnamese and then logged and shown with its author, another unit's record out of
//! reach by URL, a form without its CSRF token refused, signing out; the office's
//! units, keys and catalogue (import, a new draft, what changed between versions,
//! abolishing); a unit's posting sheet printed to A4. Screenshots of the
//! pages go to `$CARGO_TARGET_DIR/screenshots` (`CCHC_SCREENSHOTS=dir` chooses another
//! folder, e.g. `docs/screenshots`).

use cchc_e2e::System;
use cchc_e2e::browser::Browser;
use serde_json::json;

/// Signs `email` in through the console's form.
async fn sign_in(browser: &Browser, console: &str, email: &str, password: &str) {
    browser.goto(&format!("{console}/dang-nhap")).await;
    browser.fill("email", email).await;
    browser.fill("password", password).await;
    browser.click("button.primary").await;
    assert_eq!(
        browser.path().await,
        "/trang-chu",
        "{}",
        browser.text().await
    );
}

/// A person of the Department Office (role office), by name and e-mail: the
/// Department's unit id and the person's password.
async fn office_person(sys: &System, name: &str, email: &str) -> (String, String) {
    let (_, me) = sys.get("/v1/me", Some(&sys.office_key)).await;
    let department = me["unit"]["id"].as_str().unwrap().to_owned();
    let (_, password) = sys
        .person_with_password(&department, "office", name, email)
        .await;
    (department, password)
}

fn screenshots() -> std::path::PathBuf {
    std::env::var_os("CCHC_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| cchc_e2e::bin_dir().join("screenshots"))
}

#[tokio::test]
async fn a_clerk_works_through_the_console_in_a_real_browser() {
    let mut sys = System::start("console").await;
    let console = sys.start_console().await;
    let office = sys.office_key.clone();
    let shots = screenshots();

    // A published procedure, posted by the school at version 1.
    let code = "1.009990.H19";
    sys.published(code, "Cấp bản sao văn bằng, chứng chỉ từ sổ gốc")
        .await;
    let (unit_a, key_a) = sys
        .unit_with_key("Trường THPT Chu Văn An", "high_school", "unit")
        .await;
    let (_, key_b) = sys
        .unit_with_key("Trường THPT Phan Bội Châu", "high_school", "unit")
        .await;
    let posting = json!({"code": code, "version": 1, "location": "Bảng tin tầng 1", "posted_on": "2020-02-05"});
    assert_eq!(
        sys.post("/v1/postings", Some(&key_a), &posting).await.0,
        201
    );
    let (s, b_activity) = sys
        .post(
            "/v1/activities",
            Some(&key_b),
            &json!({"kind": "briefing", "date": "2020-03-02", "title": "Hội nghị của trường B", "head_count": 10}),
        )
        .await;
    assert_eq!(s, 201, "{b_activity}");
    let email = "van-thu@thpt-cva.edu.vn";
    let (_, password) = sys
        .person_with_password(&unit_a, "unit", "Nguyễn Thị Lan", email)
        .await;

    let browser = Browser::start(1280).await;

    // Signed out, the public catalogue: a search without diacritics finds it.
    browser
        .goto(&format!("{console}/?q=cap+ban+sao+van+bang"))
        .await;
    let page = browser.text().await;
    assert!(page.contains("Tra cứu thủ tục hành chính"), "{page}");
    assert!(
        page.contains("Cấp bản sao văn bằng, chứng chỉ từ sổ gốc"),
        "{page}"
    );
    browser.screenshot(&shots, "tra-cuu").await;
    browser.click(&format!("a[href='/thu-tuc/{code}']")).await;
    let page = browser.text().await;
    assert!(
        page.contains("Quyết định số 1234/QĐ-UBND ngày 15/01/2020"),
        "{page}"
    );
    assert!(page.contains("Thành phần hồ sơ"), "{page}");
    browser.screenshot(&shots, "thu-tuc").await;

    // A page for staff sends a signed-out browser to sign in; a wrong password is
    // told in Vietnamese.
    browser.goto(&format!("{console}/trang-chu")).await;
    assert_eq!(browser.path().await, "/dang-nhap");
    browser.fill("email", email).await;
    browser.fill("password", "không phải mật khẩu").await;
    browser.click("button.primary").await;
    let page = browser.text().await;
    assert!(
        page.contains("Địa chỉ e-mail hoặc mật khẩu không đúng."),
        "{page}"
    );
    browser.fill("email", email).await;
    browser.fill("password", &password).await;
    browser.click("button.primary").await;
    assert_eq!(browser.path().await, "/trang-chu");
    assert!(browser.text().await.contains("Nguyễn Thị Lan"));

    // The office amends the procedure in the console (a shorter time limit, published
    // as an amendment): the school's posting turns stale on its home page, and the
    // clerk confirms the new version.
    let (department, office_password) =
        office_person(&sys, "Trần Văn Bình", "vanphong@sgddt.example.vn").await;
    let desk = Browser::start(1280).await;
    sign_in(
        &desk,
        &console,
        "vanphong@sgddt.example.vn",
        &office_password,
    )
    .await;
    // The office invites a second clerk of the school, then thinks better of it.
    desk.goto(&format!("{console}/van-phong/nguoi-dung")).await;
    desk.fill("name", "Phạm Văn Cường").await;
    desk.fill("email", "cuong@thpt-cva.edu.vn").await;
    desk.select("unit_id", &unit_a).await;
    desk.select("role", "unit").await;
    desk.click("form[action='/van-phong/nguoi-dung'] button.primary")
        .await;
    let page = desk.text().await;
    assert!(
        page.contains("Đã mời Phạm Văn Cường (cuong@thpt-cva.edu.vn)"),
        "{page}"
    );
    assert!(page.contains("Đã mời, chưa kích hoạt"), "{page}");
    let (_, invited) = sys.get("/v1/users?status=invited", Some(&office)).await;
    let cuong = invited["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "cuong@thpt-cva.edu.vn")
        .expect("the invited clerk")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    desk.screenshot(&shots, "nguoi-dung").await;
    desk.click(&format!(
        "form[action='/van-phong/nguoi-dung/{cuong}/khoa'] button"
    ))
    .await;
    assert!(
        desk.text()
            .await
            .contains("Đã khóa tài khoản của Phạm Văn Cường.")
    );
    let (_, u) = sys.get(&format!("/v1/users/{cuong}"), Some(&office)).await;
    assert_eq!(u["status"], "disabled");

    desk.goto(&format!("{console}/thu-tuc/{code}")).await;
    desk.click(&format!("a[href='/van-phong/thu-tuc/{code}']"))
        .await;
    // Half a working day, typed with a decimal comma.
    desk.fill("processing_days", "0,5").await;
    desk.click("form[action$='/du-thao'] button.primary").await;
    assert!(
        desk.text().await.contains("Đã lưu dự thảo."),
        "{}",
        desk.text().await
    );
    desk.fill("decision_number", "456/QĐ-UBND").await;
    desk.fill("decision_date", "20/05/2020").await;
    desk.fill("decision_signer", "Chủ tịch UBND").await;
    desk.select("change_type", "amended").await;
    desk.fill("effective_date", "01/06/2020").await;
    desk.click("form#publish button.primary").await;
    let page = desk.text().await;
    assert!(
        page.contains("Đã công bố phiên bản 2, hiệu lực từ 01/06/2020."),
        "{page}"
    );
    desk.screenshot(&shots, "cong-bo").await;
    // What changed, for anyone: only the time limit, from 5 to half a working day.
    desk.goto(&format!("{console}/thu-tuc/{code}")).await;
    desk.click(&format!("a[href='/thu-tuc/{code}/so-sanh?tu=1&den=2']"))
        .await;
    let changes = desk.text_of("changes").await.replace('\t', " ");
    let rows: Vec<&str> = changes.lines().skip(1).collect();
    assert_eq!(
        rows,
        ["Thời hạn giải quyết 5 ngày làm việc 0,5 ngày làm việc"],
        "{changes}"
    );
    desk.screenshot(&shots, "so-sanh").await;
    let (_, current) = sys.get(&format!("/v1/procedures/{code}"), None).await;
    assert_eq!(current["content"]["processing_days"], 0.5, "{current}");
    assert_eq!(
        current["published_by"]["name"], "Trần Văn Bình",
        "{current}"
    );
    browser.goto(&format!("{console}/trang-chu")).await;
    let page = browser.text().await;
    assert!(page.contains("Thủ tục cần niêm yết lại (1)"), "{page}");
    assert!(
        page.contains("đang niêm yết phiên bản 1, đã có phiên bản 2"),
        "{page}"
    );
    browser.screenshot(&shots, "trang-lam-viec").await;
    browser.click("a[href='/niem-yet'].button").await;
    browser.screenshot(&shots, "niem-yet").await;
    browser
        .click("form[action='/niem-yet'] button.primary")
        .await;
    let page = browser.text().await;
    assert!(page.contains("Đúng phiên bản"), "{page}");
    assert!(!page.contains("Cần niêm yết lại"), "{page}");
    let (_, stale) = sys.get("/v1/postings?stale=true", Some(&key_a)).await;
    assert_eq!(stale["postings"].as_array().unwrap().len(), 0, "{stale}");

    // An activity without its title: refused, the error next to the field and in the
    // summary, in Vietnamese, with what was typed kept.
    browser.goto(&format!("{console}/hoat-dong/moi")).await;
    browser.select("kind", "briefing").await;
    browser.fill("date", "02/04/2020").await;
    browser.fill("head_count", "35").await;
    browser.click("button.primary").await;
    let page = browser.text().await;
    assert!(page.contains("Có lỗi cần sửa"), "{page}");
    let beside = browser.text_of("title-error").await;
    assert_eq!(beside, "Hãy nhập tên hoạt động");
    browser.screenshot(&shots, "hoat-dong-loi").await;
    browser
        .fill("title", "Quán triệt Kế hoạch CCHC năm 2020")
        .await;
    browser.click("button.primary").await;
    assert!(browser.path().await.starts_with("/hoat-dong/"));
    let page = browser.text().await;
    assert!(page.contains("Đã ghi nhận hoạt động."), "{page}");
    assert!(page.contains("Người ghi nhận"), "{page}");
    assert!(page.contains("Nguyễn Thị Lan"), "{page}");
    assert!(page.contains("02/04/2020"), "{page}");
    browser.screenshot(&shots, "hoat-dong").await;
    let (_, mine) = sys.get("/v1/activities", Some(&key_a)).await;
    assert_eq!(
        mine["activities"][0]["title"],
        "Quán triệt Kế hoạch CCHC năm 2020"
    );
    assert_eq!(
        mine["activities"][0]["created_by"]["name"],
        "Nguyễn Thị Lan"
    );

    // One-stop figures that do not add up: the difference shows as the clerk types,
    // and the refusal names it next to the field, in Vietnamese; corrected, they land.
    browser.goto(&format!("{console}/mot-cua")).await;
    browser.fill("period", "2020-H1").await;
    for (id, n) in [
        ("received_online", "50"),
        ("received_in_person_or_post", "60"),
        ("received_carried_over", "10"),
        ("resolved_early", "10"),
        ("resolved_on_time", "80"),
        ("resolved_late", "10"),
        ("pending_within_time", "10"),
        ("pending_overdue", "5"),
        ("returned_withdrawn", "3"),
    ] {
        browser.fill(id, n).await;
    }
    let live = browser.text_of("reconcile-live").await;
    assert!(live.contains("đang lệch 2 hồ sơ"), "{live}");
    browser.click("form#one-stop button.primary").await;
    let beside = browser.text_of("received_online-error").await;
    assert!(
        beside.contains("Số hồ sơ tiếp nhận (120) phải bằng") && beside.contains("lệch 2 hồ sơ"),
        "{beside}"
    );
    assert!(browser.text().await.contains("Có lỗi cần sửa"));
    browser.screenshot(&shots, "mot-cua-loi").await;
    browser.fill("returned_withdrawn", "5").await;
    browser.click("form#one-stop button.primary").await;
    let page = browser.text().await;
    assert!(page.contains("Đã lưu kết quả kỳ 2020-H1"), "{page}");
    assert!(page.contains("90,0%"), "{page}");
    let (_, results) = sys.get("/v1/one-stop-results", Some(&key_a)).await;
    assert_eq!(results["results"][0]["received"]["total"], 120, "{results}");
    assert_eq!(
        results["results"][0]["created_by"]["name"],
        "Nguyễn Thị Lan"
    );

    // Satisfaction survey counts for the half-year.
    browser.goto(&format!("{console}/hai-long")).await;
    browser.fill("period", "2020-H1").await;
    browser.fill("responses", "40").await;
    for i in 0..3 {
        browser.fill(&format!("c{i}_very_satisfied"), "20").await;
        browser.fill(&format!("c{i}_satisfied"), "16").await;
        browser.fill(&format!("c{i}_dissatisfied"), "4").await;
    }
    browser
        .click("form[action='/hai-long'] button.primary")
        .await;
    let page = browser.text().await;
    assert!(page.contains("Đã lưu kết quả kỳ 2020-H1"), "{page}");
    assert!(page.contains("tỷ lệ hài lòng 90,0%"), "{page}");

    // The figures are public: anyone reads them on the unit's page, without the
    // names of who entered them.
    let public = Browser::start(1280).await;
    public
        .goto(&format!("{console}/don-vi/{unit_a}/ket-qua"))
        .await;
    let one_stop = public.text_of("one-stop-results").await.replace('\t', " ");
    assert!(
        one_stop.contains("2020-H1 120 100 (10 / 80 / 10) 15 5 90,0%"),
        "{one_stop}"
    );
    let surveys = public
        .text_of("satisfaction-results")
        .await
        .replace('\t', " ");
    assert!(surveys.contains("2020-H1 40 90,0%"), "{surveys}");
    assert!(!public.text().await.contains("Nguyễn Thị Lan"));
    public.screenshot(&shots, "ket-qua-cong-khai").await;
    public.close().await;

    // The year's communication budget, money typed the Vietnamese way.
    browser.goto(&format!("{console}/kinh-phi")).await;
    browser.fill("year", "2020").await;
    browser.fill("item0", "In tờ rơi, áp phích").await;
    browser.fill("source0", "Ngân sách nhà nước").await;
    browser.fill("planned0", "1,5 triệu").await;
    browser.fill("spent0", "1.200.000").await;
    browser
        .click("form[action='/kinh-phi'] button.primary")
        .await;
    let beside = browser.text_of("planned0-error").await;
    assert!(beside.contains("số tiền phải là số đồng"), "{beside}");
    browser.fill("planned0", "1.500.000").await;
    browser
        .click("form[action='/kinh-phi'] button.primary")
        .await;
    let page = browser.text().await;
    assert!(
        page.contains("dự toán 1.500.000 đồng, đã chi 1.200.000 đồng"),
        "{page}"
    );

    // The amendment's notice in the inbox, marked read.
    browser.goto(&format!("{console}/thong-bao")).await;
    assert!(browser.text().await.contains("Mới"));
    browser.click("form[action$='/da-doc'] button").await;
    assert!(!browser.text().await.contains("Đánh dấu đã đọc"));
    browser.goto(&format!("{console}/trang-chu")).await;
    assert!(browser.text().await.contains("Thông báo chưa đọc (0)"));

    // Another unit's activity, by its id in the URL: not found, not shown.
    let b_id = b_activity["id"].as_str().unwrap();
    browser.goto(&format!("{console}/hoat-dong/{b_id}")).await;
    let page = browser.text().await;
    assert!(page.contains("Không tìm thấy"), "{page}");
    assert!(!page.contains("Hội nghị của trường B"), "{page}");

    // A form posted with the session cookie but without its CSRF token is refused,
    // and nothing is recorded.
    let session = browser
        .cookie("cchc_session")
        .await
        .expect("the session cookie");
    let forged = reqwest::Client::new()
        .post(format!("{console}/hoat-dong/moi"))
        .header("cookie", format!("cchc_session={session}"))
        .form(&[
            ("kind", "briefing"),
            ("date", "03/04/2020"),
            ("title", "Giả mạo"),
            ("head_count", "1"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let (_, mine) = sys.get("/v1/activities", Some(&key_a)).await;
    assert!(
        mine["activities"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["title"] != "Giả mạo"),
        "{mine}"
    );

    // At a phone's width the pages still work.
    let phone = Browser::start(360).await;
    phone.goto(&format!("{console}/thu-tuc/{code}")).await;
    assert!(phone.text().await.contains("Lịch sử phiên bản"));
    phone.screenshot(&shots, "thu-tuc-dien-thoai").await;
    phone.close().await;

    // The office lays out the plan and the H1 report is made in the console; the
    // clerk of a unit may not go there.
    browser.goto(&format!("{console}/bao-cao")).await;
    assert!(browser.text().await.contains("Không có quyền"));
    let plan = json!({
        "number_symbol": "109/KH-SGDĐT-VP", "year": 2020,
        "title": "Tuyên truyền về công tác Cải cách hành chính năm 2020",
        "issuing_body": "Sở Giáo dục và Đào tạo", "governing_body": "UBND thành phố Hải Phòng",
        "place": "Hải Phòng", "issued_on": "2020-01-15",
        "required_activities": [{"kind": "briefing", "min_per_unit": 1, "per": "half_year"},
                                {"kind": "posting", "min_per_unit": 1, "per": "year"}],
        "unit_ids": [unit_a], "periods": [{"key": "2020-H1", "due_date": "2020-06-15"}],
        "recipients": [{"name": "Ban Giám đốc"}], "signer_title": "GIÁM ĐỐC", "signer_name": "Nguyễn Văn An"
    });
    let (s, plan) = sys.post("/v1/plans", Some(&office), &plan).await;
    assert_eq!(s, 201, "{plan}");
    let plan_id = plan["id"].as_str().unwrap();
    // The clerk sees the unit's standing against the plan: one briefing of the two
    // the year asks, and its posting of version 1 in February 2020 counts for the
    // posting (though it has posted version 2 since).
    browser.goto(&format!("{console}/ke-hoach?nam=2020")).await;
    let standing = browser.text().await.replace('\t', " ");
    assert!(
        standing.contains("Kế hoạch số 109/KH-SGDĐT-VP"),
        "{standing}"
    );
    assert!(
        standing.contains("Hội nghị, quán triệt, phổ biến Ít nhất 1 mỗi 6 tháng – 1 / 2"),
        "{standing}"
    );
    assert!(
        standing.contains("Niêm yết công khai thủ tục hành chính Ít nhất 1 mỗi năm – 1 / 1"),
        "{standing}"
    );
    let (_, leader_password) = sys
        .person_with_password(
            &department,
            "leader",
            "Lê Thị Hoa",
            "lanhdao@sgddt.example.vn",
        )
        .await;
    desk.goto(&format!("{console}/bao-cao")).await;
    desk.select("choice", &format!("{plan_id}|2020-H1")).await;
    // The document's number, date and signer as the office types them.
    desk.fill("number_symbol", "125/BC-SGDĐT-VP").await;
    desk.fill("report_date", "05/07/2020").await;
    desk.fill("signer_name", "Lê Văn Tám").await;
    desk.click("form[action='/bao-cao'] button.primary").await;
    assert!(desk.path().await.starts_with("/bao-cao/"));
    let report_path = desk.path().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !desk.text().await.contains("Đã xong") {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            desk.text().await
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert!(
        desk.text().await.contains("Người lập\nTrần Văn Bình"),
        "{}",
        desk.text().await
    );
    desk.screenshot(&shots, "bao-cao").await;
    desk.close().await;
    let report_id = report_path.trim_start_matches("/bao-cao/");
    let (s, snap) = sys
        .get(
            &format!("/v1/reports/{report_id}/export?format=json"),
            Some(&office),
        )
        .await;
    assert_eq!(s, 200, "{snap}");
    let d = &snap["document"];
    assert_eq!(
        (&d["number_symbol"], &d["date"], &d["signer_name"]),
        (
            &json!("125/BC-SGDĐT-VP"),
            &json!("2020-07-05"),
            &json!("Lê Văn Tám")
        ),
        "{d}"
    );

    // The leader reads the year at a glance, and downloads the report.
    let leader = Browser::start(1280).await;
    sign_in(
        &leader,
        &console,
        "lanhdao@sgddt.example.vn",
        &leader_password,
    )
    .await;
    leader.goto(&format!("{console}/tong-quan?nam=2020")).await;
    let page = leader.text().await;
    assert!(
        page.contains("Tổng quan công tác tuyên truyền CCHC năm 2020"),
        "{page}"
    );
    assert!(
        page.contains("Hoạt động tuyên truyền theo hình thức (2)"),
        "{page}"
    );
    let charts = leader
        .client
        .find_all(fantoccini::Locator::Css("figure svg"))
        .await
        .unwrap();
    assert_eq!(charts.len(), 6);
    // By month, and each unit's figures with its rates of its latest period.
    let months = leader.text_of("by-month").await.replace('\t', " ");
    assert!(
        months.contains("Tháng 3 1 Hội nghị, quán triệt, phổ biến 1"),
        "{months}"
    );
    assert!(months.contains("Tháng 4 1"), "{months}");
    let units = leader.text_of("by-unit").await.replace('\t', " ");
    let school = units
        .lines()
        .find(|l| l.starts_with("Trường THPT Chu Văn An"))
        .unwrap_or_else(|| panic!("the school's row: {units}"));
    assert_eq!(
        school,
        "Trường THPT Chu Văn An 1 1 / 0 90,0% (2020-H1) 90,0% (2020-H1)"
    );
    leader.screenshot(&shots, "tong-quan").await;
    leader.goto(&format!("{console}/bao-cao")).await;
    leader.click(&format!("a[href='{report_path}']")).await;
    let link = leader
        .client
        .find(fantoccini::Locator::Css("a[href$='/tai/docx']"))
        .await
        .expect("the DOCX link")
        .attr("href")
        .await
        .unwrap()
        .expect("an href");
    let docx = leader
        .download(&format!("{console}{link}"), "wordprocessingml")
        .await;
    assert!(docx.starts_with(b"PK"));
    leader.close().await;

    // Signing out ends the session at the gateway too.
    browser.goto(&format!("{console}/trang-chu")).await;
    browser.click("header form button").await;
    assert_eq!(browser.path().await, "/");
    assert_eq!(sys.get("/v1/me", Some(&session)).await.0, 401);
    browser.goto(&format!("{console}/trang-chu")).await;
    assert_eq!(browser.path().await, "/dang-nhap");
    browser.close().await;
    sys.stop().await;
}

/// A PDF's page count and each page's text, by poppler's tools (`.ci/run` installs
/// them).
fn pdf_pages(pdf: &[u8]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sheet.pdf");
    std::fs::write(&path, pdf).unwrap();
    let info = std::process::Command::new("pdfinfo")
        .arg(&path)
        .output()
        .expect("pdfinfo (poppler-utils) is installed");
    let info = String::from_utf8_lossy(&info.stdout).into_owned();
    let pages: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no page count in {info}"));
    (1..=pages)
        .map(|p| {
            let out = std::process::Command::new("pdftotext")
                .args(["-f", &p.to_string(), "-l", &p.to_string(), "-layout"])
                .arg(&path)
                .arg("-")
                .output()
                .expect("pdftotext (poppler-utils) is installed");
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
        .collect()
}

/// The QR codes on a PDF's pages, top to bottom and page by page, read back from the
/// pages as poppler renders them (greyscale, 200 dpi).
fn qr_codes(pdf: &[u8]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sheet.pdf");
    std::fs::write(&path, pdf).unwrap();
    let status = std::process::Command::new("pdftoppm")
        .args(["-r", "200", "-gray"])
        .arg(&path)
        .arg(dir.path().join("page"))
        .status()
        .expect("pdftoppm (poppler-utils) is installed");
    assert!(status.success());
    let mut pages: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pgm"))
        .collect();
    pages.sort();
    let mut read = Vec::new();
    for page in pages {
        let bytes = std::fs::read(&page).unwrap();
        // A binary PGM: "P5", width, height, maximum, one whitespace, then the pixels.
        let mut fields = Vec::new();
        let mut at = 0;
        while fields.len() < 4 {
            while bytes[at].is_ascii_whitespace() {
                at += 1;
            }
            let start = at;
            while !bytes[at].is_ascii_whitespace() {
                at += 1;
            }
            fields.push(String::from_utf8_lossy(&bytes[start..at]).into_owned());
        }
        assert_eq!(fields[0], "P5");
        let (w, h): (usize, usize) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
        let pixels = &bytes[at + 1..];
        let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
        let mut grids: Vec<(i32, String)> = image
            .detect_grids()
            .into_iter()
            .map(|g| {
                let (_, content) = g.decode().expect("a readable QR code");
                (g.bounds[0].y, content)
            })
            .collect();
        grids.sort();
        read.extend(grids.into_iter().map(|(_, c)| c));
    }
    read
}

#[tokio::test]
async fn a_units_posting_sheet_prints_ten_procedures_per_a4_page_with_working_qr_codes() {
    let mut sys = System::start("console-sheet").await;
    let console = sys.start_console().await;
    let (unit, key) = sys
        .unit_with_key("Trường THPT Ngô Quyền", "high_school", "unit")
        .await;
    let codes: Vec<String> = (0..12)
        .map(|i| format!("1.0099{:02}.H19", 50 + i))
        .collect();
    for (i, code) in codes.iter().enumerate() {
        let name = format!("Thủ tục niêm yết số {}", i + 1);
        sys.published(code, &name).await;
        let posting =
            json!({"code": code, "version": 1, "location": "Bảng tin", "posted_on": "2020-02-05"});
        assert_eq!(sys.post("/v1/postings", Some(&key), &posting).await.0, 201);
    }

    // Signed out, anyone opens the unit's sheet.
    let browser = Browser::start(1280).await;
    browser
        .goto(&format!("{console}/don-vi/{unit}/niem-yet"))
        .await;
    let page = browser.text().await;
    assert!(
        page.contains("DANH MỤC THỦ TỤC HÀNH CHÍNH NIÊM YẾT CÔNG KHAI"),
        "{page}"
    );
    assert!(page.contains("Trường THPT Ngô Quyền"), "{page}");
    assert!(
        page.contains("Quyết định số 1234/QĐ-UBND ngày 15/01/2020"),
        "{page}"
    );
    browser.screenshot(&screenshots(), "bang-niem-yet").await;

    // Printed: one A4 page per ten procedures.
    let pages = pdf_pages(&browser.print_a4().await);
    assert_eq!(pages.len(), 2, "{pages:#?}");
    assert!(pages[0].contains("Thủ tục niêm yết số 10"), "{}", pages[0]);
    assert!(!pages[0].contains("Thủ tục niêm yết số 11"), "{}", pages[0]);
    assert!(pages[1].contains("Thủ tục niêm yết số 12"), "{}", pages[1]);
    assert!(pages[0].contains("Trang 1/2") && pages[1].contains("Trang 2/2"));

    // The same sheet made by the server as a PDF, for a unit that cannot print from a
    // browser: the same pages, its text extractable, its QR codes readable once printed.
    let res = reqwest::get(format!("{console}/don-vi/{unit}/niem-yet.pdf"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let pdf = res.bytes().await.unwrap().to_vec();
    let made = pdf_pages(&pdf);
    assert_eq!(made.len(), 2, "{made:#?}");
    assert!(
        made[0].contains("DANH MỤC THỦ TỤC HÀNH CHÍNH NIÊM YẾT CÔNG KHAI")
            && made[0].contains("Trường THPT Ngô Quyền"),
        "{}",
        made[0]
    );
    assert!(made[0].contains("Thủ tục niêm yết số 10"), "{}", made[0]);
    assert!(!made[0].contains("Thủ tục niêm yết số 11"), "{}", made[0]);
    assert!(made[1].contains("Thủ tục niêm yết số 12"), "{}", made[1]);
    assert!(
        made[0].contains("1234/QĐ-UBND ngày 15/01/2020"),
        "{}",
        made[0]
    );
    assert!(made[0].contains("Trang 1/2") && made[1].contains("Trang 2/2"));
    let expected: Vec<String> = codes
        .iter()
        .map(|c| format!("{console}/thu-tuc/{c}"))
        .collect();
    assert_eq!(qr_codes(&pdf), expected);
    let shot = screenshots().join("niem-yet-pdf");
    std::fs::create_dir_all(screenshots()).unwrap();
    let pdf_path = shot.with_extension("pdf");
    std::fs::write(&pdf_path, &pdf).unwrap();
    let status = std::process::Command::new("pdftoppm")
        .args(["-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile"])
        .arg(&pdf_path)
        .arg(&shot)
        .status()
        .expect("pdftoppm (poppler-utils) is installed");
    assert!(status.success());
    std::fs::remove_file(&pdf_path).unwrap();
    let unknown = reqwest::get(format!(
        "{console}/don-vi/00000000-0000-0000-0000-000000000000/niem-yet.pdf"
    ))
    .await
    .unwrap();
    assert_eq!(unknown.status(), 404);

    // Each QR code encodes its procedure's public page, and that page answers.
    let anchors = browser
        .client
        .find_all(fantoccini::Locator::Css("td.qr a"))
        .await
        .unwrap();
    assert_eq!(anchors.len(), 12);
    for (a, code) in anchors.iter().zip(&codes) {
        let url = a.attr("href").await.unwrap().expect("an href");
        assert_eq!(url, format!("{console}/thu-tuc/{code}"));
        // The modules drawn (the path's `d`), however the browser serialises the SVG.
        let modules = |svg: &str| {
            svg.split(" d=\"")
                .nth(1)
                .and_then(|d| d.split('"').next())
                .unwrap_or_default()
                .to_owned()
        };
        let drawn = a.html(true).await.unwrap();
        let expected = modules(&cchc_console::qr::svg(&url));
        assert!(!expected.is_empty());
        assert_eq!(modules(&drawn), expected, "the QR code of {url}");
        let res = reqwest::get(&url).await.unwrap();
        assert_eq!(res.status(), 200, "{url}");
        assert!(res.text().await.unwrap().contains("Thủ tục niêm yết số"));
    }

    // English on request: by the browser's preference, or the switch in the header
    // (remembered, and back to the same page); Vietnamese otherwise.
    let home = |accept: &'static str| {
        let url = format!("{console}/");
        async move {
            reqwest::Client::new()
                .get(url)
                .header("accept-language", accept)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let en = home("en-GB,en;q=0.9").await;
    assert!(en.contains("<html lang=\"en\">"), "{en}");
    assert!(en.contains("Find an administrative procedure"), "{en}");
    let vi = home("vi-VN,vi;q=0.9,en;q=0.8").await;
    assert!(vi.contains("<html lang=\"vi\">") && vi.contains("Tra cứu thủ tục hành chính"));
    let code = &codes[0];
    browser.goto(&format!("{console}/thu-tuc/{code}")).await;
    browser.click("a[hreflang='en']").await;
    assert_eq!(browser.path().await, format!("/thu-tuc/{code}"));
    let page = browser.text().await;
    assert!(
        page.contains("Time limit") && page.contains("working days"),
        "{page}"
    );
    assert!(page.contains("Decision No. 1234/QĐ-UBND"), "{page}");
    browser
        .screenshot(&screenshots(), "thu-tuc-tieng-anh")
        .await;
    browser.goto(&format!("{console}/")).await;
    assert!(
        browser
            .text()
            .await
            .contains("Find an administrative procedure")
    );
    browser.click("a[hreflang='vi']").await;
    assert!(browser.text().await.contains("Tra cứu thủ tục hành chính"));

    // By keyboard alone: the first Tab reaches the skip link, Enter goes to the page's
    // content, and the search form is filled and sent with keys.
    const TAB: &str = "\u{E004}";
    const ENTER: &str = "\u{E007}";
    browser.goto(&format!("{console}/")).await;
    let body = browser
        .client
        .find(fantoccini::Locator::Css("body"))
        .await
        .unwrap();
    body.send_keys(TAB).await.unwrap();
    let focused = browser.client.active_element().await.unwrap();
    assert_eq!(
        focused.attr("class").await.unwrap().as_deref(),
        Some("skip"),
        "the first Tab reaches the skip link"
    );
    focused.send_keys(ENTER).await.unwrap();
    let focused = browser.client.active_element().await.unwrap();
    assert_eq!(
        focused.attr("id").await.unwrap().as_deref(),
        Some("noi-dung")
    );
    browser
        .client
        .find(fantoccini::Locator::Id("q"))
        .await
        .unwrap()
        .send_keys(&format!("niem yet so 12{ENTER}"))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !browser.path().await.starts_with("/?q=") {
        assert!(
            std::time::Instant::now() < deadline,
            "the search sent by Enter"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(browser.text().await.contains("Thủ tục niêm yết số 12"));
    browser.close().await;
    sys.stop().await;
}

#[tokio::test]
async fn the_office_runs_units_keys_and_the_catalogue_in_the_console() {
    let mut sys = System::start("console-units").await;
    let console = sys.start_console().await;
    let office = sys.office_key.clone();
    let (_, office_password) = office_person(&sys, "Trần Văn Bình", "vp@sgddt.example.vn").await;
    let (receiving, _) = sys
        .unit_with_key("Trường THPT Trần Phú", "high_school", "unit")
        .await;
    let (school, _) = sys
        .unit_with_key("Trường THPT Nguyễn Trãi", "high_school", "unit")
        .await;
    let (_, clerk_password) = sys
        .person_with_password(&school, "unit", "Lê Thị Hoa", "hoa@thpt-nt.edu.vn")
        .await;

    let desk = Browser::start(1280).await;
    sign_in(&desk, &console, "vp@sgddt.example.vn", &office_password).await;

    // A new unit, then straight to its page.
    desk.goto(&format!("{console}/van-phong/don-vi")).await;
    desk.click("form[action='/van-phong/don-vi'] button.primary")
        .await;
    let beside = desk.text_of("name-error").await;
    assert_eq!(beside, "Hãy nhập tên đơn vị");
    desk.fill("name", "Trường THPT Lê Lợi").await;
    desk.select("kind", "high_school").await;
    desk.click("form[action='/van-phong/don-vi'] button.primary")
        .await;
    let path = desk.path().await;
    let unit = path
        .strip_prefix("/van-phong/don-vi/")
        .unwrap_or_else(|| panic!("on the unit's page, not {path}"))
        .to_owned();
    assert!(desk.text().await.contains("Trường THPT Lê Lợi"));

    // A key for the unit's software: shown once, and it works at the API.
    desk.select("role", "unit").await;
    desk.click("form[action$='/khoa'] button.primary").await;
    let page = desk.text().await;
    assert!(page.contains("khóa chỉ hiện một lần này"), "{page}");
    let key = desk.value_of("new-key").await;
    assert!(key.starts_with("cchk_") || key.len() > 20, "{key}");
    let (s, who) = sys.get("/v1/me", Some(&key)).await;
    assert_eq!(s, 200, "{who}");
    assert_eq!(who["unit"]["id"], unit.as_str(), "{who}");
    desk.goto(&format!("{console}/van-phong/don-vi/{unit}"))
        .await;
    assert!(
        desk.client
            .find(fantoccini::Locator::Id("new-key"))
            .await
            .is_err(),
        "the key is shown once only"
    );

    // A rename dated 31/02 is refused beside the date, in Vietnamese; then it lands,
    // and the unit keeps the names it has had.
    desk.fill("name", "Trường THPT Lê Lợi (cơ sở 2)").await;
    desk.fill("effective_date", "31/02/2026").await;
    desk.click("form[action$='/doi-ten'] button.primary").await;
    let beside = desk.text_of("effective_date-error").await;
    assert_eq!(
        beside,
        "Ngày có hiệu lực phải là ngày theo dạng ngày/tháng/năm, ví dụ 02/04/2020"
    );
    desk.fill("effective_date", "01/07/2026").await;
    desk.click("form[action$='/doi-ten'] button.primary").await;
    let page = desk.text().await;
    assert!(page.contains("Đã đổi tên đơn vị."), "{page}");
    assert!(
        page.contains("Trường THPT Lê Lợi (khi thành lập)"),
        "{page}"
    );
    assert!(
        page.contains("Trường THPT Lê Lợi (cơ sở 2) (từ 01/07/2026)"),
        "{page}"
    );
    desk.screenshot(&screenshots(), "don-vi").await;
    // The same name again is a rule of the lifecycle, told in Vietnamese.
    desk.fill("name", "Trường THPT Lê Lợi (cơ sở 2)").await;
    desk.fill("effective_date", "01/08/2026").await;
    desk.click("form[action$='/doi-ten'] button.primary").await;
    assert!(desk.text().await.contains("Đơn vị đã có tên này."));

    // Revoked: the key stops working at once.
    desk.click(&format!(
        "form[action^='/van-phong/don-vi/{unit}/khoa/'] button"
    ))
    .await;
    assert!(desk.text().await.contains("Đã thu hồi khóa truy cập"));
    assert_eq!(sys.get("/v1/me", Some(&key)).await.0, 401);

    // Merged into another school: it shows as merged, and takes no new key.
    desk.select("into_unit_id", &receiving).await;
    desk.fill("merge_date", "01/08/2026").await;
    desk.click("form[action$='/sap-nhap'] button.primary").await;
    let page = desk.text().await;
    assert!(page.contains("Đã sáp nhập đơn vị"), "{page}");
    assert!(
        page.contains("Đã sáp nhập từ 01/08/2026, vào Trường THPT Trần Phú"),
        "{page}"
    );
    assert!(!page.contains("Cấp khóa mới"), "{page}");
    let (_, merged) = sys.get(&format!("/v1/units/{unit}"), Some(&office)).await;
    assert_eq!(merged["status"], "merged", "{merged}");
    assert_eq!(merged["merged_into"], receiving.as_str(), "{merged}");
    // The list names it with its kind and status.
    desk.goto(&format!("{console}/van-phong/don-vi")).await;
    let page = desk.text().await;
    assert!(page.contains("Trường THPT Lê Lợi (cơ sở 2)"), "{page}");
    assert!(page.contains("Đã sáp nhập"), "{page}");

    // The catalogue: a new procedure started from the list goes to its draft page.
    desk.goto(&format!("{console}/van-phong/danh-muc")).await;
    desk.fill("code", "1.0x").await;
    desk.fill("content_name", "Công nhận trường đạt chuẩn quốc gia")
        .await;
    desk.click("form#new-procedure button.primary").await;
    let page = desk.text().await;
    assert!(page.contains("Có lỗi cần sửa"), "{page}");
    assert_eq!(
        desk.text_of("code-error").await,
        "Mã thủ tục phải là mã thủ tục quốc gia, ví dụ 1.012753.H19"
    );
    desk.fill("code", "1.008950.H19").await;
    desk.click("form#new-procedure button.primary").await;
    assert_eq!(desk.path().await, "/van-phong/thu-tuc/1.008950.H19");
    assert!(
        desk.text()
            .await
            .contains("Công nhận trường đạt chuẩn quốc gia")
    );

    // The office's spreadsheet: two rows land as drafts, one the sheet cannot read
    // and one the catalogue refuses are reported by row, in Vietnamese.
    let sheet = std::env::temp_dir().join(format!("danh-muc-{}.csv", std::process::id()));
    std::fs::write(
        &sheet,
        "Mã thủ tục,Tên thủ tục,Cấp thực hiện,Thời hạn giải quyết\n\
         1.008951.H19,Cấp giấy phép tổ chức dạy thêm,Cấp tỉnh,10 ngày làm việc\n\
         1.008952.H19,Thành lập trung tâm ngoại ngữ,Cấp trung ương,15 ngày\n\
         2.xx,Mã sai,Cấp tỉnh,5 ngày\n\
         1.008953.H19,Cho phép trường hoạt động giáo dục,Cấp huyện,20 ngày\n",
    )
    .unwrap();
    import_sheet(&desk, &console, &sheet).await;
    let summary = desk.text_of("import-summary").await;
    assert!(summary.contains("Thêm mới (dự thảo): 2"), "{summary}");
    assert!(summary.contains("Không nhập được: 2"), "{summary}");
    let page = desk.text().await;
    assert!(page.contains("Đã xử lý 3 / 3 dòng"), "{page}");
    let rows = desk.text_of("import-rows").await.replace('\t', " ");
    let lines: Vec<&str> = rows.lines().skip(1).collect();
    assert_eq!(lines.len(), 4, "{rows}");
    assert!(lines[0].starts_with("2 1.008951.H19 Thêm mới"), "{rows}");
    assert!(
        lines[1].contains("Cấp thực hiện “Cấp trung ương” không phải cấp tỉnh"),
        "{rows}"
    );
    assert!(
        lines[2].contains("Mã thủ tục phải là mã thủ tục quốc gia"),
        "{rows}"
    );
    assert!(lines[3].starts_with("5 1.008953.H19 Thêm mới"), "{rows}");
    desk.screenshot(&screenshots(), "nhap-danh-muc").await;
    let (s, draft) = sys
        .get("/v1/procedures/1.008953.H19/draft", Some(&office))
        .await;
    assert_eq!(s, 200, "{draft}");
    assert_eq!(
        draft["content"]["name"], "Cho phép trường hoạt động giáo dục",
        "{draft}"
    );
    // A sheet of a few columns changes those parts only, and the report names them.
    std::fs::write(
        &sheet,
        "Mã thủ tục,Tên thủ tục,Thời hạn giải quyết\n\
         1.008951.H19,Cấp giấy phép tổ chức dạy thêm,\"0,5 ngày làm việc\"\n",
    )
    .unwrap();
    import_sheet(&desk, &console, &sheet).await;
    let rows = desk.text_of("import-rows").await.replace('\t', " ");
    assert!(
        rows.contains("2 1.008951.H19 Cập nhật dự thảo Đã thay đổi: Thời hạn giải quyết"),
        "{rows}"
    );
    let (_, draft) = sys
        .get("/v1/procedures/1.008951.H19/draft", Some(&office))
        .await;
    assert_eq!(draft["content"]["processing_days"], 0.5, "{draft}");
    assert_eq!(draft["content"]["level"], "province", "kept: {draft}");
    let _ = std::fs::remove_file(&sheet);

    // A published procedure abolished by decision: its public page says so.
    let abolished = "1.008960.H19";
    sys.published(abolished, "Cấp phép hoạt động giáo dục kỹ năng sống")
        .await;
    // Before that, the office downloads the catalogue as its workbook, in the layout
    // the import reads.
    let bytes = desk
        .download(
            &format!("{console}/van-phong/danh-muc/xuat?dinh-dang=xlsx"),
            "spreadsheetml",
        )
        .await;
    let sheet_back = cchc_cli::sheet::read_bytes("danh-muc.xlsx", &bytes).unwrap();
    let (rows_back, unreadable) = cchc_cli::sheet::import_rows(&sheet_back).unwrap();
    assert!(unreadable.is_empty());
    let row = rows_back
        .iter()
        .find(|r| r.code == abolished)
        .expect("the published procedure is in the workbook");
    assert_eq!(
        row.content.as_ref().unwrap().name,
        "Cấp phép hoạt động giáo dục kỹ năng sống"
    );
    desk.goto(&format!("{console}/van-phong/thu-tuc/{abolished}"))
        .await;
    desk.fill("decision_number", "789/QĐ-UBND").await;
    desk.fill("decision_date", "10/09/2026").await;
    desk.fill("decision_signer", "Chủ tịch UBND tỉnh").await;
    desk.select("change_type", "abolished").await;
    desk.fill("effective_date", "15/09/2026").await;
    desk.click("form#publish button.primary").await;
    let page = desk.text().await;
    assert!(page.contains("Đã bãi bỏ thủ tục từ 15/09/2026."), "{page}");
    let (_, gone) = sys.get(&format!("/v1/procedures/{abolished}"), None).await;
    assert_eq!(gone["status"], "abolished", "{gone}");
    desk.goto(&format!("{console}/thu-tuc/{abolished}")).await;
    assert!(desk.text().await.contains("Đã bãi bỏ"));

    // A plan laid out in the console: a due date before its period begins is
    // refused beside it; then it is saved for every acting unit.
    // This year's plan, its year report due in a week (Vietnam's date).
    let today = (chrono::Utc::now() + chrono::Duration::hours(7)).date_naive();
    let year = chrono::Datelike::year(&today);
    let due = (today + chrono::Duration::days(7))
        .format("%d/%m/%Y")
        .to_string();
    desk.goto(&format!("{console}/van-phong/ke-hoach?nam={year}"))
        .await;
    desk.fill("number_symbol", "110/KH-SGDĐT-VP").await;
    desk.fill("title", "Tuyên truyền cải cách hành chính trong năm")
        .await;
    desk.fill("issuing_body", "Sở Giáo dục và Đào tạo").await;
    desk.fill("issued_on", &format!("05/01/{year}")).await;
    desk.fill("year", &year.to_string()).await;
    desk.select("t0_kind", "news_post").await;
    desk.fill("t0_min_per_unit", "1").await;
    desk.select("t0_per", "quarter").await;
    desk.fill("p0_key", &year.to_string()).await;
    desk.fill("p0_due_date", &format!("31/12/{}", year - 1))
        .await;
    desk.click("form#new-plan button.primary").await;
    let beside = desk.text_of("p0_due_date-error").await;
    assert!(
        beside.contains("không được trước ngày bắt đầu kỳ báo cáo"),
        "{beside}"
    );
    desk.fill("p0_due_date", &due).await;
    desk.click("form#new-plan button.primary").await;
    let page = desk.text().await;
    assert!(
        page.contains("Đã lưu Kế hoạch số 110/KH-SGDĐT-VP."),
        "{page}"
    );
    assert!(
        page.contains("Tin, bài trên cổng/trang thông tin điện tử: ít nhất 1 mỗi quý"),
        "{page}"
    );
    let (_, plans) = sys
        .get(&format!("/v1/plans?year={year}"), Some(&office))
        .await;
    let plan = &plans["plans"][0];
    assert_eq!(plan["number_symbol"], "110/KH-SGDĐT-VP", "{plans}");
    let covered: Vec<&str> = plan["unit_ids"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u.as_str())
        .collect();
    assert!(
        covered.contains(&school.as_str()) && covered.contains(&receiving.as_str()),
        "{plan}"
    );
    assert!(
        !covered.contains(&unit.as_str()),
        "a merged unit is not offered: {plan}"
    );

    // A school's clerk cannot open the office's pages, nor change a unit by a
    // forged form.
    let clerk = Browser::start(1280).await;
    sign_in(&clerk, &console, "hoa@thpt-nt.edu.vn", &clerk_password).await;
    // The clerk's home names the report the plan asks for next.
    let home = clerk.text_of("due").await;
    assert!(
        home.contains(&format!(
            "Kế hoạch số 110/KH-SGDĐT-VP: năm {year}, hạn nộp {due} (còn 7 ngày)"
        )),
        "{home}"
    );
    clerk.goto(&format!("{console}/van-phong/don-vi")).await;
    let page = clerk.text().await;
    assert!(page.contains("không có quyền"), "{page}");
    clerk
        .goto(&format!("{console}/van-phong/don-vi/{receiving}"))
        .await;
    assert!(clerk.text().await.contains("không có quyền"));
    let (_, still) = sys
        .get(&format!("/v1/units/{receiving}"), Some(&office))
        .await;
    assert_eq!(still["status"], "active", "{still}");
    clerk.close().await;
    desk.close().await;
    sys.stop().await;
}

#[tokio::test]
async fn the_office_keeps_its_registers_and_templates_and_an_operator_resends_a_dead_letter() {
    const SECRET: &str = "whsec-0123456789abcdef";
    let hook = cchc_testkit::WebhookReceiver::start(SECRET).await;
    let n = "notification";
    let mut sys = System::start_with(
        "console-messages",
        &[
            (n, "CCHC_DELIVERY_MAX_ATTEMPTS", "3"),
            (n, "CCHC_DELIVERY_BACKOFF_MS", "100"),
            (n, "CCHC_DELIVERY_BACKOFF_MAX_MS", "300"),
            (n, "CCHC_WEBHOOK_TIMEOUT_SECS", "1"),
            (n, "CCHC_DELIVERY_LEASE_SECS", "3"),
        ],
    )
    .await;
    let console = sys.start_console().await;
    let office = sys.office_key.clone();
    let (department, office_password) =
        office_person(&sys, "Trần Văn Bình", "vp@sgddt.example.vn").await;
    let (_, operator_password) = sys
        .person_with_password(
            &department,
            "operator",
            "Lê Quản Trị",
            "qt@sgddt.example.vn",
        )
        .await;
    let desk = Browser::start(1280).await;
    sign_in(&desk, &console, "vp@sgddt.example.vn", &office_password).await;

    // A placeholder the notice does not offer is refused beside the subject, in
    // Vietnamese, naming those it offers; the preview fills the real ones with
    // examples, and saving makes a new version.
    desk.goto(&format!(
        "{console}/van-phong/mau-thu?mau=procedure_changed&ngon-ngu=vi"
    ))
    .await;
    desk.fill("subject", "Thủ tục {{ten}} thay đổi").await;
    desk.click("#preview-button").await;
    let beside = desk.text_of("subject-error").await;
    assert!(
        beside.starts_with("Tiêu đề có trường {{ten}} không dùng được ở mẫu này"),
        "{beside}"
    );
    assert!(beside.contains("effective_date"), "{beside}");
    desk.fill("subject", "Thủ tục {{name}} thay đổi từ {{effective_date}}")
        .await;
    desk.fill(
        "text",
        "Kính gửi {{recipient_name}},\n\nThủ tục mã {{code}} có phiên bản {{version}}.",
    )
    .await;
    desk.click("#preview-button").await;
    let preview = desk.text_of("preview").await;
    assert!(
        preview.contains(
            "Tiêu đề: Thủ tục Cấp bản sao văn bằng, chứng chỉ từ sổ gốc thay đổi từ 01/06/2020"
        ),
        "{preview}"
    );
    assert!(
        preview.contains("Thủ tục mã 1.012753.H19 có phiên bản 2."),
        "{preview}"
    );
    let (_, before) = sys
        .get("/v1/templates?key=procedure_changed", Some(&office))
        .await;
    let versions = |b: &serde_json::Value| {
        b["templates"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["language"] == "vi")
            .count()
    };
    assert_eq!(versions(&before), 1, "a preview saves nothing: {before}");
    desk.screenshot(&screenshots(), "mau-thu").await;
    desk.click("#save-button").await;
    let page = desk.text().await;
    assert!(page.contains("Đã lưu phiên bản 2 của mẫu"), "{page}");
    let (_, after) = sys
        .get("/v1/templates?key=procedure_changed", Some(&office))
        .await;
    assert_eq!(versions(&after), 2, "{after}");
    assert_eq!(
        after["templates"][0]["subject"],
        "Thủ tục {{name}} thay đổi từ {{effective_date}}"
    );

    // Legal documents: a date that is no date is refused beside it; a circular is
    // recorded, then one amending it, named by its number.
    desk.goto(&format!("{console}/van-phong/van-ban")).await;
    desk.fill("number_symbol", "19/2015/TT-BGDĐT").await;
    desk.select("type", "circular").await;
    desk.fill("summary", "Quy chế quản lý bằng tốt nghiệp")
        .await;
    desk.fill("issuer", "Bộ Giáo dục và Đào tạo").await;
    desk.fill("signed_date", "31/02/2015").await;
    desk.fill("effective_date", "01/10/2015").await;
    desk.click("form#new-document button.primary").await;
    assert_eq!(
        desk.text_of("signed_date-error").await,
        "Ngày ký phải là ngày theo dạng ngày/tháng/năm, ví dụ 02/04/2020"
    );
    desk.fill("signed_date", "14/08/2015").await;
    desk.click("form#new-document button.primary").await;
    assert!(
        desk.text()
            .await
            .contains("Đã ghi nhận văn bản số 19/2015/TT-BGDĐT.")
    );
    desk.fill("number_symbol", "27/2019/TT-BGDĐT").await;
    desk.select("type", "circular").await;
    desk.fill("summary", "Sửa đổi quy chế quản lý bằng tốt nghiệp")
        .await;
    desk.fill("issuer", "Bộ Giáo dục và Đào tạo").await;
    desk.fill("signed_date", "30/12/2019").await;
    desk.fill("effective_date", "15/02/2020").await;
    desk.fill("amends", "19/2015/TT-BGDĐT").await;
    desk.click("form#new-document button.primary").await;
    let documents = desk.text_of("documents").await;
    assert!(
        documents.contains("Sửa đổi: 19/2015/TT-BGDĐT"),
        "{documents}"
    );
    assert!(documents.contains("Đã được sửa đổi"), "{documents}");

    // A recipient outside the units: a bad address is refused beside it; then it is
    // added and subscribed to procedure changes by e-mail.
    desk.goto(&format!("{console}/van-phong/noi-nhan")).await;
    desk.select("kind", "body").await;
    desk.fill("name", "Báo Giáo dục và Thời đại").await;
    desk.fill("emails", "toasoan-at-gdtd").await;
    desk.click("form#new-recipient button.primary").await;
    assert_eq!(
        desk.text_of("emails-error").await,
        "Địa chỉ phải là một địa chỉ e-mail, ví dụ vanthu@truong.edu.vn"
    );
    desk.fill("emails", "toasoan@gdtd.example.vn").await;
    desk.click("form#new-recipient button.primary").await;
    assert!(
        desk.text()
            .await
            .contains("Đã thêm nơi nhận Báo Giáo dục và Thời đại.")
    );
    let (_, listed) = sys.get("/v1/recipients", Some(&office)).await;
    let paper = listed["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Báo Giáo dục và Thời đại")
        .expect("the recipient")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    desk.select("event_type", "procedure_changed").await;
    desk.select("audience", &format!("recipient:{paper}")).await;
    // Ticked boxes, not a page to wait for: the inbox off, e-mail on.
    for id in ["ch-inbox", "ch-email"] {
        desk.client
            .find(fantoccini::Locator::Id(id))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }
    desk.click("form#new-subscription button.primary").await;
    assert!(desk.text().await.contains("Đã đăng ký nhận thông báo."));
    let (_, subs) = sys.get("/v1/subscriptions", Some(&office)).await;
    let sub = subs["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["recipient_id"] == paper.as_str())
        .cloned()
        .expect("the subscription");
    assert_eq!(sub["channels"], json!(["email"]), "{sub}");

    // A webhook that keeps failing is given up; the office sees why and every
    // attempt, an operator sends it again and it arrives.
    hook.fail_next(1000, 503);
    let (s, r) = sys
        .post(
            "/v1/recipients",
            Some(&office),
            &json!({"kind": "body", "name": "Ủy ban nhân dân tỉnh",
                    "contacts": [{"channel": "webhook", "url": hook.url(), "secret": SECRET}]}),
        )
        .await;
    assert_eq!(s, 201, "{r}");
    let (s, sub) = sys
        .post(
            "/v1/subscriptions",
            Some(&office),
            &json!({"event_type": "procedure_changed", "recipient_id": r["id"], "channels": ["webhook"]}),
        )
        .await;
    assert_eq!(s, 201, "{sub}");
    let code = "1.009970.H19";
    sys.published(code, "Chuyển trường đối với học sinh trung học phổ thông")
        .await;
    let id = sys
        .eventually(30, "the dead letter", || async {
            let (_, b) = sys
                .get("/v1/notifications/dead-letters", Some(&office))
                .await;
            b["messages"].as_array().and_then(|m| {
                m.iter()
                    .find(|x| x["recipient_name"] == "Ủy ban nhân dân tỉnh")
                    .and_then(|x| x["message_id"].as_str())
                    .map(str::to_owned)
            })
        })
        .await;
    desk.goto(&format!("{console}/van-phong/thu-gui")).await;
    let list = desk.text_of("undelivered").await;
    assert!(list.contains("Ủy ban nhân dân tỉnh"), "{list}");
    desk.click(&format!("a[href='/van-phong/thu-gui/{id}']"))
        .await;
    let attempts = desk.text_of("attempts").await;
    assert_eq!(
        attempts.lines().count(),
        4,
        "a header and three attempts: {attempts}"
    );
    assert_eq!(desk.text_of("delivery-status").await, "Đã ngừng gửi");
    assert!(
        !desk.text().await.contains("Gửi lại"),
        "only operators resend"
    );

    hook.fail_next(0, 503);
    let ops = Browser::start(1280).await;
    sign_in(&ops, &console, "qt@sgddt.example.vn", &operator_password).await;
    ops.goto(&format!("{console}/van-phong/thu-gui/{id}")).await;
    ops.click(&format!(
        "form[action='/van-phong/thu-gui/{id}/gui-lai'] button"
    ))
    .await;
    assert!(
        ops.text()
            .await
            .contains("Đã đưa thư vào hàng đợi gửi lại.")
    );
    sys.eventually(30, "the resent message delivered", || async {
        let (_, d) = sys
            .get(&format!("/v1/notifications/{id}/deliveries"), Some(&office))
            .await;
        (d["status"] == "delivered").then_some(())
    })
    .await;
    ops.close().await;
    desk.close().await;
    sys.stop().await;
}

#[tokio::test]
async fn a_unit_submits_its_report_and_the_office_follows_and_reopens_it() {
    use chrono::Datelike;
    let mut sys = System::start("console-submissions").await;
    let console = sys.start_console().await;
    let office = sys.office_key.clone();
    let shots = screenshots();
    let (unit_a, key_a) = sys
        .unit_with_key("Trường THPT Chu Văn An", "high_school", "unit")
        .await;
    let (unit_b, _) = sys
        .unit_with_key("Trường THPT Phan Bội Châu", "high_school", "unit")
        .await;
    let (_, clerk_password) = sys
        .person_with_password(&unit_a, "unit", "Nguyễn Thị Lan", "lan@thpt-cva.edu.vn")
        .await;
    let (_, office_password) = office_person(&sys, "Trần Văn Bình", "vp@sgddt.example.vn").await;

    // Last year's first half, long overdue, and this year, open until January.
    let year = chrono::Utc::now().year();
    let plan = |y: i32, key: String, due: String| {
        json!({"number_symbol": format!("{y}/KH-SGDĐT-VP"), "year": y,
               "title": "Tuyên truyền về công tác Cải cách hành chính",
               "issuing_body": "Sở Giáo dục và Đào tạo", "unit_ids": [unit_a, unit_b],
               "periods": [{"key": key, "due_date": due}]})
    };
    let mut plans = Vec::new();
    for body in [
        plan(
            year - 1,
            format!("{}-H1", year - 1),
            format!("{}-07-10", year - 1),
        ),
        plan(year, year.to_string(), format!("{}-01-15", year + 1)),
    ] {
        // The plan names the units once reporting knows them.
        let id = sys
            .eventually(20, "the plan is created", || {
                let body = body.clone();
                let office = office.clone();
                let sys = &sys;
                async move {
                    let (s, p) = sys.post("/v1/plans", Some(&office), &body).await;
                    (s == 201).then(|| p["id"].as_str().unwrap().to_owned())
                }
            })
            .await;
        plans.push(id);
    }
    let (last, this) = (&plans[0], &plans[1]);
    let overdue_key = format!("{}-H1", year - 1);

    // The clerk's home names both reports to submit, the overdue one as such.
    let clerk = Browser::start(1280).await;
    sign_in(&clerk, &console, "lan@thpt-cva.edu.vn", &clerk_password).await;
    let due = clerk.text_of("due").await;
    assert!(due.contains("6 tháng đầu năm"), "{due}");
    assert!(due.contains("Quá hạn"), "{due}");
    assert!(due.contains(&format!("năm {year}")), "{due}");
    clerk.screenshot(&shots, "nop-bao-cao").await;

    // It submits this year's, with a note; the home no longer asks for it.
    clerk
        .fill(&format!("note-{this}-{year}"), "Số liệu đã rà soát")
        .await;
    clerk
        .click(&format!(
            "form:has(input[name='plan_id'][value='{this}']) button.primary"
        ))
        .await;
    assert_eq!(clerk.path().await, "/trang-chu");
    let due = clerk.text_of("due").await;
    assert!(!due.contains(&format!("năm {year},")), "{due}");
    assert!(due.contains("Quá hạn"), "{due}");
    // And the overdue one, from its plan page: marked late there.
    clerk
        .goto(&format!("{console}/ke-hoach?nam={}", year - 1))
        .await;
    clerk.click("ul.periods form button.primary").await;
    assert_eq!(clerk.path().await, format!("/ke-hoach?nam={}", year - 1));
    let page = clerk.text().await;
    assert!(
        page.contains("Đã nộp") && page.contains("Nộp muộn"),
        "{page}"
    );

    // The office follows the period: who submitted, late, who has not.
    let desk = Browser::start(1280).await;
    sign_in(&desk, &console, "vp@sgddt.example.vn", &office_password).await;
    desk.goto(&format!("{console}/van-phong/ke-hoach?nam={}", year - 1))
        .await;
    desk.click(&format!(
        "a[href='/van-phong/ke-hoach/{last}/ky/{overdue_key}']"
    ))
    .await;
    let tally = desk.text_of("tally").await;
    assert!(
        tally.contains("1/2 đơn vị đã nộp, trong đó 1 đơn vị nộp muộn; 1 đơn vị quá hạn chưa nộp"),
        "{tally}"
    );
    let table = desk.text_of("submissions").await;
    assert!(table.contains("Trường THPT Phan Bội Châu") && table.contains("Quá hạn, chưa nộp"));
    // Reopening needs a reason, told beside the field; then the school must resubmit.
    desk.click(&format!("form:has(input[value='{unit_a}']) button"))
        .await;
    let error = desk.text_of(&format!("reason-{unit_a}-error")).await;
    assert_eq!(error, "Hãy nhập lý do mở lại");
    desk.fill(&format!("reason-{unit_a}"), "Số liệu một cửa chưa khớp")
        .await;
    desk.click(&format!("form:has(input[value='{unit_a}']) button"))
        .await;
    let page = desk.text().await;
    assert!(page.contains("Đã mở lại báo cáo"), "{page}");
    assert!(
        desk.text_of("submissions")
            .await
            .contains("Số liệu một cửa chưa khớp")
    );
    desk.screenshot(&shots, "bao-cao-ky").await;

    // The school is told why, and its home asks for the report again.
    let session = clerk.cookie("cchc_session").await.expect("a session");
    sys.eventually(20, "the unit is told of the reopening", || {
        let sys = &sys;
        let session = session.clone();
        async move {
            let (_, inbox) = sys.get("/v1/notifications", Some(&session)).await;
            inbox["messages"]
                .as_array()?
                .iter()
                .any(|m| {
                    m["body"]
                        .as_str()
                        .is_some_and(|b| b.contains("Số liệu một cửa chưa khớp"))
                })
                .then_some(())
        }
    })
    .await;
    clerk.goto(&format!("{console}/trang-chu")).await;
    let due = clerk.text_of("due").await;
    assert!(
        due.contains("Văn phòng Sở đã mở lại") && due.contains("Số liệu một cửa chưa khớp"),
        "{due}"
    );

    // The leadership's year at a glance names both schools as late to report.
    desk.goto(&format!("{console}/tong-quan?nam={}", year - 1))
        .await;
    let periods = desk.text_of("periods").await;
    assert!(periods.contains("0/2"), "{periods}");
    assert!(
        periods.contains("Trường THPT Chu Văn An, Trường THPT Phan Bội Châu"),
        "{periods}"
    );

    // The office's page is not the school's, and the school cannot reopen.
    clerk
        .goto(&format!(
            "{console}/van-phong/ke-hoach/{last}/ky/{overdue_key}"
        ))
        .await;
    assert!(clerk.text().await.contains("Không có quyền"));
    let (s, _) = sys
        .post(
            &format!("/v1/plans/{last}/periods/{overdue_key}/submissions/{unit_b}/reopen"),
            Some(&key_a),
            &json!({"reason": "x"}),
        )
        .await;
    assert_eq!(s, 403);

    // English on request, for the staff too: the header's switch, remembered, back to
    // the same page; field errors and the office's and leadership's pages follow.
    clerk.goto(&format!("{console}/trang-chu")).await;
    clerk.click("header a[hreflang='en']").await;
    assert_eq!(clerk.path().await, "/trang-chu");
    let page = clerk.text().await;
    for said in [
        "What needs doing",
        "Reports to submit",
        "Unit staff",
        "Sign out",
    ] {
        assert!(page.contains(said), "{said}: {page}");
    }
    assert!(clerk.text_of("due").await.contains("Submit this period"));
    clerk.goto(&format!("{console}/hoat-dong/moi")).await;
    clerk.select("kind", "briefing").await;
    clerk.fill("date", "02/04/2020").await;
    clerk.click("button.primary").await;
    assert!(clerk.text().await.contains("There is a problem"));
    assert_eq!(clerk.text_of("title-error").await, "Title is required");
    clerk.screenshot(&shots, "hoat-dong-tieng-anh").await;
    desk.goto(&format!(
        "{console}/ngon-ngu?chon=en&ve=/van-phong/ke-hoach/{last}/ky/{overdue_key}"
    ))
    .await;
    let tally = desk.text_of("tally").await;
    assert!(tally.contains("0 of 2 units have submitted"), "{tally}");
    assert!(
        desk.text_of("submissions")
            .await
            .contains("Số liệu một cửa chưa khớp")
    );
    desk.goto(&format!("{console}/tong-quan?nam={}", year - 1))
        .await;
    let page = desk.text().await;
    assert!(
        page.contains("Reporting periods") && page.contains("Units late to report"),
        "{page}"
    );
    // And back to Vietnamese.
    clerk.goto(&format!("{console}/trang-chu")).await;
    clerk.click("header a[hreflang='vi']").await;
    assert!(clerk.text().await.contains("Việc cần làm"));

    clerk.close().await;
    desk.close().await;
    sys.stop().await;
}

/// The office imports the spreadsheet at `sheet` on the catalogue page.
async fn import_sheet(desk: &Browser, console: &str, sheet: &std::path::Path) {
    desk.goto(&format!("{console}/van-phong/danh-muc")).await;
    desk.client
        .find(fantoccini::Locator::Id("file"))
        .await
        .unwrap()
        .send_keys(sheet.to_str().unwrap())
        .await
        .unwrap();
    desk.click("form[action='/van-phong/danh-muc/nhap'] button.primary")
        .await;
}
