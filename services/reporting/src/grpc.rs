//! Reading the read models over gRPC.

use cchc_platform::validation::internal;
use cchc_platform::{Caller, Role};
use cchc_proto::reporting::v1::reporting_service_server::ReportingService;
use cchc_proto::reporting::v1::{Dashboard, GetDashboardRequest, KindCount};
use sqlx::PgPool;
use tonic::{Request, Response, Status};

pub struct Reporting {
    pool: PgPool,
}

impl Reporting {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[tonic::async_trait]
impl ReportingService for Reporting {
    async fn get_dashboard(
        &self,
        req: Request<GetDashboardRequest>,
    ) -> Result<Response<Dashboard>, Status> {
        Caller::require(&req, &[Role::Office, Role::Leader, Role::Operator])?;
        let year = req.into_inner().year;
        if year != 0 && !(2000..=2200).contains(&year) {
            return Err(cchc_platform::validation::status(
                tonic::Code::InvalidArgument,
                "the year is not valid",
                vec![cchc_platform::validation::FieldError {
                    field: "year".into(),
                    message: "must be between 2000 and 2200".into(),
                }],
            ));
        }
        let year = (year != 0).then_some(year);
        let mut conn = self.pool.acquire().await.map_err(internal)?;
        let (published, abolished): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE status = 'published'), count(*) FILTER (WHERE status = 'abolished') FROM rm_procedures",
        )
        .fetch_one(&mut *conn)
        .await
        .map_err(internal)?;
        // Current activities only: a corrected record counts once, as its correction.
        let by_kind: Vec<(String, i64)> = sqlx::query_as(
            "SELECT kind, count(*) FROM rm_activities a
             WHERE ($1::int IS NULL OR extract(year FROM date)::int = $1)
               AND NOT EXISTS (SELECT 1 FROM rm_activities s WHERE s.supersedes = a.activity_id)
             GROUP BY kind ORDER BY kind",
        )
        .bind(year)
        .fetch_all(&mut *conn)
        .await
        .map_err(internal)?;
        let units_reporting: i64 = sqlx::query_scalar(
            "SELECT count(DISTINCT unit_id) FROM rm_activities WHERE ($1::int IS NULL OR extract(year FROM date)::int = $1)",
        )
        .bind(year)
        .fetch_one(&mut *conn)
        .await
        .map_err(internal)?;
        let as_of: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
            "SELECT max(t) FROM (SELECT max(event_at) t FROM rm_units UNION ALL SELECT max(event_at) FROM rm_procedures
             UNION ALL SELECT max(event_at) FROM rm_activities) x",
        )
        .fetch_one(&mut *conn)
        .await
        .map_err(internal)?;
        Ok(Response::new(Dashboard {
            year: year.unwrap_or(0),
            procedures_published: published,
            procedures_abolished: abolished,
            activities_total: by_kind.iter().map(|(_, n)| n).sum(),
            activities_by_kind: by_kind
                .into_iter()
                .map(|(kind, count)| KindCount { kind, count })
                .collect(),
            units_reporting,
            as_of: as_of
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
                .unwrap_or_default(),
        }))
    }
}
