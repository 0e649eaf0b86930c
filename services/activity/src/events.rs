//! The activity service's events. What it publishes (`activity_recorded` and the
//! submissions' `*_submitted`) is built by [`crate::store`] from the stored row and
//! written to the outbox in the change's own transaction; the platform's relay sends
//! it. What it consumes: the gateway's unit closures and merges, recorded once each by
//! the platform's [`ended_units`] handler, so a closed unit's writes are refused here
//! too.

use cchc_platform::ended_units;
use cchc_platform::service::Runtime;

/// Starts the consumers, which run until shutdown.
pub fn consume(rt: &mut Runtime) {
    ended_units::consume(rt, "activity");
}
