//! Recording, correcting and listing activities.

use cchc_platform::Caller;
use cchc_platform::page::Paging;
use cchc_platform::validation::{Errors, Rule, parse_date};
use cchc_proto::activity::v1::{
    Activity, BatchItemResult, CorrectActivityRequest, FieldError, GetActivityRequest,
    ListActivitiesRequest, ListActivitiesResponse, RecordActivitiesRequest,
    RecordActivitiesResponse, RecordActivityRequest,
};
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::{READERS, WRITERS, key, visible_unit, writer};
use crate::domain::activity::{self, MAX_BATCH};
use crate::domain::{Period, Rejection};
use crate::store::{Error, Filter, Store};

fn invalid(e: Errors) -> Status {
    Rejection::invalid("the activity is not valid", e).into()
}

pub async fn record(
    store: &Store,
    req: Request<RecordActivityRequest>,
) -> Result<Response<Activity>, Status> {
    // The store refuses an ended unit, on the connection it records with.
    let caller = Caller::require(&req, WRITERS)?;
    let r = req.into_inner();
    let new = activity::check(&r).map_err(invalid)?;
    let a = store
        .record(&caller.actor, caller.unit_id, &new, key(&r.idempotency_key))
        .await?;
    Ok(Response::new(a))
}

/// Each item is checked on its own; the valid ones are stored together, the others
/// answered with their index and every fault.
pub async fn record_many(
    store: &Store,
    req: Request<RecordActivitiesRequest>,
) -> Result<Response<RecordActivitiesResponse>, Status> {
    let caller = writer(store, &req).await?;
    let r = req.into_inner();
    let mut e = Errors::new();
    e.check(
        !r.items.is_empty() && r.items.len() <= MAX_BATCH,
        "items",
        Rule::Between {
            min: 1,
            max: MAX_BATCH as i64,
            of: "activities",
        },
    );
    // Room for the "/<index>" suffix given to items without their own key.
    e.check(
        r.idempotency_key.len() <= 190,
        "idempotency_key",
        Rule::TooLong { max: 190 },
    );
    e.single_line("idempotency_key", &r.idempotency_key);
    if !e.is_empty() {
        return Err(Rejection::invalid("the batch is not valid", e).into());
    }
    let mut results: Vec<BatchItemResult> = Vec::with_capacity(r.items.len());
    let mut valid = Vec::new();
    for (i, item) in r.items.iter().enumerate() {
        match activity::check(item) {
            Ok(a) => {
                let key = match (key(&item.idempotency_key), key(&r.idempotency_key)) {
                    (Some(own), _) => Some(own.to_owned()),
                    (None, Some(batch)) => Some(format!("{batch}/{i}")),
                    (None, None) => None,
                };
                valid.push((i, (a, key)));
            }
            Err(e) => results.push(rejected(i, e.into_vec().into_iter().map(proto_error))),
        }
    }
    if !valid.is_empty() {
        let (indexes, items): (Vec<usize>, Vec<_>) = valid.into_iter().unzip();
        let stored = store
            .record_many(&caller.actor, caller.unit_id, &items)
            .await?;
        for (i, outcome) in indexes.into_iter().zip(stored) {
            results.push(match outcome {
                Ok(a) => BatchItemResult {
                    index: i as u32,
                    accepted: true,
                    activity: Some(a),
                    errors: Vec::new(),
                },
                Err(Error::KeyReused) => rejected(
                    i,
                    [proto_error(cchc_platform::validation::FieldError::new(
                        "idempotency_key",
                        Rule::KeyReused,
                    ))],
                ),
                Err(e) => return Err(e.into()),
            });
        }
    }
    results.sort_by_key(|r| r.index);
    let accepted = results.iter().filter(|r| r.accepted).count() as u32;
    Ok(Response::new(RecordActivitiesResponse {
        rejected: results.len() as u32 - accepted,
        accepted,
        results,
    }))
}

fn rejected(i: usize, errors: impl IntoIterator<Item = FieldError>) -> BatchItemResult {
    BatchItemResult {
        index: i as u32,
        accepted: false,
        activity: None,
        errors: errors.into_iter().collect(),
    }
}

fn proto_error(f: cchc_platform::validation::FieldError) -> FieldError {
    FieldError {
        field: f.field,
        message: f.message,
        code: f.code,
        params: f.params,
    }
}

/// A unit corrects one of its own current records. Another unit's record is answered
/// as absent, so ids of others' records reveal nothing.
pub async fn correct(
    store: &Store,
    req: Request<CorrectActivityRequest>,
) -> Result<Response<Activity>, Status> {
    let caller = writer(store, &req).await?;
    let r = req.into_inner();
    let original: Uuid = r
        .activity_id
        .parse()
        .map_err(|_| Status::from(Error::NotFound))?;
    let body = r.activity.unwrap_or_default();
    let (new, mut e) = match activity::check(&body) {
        Ok(a) => (Some(a), Errors::new()),
        Err(e) => (None, e),
    };
    let reason = activity::check_reason(&mut e, &r.reason);
    let Some(new) = new.filter(|_| e.is_empty()) else {
        return Err(Rejection::invalid("the correction is not valid", e).into());
    };
    let a = store
        .correct(
            &caller.actor,
            caller.unit_id,
            original,
            &new,
            &reason,
            key(&body.idempotency_key),
        )
        .await?;
    Ok(Response::new(a))
}

/// One activity as recorded; to a unit, another unit's record is absent.
pub async fn get(
    store: &Store,
    req: Request<GetActivityRequest>,
) -> Result<Response<Activity>, Status> {
    let caller = Caller::require(&req, READERS)?;
    let id: Uuid = req
        .get_ref()
        .activity_id
        .parse()
        .map_err(|_| Status::from(Error::NotFound))?;
    let mut e = Errors::new();
    let own = visible_unit(&caller, "", &mut e);
    let a = store.get(id, own).await?.ok_or(Error::NotFound)?;
    Ok(Response::new(a))
}

pub async fn list(
    store: &Store,
    req: Request<ListActivitiesRequest>,
) -> Result<Response<ListActivitiesResponse>, Status> {
    let caller = Caller::require(&req, READERS)?;
    let r = req.into_inner();
    let mut e = Errors::new();
    let mut f = Filter {
        paging: Paging::read(r.limit, &r.page_token, &mut e),
        unit_id: visible_unit(&caller, &r.unit_id, &mut e),
        kind: None,
        from: None,
        to: None,
        history: r.history,
    };
    if !r.kind.is_empty() {
        activity::check_kind(&mut e, &r.kind);
        f.kind = Some(r.kind.clone());
    }
    if !r.from.is_empty() {
        f.from = parse_date(&mut e, "from", &r.from);
    }
    if !r.to.is_empty() {
        f.to = parse_date(&mut e, "to", &r.to);
    }
    // A period narrows the dates to the part of it inside from..to.
    if !r.period.is_empty() {
        match r.period.parse::<Period>() {
            Ok(p) => {
                f.from = Some(f.from.map_or(p.start(), |d| d.max(p.start())));
                f.to = Some(f.to.map_or(p.end(), |d| d.min(p.end())));
            }
            Err(_) => e.add("period", Rule::Period),
        }
    }
    if !e.is_empty() {
        return Err(Rejection::invalid("the filter is not valid", e).into());
    }
    let page = store.list(&f).await?;
    Ok(Response::new(ListActivitiesResponse {
        activities: page.items,
        next_page_token: page.next_token,
    }))
}
