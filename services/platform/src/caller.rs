//! Who is calling: the unit and role the gateway derived from the credential, and the
//! actor (the person signed in, or the API key of a program) each write is attributed
//! to, carried to the services in gRPC metadata. Services check role and ownership
//! themselves and record the actor with every write and event.
//!
//! The gateway signs the caller (HMAC-SHA256 with `CCHC_INTERNAL_TOKEN`, shared by the
//! gateway and the services), so a call that bypasses the gateway cannot claim to be
//! any unit. The key is part of each server: [`crate::grpc::serve`] cannot be called
//! without one, and its [`verify_layer`] refuses unsigned or mis-signed caller metadata
//! before any handler runs and leaves the verified caller in the request's extensions,
//! where [`Caller::require`] and [`Caller::of`] read it.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tonic::metadata::MetadataMap;

pub const UNIT_HEADER: &str = "x-cchc-unit-id";
pub const ROLE_HEADER: &str = "x-cchc-role";
pub const ACTOR_HEADER: &str = "x-cchc-actor";
pub const SIGNATURE_HEADER: &str = "x-cchc-caller-signature";

fn mac(key: &[u8], unit: &str, role: &str, actor: &str) -> Hmac<Sha256> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts any key length");
    m.update(unit.as_bytes());
    m.update(b"|");
    m.update(role.as_bytes());
    m.update(b"|");
    m.update(actor.as_bytes());
    m
}

/// The signature of a caller under `secret` (tests use it to call services directly).
pub fn signature(secret: &str, unit: &str, role: &str, actor: &str) -> String {
    hex::encode(
        mac(secret.as_bytes(), unit, role, actor)
            .finalize()
            .into_bytes(),
    )
}

/// Whom a write is attributed to: a person signed in, a program's API key, or the
/// system itself (scheduled work, report jobs). Written `user:<uuid>`, `key:<uuid>` or
/// `system` in records, events and metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    User(uuid::Uuid),
    Key(uuid::Uuid),
    System,
}

impl Actor {
    pub fn parse(s: &str) -> Option<Self> {
        if s == "system" {
            return Some(Actor::System);
        }
        let (kind, id) = s.split_once(':')?;
        let id = id.parse().ok()?;
        match kind {
            "user" => Some(Actor::User(id)),
            "key" => Some(Actor::Key(id)),
            _ => None,
        }
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::User(id) => write!(f, "user:{id}"),
            Actor::Key(id) => write!(f, "key:{id}"),
            Actor::System => f.write_str("system"),
        }
    }
}

/// The secret callers are signed (gateway) and verified (services) with.
#[derive(Clone)]
pub struct CallerKey(Arc<[u8]>);

impl std::fmt::Debug for CallerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallerKey(hidden)")
    }
}

impl CallerKey {
    pub fn new(secret: &str) -> Self {
        Self(secret.as_bytes().into())
    }

    /// Writes `caller`, signed, into outgoing gRPC metadata.
    pub fn sign(&self, caller: &Caller, md: &mut MetadataMap) {
        if let Ok(v) = caller.unit_id.to_string().parse() {
            md.insert(UNIT_HEADER, v);
        }
        md.insert(
            ROLE_HEADER,
            tonic::metadata::MetadataValue::from_static(caller.role.as_str()),
        );
        let actor = caller.actor.to_string();
        if let Ok(v) = actor.parse() {
            md.insert(ACTOR_HEADER, v);
        }
        let sig = mac(
            &self.0,
            &caller.unit_id.to_string(),
            caller.role.as_str(),
            &actor,
        )
        .finalize();
        if let Ok(v) = hex::encode(sig.into_bytes()).parse() {
            md.insert(SIGNATURE_HEADER, v);
        }
    }

    /// A request carrying `message` from `unit` acting as `role`, signed (for calling a
    /// running service directly, as tests do; the actor is the system).
    pub fn request<T>(&self, unit_id: uuid::Uuid, role: Role, message: T) -> tonic::Request<T> {
        let mut req = tonic::Request::new(message);
        self.sign(
            &Caller::new(unit_id, role, Actor::System),
            req.metadata_mut(),
        );
        req
    }

    /// Seals `plaintext` for `purpose` so only holders of this key (the gateway and
    /// the services) can read it: what an event carries that must not be usable by
    /// whoever can read the stream (one-time account links). Nonce, then ciphertext.
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> Vec<u8> {
        use chacha20poly1305::aead::{Aead, KeyInit};
        use rand::RngCore;
        let cipher = chacha20poly1305::ChaCha20Poly1305::new(&self.sealing_key(purpose).into());
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(&nonce.into(), plaintext)
            .expect("sealing a message in memory does not fail");
        [nonce.as_slice(), &sealed].concat()
    }

