//! Legal documents, what they amend or repeal, and the procedures they base.

use cchc_platform::Actor;
use cchc_platform::text::{fold, terms};
use cchc_platform::vocabulary::legal_status;
use cchc_proto::catalogue::v1::{LegalDocument, LegalDocumentRef, SearchLegalDocumentsResponse};
use cchc_proto::events::v1::{LegalDocumentChanged, LegalDocumentIssued};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{Error, Store};
use crate::domain::{LegalDocumentSearch, NewLegalDocument};

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    number_symbol: String,
    doc_type: String,
    summary: String,
    issuer: String,
    signed_date: chrono::NaiveDate,
    effective_date: chrono::NaiveDate,
    status: String,
    created_at: chrono::DateTime<chrono::Utc>,
    created_by: Option<String>,
    updated_at: chrono::DateTime<chrono::Utc>,
    updated_by: Option<String>,
}

const COLUMNS: &str =
    "id, number_symbol, doc_type, summary, issuer, signed_date, effective_date, status,
                       created_at, created_by, updated_at, updated_by";

fn not_found(id: Uuid) -> Error {
    Error::NotFound(format!("legal document {id}"))
}

fn issued(r: &Row, procedure_codes: Vec<String>) -> LegalDocumentIssued {
    LegalDocumentIssued {
        id: r.id.to_string(),
        number_symbol: r.number_symbol.clone(),
        r#type: r.doc_type.clone(),
        summary: r.summary.clone(),
        issuer: r.issuer.clone(),
        status: r.status.clone(),
        effective_date: r.effective_date.to_string(),
        procedure_codes,
    }
}

/// A document as another record names it.
#[derive(sqlx::FromRow)]
pub(super) struct RefRow {
    id: Uuid,
    number_symbol: String,
    summary: String,
    status: String,
}

impl From<RefRow> for LegalDocumentRef {
    fn from(r: RefRow) -> Self {
        LegalDocumentRef {
            id: r.id.to_string(),
            number_symbol: r.number_symbol,
            summary: r.summary,
            status: r.status,
        }
    }
}

