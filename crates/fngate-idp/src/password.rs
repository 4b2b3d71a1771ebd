//! Users' passwords: argon2id (the `argon2` crate's defaults: 19 MiB, 2 passes, as OWASP
//! recommends), stored as PHC strings only; verification runs off the async runtime.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::Rng;

use crate::IdpError;

/// Shortest password accepted (Entra's policy is 8 characters and three character classes;
/// a dev IdP asks the length only).
pub const MIN_LEN: usize = 8;
const MAX_LEN: usize = 256;
/// Length of a generated password.
const GENERATED_LEN: usize = 20;

pub fn check_policy(password: &str) -> Result<(), IdpError> {
    let len = password.chars().count();
    if !(MIN_LEN..=MAX_LEN).contains(&len) {
        return Err(IdpError::Invalid(format!(
            "password: must be {MIN_LEN} to {MAX_LEN} characters (it has {len})"
        )));
    }
    Ok(())
}

/// A random password for a user created without one (shown once).
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..GENERATED_LEN)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

pub async fn hash(password: String) -> Result<String, IdpError> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        rand::rng().fill(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|err| anyhow::anyhow!("password salt: {err}"))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|err| anyhow::anyhow!("cannot hash the password: {err}"))
    })
    .await
    .map_err(|err| IdpError::Internal(anyhow::anyhow!("password hashing task: {err}")))?
    .map_err(IdpError::Internal)
}

/// True when `password` matches the stored hash (a malformed hash matches nothing).
pub async fn verify(password: String, stored: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_are_salted() {
        let a = hash("correct horse".into()).await.unwrap();
        let b = hash("correct horse".into()).await.unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "salted");
        assert!(verify("correct horse".into(), a.clone()).await);
        assert!(!verify("wrong horse!".into(), a).await);
        assert!(!verify("x".into(), "not a hash".into()).await);
        assert!(check_policy("short").is_err());
        assert_eq!(generate().len(), GENERATED_LEN);
    }
}