    /// Opens what [`CallerKey::seal`] sealed for `purpose`; `None` when it was sealed
    /// under another key or purpose, or altered.
    pub fn open(&self, purpose: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        use chacha20poly1305::aead::{Aead, KeyInit};
        if sealed.len() < 12 {
            return None;
        }
        let (nonce, body) = sealed.split_at(12);
        let cipher = chacha20poly1305::ChaCha20Poly1305::new(&self.sealing_key(purpose).into());
        cipher
            .decrypt(chacha20poly1305::Nonce::from_slice(nonce), body)
            .ok()
    }

    /// A key for sealing, derived from the signing secret and kept apart from it by
    /// `purpose`.
    fn sealing_key(&self, purpose: &str) -> [u8; 32] {
        let mut m = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts any key length");
        m.update(b"cchc sealing key|");
        m.update(purpose.as_bytes());
        m.finalize().into_bytes().into()
    }

    /// Reads the caller from incoming metadata: `Ok(None)` when anonymous, an error when
    /// the caller is claimed without a signature this key made.
    pub fn verify(&self, md: &MetadataMap) -> Result<Option<Caller>, tonic::Status> {
        let unit = md.get(UNIT_HEADER).and_then(|v| v.to_str().ok());
        let role = md.get(ROLE_HEADER).and_then(|v| v.to_str().ok());
        let actor = md.get(ACTOR_HEADER).and_then(|v| v.to_str().ok());
        let (u, r, a) = match (unit, role, actor) {
            (None, None, None) => return Ok(None),
            (Some(u), Some(r), Some(a)) => (u, r, a),
            _ => return Err(tonic::Status::unauthenticated("incomplete caller metadata")),
        };
        let sig = md
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| hex::decode(v).ok())
            .ok_or_else(|| {
                tonic::Status::unauthenticated("the caller is not signed by the gateway")
            })?;
        mac(&self.0, u, r, a)
            .verify_slice(&sig)
            .map_err(|_| tonic::Status::unauthenticated("the caller's signature does not match"))?;
        let unit_id = u
            .parse()
            .map_err(|_| tonic::Status::unauthenticated("malformed caller unit"))?;
        let role =
            Role::parse(r).ok_or_else(|| tonic::Status::unauthenticated("unknown caller role"))?;
        let actor =
            Actor::parse(a).ok_or_else(|| tonic::Status::unauthenticated("malformed actor"))?;
        Ok(Some(Caller {
            unit_id,
            role,
            actor,
        }))
    }
}

/// A caller with the key that signs it: what a client of the services (the gateway)
/// hands to [`crate::grpc::request`]. It reads as the [`Caller`] it holds.
#[derive(Debug, Clone)]
pub struct Signed {
    caller: Caller,
    key: CallerKey,
}

impl Signed {
    pub fn new(caller: Caller, key: CallerKey) -> Self {
        Self { caller, key }
    }

    pub fn insert_into(&self, md: &mut MetadataMap) {
        self.key.sign(&self.caller, md);
    }
}

impl std::ops::Deref for Signed {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.caller
    }
}

/// What the server's [`verify_layer`] found, in each request's extensions.
#[derive(Debug, Clone)]
struct Verified(Option<Caller>);

