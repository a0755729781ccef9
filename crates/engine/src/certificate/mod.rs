//! The server's TLS certificate: showing it, importing one from a
//! certificate authority, and making a new self-signed one, for the admin
//! API (`api::certificate`) and `mailroomd cert`.
//!
//! * [`info`]: what the certificate in `cert.pem` says (names, dates,
//!   fingerprint);
//! * [`check`]: dates, chain order and names, with refusals in plain words;
//! * [`pem`]: the clean PEM text that is written.
//!
//! Invariant: a certificate is checked completely (PEM, key belongs to the
//! first certificate, dates, chain order) before anything is written; then
//! `cert.pem` and `key.pem` are replaced as a pair and, when the server
//! runs, swapped into its [`LiveCert`]: new handshakes use the new
//! certificate, sessions already open keep theirs.

pub mod check;
pub mod info;
pub mod pem;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use mailroom_transport::tls::{self, LiveCert, files};

pub use info::CertificateInfo;

/// Why a certificate change did not happen.
#[derive(Debug)]
pub enum CertError {
    /// The certificate, key or names given are not acceptable (the text says why).
    Refused(String),
    /// Reading or writing the files failed.
    Failed(String),
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(m) | Self::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CertError {}

/// The certificate files of one data directory, and the running server's
/// certificate if there is one.
pub struct Certificates {
    dir: PathBuf,
    live: Option<Arc<LiveCert>>,
    /// One change at a time: the temporary files have fixed names.
    writing: Mutex<()>,
    /// Changes applied since start (the watcher compares it).
    changes: AtomicU64,
    /// Woken after each change, so the watcher looks at once.
    changed: tokio::sync::Notify,
}

impl Certificates {
    /// The certificate in `dir` (`DATA/tls`); `live` is the running server's.
    pub fn new(dir: PathBuf, live: Option<Arc<LiveCert>>) -> Self {
        Self { dir, live, writing: Mutex::new(()), changes: AtomicU64::new(0), changed: tokio::sync::Notify::new() }
    }

    /// For a data directory whose server is not running: changes are
    /// written and used from the next start.
    pub fn offline(data_dir: &Path) -> Self {
        Self::new(data_dir.join(crate::paths::TLS_DIR), None)
    }

    /// Whether changes apply to a running server at once.
    pub fn is_live(&self) -> bool {
        self.live.is_some()
    }

    /// Changes applied so far.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::Acquire)
    }

    /// Waits until the next change.
    pub async fn wait_change(&self) {
        self.changed.notified().await
    }

