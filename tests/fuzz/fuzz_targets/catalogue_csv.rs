//! The catalogue spreadsheet import, from CSV bytes to import rows.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sheet) = cchc_cli::sheet::read_csv_from(data) {
        let _ = cchc_cli::sheet::import_rows(&sheet);
    }
});
