//! The published catalogue as CPSV-AP JSON-LD (the EU Core Public Service Vocabulary
//! Application Profile), for portals that speak it.

use cchc_proto::catalogue::v1::ProcedureView;
use serde_json::{Value, json};

const CHANNEL_TYPES: &[(&str, &str)] = &[
    ("in_person", "Trực tiếp (in person)"),
    ("online", "Trực tuyến (online)"),
    ("post", "Bưu chính (postal)"),
];

fn channel_label(c: &str) -> &str {
    CHANNEL_TYPES
        .iter()
        .find(|(k, _)| *k == c)
        .map_or(c, |(_, l)| l)
}

fn vi(text: &str) -> Value {
    json!({"@value": text, "@language": "vi"})
}

/// One `cpsv:PublicService` per published procedure.
pub(super) fn cpsv_ap(procedures: &[ProcedureView]) -> Value {
    let graph: Vec<Value> = procedures
        .iter()
        .map(|p| {
            let c = p.content.clone().unwrap_or_default();
            let id = format!("urn:cchc:procedure:{}", p.code);
            let description = [
                format!("Lĩnh vực: {}", c.field),
                format!("Cấp thực hiện: {}", c.level),
                format!("Đối tượng thực hiện: {}", c.applicants.join("; ")),
                format!("Trình tự thực hiện: {}", c.steps.join(" → ")),
                format!("Kết quả: {}", c.result),
            ]
            .join("\n");
            let mut legal: Vec<Value> = p
                .legal_documents
                .iter()
                .map(|d| json!({"@id": format!("urn:cchc:legal-document:{}", d.id), "@type": "eli:LegalResource",
                                "eli:id_local": d.number_symbol, "dct:title": vi(&d.summary)}))
                .collect();
            legal.extend(c.legal_basis.iter().map(|b| json!({"@type": "eli:LegalResource", "dct:title": vi(b)})));
            json!({
                "@id": id,
                "@type": "cpsv:PublicService",
                "dct:identifier": p.code,
                "dct:title": vi(&c.name),
                "dct:description": vi(&description),
                "cv:sector": vi(&c.field),
                "dct:hasVersion": p.version,
                "cv:hasCompetentAuthority": {"@type": "cv:PublicOrganisation", "skos:prefLabel": vi(&c.implementing_agency)},
                "cv:hasChannel": c.submission_channels.iter().map(|ch| json!({"@type": "cv:Channel", "dct:type": ch, "skos:prefLabel": channel_label(ch)})).collect::<Vec<_>>(),
                "cv:hasCost": c.fees.iter().map(|f| json!({"@type": "cv:Cost", "cv:value": f.amount_vnd, "cv:currency": "VND",
                                                          "dct:description": vi(format!("{} {}", channel_label(&f.channel), f.note).trim())})).collect::<Vec<_>>(),
                "cv:processingTime": c.processing_days.map(processing_time),
                "cv:hasInput": c.dossier.iter().map(|d| json!({"@type": "cv:Evidence", "dct:title": vi(&d.name)})).collect::<Vec<_>>(),
                "cv:hasLegalResource": legal,
                "cv:produces": {"@type": "cv:Output", "dct:title": vi(&c.result)},
                "dct:temporal": {"@type": "dct:PeriodOfTime", "dcat:startDate": p.effective_date},
            })
        })
        .collect();
    json!({
        "@context": {
            "cpsv": "http://purl.org/vocab/cpsv#",
            "cv": "http://data.europa.eu/m8g/",
            "dct": "http://purl.org/dc/terms/",
            "dcat": "http://www.w3.org/ns/dcat#",
            "eli": "http://data.europa.eu/eli/ontology#",
            "skos": "http://www.w3.org/2004/02/skos/core#"
        },
        "@graph": graph
    })
}

/// A time limit as an xsd:duration. ISO 8601 has no working-day unit, so a day stands
/// for a working day; xsd allows no fraction of a day, so a part day is written in
/// working hours (eight to a day): 0,5 ngày is `P0DT4H`, the same day `P0D`.
fn processing_time(days: f64) -> String {
    let whole = days.trunc();
    let minutes = ((days - whole) * 8.0 * 60.0).round() as u64;
    match (minutes / 60, minutes % 60) {
        (0, 0) => format!("P{whole}D"),
        (h, 0) => format!("P{whole}DT{h}H"),
        (h, m) => format!("P{whole}DT{h}H{m}M"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cchc_proto::catalogue::v1::{Fee, ProcedureContent};

    #[test]
    fn procedure_becomes_a_public_service() {
        let p = ProcedureView {
            code: "1.012753.H19".into(),
            version: 2,
            status: cchc_platform::vocabulary::procedure_status::PUBLISHED.into(),
            content: Some(ProcedureContent {
                name: "Cấp bản sao văn bằng".into(),
                implementing_agency: "Sở GD&ĐT".into(),
                submission_channels: vec!["online".into()],
                fees: vec![Fee {
                    channel: "online".into(),
                    amount_vnd: 10_000,
                    note: String::new(),
                }],
                processing_days: Some(3.0),
                ..Default::default()
            }),
            ..Default::default()
        };
        let doc = cpsv_ap(&[p]);
        let s = &doc["@graph"][0];
        assert_eq!(s["@type"], "cpsv:PublicService");
        assert_eq!(s["dct:identifier"], "1.012753.H19");
        assert_eq!(s["dct:title"]["@value"], "Cấp bản sao văn bằng");
        assert_eq!(s["cv:hasCost"][0]["cv:value"], 10_000);
        assert_eq!(s["cv:processingTime"], "P3D");
        assert_eq!(processing_time(0.0), "P0D");
        assert_eq!(processing_time(0.5), "P0DT4H");
        assert_eq!(processing_time(1.25), "P1DT2H");
        assert_eq!(processing_time(2.1), "P2DT0H48M");
        assert_eq!(
            s["cv:hasCompetentAuthority"]["skos:prefLabel"]["@value"],
            "Sở GD&ĐT"
        );
    }
}
