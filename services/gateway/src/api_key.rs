//! API keys for programs (and the other secret tokens): random, shown once, stored only
//! as a SHA-256 hash.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new key: `cchc_` and 64 hex characters (256 random bits).
pub fn generate_key() -> String {
    generate_token("cchc_")
}

/// A new secret token: `prefix` and 64 hex characters (256 random bits). Session tokens
/// and one-time links are made so too, each with its own prefix.
pub fn generate_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

pub fn hash_key(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// The part of a key shown in lists.
pub fn prefix_of(key: &str) -> String {
    key.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_hashed() {
        let a = generate_key();
        let b = generate_key();
        assert_ne!(a, b);
        assert_eq!(a.len(), 69);
        assert_eq!(hash_key(&a).len(), 32);
        assert_ne!(hash_key(&a), hash_key(&b));
        assert_eq!(prefix_of(&a).len(), 12);
    }
}
