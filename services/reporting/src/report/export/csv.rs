//! CSV: one row per covered unit with every figure, then the overall row. Headers are
//! stable machine names; rates are percentages with one decimal and a dot.

use crate::domain::KINDS;
use crate::report::{OneStopFigures, SatisfactionFigures, Snapshot};

fn rate(r: Option<f64>) -> String {
    r.map(|r| format!("{r:.1}")).unwrap_or_default()
}

fn one_stop_cells(o: Option<&OneStopFigures>) -> Vec<String> {
    match o {
        Some(o) => vec![
            o.received_total.to_string(),
            o.resolved_early.to_string(),
            o.resolved_on_time.to_string(),
            o.resolved_late.to_string(),
            o.pending_total.to_string(),
            o.pending_overdue.to_string(),
            rate(o.on_time_rate),
        ],
        None => vec![String::new(); 7],
    }
}

fn satisfaction_cells(s: Option<&SatisfactionFigures>) -> Vec<String> {
    match s {
        Some(s) => vec![s.responses.to_string(), rate(s.rate)],
        None => vec![String::new(); 2],
    }
}

pub fn render(s: &Snapshot) -> Result<Vec<u8>, String> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = [
        "unit_id",
        "unit_name",
        "unit_kind",
        "reported",
        "activities_total",
        "head_count",
    ]
    .iter()
    .map(|h| (*h).to_owned())
    .collect();
    header.extend(KINDS.iter().map(|k| format!("activities_{k}")));
    header.extend(
        [
            "below_target",
            "postings_current",
            "postings_stale",
            "one_stop_received",
            "one_stop_resolved_early",
            "one_stop_resolved_on_time",
            "one_stop_resolved_late",
            "one_stop_pending",
            "one_stop_pending_overdue",
            "one_stop_on_time_rate",
            "satisfaction_responses",
            "satisfaction_rate",
            "budget_planned_vnd",
            "budget_spent_vnd",
        ]
        .iter()
        .map(|h| (*h).to_owned()),
    );
    w.write_record(&header).map_err(|e| e.to_string())?;
    for u in &s.units {
        let mut row = vec![
            u.unit_id.clone(),
            u.name.clone(),
            u.kind.clone(),
            u.reported.to_string(),
            u.activities_total.to_string(),
            u.head_count.to_string(),
        ];
        row.extend(u.activities.iter().map(|k| k.count.to_string()));
        row.push(u.below_target.join(";"));
        row.push(u.postings_current.to_string());
        row.push(u.postings_stale.to_string());
        row.extend(one_stop_cells(u.one_stop.as_ref()));
        row.extend(satisfaction_cells(u.satisfaction.as_ref()));
        match &u.budget {
            Some(b) => {
                row.push(b.planned_vnd.to_string());
                row.push(b.spent_vnd.to_string());
            }
            None => row.extend([String::new(), String::new()]),
        }
        w.write_record(&row).map_err(|e| e.to_string())?;
    }
    let o = &s.overall;
    let mut row = vec![
        String::new(),
        "TỔNG CỘNG".to_owned(),
        String::new(),
        format!("{}/{}", o.units_reported, o.units_covered),
        o.activities_total.to_string(),
        o.head_count_total.to_string(),
    ];
    row.extend(o.by_kind.iter().map(|k| k.count.to_string()));
    row.push(o.units_below_target.to_string());
    row.push(s.catalogue.postings_current.to_string());
    row.push(s.catalogue.postings_stale.to_string());
    row.extend(one_stop_cells(Some(&s.one_stop.figures)));
    row.extend(satisfaction_cells(Some(&s.satisfaction.figures)));
    row.push(s.budget.figures.planned_vnd.to_string());
    row.push(s.budget.figures.spent_vnd.to_string());
    w.write_record(&row).map_err(|e| e.to_string())?;
    w.into_inner().map_err(|e| e.to_string())
}
