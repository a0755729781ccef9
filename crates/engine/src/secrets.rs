//! Encryption of stored secrets (relay passwords).
//!
//! A random 256-bit key lives in `DIR/secret.key` (owner-only), apart from the
//! database, so a copied database or backup of it alone does not reveal relay
//! passwords. Values are ChaCha20-Poly1305 with a random nonce, stored as
//! base64 of nonce and ciphertext.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

/// File name of the key inside the data directory.
pub const KEY_FILE: &str = "secret.key";

/// Encrypts and decrypts stored secrets.
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
}

impl SecretBox {
    /// Loads the key from the data directory, creating it on first use.
    pub fn open(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join(KEY_FILE);
        let key: Vec<u8> = match std::fs::read(&path) {
            Ok(k) if k.len() == 32 => k,
            Ok(_) => anyhow::bail!("{} is damaged (it must hold 32 bytes); restore it from a backup", path.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key: [u8; 32] = rand::random();
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    opts.mode(0o600);
                }
                let mut f = opts.open(&path)?;
                f.write_all(&key)?;
                f.sync_all()?;
                key.to_vec()
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Self { cipher: ChaCha20Poly1305::new(Key::from_slice(&key)) })
    }

    /// Encrypts a secret for storage.
    pub fn seal(&self, plain: &str) -> anyhow::Result<String> {
        let nonce_bytes: [u8; 12] = rand::random();
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce_bytes), plain.as_bytes())
            .map_err(|_| anyhow::anyhow!("could not encrypt the secret"))?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&ct);
        Ok(STANDARD.encode(out))
    }

    /// Decrypts a stored secret.
    pub fn open_secret(&self, sealed: &str) -> anyhow::Result<String> {
        let raw = STANDARD.decode(sealed.trim())?;
        if raw.len() < 12 + 16 {
            anyhow::bail!("a stored secret is damaged");
        }
        let (nonce, ct) = raw.split_at(12);
        let plain = self.cipher.decrypt(Nonce::from_slice(nonce), ct).map_err(|_| {
            anyhow::anyhow!("a stored secret cannot be decrypted with {KEY_FILE}; set the relay password again")
        })?;
        Ok(String::from_utf8(plain)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_key_reuse() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = SecretBox::open(dir.path()).expect("open");
        let sealed = a.seal("relay-password").expect("seal");
        assert!(!sealed.contains("relay-password"));
        let b = SecretBox::open(dir.path()).expect("reopen");
        assert_eq!(b.open_secret(&sealed).expect("open"), "relay-password");
        assert_ne!(a.seal("relay-password").expect("seal"), sealed, "random nonce");
    }
}
