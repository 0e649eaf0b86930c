//! Report jobs: the office starts one for a plan and a period; the office and the
//! leadership follow it and fetch its exports.

use cchc_platform::page::Cursor;
use cchc_platform::time::stamp;
use cchc_platform::validation::{Errors, Rule, parse_date};
use cchc_platform::{Caller, Role};
use cchc_proto::reporting::v1::{
    ExportReportRequest, GetReportRequest, ListReportsRequest, ListReportsResponse, Report,
    ReportFile, StartReportRequest,
};
use tonic::{Request, Status};

use super::{Reporting, id, paging, refused};
use crate::report::export::{FORMATS, export_paths};
use crate::store::{NewReport, ReportRow};

const READERS: &[Role] = &[Role::Office, Role::Leader];

impl From<ReportRow> for Report {
    fn from(r: ReportRow) -> Self {
        let done = r.completed();
        Report {
            id: r.id.to_string(),
            plan_id: r.plan_id.to_string(),
            period: r.period,
            state: r.state,
            percent: r.percent,
            step: r.step,
            error: r.error,
            title: r.title,
            as_of: r.as_of.as_ref().map(stamp).unwrap_or_default(),
            summary: r.summary,
            headline: r.headline.map(|h| h.0),
            export_paths: if done { export_paths(r.id) } else { Vec::new() },
            requested_at: stamp(&r.requested_at),
            completed_at: r.completed_at.as_ref().map(stamp).unwrap_or_default(),
            plan_revision: r.plan_revision as u32,
            created_by: r.created_by.unwrap_or_default(),
            updated_by: r.updated_by.unwrap_or_default(),
        }
    }
}

impl Reporting {
    pub(super) async fn start_report(
        &self,
        req: Request<StartReportRequest>,
    ) -> Result<Report, Status> {
        let caller = Caller::require(&req, &[Role::Office])?;
        let r = req.into_inner();
        let mut e = Errors::new();
        let plan_id = r.plan_id.trim().parse::<uuid::Uuid>();
        e.check(plan_id.is_ok(), "plan_id", Rule::Id { of: "plan" });
        e.check(!r.period.trim().is_empty(), "period", Rule::Required);
        let report_date = if r.report_date.trim().is_empty() {
            None
        } else {
            parse_date(&mut e, "report_date", r.report_date.trim())
        };
        e.check(
            r.number_symbol.chars().count() <= 100,
            "number_symbol",
            Rule::TooLong { max: 100 },
        );
        e.check(
            r.title.chars().count() <= 1000,
            "title",
            Rule::TooLong { max: 1000 },
        );
        for (field, value) in [
            ("signer_title", &r.signer_title),
            ("signer_name", &r.signer_name),
        ] {
            e.check(
                value.chars().count() <= 200,
                field,
                Rule::TooLong { max: 200 },
            );
            e.multi_line(field, value);
        }
        e.finish(
            tonic::Code::InvalidArgument,
            "the report request is not valid",
        )?;
        let plan_id = plan_id.map_err(|_| Status::invalid_argument("plan_id is not a UUID"))?;
        let (plan, _) = self
            .store
            .plan(plan_id)
            .await
            .map_err(refused)?
            .ok_or_else(|| Status::not_found("no such plan"))?;
        let period = r.period.trim().to_uppercase();
        if !plan.periods.iter().any(|p| p.key == period) {
            let keys: Vec<&str> = plan.periods.iter().map(|p| p.key.as_str()).collect();
            let mut e = Errors::new();
            e.add(
                "period",
                Rule::OneOf {
                    values: keys.join(", "),
                },
            );
            e.finish(tonic::Code::InvalidArgument, "the plan has no such period")?;
        }
        let key = Some(r.idempotency_key.trim()).filter(|k| !k.is_empty());
        let row = self
            .store
            .start_report(
                &caller,
                &NewReport {
                    plan_id,
                    period: &period,
                    number_symbol: r.number_symbol.trim(),
                    report_date,
                    title: r.title.trim(),
                    signer_title: r.signer_title.trim(),
                    signer_name: r.signer_name.trim(),
                },
                plan.revision,
                key,
            )
            .await
            .map_err(refused)?;
        self.worker.wake();
        Ok(row.into())
    }

    pub(super) async fn get_report(
        &self,
        req: Request<GetReportRequest>,
    ) -> Result<Report, Status> {
        Caller::require(&req, READERS)?;
        let report_id = id(&req.get_ref().report_id, "report")?;
        self.store
            .report(report_id)
            .await
            .map_err(refused)?
            .map(Into::into)
            .ok_or_else(|| Status::not_found("no such report"))
    }

    pub(super) async fn list_reports(
        &self,
        req: Request<ListReportsRequest>,
    ) -> Result<ListReportsResponse, Status> {
        Caller::require(&req, READERS)?;
        let r = req.into_inner();
        let plan_id = if r.plan_id.is_empty() {
            None
        } else {
            Some(id(&r.plan_id, "plan")?)
        };
        let paging = paging(r.limit, &r.page_token)?;
        let rows = self
            .store
            .reports(plan_id, &paging)
            .await
            .map_err(refused)?;
        let (rows, next) = paging.page(rows, |r| Cursor {
            at: r.requested_at,
            id: r.id,
        });
        Ok(ListReportsResponse {
            reports: rows.into_iter().map(Into::into).collect(),
            next_page_token: next,
        })
    }

    pub(super) async fn export_report(
        &self,
        req: Request<ExportReportRequest>,
    ) -> Result<ReportFile, Status> {
        Caller::require(&req, READERS)?;
        let r = req.into_inner();
        let report_id = id(&r.report_id, "report")?;
        let format = r.format.trim().to_lowercase();
        if !FORMATS.contains(&format.as_str()) {
            let mut e = Errors::new();
            e.add(
                "format",
                Rule::OneOf {
                    values: FORMATS.join(", "),
                },
            );
            e.finish(tonic::Code::InvalidArgument, "unknown export format")?;
        }
        let row = self
            .store
            .report(report_id)
            .await
            .map_err(refused)?
            .ok_or_else(|| Status::not_found("no such report"))?;
        if !row.completed() {
            return Err(Status::failed_precondition(format!(
                "the report is {} ({}%); exports exist once it is completed",
                row.state, row.percent
            )));
        }
        let file = self
            .store
            .report_file(report_id, &format)
            .await
            .map_err(refused)?
            .ok_or_else(|| Status::internal("the completed report has no such file"))?;
        Ok(ReportFile {
            content_type: file.content_type,
            file_name: file.file_name,
            content: file.content,
            sha256: file.sha256,
        })
    }
}