/// The legal documents the procedure `code` is based on.
pub(super) async fn bases_of(
    conn: &mut PgConnection,
    code: &str,
) -> Result<Vec<LegalDocumentRef>, Error> {
    let rows: Vec<RefRow> = sqlx::query_as(
        "SELECT d.id, d.number_symbol, d.summary, d.status FROM legal_bases b JOIN legal_documents d ON d.id = b.document_id
         WHERE b.code = $1 ORDER BY d.signed_date, d.number_symbol",
    )
    .bind(code)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

async fn refs(
    conn: &mut PgConnection,
    sql: &'static str,
    id: Uuid,
    relation: &str,
) -> Result<Vec<LegalDocumentRef>, Error> {
    let rows: Vec<RefRow> = sqlx::query_as(sql)
        .bind(id)
        .bind(relation)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

const TARGETS: &str = "SELECT d.id, d.number_symbol, d.summary, d.status FROM legal_document_links l JOIN legal_documents d ON d.id = l.to_id
                       WHERE l.from_id = $1 AND l.relation = $2 ORDER BY d.number_symbol";
const SOURCES: &str = "SELECT d.id, d.number_symbol, d.summary, d.status FROM legal_document_links l JOIN legal_documents d ON d.id = l.from_id
                       WHERE l.to_id = $1 AND l.relation = $2 ORDER BY d.number_symbol";

/// How one document changes another (`legal_document_links.relation`).
const AMENDS: &str = "amends";
const REPEALS: &str = "repeals";

impl Store {
    /// Records a document, marks what it amends or repeals, links the procedures it
    /// bases, and emits the events, all in one transaction and all by `actor`.
    pub async fn create_legal_document(
        &self,
        actor: &Actor,
        d: &NewLegalDocument,
    ) -> Result<LegalDocument, Error> {
        let mut tx = self.pool.begin().await?;
        let actor_text = actor.to_string();
        let id = Uuid::now_v7();
        let search = fold(&format!(
            "{} {} {} {}",
            d.number_symbol, d.summary, d.issuer, d.doc_type
        ));
        let inserted: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "INSERT INTO legal_documents (id, number_symbol, doc_type, summary, issuer, signed_date, effective_date, status, search_text,
                                          created_by, updated_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) ON CONFLICT (number_symbol) DO NOTHING RETURNING {COLUMNS}"
        )))
        .bind(id)
        .bind(&d.number_symbol)
        .bind(d.doc_type)
        .bind(&d.summary)
        .bind(&d.issuer)
        .bind(d.signed_date)
        .bind(d.effective_date)
        .bind(legal_status::IN_FORCE)
        .bind(search)
        .bind(&actor_text)
        .fetch_optional(&mut *tx)
        .await?;
        let row = inserted.ok_or_else(|| {
            Error::Conflict(format!(
                "legal document {} is already recorded",
                d.number_symbol
            ))
        })?;
        let codes: Vec<String> = d
            .procedure_codes
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect();
        for code in &codes {
            let known: Option<i32> = sqlx::query_scalar("SELECT 1 FROM procedures WHERE code = $1")
                .bind(code)
                .fetch_optional(&mut *tx)
                .await?;
            if known.is_none() {
                return Err(Error::Rule(format!(
                    "procedure {code} is not in the catalogue"
                )));
            }
            sqlx::query("INSERT INTO legal_bases (document_id, code) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(id)
                .bind(code)
                .execute(&mut *tx)
                .await?;
        }
        self.outbox
            .enqueue(&mut tx, actor, &issued(&row, codes))
            .await?;
        for (targets, relation, status) in [
            (&d.amends, AMENDS, legal_status::AMENDED),
            (&d.repeals, REPEALS, legal_status::REPEALED),
        ] {
            for target in targets {
                // Repealed stays repealed even if later amended; either way the document
                // gains a link, so it changed, by whoever recorded the new one.
                let changed: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "UPDATE legal_documents SET status = CASE WHEN status = $3 THEN status ELSE $2 END,
                       updated_at = now(), updated_by = $4
                     WHERE id = $1 RETURNING {COLUMNS}"
                )))
                .bind(target)
                .bind(status)
                .bind(legal_status::REPEALED)
                .bind(&actor_text)
                .fetch_optional(&mut *tx)
                .await?;
                let changed = changed.ok_or_else(|| {
                    Error::Rule(format!(
                        "the document it {relation} ({target}) is not recorded"
                    ))
                })?;
                sqlx::query("INSERT INTO legal_document_links (from_id, to_id, relation) VALUES ($1, $2, $3)")
                    .bind(id)
                    .bind(target)
                    .bind(relation)
                    .execute(&mut *tx)
                    .await?;
                let bases: Vec<String> = sqlx::query_scalar(
                    "SELECT code FROM legal_bases WHERE document_id = $1 ORDER BY code",
                )
                .bind(target)
                .fetch_all(&mut *tx)
                .await?;
                self.outbox
                    .enqueue(
                        &mut tx,
                        actor,
                        &LegalDocumentChanged {
                            document: Some(issued(&changed, bases)),
                            changed_by: id.to_string(),
                        },
                    )
                    .await?;
            }
        }
        let doc = self.legal_document_in(&mut tx, id).await?;
        tx.commit().await?;
        self.outbox.notify();
        Ok(doc)
    }

    pub async fn legal_document(&self, id: Uuid) -> Result<LegalDocument, Error> {
        let mut conn = self.pool.acquire().await?;
        self.legal_document_in(&mut conn, id).await
    }

    async fn legal_document_in(
        &self,
        conn: &mut PgConnection,
        id: Uuid,
    ) -> Result<LegalDocument, Error> {
        let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM legal_documents WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        let row = row.ok_or_else(|| not_found(id))?;
        view(conn, row).await
    }

    /// Documents whose number, summary, issuer or type contain every word of the
    /// search (diacritics and case ignored), latest signed first.
    pub async fn search_legal_documents(
        &self,
        s: &LegalDocumentSearch,
    ) -> Result<SearchLegalDocumentsResponse, Error> {
        let mut conn = self.pool.acquire().await?;
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM legal_documents
             WHERE NOT EXISTS (SELECT 1 FROM unnest($1::text[]) t WHERE position(t IN search_text) = 0)
               AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR doc_type = $3)
             ORDER BY signed_date DESC, number_symbol LIMIT $4 OFFSET $5"
        )))
        .bind(terms(&s.q))
        .bind(s.status)
        .bind(s.doc_type)
        .bind(s.page.fetch())
        .bind(s.page.offset())
        .fetch_all(&mut *conn)
        .await?;
        let (rows, next_page_token) = s.page.page(rows);
        let mut documents = Vec::with_capacity(rows.len());
        for r in rows {
            documents.push(view(&mut conn, r).await?);
        }
        Ok(SearchLegalDocumentsResponse {
            documents,
            next_page_token,
        })
    }
}

/// The whole record of a document: its links both ways and the procedures it bases.
async fn view(conn: &mut PgConnection, r: Row) -> Result<LegalDocument, Error> {
    let procedure_codes =
        sqlx::query_scalar("SELECT code FROM legal_bases WHERE document_id = $1 ORDER BY code")
            .bind(r.id)
            .fetch_all(&mut *conn)
            .await?;
    Ok(LegalDocument {
        amends: refs(conn, TARGETS, r.id, AMENDS).await?,
        repeals: refs(conn, TARGETS, r.id, REPEALS).await?,
        amended_by: refs(conn, SOURCES, r.id, AMENDS).await?,
        repealed_by: refs(conn, SOURCES, r.id, REPEALS).await?,
        id: r.id.to_string(),
        number_symbol: r.number_symbol,
        r#type: r.doc_type,
        summary: r.summary,
        issuer: r.issuer,
        signed_date: r.signed_date.to_string(),
        effective_date: r.effective_date.to_string(),
        status: r.status,
        procedure_codes,
        created_at: cchc_platform::time::stamp(&r.created_at),
        created_by: r.created_by.unwrap_or_default(),
        updated_at: cchc_platform::time::stamp(&r.updated_at),
        updated_by: r.updated_by.unwrap_or_default(),
    })
}