    /// The certificate in `cert.pem`.
    pub fn info(&self) -> Result<CertificateInfo, CertError> {
        let path = self.dir.join(files::CERT_FILE);
        let text = files::read_limited(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => CertError::Failed(format!(
                "there is no certificate in {} yet; Mailroom makes one when it first starts (or run `mailroomd cert self-signed`)",
                self.dir.display()
            )),
            _ => CertError::Failed(e.to_string()),
        })?;
        let chain = tls::keys::parse_chain(&text)
            .map_err(|e| CertError::Failed(format!("{} cannot be used: {e}", path.display())))?;
        info::describe(&chain, now()).map_err(|e| CertError::Failed(format!("{}: {e}", path.display())))
    }

    /// Installs a certificate chain (server certificate first) and its key
    /// from PEM text, after checking them completely.
    pub fn import(&self, cert_pem: &[u8], key_pem: &[u8]) -> Result<CertificateInfo, CertError> {
        self.install(cert_pem, key_pem, "import")
    }

    /// Makes and installs a new self-signed certificate for `names`, or for
    /// `hostname` and `localhost` when `names` is `None`.
    pub fn self_signed(&self, names: Option<&[String]>, hostname: &str) -> Result<CertificateInfo, CertError> {
        let names = match names {
            Some(given) => check::names(given).map_err(CertError::Refused)?,
            None => check::default_names(hostname),
        };
        let (cert, key) = tls::generate_self_signed(&names).map_err(|e| CertError::Failed(e.to_string()))?;
        self.install(cert.as_bytes(), key.as_bytes(), "self-signed")
    }

    fn install(&self, cert_pem: &[u8], key_pem: &[u8], source: &'static str) -> Result<CertificateInfo, CertError> {
        let refused = |reason: String| {
            tracing::info!(source, reason = %reason, "certificate refused");
            CertError::Refused(reason)
        };
        let too_big = |what: &str, len: usize| {
            format!("The {what} text is {} KiB; a certificate or key is far smaller.", len / 1024)
        };
        let limit = files::MAX_PEM_BYTES as usize;
        if cert_pem.len() > limit {
            return Err(refused(too_big("certificate", cert_pem.len())));
        }
        if key_pem.len() > limit {
            return Err(refused(too_big("private key", key_pem.len())));
        }
        let key = tls::certified_key(cert_pem, key_pem).map_err(|e| refused(e.to_string()))?;
        let now = now();
        check::chain(&key.cert, now).map_err(refused)?;
        let info = info::describe(&key.cert, now).map_err(refused)?;
        let clean_cert = pem::chain(&key.cert);
        let clean_key = pem::key(key_pem).ok_or_else(|| refused(tls::KeyProblem::NoKey.to_string()))?;

        let _one_at_a_time = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        files::write_pair(&self.dir, clean_cert.as_bytes(), clean_key.as_bytes()).map_err(|e| {
            tracing::error!(error = %e, path = %self.dir.display(), "could not write the certificate");
            CertError::Failed(format!("could not write the certificate to {}: {e}", self.dir.display()))
        })?;
        if let Some(live) = &self.live {
            live.replace(key);
        }
        self.changes.fetch_add(1, Ordering::AcqRel);
        self.changed.notify_one();
        tracing::info!(
            change = "certificate",
            source,
            subject = %info.subject,
            names = %info.names.join(","),
            issuer = %info.issuer,
            not_after = %info.not_after,
            fingerprint = %info.fingerprint_sha256,
            live = self.live.is_some(),
            "TLS certificate replaced; {}",
            if self.live.is_some() { "new connections use it" } else { "it is used from the next start" }
        );
        Ok(info)
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live_in(dir: &Path) -> (Certificates, Arc<LiveCert>) {
        tls::ensure_self_signed(dir, "mail.example.test").expect("first certificate");
        let live = LiveCert::new(tls::load(dir).expect("load"));
        (Certificates::new(dir.to_path_buf(), Some(live.clone())), live)
    }

    #[test]
    fn import_checks_then_writes_and_swaps() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (certs, live) = live_in(dir.path());
        let before = live.current();
        let first = certs.info().expect("info");
        assert_eq!(first.subject, "mail.example.test");

        // Refused: nothing written, nothing swapped.
        let (other_cert, _) = tls::generate_self_signed(&["other.example.test".into()]).expect("gen");
        let (_, other_key) = tls::generate_self_signed(&["third.example.test".into()]).expect("gen");
        match certs.import(other_cert.as_bytes(), other_key.as_bytes()) {
            Err(CertError::Refused(m)) => assert_eq!(m, "The private key does not belong to this certificate."),
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(matches!(certs.import(b"garbage", other_key.as_bytes()), Err(CertError::Refused(_))));
        assert!(Arc::ptr_eq(&before, &live.current()));
        assert_eq!(certs.info().expect("info").fingerprint_sha256, first.fingerprint_sha256);
        assert_eq!(certs.changes(), 0);

        // Accepted.
        let (cert, key) = tls::generate_self_signed(&["new.example.test".into()]).expect("gen");
        let info = certs.import(cert.as_bytes(), key.as_bytes()).expect("import");
        assert_eq!(info.subject, "new.example.test");
        assert_eq!(certs.info().expect("info").fingerprint_sha256, info.fingerprint_sha256);
        assert_eq!(info::fingerprint(&live.current().cert[0]), info.fingerprint_sha256);
        assert_eq!(certs.changes(), 1);
        // What was written loads at the next start.
        assert_eq!(info::fingerprint(&tls::load(dir.path()).expect("load").cert[0]), info.fingerprint_sha256);
    }

    /// A certificate authority and a server certificate it issued: (leaf, key, ca).
    fn issued_chain() -> (String, String, String) {
        let ca_key = rcgen::KeyPair::generate().expect("key");
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name.push(rcgen::DnType::CommonName, "Test CA");
        let ca_cert = ca.self_signed(&ca_key).expect("ca");
        let issuer = rcgen::Issuer::new(ca, ca_key);
        let leaf_key = rcgen::KeyPair::generate().expect("key");
        let mut leaf = rcgen::CertificateParams::new(vec!["mail.example.test".to_string()]).expect("params");
        leaf.distinguished_name.push(rcgen::DnType::CommonName, "mail.example.test");
        let leaf_cert = leaf.signed_by(&leaf_key, &issuer).expect("leaf");
        (leaf_cert.pem(), leaf_key.serialize_pem(), ca_cert.pem())
    }

    #[test]
    fn a_chain_from_an_authority_is_taken_in_order_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (certs, live) = live_in(dir.path());
        let (leaf, key, ca) = issued_chain();
        match certs.import(format!("{ca}{leaf}").as_bytes(), key.as_bytes()) {
            Err(CertError::Refused(m)) => assert!(m.starts_with("The private key belongs to certificate 2"), "{m}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
        let info = certs.import(format!("{leaf}{ca}").as_bytes(), key.as_bytes()).expect("in order");
        assert_eq!((info.subject.as_str(), info.issuer.as_str()), ("mail.example.test", "Test CA"));
        assert!(!info.self_signed);
        assert_eq!(info.chain_length, 2);
        assert_eq!(live.current().cert.len(), 2);
        // An unrelated certificate after the server's own is out of order.
        let (other, _) = tls::generate_self_signed(&["other.example.test".into()]).expect("gen");
        match certs.import(format!("{leaf}{other}").as_bytes(), key.as_bytes()) {
            Err(CertError::Refused(m)) => assert!(m.starts_with("The certificates are not in order"), "{m}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn self_signed_uses_the_names_or_the_host_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (certs, live) = live_in(dir.path());
        let info = certs.self_signed(None, "mx.example.test").expect("default names");
        assert_eq!(info.names, vec!["mx.example.test", "localhost"]);
        let names = vec!["a.example.test".to_string(), "b.example.test".into()];
        let info = certs.self_signed(Some(&names), "ignored.test").expect("names");
        assert_eq!(info.names, names);
        assert!(info.self_signed);
        assert_eq!(info::fingerprint(&live.current().cert[0]), info.fingerprint_sha256);
        assert!(matches!(certs.self_signed(Some(&["bad name".into()]), "x.test"), Err(CertError::Refused(_))));
        assert_eq!(certs.changes(), 2);
    }

    #[test]
    fn offline_changes_are_written_for_the_next_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        let certs = Certificates::offline(dir.path());
        assert!(!certs.is_live());
        let info = certs.self_signed(Some(&["off.example.test".into()]), "x.test").expect("written");
        let tls_dir = dir.path().join(crate::paths::TLS_DIR);
        assert_eq!(info::fingerprint(&tls::load(&tls_dir).expect("load").cert[0]), info.fingerprint_sha256);
    }
}
