//! Operator: rebuild the read models by replaying the streams, and follow it.

use cchc_platform::time::stamp;
use cchc_platform::{Caller, Role};
use cchc_proto::reporting::v1::{GetReplayRequest, Replay, StartReplayRequest};
use tonic::{Request, Status};

use super::{Reporting, id, refused};
use crate::replay::ReplayRow;

impl From<ReplayRow> for Replay {
    fn from(r: ReplayRow) -> Self {
        Replay {
            id: r.id.to_string(),
            state: r.state,
            percent: r.percent,
            applied: r.applied,
            total: r.total,
            error: r.error,
            requested_at: stamp(&r.requested_at),
            finished_at: r.finished_at.as_ref().map(stamp).unwrap_or_default(),
        }
    }
}

impl Reporting {
    pub(super) async fn start_replay(
        &self,
        req: Request<StartReplayRequest>,
    ) -> Result<Replay, Status> {
        let caller = Caller::require(&req, &[Role::Operator])?;
        Ok(self
            .replays
            .start(caller.unit_id)
            .await
            .map_err(refused)?
            .into())
    }

    pub(super) async fn get_replay(
        &self,
        req: Request<GetReplayRequest>,
    ) -> Result<Replay, Status> {
        Caller::require(&req, &[Role::Operator])?;
        let raw = req.get_ref().replay_id.trim();
        let replay_id = if raw.is_empty() {
            None
        } else {
            Some(id(raw, "replay")?)
        };
        self.replays
            .get(replay_id)
            .await
            .map_err(refused)?
            .map(Into::into)
            .ok_or_else(|| Status::not_found("no such replay"))
    }
}
