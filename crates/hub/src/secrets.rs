//! Passwords (argon2), and random tokens that are shown once and stored only as hashes.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::Rng;

/// Hashes a password for storage (argon2id, a random salt, PHC string format).
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).expect("argon2 with default parameters").to_string()
}

/// A valid hash of a password nobody has, checked when a user name is unknown so that a failed
/// sign-in takes the same time whether or not the name exists.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| hash_password(&generate_password()));
    &DUMMY
}

/// Checks a password against a stored hash; a malformed stored hash never matches.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
}

/// A random token of `bytes` bytes, URL-safe, with a readable prefix (`chs_` sessions, `cht_` API tokens).
pub fn random_token(prefix: &str, bytes: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rngs::OsRng;
    let body: String = (0..bytes * 4 / 3).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
    format!("{prefix}{body}")
}

/// A generated password for a first admin: long, no look-alike characters.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    (0..20).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}

/// How a token is stored: tokens carry 240+ bits of entropy, so a plain cryptographic hash
/// (BLAKE2b-256, already in argon2's tree) protects them and still lets a token be found by it.
pub fn token_hash(token: &str) -> String {
    blake2b256(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn blake2b256(data: &[u8]) -> [u8; 32] {
    use blake2::digest::{Update, VariableOutput};
    let mut hasher = blake2::Blake2bVar::new(32).expect("32 is a valid BLAKE2b length");
    hasher.update(data);
    let mut out = [0u8; 32];
    hasher.finalize_variable(&mut out).expect("output length matches");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_and_hashes_are_salted() {
        let a = hash_password("correct horse");
        let b = hash_password("correct horse");
        assert_ne!(a, b);
        assert!(verify_password("correct horse", &a));
        assert!(!verify_password("wrong", &a));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn tokens_are_random_and_hash_stably() {
        let t = random_token("cht_", 32);
        assert!(t.starts_with("cht_") && t.len() == 4 + 42);
        assert_ne!(t, random_token("cht_", 32));
        assert_eq!(token_hash(&t), token_hash(&t));
        assert_eq!(token_hash(&t).len(), 64);
        assert_eq!(generate_password().len(), 20);
    }
}
