//! The catalogue's events. What it publishes (procedure_published, posting_confirmed,
//! posting_stale, legal_document_issued, legal_document_changed) the [`crate::store`]
//! writes to the outbox in the transaction of the change; what it hears is the
//! gateway's closures and merges of units, so a closed unit's writes are refused here
//! too.

use std::sync::Arc;

use cchc_platform::service::Runtime;
use cchc_platform::{consumer, ended_units};

/// Starts the consumer of the gateway's unit closures and merges.
pub fn consume(rt: &mut Runtime) {
    let ended = consumer::run(
        ended_units::consumer("catalogue"),
        rt.js.clone(),
        rt.pool.clone(),
        Arc::new(ended_units::EndedUnits),
        rt.shutdown.clone(),
    );
    rt.tasks.spawn(ended);
}
