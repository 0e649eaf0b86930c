//! Reporting periods (kỳ báo cáo), read as every service reads them.

pub use cchc_platform::period::*;
