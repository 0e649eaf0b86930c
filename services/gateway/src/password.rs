//! People's passwords: argon2id with OWASP's recommended parameters (19 MiB, two passes,
//! one lane), kept only as PHC strings; a policy checked before one is accepted.

use std::collections::HashSet;
use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use cchc_platform::validation::Rule;
use rand::RngCore;

pub const MIN_LENGTH: usize = 10;
/// Hashing a very long input costs no more, but nothing longer is a real password and a
/// cap keeps the request small.
pub const MAX_LENGTH: usize = 128;

fn argon2() -> Argon2<'static> {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19 * 1024, 2, 1, None).expect("OWASP's argon2id parameters are valid"),
    )
}

/// The PHC string of `password` under a fresh salt.
pub fn hash(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("hashing a bounded password in memory does not fail")
        .to_string()
}

/// Whether `password` matches `phc`. With `None` (no such person, or no password yet) it
/// still does the work of a real check, so the answer takes the same time either way.
pub fn verify(password: &str, phc: Option<&str>) -> bool {
    static DECOY: LazyLock<String> = LazyLock::new(|| hash("decoy password never matched"));
    let (phc, real) = match phc {
        Some(p) => (p, true),
        None => (DECOY.as_str(), false),
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let ok = argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    ok && real
}

/// Passwords people pick most often, of the lengths the policy would let through
/// (from zxcvbn's frequency list, MIT licence, and common Vietnamese choices).
static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common_passwords.txt")
        .lines()
        .filter(|l| !l.is_empty())
        .collect()
});

/// Why a password is refused, in words a person reads (Vietnamese first; the API
/// returns the code and the English text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weakness {
    TooShort,
    TooLong,
    Common,
    LikeTheAccount,
}

impl Weakness {
    pub fn code(self) -> &'static str {
        match self {
            Weakness::TooShort => "password-too-short",
            Weakness::TooLong => "password-too-long",
            Weakness::Common => "password-common",
            Weakness::LikeTheAccount => "password-like-account",
        }
    }

    /// The field rule the password broke, for the problem's `errors`.
    pub fn rule(self) -> Rule {
        match self {
            Weakness::TooShort => Rule::TooShort { min: MIN_LENGTH },
            Weakness::TooLong => Rule::TooLong { max: MAX_LENGTH },
            Weakness::Common => Rule::CommonPassword,
            Weakness::LikeTheAccount => Rule::PersonalPassword,
        }
    }

    pub fn vietnamese(self) -> String {
        match self {
            Weakness::TooShort => format!("Mật khẩu phải có ít nhất {MIN_LENGTH} ký tự."),
            Weakness::TooLong => format!("Mật khẩu có nhiều nhất {MAX_LENGTH} ký tự."),
            Weakness::Common => {
                "Mật khẩu này nằm trong số mật khẩu phổ biến nhất, dễ bị đoán; hãy chọn mật khẩu khác.".into()
            }
            Weakness::LikeTheAccount => {
                "Mật khẩu không được trùng với địa chỉ e-mail hoặc họ tên.".into()
            }
        }
    }
}

/// Checks `password` for a person with `email` and `name`.
pub fn check(password: &str, email: &str, name: &str) -> Result<(), Weakness> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(Weakness::TooShort);
    }
    if length > MAX_LENGTH {
        return Err(Weakness::TooLong);
    }
    let lower = password.to_lowercase();
    if COMMON.contains(lower.as_str()) {
        return Err(Weakness::Common);
    }
    // One character repeated, however long, is no better.
    let mut chars = lower.chars();
    let first = chars.next();
    if chars.all(|c| Some(c) == first) {
        return Err(Weakness::Common);
    }
    let folded = cchc_platform::text::fold(&lower).replace(' ', "");
    let email = email.to_lowercase();
    let local =
        cchc_platform::text::fold(email.split('@').next().unwrap_or_default()).replace(' ', "");
    let name = cchc_platform::text::fold(name).replace(' ', "");
    if lower == email
        || (local.len() >= 4 && folded.contains(&local))
        || (name.chars().count() >= 4 && folded.contains(&name))
    {
        return Err(Weakness::LikeTheAccount);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_salted() {
        let a = hash("một mật khẩu dài");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, hash("một mật khẩu dài"));
        assert!(verify("một mật khẩu dài", Some(&a)));
        assert!(!verify("một mật khẩu khác", Some(&a)));
        assert!(!verify("một mật khẩu dài", None));
        assert!(!verify("x", Some("not a phc string")));
    }

    #[test]
    fn the_policy_refuses_short_common_and_personal_passwords() {
        let ok = |p: &str| check(p, "lan.nguyen@sgd.edu.vn", "Nguyễn Thị Lan");
        assert_eq!(ok("ngắn"), Err(Weakness::TooShort));
        assert_eq!(ok(&"x".repeat(129)), Err(Weakness::TooLong));
        assert_eq!(ok("1234567890"), Err(Weakness::Common));
        assert_eq!(ok("Password123"), Err(Weakness::Common));
        assert_eq!(ok("matkhau123"), Err(Weakness::Common));
        assert_eq!(ok("aaaaaaaaaaaa"), Err(Weakness::Common));
        assert_eq!(ok("lan.nguyen2020!"), Err(Weakness::LikeTheAccount));
        assert_eq!(ok("NguyenThiLan99"), Err(Weakness::LikeTheAccount));
        assert_eq!(ok("trống đồng Đông Sơn 1975"), Ok(()));
        assert!(COMMON.len() > 1000);
    }
}
