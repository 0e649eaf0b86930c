//! The runtime every cchc service shares, written once: configuration, telemetry and
//! trace propagation, health, PostgreSQL, the transactional outbox, idempotent JetStream
//! consumers, stream provisioning and graceful shutdown.

pub mod caller;
pub mod config;
pub mod consumer;
pub mod db;
pub mod ended_units;
pub mod events;
pub mod grpc;
pub mod health;
pub mod nats;
pub mod operations;
pub mod outbox;
pub mod page;
pub mod period;
pub mod rate;
pub mod service;
pub mod shutdown;
pub mod telemetry;
pub mod text;
pub mod time;
pub mod validation;
pub mod vocabulary;

pub use caller::{Actor, Caller, CallerKey, Role, Signed};
pub use config::{Config, ConfigError};
