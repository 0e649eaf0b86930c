//! Live counters read straight from the read models.

use cchc_platform::validation::{FieldError, internal, status};
use cchc_platform::{Caller, Role};
use cchc_proto::reporting::v1::{Dashboard, GetDashboardRequest, KindCount, StatusCount};
use tonic::{Request, Status};

use super::Reporting;
use crate::report::compute::rfc3339;

impl Reporting {
    pub(super) async fn dashboard(
        &self,
        req: Request<GetDashboardRequest>,
    ) -> Result<Dashboard, Status> {
        Caller::require(&req, &[Role::Office, Role::Leader, Role::Operator])?;
        let year = req.into_inner().year;
        if year != 0 && !(2000..=2200).contains(&year) {
            return Err(status(
                tonic::Code::InvalidArgument,
                "the year is not valid",
                vec![FieldError {
                    field: "year".into(),
                    message: "must be between 2000 and 2200".into(),
                }],
            ));
        }
        let year = (year != 0).then_some(year);
        let mut conn = self.store.pool.acquire().await.map_err(internal)?;
        let by_status: Vec<(String, i64)> = sqlx::query_as(
            "SELECT status, count(*) FROM rm_procedures GROUP BY status ORDER BY status",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(internal)?;
        let count_of = |s: &str| {
            by_status
                .iter()
                .find(|(k, _)| k == s)
                .map_or(0, |(_, n)| *n)
        };
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
        // A unit's posting of a published procedure is current when it is of the
        // procedure's current version.
        let (postings_current, postings_stale, units_with_stale): (i64, i64, i64) = sqlx::query_as(
            "WITH posted AS (SELECT unit_id, code, max(version) AS version FROM rm_postings GROUP BY unit_id, code)
             SELECT count(*) FILTER (WHERE p.version >= r.version), count(*) FILTER (WHERE p.version < r.version),
                    count(DISTINCT p.unit_id) FILTER (WHERE p.version < r.version)
             FROM posted p JOIN rm_procedures r USING (code) WHERE r.status = 'published'",
        )
        .fetch_one(&mut *conn)
        .await
        .map_err(internal)?;
        let units_total: i64 = sqlx::query_scalar("SELECT count(*) FROM rm_units")
            .fetch_one(&mut *conn)
            .await
            .map_err(internal)?;
        let units_with_one_stop: i64 = sqlx::query_scalar(
            "SELECT count(DISTINCT unit_id) FROM rm_one_stop WHERE ($1::int IS NULL OR extract(year FROM period_start)::int = $1)",
        )
        .bind(year)
        .fetch_one(&mut *conn)
        .await
        .map_err(internal)?;
        let as_of: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
            "SELECT max(t) FROM (
               SELECT max(event_at) t FROM rm_units UNION ALL SELECT max(event_at) FROM rm_procedures
               UNION ALL SELECT max(event_at) FROM rm_activities UNION ALL SELECT max(event_at) FROM rm_postings
               UNION ALL SELECT max(event_at) FROM rm_posting_stale UNION ALL SELECT max(event_at) FROM rm_legal_documents
               UNION ALL SELECT max(event_at) FROM rm_one_stop UNION ALL SELECT max(event_at) FROM rm_satisfaction
               UNION ALL SELECT max(event_at) FROM rm_budget) x",
        )
        .fetch_one(&mut *conn)
        .await
        .map_err(internal)?;
        Ok(Dashboard {
            year: year.unwrap_or(0),
            procedures_published: count_of("published"),
            procedures_abolished: count_of("abolished"),
            activities_total: by_kind.iter().map(|(_, n)| n).sum(),
            activities_by_kind: by_kind
                .into_iter()
                .map(|(kind, count)| KindCount { kind, count })
                .collect(),
            units_reporting,
            as_of: as_of.map(rfc3339).unwrap_or_default(),
            procedures_by_status: by_status
                .iter()
                .map(|(s, n)| StatusCount {
                    status: s.clone(),
                    count: *n,
                })
                .collect(),
            postings_current,
            postings_stale,
            units_with_stale_postings: units_with_stale,
            units_total,
            units_with_one_stop_results: units_with_one_stop,
        })
    }
}
