//! An activity as a unit's client sends it: JSON body, then every validation rule.
#![no_main]

use cchc_proto::activity::v1::RecordActivityRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = serde_json::from_slice::<RecordActivityRequest>(data) {
        let _ = cchc_activity::domain::activity::check(&r);
    }
});
