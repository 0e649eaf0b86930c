//! The narrative summary: the snapshot's figures in sentences, written the way the
//! Department Office writes its reports ("Trong 6 tháng đầu năm 2020, 45/50 đơn vị đã
//! báo cáo; ..."). Only the snapshot is read, so the text is as reproducible as it.

use super::Snapshot;
use crate::domain::{kind_noun, number_vi as n, per_label, percent_vi};

/// Lists at most this many unit names in a sentence; the tables carry the rest.
const MAX_NAMES: usize = 10;

fn names(units: &[super::UnitRef]) -> String {
    let list: Vec<&str> = units
        .iter()
        .take(MAX_NAMES)
        .map(|u| u.name.as_str())
        .collect();
    let more = units.len().saturating_sub(MAX_NAMES);
    let mut s = list.join(", ");
    if more > 0 {
        s.push_str(&format!(" và {} đơn vị khác", n(more as i64)));
    }
    s
}

pub fn write(s: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    let o = &s.overall;
    let when = &s.period.title;

    // Who reported, and how much was done.
    let mut p = format!(
        "Trong {when}, {}/{} đơn vị đã báo cáo kết quả thực hiện Kế hoạch số {}",
        n(o.units_reported),
        n(o.units_covered),
        s.plan.number_symbol
    );
    if o.units_late > 0 {
        p.push_str(&format!(
            " (trong đó {} đơn vị nộp sau hạn {})",
            n(o.units_late),
            s.period
                .due_date
                .parse()
                .map(crate::domain::date_vi)
                .unwrap_or_else(|_| s.period.due_date.clone())
        ));
    }
    if o.units_silent > 0 {
        p.push_str(&format!(
            "; {} đơn vị chưa báo cáo ({})",
            n(o.units_silent),
            names(&o.silent_units)
        ));
    }
    p.push('.');
    out.push(p);

    let kinds: Vec<String> = o
        .by_kind
        .iter()
        .filter(|k| k.count > 0)
        .map(|k| format!("{} {}", n(k.count), kind_noun(&k.kind)))
        .collect();
    let mut p = format!(
        "Các đơn vị đã tổ chức tổng số {} hoạt động tuyên truyền về cải cách hành chính",
        n(o.activities_total)
    );
    if o.head_count_total > 0 {
        p.push_str(&format!(
            " với {} lượt người tham dự",
            n(o.head_count_total)
        ));
    }
    if kinds.is_empty() {
        p.push('.');
    } else {
        p.push_str(&format!(", gồm: {}.", kinds.join("; ")));
    }
    if o.corrections > 0 {
        p.push_str(&format!(
            " Trong đó {} hoạt động đã được đơn vị điều chỉnh, số liệu tính theo bản điều chỉnh.",
            n(o.corrections)
        ));
    }
    out.push(p);

    // Targets.
    for t in &s.targets {
        if t.progress {
            // A target over a longer span than the period: how far the units are.
            let mut p = format!(
                "Chỉ tiêu tối thiểu {} {} mỗi {} đối với mỗi đơn vị (tính đến hết kỳ): {}/{} đơn vị đã đạt",
                n(t.min_per_unit),
                kind_noun(&t.kind),
                per_label(&t.per),
                n(t.units_meeting),
                n(o.units_covered)
            );
            if t.units_in_progress > 0 {
                p.push_str(&format!(
                    ", {} đơn vị đang thực hiện",
                    n(t.units_in_progress)
                ));
            }
            p.push('.');
            out.push(p);
            continue;
        }
        let mut p = format!(
            "Chỉ tiêu tối thiểu {} {} mỗi {} đối với mỗi đơn vị (trong kỳ là {}): {}/{} đơn vị đạt",
            n(t.min_per_unit),
            kind_noun(&t.kind),
            per_label(&t.per),
            n(t.required),
            n(t.units_meeting),
            n(o.units_covered)
        );
        if t.units_below > 0 {
            p.push_str(&format!(", {} đơn vị chưa đạt", n(t.units_below)));
        }
        p.push('.');
        out.push(p);
    }
    if o.units_below_target > 0 {
        out.push(format!(
            "Các đơn vị chưa đạt chỉ tiêu: {}.",
            names(&o.below_target_units)
        ));
    }

    // Catalogue currency.
    let c = &s.catalogue;
    let mut changes = Vec::new();
    for (count, what) in [
        (c.procedures_new, "công bố mới"),
        (c.procedures_amended, "sửa đổi, bổ sung"),
        (c.procedures_replaced, "thay thế"),
        (c.procedures_abolished, "bãi bỏ"),
    ] {
        if count > 0 {
            changes.push(format!("{} thủ tục {what}", n(count)));
        }
    }
    let mut p = if changes.is_empty() {
        "Về thủ tục hành chính: trong kỳ không có thủ tục hành chính được công bố, sửa đổi hay bãi bỏ".to_owned()
    } else {
        format!("Về thủ tục hành chính: trong kỳ có {}", changes.join(", "))
    };
    p.push_str(&format!(
        "; đến cuối kỳ có {} thủ tục đang có hiệu lực",
        n(c.procedures_in_force)
    ));
    if !c.legal_documents.is_empty() {
        p.push_str(&format!(
            "; {} văn bản quy phạm pháp luật mới có hiệu lực",
            n(c.legal_documents.len() as i64)
        ));
    }
    p.push_str(&format!(
        ". Các đơn vị có {} lượt niêm yết đúng phiên bản hiện hành",
        n(c.postings_current)
    ));
    if c.postings_stale > 0 {
        p.push_str(&format!(
            " và {} lượt niêm yết chưa cập nhật tại {} đơn vị",
            n(c.postings_stale),
            n(c.units_with_stale)
        ));
    }
    p.push('.');
    out.push(p);

    // One-stop results and satisfaction.
    let f = &s.one_stop.figures;
    if s.one_stop.units_submitted > 0 {
        let mut p = format!(
            "Về kết quả giải quyết thủ tục hành chính theo cơ chế một cửa, một cửa liên thông ({} đơn vị báo cáo): tiếp nhận {} hồ sơ (trực tuyến {}, trực tiếp và qua bưu chính {}, kỳ trước chuyển sang {}); đã giải quyết {} hồ sơ (trước hạn {}, đúng hạn {}, quá hạn {})",
            n(s.one_stop.units_submitted),
            n(f.received_total),
            n(f.received_online),
            n(f.received_in_person_or_post),
            n(f.received_carried_over),
            n(f.resolved_total),
            n(f.resolved_early),
            n(f.resolved_on_time),
            n(f.resolved_late)
        );
        if let Some(r) = f.on_time_rate {
            p.push_str(&format!(
                ", tỷ lệ giải quyết đúng hạn đạt {}",
                percent_vi(r)
            ));
        }
        p.push_str(&format!(
            "; đang giải quyết {} hồ sơ, trong đó {} hồ sơ quá hạn",
            n(f.pending_total),
            n(f.pending_overdue)
        ));
        if f.returned_withdrawn > 0 {
            p.push_str(&format!(
                "; {} hồ sơ trả lại hoặc rút",
                n(f.returned_withdrawn)
            ));
        }
        p.push('.');
        out.push(p);
    } else {
        out.push(
            "Về cơ chế một cửa, một cửa liên thông: chưa có đơn vị báo cáo kết quả giải quyết hồ sơ trong kỳ."
                .to_owned(),
        );
    }
    let sf = &s.satisfaction.figures;
    if s.satisfaction.units_submitted > 0 {
        let mut p = format!(
            "Về sự hài lòng của người dân, tổ chức: {} đơn vị khảo sát {} phiếu",
            n(s.satisfaction.units_submitted),
            n(sf.responses)
        );
        if let Some(r) = sf.rate {
            p.push_str(&format!(
                ", tỷ lệ hài lòng và rất hài lòng đạt {}",
                percent_vi(r)
            ));
        }
        p.push('.');
        out.push(p);
    }

    // Budget.
    let b = &s.budget.figures;
    if s.budget.units_submitted > 0 {
        let mut p = format!(
            "Về kinh phí tuyên truyền năm {}: {} đơn vị lập dự toán {} đồng, đã chi {} đồng",
            s.budget.year,
            n(s.budget.units_submitted),
            n(b.planned_vnd),
            n(b.spent_vnd)
        );
        if let Some(r) = b.execution_rate {
            p.push_str(&format!(" ({} dự toán)", percent_vi(r)));
        }
        p.push('.');
        out.push(p);
    }
    out
}
