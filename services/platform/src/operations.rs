//! What operators look at, served by a service for the gateway: the events no consumer
//! could apply (the dead-letter stream). The gateway holds no JetStream view of its own.

use async_nats::jetstream;
use cchc_proto::events::v1::Envelope;
use cchc_proto::operations::v1::operations_server::{Operations, OperationsServer};
use cchc_proto::operations::v1::{DeadLetter, ListDeadLettersRequest, ListDeadLettersResponse};
use prost::Message;
use tonic::{Request, Response, Status};

use crate::caller::{Caller, Role};
use crate::events::DEAD_LETTER_STREAM;
use crate::validation::Errors;

/// The operations API over this service's NATS connection.
pub struct DeadLetters {
    js: jetstream::Context,
}

/// The gRPC service to add to a service's routes.
pub fn server(js: jetstream::Context) -> OperationsServer<DeadLetters> {
    OperationsServer::new(DeadLetters { js })
}

fn unavailable(e: impl std::fmt::Display) -> Status {
    tracing::warn!(error = %e, "reading the dead-letter stream failed");
    Status::unavailable("the event bus is unavailable")
}

#[tonic::async_trait]
impl Operations for DeadLetters {
    async fn list_dead_letters(
        &self,
        req: Request<ListDeadLettersRequest>,
    ) -> Result<Response<ListDeadLettersResponse>, Status> {
        Caller::require(&req, &[Role::Operator, Role::Office])?;
        let mut errors = Errors::new();
        let limit = crate::page::Paging::read(req.get_ref().limit, "", &mut errors).limit;
        errors.finish(
            tonic::Code::InvalidArgument,
            "the list asked for is not valid",
        )?;
        let mut stream = self
            .js
            .get_stream(DEAD_LETTER_STREAM)
            .await
            .map_err(unavailable)?;
        let state = stream.info().await.map_err(unavailable)?.state.clone();
        let mut dead_letters = Vec::new();
        let mut seq = state.last_sequence;
        while seq >= state.first_sequence.max(1) && dead_letters.len() < limit as usize {
            // A message purged or removed meanwhile is skipped.
            if let Ok(m) = stream.get_raw_message(seq).await {
                let h = |k: &str| {
                    m.headers
                        .get(k)
                        .map(|v| v.as_str().to_owned())
                        .unwrap_or_default()
                };
                let env = Envelope::decode(m.payload.as_ref()).ok();
                dead_letters.push(DeadLetter {
                    sequence: seq,
                    consumer: h("Cchc-Consumer"),
                    original_subject: h("Cchc-Original-Subject"),
                    error: h("Cchc-Error"),
                    deliveries: h("Cchc-Deliveries").parse().unwrap_or(0),
                    event_id: env.as_ref().map(|e| e.id.clone()).unwrap_or_default(),
                    event_type: env.map(|e| e.r#type).unwrap_or_default(),
                    dead_lettered_at: m.time.to_string(),
                });
            }
            seq -= 1;
        }
        Ok(Response::new(ListDeadLettersResponse {
            dead_letters,
            total: state.messages,
        }))
    }
}
