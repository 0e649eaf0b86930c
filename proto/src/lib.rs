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

pub use prost::Message;
pub use prost_types::Timestamp;
