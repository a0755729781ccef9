//! Encryption of stored secrets (relay passwords and DKIM private keys).
//!
//! A random 256-bit key lives in `DIR/secret.key` (owner-only), apart from the
//! database, so a copied database or backup of it alone reveals neither relay
//! passwords nor the keys that sign the domains' mail. Values are
//! ChaCha20-Poly1305 with a random nonce, stored as base64 of nonce and
//! ciphertext.

use std::path::Path;

use anyhow::Context as _;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use mailroom_store::Store;
use mailroom_store::private_fs;

/// File name of the key inside the data directory.
pub const KEY_FILE: &str = "secret.key";

/// Encrypts and decrypts stored secrets.
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
}

impl SecretBox {
    /// Loads the key from the data directory, creating it on first use.
    /// Prefer [`Self::for_store`], which will not replace a lost key that
    /// sealed values in the database still need.
    pub fn open(data_dir: &Path) -> anyhow::Result<Self> {
        let path = data_dir.join(KEY_FILE);
        match Self::load(&path)? {
            Some(b) => Ok(b),
            None => Self::create(&path),
        }
    }

    /// The key of `store`'s data directory. It is created only while nothing
    /// in the database was sealed: a missing key with sealed values is an
    /// error that says so, since a new key could never open them.
    pub fn for_store(store: &Store) -> anyhow::Result<Self> {
        let path = store.dir().join(KEY_FILE);
        match Self::load(&path)? {
            Some(b) => Ok(b),
            None if store.has_sealed_secrets()? => {
                tracing::error!(path = %path.display(), reason = "missing", "secret key unavailable");
                anyhow::bail!(
                    "{} is missing, and the DKIM keys and relay passwords in the database were encrypted with it; \
                     restore it from a backup",
                    path.display()
                )
            }
            None => Self::create(&path),
        }
    }

    /// The key in `path`, `None` if there is no such file.
    fn load(path: &Path) -> anyhow::Result<Option<Self>> {
        match std::fs::read(path) {
            Ok(k) if k.len() == 32 => Ok(Some(Self { cipher: ChaCha20Poly1305::new(Key::from_slice(&k)) })),
            Ok(_) => {
                tracing::error!(path = %path.display(), reason = "damaged", "secret key unavailable");
                anyhow::bail!("{} is damaged (it must hold 32 bytes); restore it from a backup", path.display())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
        }
    }

    /// Creates a new key file, complete or not at all: written to a
    /// temporary file and linked into place, so a process that gets there
    /// first wins and its key is the one used.
    fn create(path: &Path) -> anyhow::Result<Self> {
        let key: [u8; 32] = rand::random();
        let tmp = path.with_file_name(format!("{KEY_FILE}.{}.tmp", std::process::id()));
        private_fs::write_file(&tmp, &key).with_context(|| format!("creating {}", path.display()))?;
        if let Ok(f) = std::fs::File::open(&tmp) {
            let _ = f.sync_all();
        }
        let linked = std::fs::hard_link(&tmp, path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(Self { cipher: ChaCha20Poly1305::new(Key::from_slice(&key)) }),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Self::load(path)?.ok_or_else(|| anyhow::anyhow!("{} vanished while it was created", path.display()))
            }
            Err(e) => Err(anyhow::anyhow!("creating {}: {e}", path.display())),
        }
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
            anyhow::anyhow!("a stored secret cannot be decrypted with {KEY_FILE} (it was sealed with another key)")
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

    #[test]
    fn a_lost_key_is_not_replaced_while_sealed_values_need_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("store");
        let first = SecretBox::for_store(&store).expect("created on first use");
        store
            .set_relay(&mailroom_store::RelayRow {
                domain: String::new(),
                host: "relay.test".into(),
                port: 587,
                tls: "required".into(),
                username: Some("u".into()),
                secret: Some(first.seal("pw").expect("seal")),
            })
            .expect("relay");
        std::fs::remove_file(dir.path().join(KEY_FILE)).expect("rm");
        let err = SecretBox::for_store(&store).err().expect("refused").to_string();
        assert!(err.contains("secret.key is missing"), "{err}");
        std::fs::write(dir.path().join(KEY_FILE), b"short").expect("write");
        let err = SecretBox::for_store(&store).err().expect("refused").to_string();
        assert!(err.contains("damaged"), "{err}");
    }
}
