//! Turning events into messages. Each handler runs inside the consumer's transaction, so
//! the messages and the "processed" record commit together.

use cchc_platform::consumer::{HandleError, Handler};
use cchc_platform::events::payload;
use cchc_proto::events::v1::{Envelope, ProcedurePublished, UnitCreated};
use sqlx::PgConnection;
use uuid::Uuid;

pub struct Notifier;

fn permanent(e: impl Into<anyhow::Error>) -> HandleError {
    HandleError::Permanent(e.into())
}

/// The inbox text for a procedure change, in Vietnamese as the units read it.
pub fn procedure_message(p: &ProcedurePublished) -> (String, String) {
    let action = match p.change_type.as_str() {
        "amended" => "sửa đổi, bổ sung",
        "replaced" => "thay thế",
        "abolished" => "bãi bỏ",
        _ => "công bố mới",
    };
    let subject = format!("Thủ tục hành chính {action}: {}", p.name);
    let body = format!(
        "Thủ tục \"{}\" (mã {}, lĩnh vực {}) được {action} theo Quyết định số {}, có hiệu lực từ ngày {}. \
         Đề nghị đơn vị niêm yết phiên bản {} tại trụ sở và xác nhận niêm yết.",
        p.name,
        p.code,
        p.field,
        p.decision_number,
        vietnamese_date(&p.effective_date),
        p.version
    );
    (subject, body)
}

/// `2020-03-05` as the Department writes it, `05/03/2020`.
fn vietnamese_date(iso: &str) -> String {
    chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d")
        .map(|d| d.format("%d/%m/%Y").to_string())
        .unwrap_or_else(|_| iso.to_owned())
}

impl Handler for Notifier {
    async fn handle(&self, tx: &mut PgConnection, env: &Envelope) -> Result<(), HandleError> {
        let event_id: Uuid = env.id.parse().map_err(permanent)?;
        if let Some(u) = payload::<UnitCreated>(env) {
            let u = u.map_err(permanent)?;
            let id: Uuid = u.unit_id.parse().map_err(permanent)?;
            let parent: Option<Uuid> = u.parent_id.parse().ok();
            sqlx::query(
                "INSERT INTO units (unit_id, name, kind, parent_id) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (unit_id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, parent_id = EXCLUDED.parent_id",
            )
            .bind(id)
            .bind(&u.name)
            .bind(&u.kind)
            .bind(parent)
            .execute(&mut *tx)
            .await?;
        } else if let Some(p) = payload::<ProcedurePublished>(env) {
            let p = p.map_err(permanent)?;
            let (subject, body) = procedure_message(&p);
            // One inbox message per unit; the unique key makes a repeat a no-op.
            sqlx::query(
                "INSERT INTO messages (id, unit_id, channel, event_id, event_type, template, template_version, subject, body)
                 SELECT gen_random_uuid(), unit_id, 'inbox', $1, $2, 'procedure_changed', 1, $3, $4 FROM units
                 ON CONFLICT (event_id, unit_id, channel) DO NOTHING",
            )
            .bind(event_id)
            .bind(&env.r#type)
            .bind(&subject)
            .bind(&body)
            .execute(&mut *tx)
            .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn procedure_message_is_vietnamese_with_local_date() {
        let (subject, body) = procedure_message(&ProcedurePublished {
            code: "1.012753.H19".into(),
            version: 2,
            name: "Cấp bản sao văn bằng".into(),
            change_type: "amended".into(),
            decision_number: "12/QĐ-UBND".into(),
            effective_date: "2020-03-05".into(),
            ..Default::default()
        });
        assert_eq!(
            subject,
            "Thủ tục hành chính sửa đổi, bổ sung: Cấp bản sao văn bằng"
        );
        assert!(
            body.contains("05/03/2020") && body.contains("phiên bản 2"),
            "{body}"
        );
    }
}
