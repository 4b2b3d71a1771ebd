//! Client secrets: generated with high entropy, shown once, stored as SHA-256 only.
//!
//! A fast hash is right here: the value is 40 random characters (~230 bits), so there is nothing
//! to brute-force, and the token endpoint stays fast. Comparison is constant-time.

use aws_lc_rs::digest;
use rand::Rng;
use subtle::ConstantTimeEq;

/// Characters Entra uses in generated secrets (URL-safe, plus `~` and `.`).
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.~";
/// Length of a generated secret, as Entra's (`xxx8Q~` + 34 characters).
const SECRET_LEN: usize = 40;
/// Characters of the value shown in listings, as Entra's "hint".
pub const HINT_LEN: usize = 3;

/// A new secret value in Entra's shape: three characters, `8Q~`, then 34 characters.
pub fn generate() -> String {
    let mut rng = rand::rng();
    let mut pick = || ALPHABET[rng.random_range(0..ALPHABET.len())] as char;
    let mut value = String::with_capacity(SECRET_LEN);
    for _ in 0..HINT_LEN {
        value.push(pick());
    }
    value.push_str("8Q~");
    while value.len() < SECRET_LEN {
        value.push(pick());
    }
    value
}

pub fn hint(value: &str) -> String {
    value.chars().take(HINT_LEN).collect()
}

pub fn hash(value: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, value.as_bytes()).as_ref());
    out
}

/// Constant-time comparison of two hashes.
pub fn matches(presented: &[u8; 32], stored: &[u8; 32]) -> bool {
    presented.ct_eq(stored).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_have_entra_shape_and_differ() {
        let a = generate();
        let b = generate();
        assert_eq!(a.len(), SECRET_LEN);
        assert_eq!(&a[3..6], "8Q~");
        assert_ne!(a, b);
        assert!(matches(&hash(&a), &hash(&a)));
        assert!(!matches(&hash(&a), &hash(&b)));
        assert_eq!(hint(&a), &a[..3]);
    }
}
