//! The catalogue's events. What it publishes (procedure_published, posting_confirmed,
//! posting_stale, legal_document_issued, legal_document_changed) the [`crate::store`]
//! writes to the outbox in the transaction of the change; what it hears is the
//! gateway's closures and merges of units, so a closed unit's writes are refused here
//! too.

use cchc_platform::ended_units;
use cchc_platform::service::Runtime;

/// Starts the consumer of the gateway's unit closures and merges.
pub fn consume(rt: &mut Runtime) {
    ended_units::consume(rt, "catalogue");
}
