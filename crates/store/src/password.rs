//! Password hashing with Argon2id (PHC strings in the database).
//!
//! Checking a password needs 19 MiB of working memory (the Argon2id cost).
//! Allocating it per login made the C allocator keep gigabytes after a burst
//! of logins, so checks run at most [`CONCURRENT_CHECKS`] at a time, each in
//! one of that many buffers allocated once and reused: memory stays bounded
//! whatever the login rate, and a login flood queues instead of thrashing.

use std::sync::{Condvar, Mutex, OnceLock};

use argon2::password_hash::PasswordHasher;
use argon2::password_hash::phc::{Output, PasswordHash};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::{Error, Result};

/// Hashes a password for storage.
pub fn hash(password: &str) -> Result<String> {
    if password.is_empty() {
        return Err(Error::Invalid("the password must not be empty".into()));
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| Error::Invalid(format!("could not hash the password: {e}")))
}

/// How many password checks may run at once (each holds one work buffer).
pub const CONCURRENT_CHECKS: usize = 2;

/// Work buffers for password checks, and how many exist.
struct Buffers {
    state: Mutex<(Vec<Vec<Block>>, usize)>,
    freed: Condvar,
}

/// Runs `f` with a reusable buffer of at least `count` Argon2 blocks,
/// waiting while [`CONCURRENT_CHECKS`] checks are already running.
fn with_blocks<R>(count: usize, f: impl FnOnce(&mut [Block]) -> R) -> R {
    static BUFFERS: OnceLock<Buffers> = OnceLock::new();
    let pool = BUFFERS.get_or_init(|| Buffers { state: Mutex::new((Vec::new(), 0)), freed: Condvar::new() });
    let mut buffer = {
        let mut state = pool.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(b) = state.0.pop() {
                break b;
            }
            if state.1 < CONCURRENT_CHECKS {
                state.1 += 1;
                break Vec::new();
            }
            state = pool.freed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    };
    if buffer.len() < count {
        buffer.resize(count, Block::new());
    }
    let result = f(&mut buffer[..count]);
    let mut state = pool.state.lock().unwrap_or_else(|p| p.into_inner());
    state.0.push(buffer);
    pool.freed.notify_one();
    result
}

/// Checks a password against a stored hash. A malformed hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else { return false };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else { return false };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm.as_str()) else { return false };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else { return false };
    // Refuse absurd costs from a tampered database rather than allocate them.
    if params.m_cost() > 1 << 20 {
        return false;
    }
    let blocks = params.block_count();
    let argon = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.as_bytes().len()];
    let hashed = with_blocks(blocks, |memory| {
        argon.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, memory).is_ok()
    });
    // Output's equality is constant-time.
    hashed && Output::new(&out).is_ok_and(|computed| &computed == expected)
}

/// Spends the same time as a real check, so that a login for an unknown
/// user cannot be told apart from a wrong password by its timing.
pub fn verify_dummy(password: &str) {
    static DUMMY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if let Some(h) = DUMMY.get_or_init(|| hash("mailroom-timing-equaliser").ok()) {
        let _ = verify(password, h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse", &h));
        assert!(!verify("wrong", &h));
        assert!(!verify("x", "not a hash"));
        assert!(hash("").is_err());
    }

    #[test]
    fn many_parallel_checks_share_the_bounded_buffers() {
        let h = hash("pw").expect("hash");
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let h = &h;
                    s.spawn(move || verify(if i % 2 == 0 { "pw" } else { "no" }, h))
                })
                .collect();
            let results: Vec<bool> = handles.into_iter().map(|t| t.join().expect("join")).collect();
            assert_eq!(results, [true, false, true, false, true, false, true, false]);
        });
    }
}
