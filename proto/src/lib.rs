//! Generated protobuf types and gRPC stubs, mirroring the package tree under `cchc/`.

pub mod events {
    pub mod v1 {
        tonic::include_proto!("cchc.events.v1");

        /// A payload message with a fixed subject, `cchc.<producer>.<event>.v<N>`, as
        /// its `.proto` names it.
        pub trait Event: prost::Message + Default {
            const TYPE: &'static str;
        }

        include!(concat!(env!("OUT_DIR"), "/cchc.events.v1.types.rs"));
    }
}

pub mod catalogue {
    pub mod v1 {
        tonic::include_proto!("cchc.catalogue.v1");
    }
}

pub mod activity {
    pub mod v1 {
        tonic::include_proto!("cchc.activity.v1");
    }
}

pub mod notification {
    pub mod v1 {
        tonic::include_proto!("cchc.notification.v1");
    }
}

pub mod reporting {
    pub mod v1 {
        tonic::include_proto!("cchc.reporting.v1");
    }
}

pub mod operations {
    pub mod v1 {
        tonic::include_proto!("cchc.operations.v1");
    }
}

include!("actor_fields.rs");

/// A time limit in working days as JSON: whole days as integers, so a record written as
/// `5` answers `5` (serde would say `5.0`); fractions as decimals; absent as `null`.
pub mod days {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(days: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
        match days {
            Some(d) if d.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(d) => {
                s.serialize_u32(*d as u32)
            }
            Some(d) => s.serialize_f64(*d),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
        Option::<f64>::deserialize(d)
    }
}

/// Who a write is attributed to, as the gateway's JSON shows it in place of the actor
/// text of each field in [`ACTOR_FIELDS`]; `null` for writes made before they were
/// attributed.
#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ActorRef {
    /// `user` (a person), `api_key` (a program), `system` (cchc itself) or `unknown`
    /// (an actor no longer on record).
    pub kind: String,
    /// The user's or key's id; absent for the system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The person's name, or the key's prefix in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The unit the person or key belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_id: Option<String>,
}

pub use prost::Message;
pub use prost_types::Timestamp;
