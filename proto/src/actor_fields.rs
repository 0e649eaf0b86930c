// Shared by build.rs and the crate: the fields of the API's messages that name whom a
// write is attributed to (`user:<uuid>`, `key:<uuid>` or `system`).
pub const ACTOR_FIELDS: &[&str] = &[
    "actor",
    "created_by",
    "updated_by",
    "published_by",
    "confirmed_by",
    "recorded_by",
    "submitted_by",
    "reopened_by",
];
