//! What valid input is. Each checked type can only be built from input that passed
//! every rule, so the store never sees an invalid value.

pub mod activity;
pub mod budget;
pub mod one_stop;
pub mod period;
pub mod satisfaction;

pub use activity::NewActivity;
pub use period::Period;

use cchc_platform::validation::{Errors, FieldError, Rule};

/// Input that was refused, with every reason.
#[derive(Debug)]
pub struct Rejection {
    /// `InvalidArgument` when a field is malformed (HTTP 400), `FailedPrecondition`
    /// when well-formed fields break a rule between them (HTTP 422).
    pub code: tonic::Code,
    pub message: String,
    pub errors: Vec<FieldError>,
}

impl Rejection {
    /// Malformed fields.
    pub fn invalid(message: impl Into<String>, errors: Errors) -> Self {
        Self {
            code: tonic::Code::InvalidArgument,
            message: message.into(),
            errors: errors.into_vec(),
        }
    }

    /// Well-formed fields that break a rule between them.
    pub fn rule(message: impl Into<String>, errors: Errors) -> Self {
        Self {
            code: tonic::Code::FailedPrecondition,
            message: message.into(),
            errors: errors.into_vec(),
        }
    }
}

impl From<Rejection> for tonic::Status {
    fn from(r: Rejection) -> Self {
        cchc_platform::validation::status(r.code, &r.message, r.errors)
    }
}

/// Client-chosen idempotency keys are bounded like any other text.
pub fn check_idempotency_key(e: &mut Errors, key: &str) {
    e.check(
        key.len() <= 200,
        "idempotency_key",
        Rule::TooLong { max: 200 },
    );
    e.single_line("idempotency_key", key);
}

/// `part / whole` in percent with one decimal (the platform's one definition), or
/// `None` when `whole` is zero.
pub use cchc_platform::rate::percent as rate;

/// Largest count or amount accepted, far above any real figure and far below overflow
/// (the platform's bounds, which say why).
pub use cchc_platform::validation::{MAX_COUNT, MAX_VND};
