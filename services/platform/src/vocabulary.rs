//! The domain's words, defined once for every service: the values the API, the events
//! and the databases carry as text. A service checks input against these lists and
//! names a value by its constant, never by spelling it again.

pub use crate::caller::Role;

/// Kinds of communication activity (hình thức tuyên truyền) the plan names, in the
/// order reports list them.
pub mod activity_kind {
    pub const BRIEFING: &str = "briefing";
    pub const NEWS_POST: &str = "news_post";
    pub const TRAINING: &str = "training";
    pub const POSTING: &str = "posting";
    pub const COMMENDATION: &str = "commendation";
    pub const CRITICISM: &str = "criticism";
    pub const ONE_STOP_PUBLICATION: &str = "one_stop_publication";
    pub const MEDIA_COORDINATION: &str = "media_coordination";
    pub const OTHER: &str = "other";

    pub const ALL: &[&str] = &[
        BRIEFING,
        NEWS_POST,
        TRAINING,
        POSTING,
        COMMENDATION,
        CRITICISM,
        ONE_STOP_PUBLICATION,
        MEDIA_COORDINATION,
        OTHER,
    ];
}

/// What a new version of a procedure does (loại thay đổi in the announcing decision).
pub mod change_type {
    pub const NEW: &str = "new";
    pub const AMENDED: &str = "amended";
    pub const REPLACED: &str = "replaced";
    pub const ABOLISHED: &str = "abolished";

    pub const ALL: &[&str] = &[NEW, AMENDED, REPLACED, ABOLISHED];
    /// The change types of a publication (abolishing has its own request).
    pub const PUBLISHING: &[&str] = &[NEW, AMENDED, REPLACED];
}

/// Where a procedure stands.
pub mod procedure_status {
    /// Never published: only the office sees it.
    pub const DRAFT: &str = "draft";
    pub const PUBLISHED: &str = "published";
    pub const ABOLISHED: &str = super::change_type::ABOLISHED;

    /// The statuses the public catalogue can be filtered by.
    pub const PUBLIC: &[&str] = &[PUBLISHED, ABOLISHED];
}

/// Where a legal document stands.
pub mod legal_status {
    pub const IN_FORCE: &str = "in_force";
    pub const AMENDED: &str = "amended";
    pub const REPEALED: &str = "repealed";

    pub const ALL: &[&str] = &[IN_FORCE, AMENDED, REPEALED];

    /// The status as the Department's papers say it.
    pub fn label_vi(code: &str) -> &str {
        match code {
            IN_FORCE => "Còn hiệu lực",
            AMENDED => "Đã được sửa đổi",
            REPEALED => "Đã bị bãi bỏ",
            other => other,
        }
    }
}

/// Kinds of unit under the Department.
pub mod unit_kind {
    /// Where a kind of unit stands in the Department's own lists: the Department, its
    /// divisions, the district (then commune) offices, the high schools, the affiliated
    /// units, the rest; within a kind, by name.
    pub fn rank(kind: &str) -> u8 {
        match kind {
            DEPARTMENT => 0,
            DIVISION => 1,
            DISTRICT_OFFICE => 2,
            COMMUNE_OFFICE => 3,
            HIGH_SCHOOL => 4,
            AFFILIATED_UNIT => 5,
            _ => 6,
        }
    }

    /// [`rank`] in SQL, for the kind column `column`.
    pub fn rank_sql(column: &str) -> String {
        format!(
            "CASE {column} WHEN '{DEPARTMENT}' THEN 0 WHEN '{DIVISION}' THEN 1 WHEN '{DISTRICT_OFFICE}' THEN 2 \
             WHEN '{COMMUNE_OFFICE}' THEN 3 WHEN '{HIGH_SCHOOL}' THEN 4 WHEN '{AFFILIATED_UNIT}' THEN 5 ELSE 6 END"
        )
    }

    /// The Department itself (Sở): its office and operators act from it.
    pub const DEPARTMENT: &str = "department";
    pub const DIVISION: &str = "division";
    pub const HIGH_SCHOOL: &str = "high_school";
    pub const DISTRICT_OFFICE: &str = "district_office";
    pub const COMMUNE_OFFICE: &str = "commune_office";
    pub const AFFILIATED_UNIT: &str = "affiliated_unit";
    pub const OTHER: &str = "other";

    pub const ALL: &[&str] = &[
        DEPARTMENT,
        DIVISION,
        HIGH_SCHOOL,
        DISTRICT_OFFICE,
        COMMUNE_OFFICE,
        AFFILIATED_UNIT,
        OTHER,
    ];
}

/// A unit's lifecycle.
pub mod unit_status {
    pub const ACTIVE: &str = "active";
    pub const RENAMED: &str = "renamed";
    pub const MERGED: &str = "merged";
    pub const CLOSED: &str = "closed";

    /// Whether a unit of this status still acts: a merged or closed one keeps its
    /// records but writes nothing more.
    pub fn acts(status: &str) -> bool {
        status != MERGED && status != CLOSED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_listed_as_the_department_lists_them() {
        use unit_kind::*;
        let mut kinds = vec![
            OTHER,
            AFFILIATED_UNIT,
            HIGH_SCHOOL,
            COMMUNE_OFFICE,
            DISTRICT_OFFICE,
            DIVISION,
            DEPARTMENT,
        ];
        kinds.sort_by_key(|k| rank(k));
        assert_eq!(
            kinds,
            [
                DEPARTMENT,
                DIVISION,
                DISTRICT_OFFICE,
                COMMUNE_OFFICE,
                HIGH_SCHOOL,
                AFFILIATED_UNIT,
                OTHER
            ]
        );
        assert!(rank_sql("u.kind").starts_with("CASE u.kind WHEN 'department' THEN 0"));
    }

    #[test]
    fn lists_hold_their_words_once() {
        for list in [
            activity_kind::ALL,
            change_type::ALL,
            legal_status::ALL,
            unit_kind::ALL,
        ] {
            let mut sorted = list.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), list.len());
        }
        assert_eq!(procedure_status::ABOLISHED, change_type::ABOLISHED);
        assert!(unit_status::acts(unit_status::RENAMED));
        assert!(!unit_status::acts(unit_status::CLOSED));
    }
}