/// The layer every service's server runs requests through: it refuses a caller whose
/// signature `key` did not make (Unauthenticated) and records the verified caller.
pub fn verify_layer(
    key: CallerKey,
) -> tonic::service::InterceptorLayer<
    impl FnMut(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + Clone,
> {
    tonic::service::InterceptorLayer::new(move |mut req: tonic::Request<()>| {
        let caller = key.verify(req.metadata())?;
        req.extensions_mut().insert(Verified(caller));
        Ok(req)
    })
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
    /// Whom the caller's writes are attributed to.
    pub actor: Actor,
}

impl Caller {
    pub fn new(unit_id: uuid::Uuid, role: Role, actor: Actor) -> Self {
        Self {
            unit_id,
            role,
            actor,
        }
    }

    /// The verified caller of a request; `Ok(None)` when anonymous. A request that did
    /// not pass a server's [`verify_layer`] has no verified caller and is refused.
    pub fn of<T>(req: &tonic::Request<T>) -> Result<Option<Self>, tonic::Status> {
        match req.extensions().get::<Verified>() {
            Some(Verified(caller)) => Ok(caller.clone()),
            None => Err(tonic::Status::unauthenticated(
                "the caller was not verified by this server",
            )),
        }
    }

    /// The caller, who must have one of `roles`.
    pub fn require<T>(req: &tonic::Request<T>, roles: &[Role]) -> Result<Self, tonic::Status> {
        let caller = Self::of(req)?
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

    /// Marks `req` as coming from this caller, verified, as a server's [`verify_layer`]
    /// does: for calling a service's handlers in process (tests), where no server runs.
    pub fn verified<T>(self, mut req: tonic::Request<T>) -> tonic::Request<T> {
        req.extensions_mut().insert(Verified(Some(self)));
        req
    }

    /// [`Caller::verified`] for an anonymous request.
    pub fn anonymous<T>(mut req: tonic::Request<T>) -> tonic::Request<T> {
        req.extensions_mut().insert(Verified(None));
        req
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "internal-secret-for-tests";

    fn caller(role: Role) -> Caller {
        Caller::new(
            uuid::Uuid::new_v4(),
            role,
            Actor::User(uuid::Uuid::new_v4()),
        )
    }

    #[test]
    fn a_signed_caller_round_trips_and_forgeries_are_refused() {
        let key = CallerKey::new(KEY);
        let c = caller(Role::Unit);
        let mut md = MetadataMap::new();
        key.sign(&c, &mut md);
        assert_eq!(key.verify(&md).unwrap(), Some(c.clone()));
        assert_eq!(key.verify(&MetadataMap::new()).unwrap(), None);

        // Claimed without the gateway's signature, for another unit with a copied
        // signature, or signed under another key: refused.
        let mut forged = MetadataMap::new();
        forged.insert(
            UNIT_HEADER,
            uuid::Uuid::new_v4().to_string().parse().unwrap(),
        );
        forged.insert(ROLE_HEADER, "office".parse().unwrap());
        assert_eq!(
            key.verify(&forged).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        forged.insert(SIGNATURE_HEADER, md.get(SIGNATURE_HEADER).unwrap().clone());
        assert_eq!(
            key.verify(&forged).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        assert_eq!(
            CallerKey::new("another-secret-of-16+")
                .verify(&md)
                .unwrap_err()
                .code(),
            tonic::Code::Unauthenticated
        );
        assert_eq!(
            signature(KEY, &c.unit_id.to_string(), "unit", &c.actor.to_string()),
            md.get(SIGNATURE_HEADER).unwrap().to_str().unwrap()
        );

        // The signature covers the person: another actor under the same signature, or
        // none at all, is refused.
        let mut other = md.clone();
        other.insert(
            ACTOR_HEADER,
            format!("user:{}", uuid::Uuid::new_v4()).parse().unwrap(),
        );
        assert_eq!(
            key.verify(&other).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        let mut without = md.clone();
        without.remove(ACTOR_HEADER);
        assert_eq!(
            key.verify(&without).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
    }

    #[test]
    fn sealed_messages_open_only_under_the_same_key_and_purpose() {
        let key = CallerKey::new(KEY);
        let sealed = key.seal("account-link", b"https://example.invalid/t/abc");
        assert!(!sealed.windows(3).any(|w| w == b"abc"));
        assert_eq!(
            key.open("account-link", &sealed).as_deref(),
            Some(b"https://example.invalid/t/abc".as_slice())
        );
        assert_ne!(
            sealed,
            key.seal("account-link", b"https://example.invalid/t/abc")
        );
        assert_eq!(key.open("other", &sealed), None);
        assert_eq!(
            CallerKey::new("another-secret-of-16+").open("account-link", &sealed),
            None
        );
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(key.open("account-link", &altered), None);
        assert_eq!(key.open("account-link", b"short"), None);
    }

    #[test]
    fn actors_round_trip_as_text() {
        for a in [
            Actor::User(uuid::Uuid::new_v4()),
            Actor::Key(uuid::Uuid::new_v4()),
            Actor::System,
        ] {
            assert_eq!(Actor::parse(&a.to_string()), Some(a));
        }
        assert_eq!(Actor::parse("user:nope"), None);
        assert_eq!(
            Actor::parse("robot:00000000-0000-0000-0000-000000000000"),
            None
        );
    }

    #[test]
    fn only_verified_requests_have_a_caller() {
        let c = caller(Role::Leader);
        let req = c.clone().verified(tonic::Request::new(()));
        assert_eq!(Caller::require(&req, &[Role::Leader]).unwrap(), c);
        let e = Caller::require(&req, &[Role::Office]).unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied);
        let anon = Caller::anonymous(tonic::Request::new(()));
        assert_eq!(Caller::of(&anon).unwrap(), None);
        assert_eq!(
            Caller::require(&anon, &[Role::Office]).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
        // Metadata alone, however it looks, is not a verified caller.
        let mut unverified = tonic::Request::new(());
        CallerKey::new(KEY).sign(&c, unverified.metadata_mut());
        assert_eq!(
            Caller::of(&unverified).unwrap_err().code(),
            tonic::Code::Unauthenticated
        );
    }
}
