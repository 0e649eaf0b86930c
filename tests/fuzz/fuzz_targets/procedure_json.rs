//! A procedure draft as the office's client sends it: JSON body, then the code, draft
//! and completeness rules.
#![no_main]

use cchc_platform::validation::Errors;
use cchc_proto::catalogue::v1::CreateProcedureRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = serde_json::from_slice::<CreateProcedureRequest>(data) {
        let content = r.content.unwrap_or_default();
        let mut errors = Errors::new();
        let _ = cchc_catalogue::domain::valid_code(&r.code);
        cchc_catalogue::domain::check_draft(&mut errors, &content);
        cchc_catalogue::domain::missing_parts(&mut errors, &content);
    }
});
