//! A notice: something to tell, with the values its template fills and the recipients
//! it concerns by its nature, before subscriptions address it.

use uuid::Uuid;

use super::Kind;
use super::template::Values;

/// The recipients an event concerns by its nature.
#[derive(Debug, Clone)]
pub enum Affected {
    /// Every unit (a procedure change: each unit must post it).
    AllUnits,
    /// These units' recipients.
    Units(Vec<Uuid>),
    /// These recipients.
    Recipients(Vec<Uuid>),
    Nobody,
}

/// Something to tell, before it is addressed.
#[derive(Debug, Clone)]
pub struct Notice {
    pub kind: Kind,
    /// The event (or reminder) it comes from: with recipient and channel, the key that
    /// makes each message once.
    pub cause_id: Uuid,
    pub event_type: String,
    pub values: Values,
    /// Attributes subscription filters look at.
    pub field: Option<String>,
    pub plan_id: Option<Uuid>,
    pub affected: Affected,
}
