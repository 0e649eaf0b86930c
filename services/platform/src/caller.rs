//! Who is calling: the unit and role the gateway derived from the API key, carried to
//! the services in gRPC metadata. Services check role and ownership themselves.

use tonic::metadata::MetadataMap;

pub const UNIT_HEADER: &str = "x-cchc-unit-id";
pub const ROLE_HEADER: &str = "x-cchc-role";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A unit's staff.
    Unit,
    /// The Department Office.
    Office,
    /// Leadership: reads everything, writes nothing.
    Leader,
    /// IT staff: health, keys, replays.
    Operator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Unit => "unit",
            Role::Office => "office",
            Role::Leader => "leader",
            Role::Operator => "operator",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "unit" => Role::Unit,
            "office" => Role::Office,
            "leader" => Role::Leader,
            "operator" => Role::Operator,
            _ => return None,
        })
    }
}

/// An authenticated caller. Anonymous callers have no `Caller`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub unit_id: uuid::Uuid,
    pub role: Role,
}

impl Caller {
    /// Writes the caller into outgoing gRPC metadata.
    pub fn insert_into(&self, md: &mut MetadataMap) {
        if let Ok(v) = self.unit_id.to_string().parse() {
            md.insert(UNIT_HEADER, v);
        }
        md.insert(
            ROLE_HEADER,
            tonic::metadata::MetadataValue::from_static(self.role.as_str()),
        );
    }

    /// Reads the caller from incoming metadata; `Ok(None)` when anonymous.
    pub fn from_metadata(md: &MetadataMap) -> Result<Option<Self>, tonic::Status> {
        let unit = md.get(UNIT_HEADER).and_then(|v| v.to_str().ok());
        let role = md.get(ROLE_HEADER).and_then(|v| v.to_str().ok());
        match (unit, role) {
            (None, None) => Ok(None),
            (Some(u), Some(r)) => {
                let unit_id = u
                    .parse()
                    .map_err(|_| tonic::Status::unauthenticated("malformed caller unit"))?;
                let role = Role::parse(r)
                    .ok_or_else(|| tonic::Status::unauthenticated("unknown caller role"))?;
                Ok(Some(Caller { unit_id, role }))
            }
            _ => Err(tonic::Status::unauthenticated("incomplete caller metadata")),
        }
    }

    /// The caller, who must have one of `roles`.
    pub fn require<T>(req: &tonic::Request<T>, roles: &[Role]) -> Result<Self, tonic::Status> {
        let caller = Self::from_metadata(req.metadata())?
            .ok_or_else(|| tonic::Status::unauthenticated("an API key is required"))?;
        if roles.contains(&caller.role) {
            Ok(caller)
        } else {
            Err(tonic::Status::permission_denied(format!(
                "the {} role may not do this",
                caller.role.as_str()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_round_trips_through_metadata() {
        let c = Caller {
            unit_id: uuid::Uuid::new_v4(),
            role: Role::Office,
        };
        let mut md = MetadataMap::new();
        c.insert_into(&mut md);
        assert_eq!(Caller::from_metadata(&md).unwrap(), Some(c));
    }

    #[test]
    fn wrong_role_is_permission_denied() {
        let c = Caller {
            unit_id: uuid::Uuid::new_v4(),
            role: Role::Leader,
        };
        let mut req = tonic::Request::new(());
        c.insert_into(req.metadata_mut());
        let e = Caller::require(&req, &[Role::Office]).unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied);
        let anon = tonic::Request::new(());
        assert_eq!(
            Caller::require(&anon, &[Role::Office]).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
    }
}
