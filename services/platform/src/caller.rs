//! Who is calling: the unit and role the gateway derived from the API key, carried to
//! the services in gRPC metadata. Services check role and ownership themselves.
//!
//! The gateway signs the caller (HMAC-SHA256 with `CCHC_INTERNAL_TOKEN`, shared by the
//! gateway and the services), so a call that bypasses the gateway cannot claim to be
//! any unit: once a key is installed, unsigned or mis-signed caller metadata is refused.

use std::sync::OnceLock;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tonic::metadata::MetadataMap;

pub const UNIT_HEADER: &str = "x-cchc-unit-id";
pub const ROLE_HEADER: &str = "x-cchc-role";
pub const SIGNATURE_HEADER: &str = "x-cchc-caller-signature";

static SIGNING_KEY: OnceLock<Vec<u8>> = OnceLock::new();

/// Installs the process-wide key that signs (gateway) and verifies (services) callers.
pub fn install_signing_key(secret: &str) {
    let _ = SIGNING_KEY.set(secret.as_bytes().to_vec());
}

fn mac(key: &[u8], unit: &str, role: &str) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    m.update(unit.as_bytes());
    m.update(b"|");
    m.update(role.as_bytes());
    m
}

/// The signature of a caller under `secret` (tests use it to call services directly).
pub fn signature(secret: &str, unit: &str, role: &str) -> String {
    hex::encode(mac(secret.as_bytes(), unit, role).finalize().into_bytes())
}

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
        if let Some(key) = SIGNING_KEY.get() {
            let sig = mac(key, &self.unit_id.to_string(), self.role.as_str()).finalize();
            if let Ok(v) = hex::encode(sig.into_bytes()).parse() {
                md.insert(SIGNATURE_HEADER, v);
            }
        }
    }

    /// Reads the caller from incoming metadata; `Ok(None)` when anonymous.
    pub fn from_metadata(md: &MetadataMap) -> Result<Option<Self>, tonic::Status> {
        let unit = md.get(UNIT_HEADER).and_then(|v| v.to_str().ok());
        let role = md.get(ROLE_HEADER).and_then(|v| v.to_str().ok());
        match (unit, role) {
            (None, None) => Ok(None),
            (Some(u), Some(r)) => {
                if let Some(key) = SIGNING_KEY.get() {
                    let sig = md
                        .get(SIGNATURE_HEADER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| hex::decode(v).ok())
                        .ok_or_else(|| {
                            tonic::Status::unauthenticated(
                                "the caller is not signed by the gateway",
                            )
                        })?;
                    mac(key, u, r).verify_slice(&sig).map_err(|_| {
                        tonic::Status::unauthenticated("the caller's signature does not match")
                    })?;
                }
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

    #[test]
    fn signed_callers_only_once_a_key_is_installed() {
        install_signing_key("internal-secret-for-tests");
        let c = Caller {
            unit_id: uuid::Uuid::new_v4(),
            role: Role::Unit,
        };
        let mut md = MetadataMap::new();
        c.insert_into(&mut md);
        assert_eq!(Caller::from_metadata(&md).unwrap(), Some(c.clone()));

        // A caller claimed without the gateway's signature, or for another unit with a
        // copied signature, is refused.
        let mut forged = MetadataMap::new();
        forged.insert(
            UNIT_HEADER,
            uuid::Uuid::new_v4().to_string().parse().unwrap(),
        );
        forged.insert(ROLE_HEADER, "office".parse().unwrap());
        assert_eq!(
            Caller::from_metadata(&forged).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        forged.insert(SIGNATURE_HEADER, md.get(SIGNATURE_HEADER).unwrap().clone());
        assert_eq!(
            Caller::from_metadata(&forged).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        assert_eq!(
            signature("internal-secret-for-tests", &c.unit_id.to_string(), "unit"),
            md.get(SIGNATURE_HEADER).unwrap().to_str().unwrap()
        );
    }
}
