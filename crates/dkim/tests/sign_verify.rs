//! End-to-end checks of the DKIM crate against an independent verifier: `mail-auth`'s own DKIM
//! verification, fed the public keys through an in-memory DNS cache instead of the network.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mail_auth::dkim::DkimError;
use mail_auth::hickory_resolver::config::{ResolverConfig, ResolverOpts};
use mail_auth::{AuthenticatedMessage, DkimResult, MessageAuthenticator, Parameters, ResolverCache, Txt};
use mailroom_dkim::{Algorithm, DkimKey, DnsRecord, Signer, dns_record, generate, load, sign};

const DOMAIN: &str = "example.test";

const MESSAGE: &str = concat!(
    "From: Alice <alice@example.test>\r\n",
    "To: bob@elsewhere.test\r\n",
    "Subject: Quarterly numbers\r\n",
    "Date: Mon, 3 Jun 2024 10:00:00 +0000\r\n",
    "Message-ID: <1@example.test>\r\n",
    "MIME-Version: 1.0\r\n",
    "Content-Type: text/plain; charset=utf-8\r\n",
    "\r\n",
    "Hello Bob,\r\n",
    "the numbers are   attached.\r\n",
    "\r\n",
    "\r\n",
);

/// A TXT cache pre-filled with our records: `mail-auth` consults it before asking DNS.
struct TxtRecords(Mutex<HashMap<Box<str>, Txt>>);

impl TxtRecords {
    fn new(records: &[DnsRecord]) -> Self {
        let map = records
            .iter()
            .map(|r| (format!("{}.", r.name).into_boxed_str(), Txt::from(DomainKey::parse(r.value.as_bytes()))))
            .collect();
        TxtRecords(Mutex::new(map))
    }
}

impl ResolverCache<Box<str>, Txt> for TxtRecords {
    fn get<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().ok()?.get(name).cloned()
    }

    fn remove<Q>(&self, name: &Q) -> Option<Txt>
    where
        Box<str>: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.0.lock().ok()?.remove(name)
    }

    fn insert(&self, key: Box<str>, value: Txt, _valid_until: Instant) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(key, value);
        }
    }
}

/// A resolver with no name servers, so a record missing from the cache fails instead of leaving the
/// machine.
fn offline_authenticator() -> MessageAuthenticator {
    let mut opts = ResolverOpts::default();
    opts.timeout = Duration::from_millis(100);
    opts.attempts = 0;
    MessageAuthenticator::new(ResolverConfig::from_name_servers(vec![]), opts).expect("resolver")
}

/// Verifies every DKIM-Signature in `message`, returning one result per signature.
async fn verify(message: &[u8], records: &[DnsRecord]) -> Vec<DkimResult> {
    let cache = TxtRecords::new(records);
    let auth = offline_authenticator();
    let parsed = AuthenticatedMessage::parse(message).expect("message parses");
    let outputs = auth.verify_dkim(Parameters::new(&parsed).with_txt_cache(&cache)).await;
    outputs.iter().map(|o| o.result().clone()).collect()
}

/// The tags of one DKIM-Signature field value (everything up to the next header field), unfolded.
fn dkim_tags(field: &str) -> Vec<(String, String)> {
    let mut value = String::new();
    for (i, line) in field.split("\r\n").enumerate() {
        if i > 0 && !line.starts_with([' ', '\t']) {
            break;
        }
        value.push_str(line);
    }
    value
        .split(';')
        .filter_map(|t| t.split_once('='))
        .map(|(n, v)| (n.trim().to_owned(), v.chars().filter(|c| !c.is_whitespace()).collect()))
        .collect()
}

fn signed(message: &str, keys: &[DkimKey]) -> Vec<u8> {
    let mut out = sign(message.as_bytes(), DOMAIN, keys).expect("signs");
    out.extend_from_slice(message.as_bytes());
    out
}

fn both_keys() -> Vec<DkimKey> {
    vec![
        generate(Algorithm::Rsa2048, "mr202406r").expect("rsa key"),
        generate(Algorithm::Ed25519, "mr202406e").expect("ed25519 key"),
    ]
}

#[test]
fn generated_keys_have_the_expected_shape() {
    let [rsa, ed] = <[DkimKey; 2]>::try_from(both_keys()).expect("two keys");
    assert!(rsa.private_pkcs8_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(ed.private_pkcs8_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    // SubjectPublicKeyInfo of RSA-2048 is 294 bytes: 392 base64 characters starting "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A".
    assert!(rsa.public_key_b64.starts_with("MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A"), "{}", rsa.public_key_b64);
    assert_eq!(rsa.public_key_b64.len(), 392);
    // Ed25519: the raw 32-byte key, 44 base64 characters.
    assert_eq!(ed.public_key_b64.len(), 44);
}

#[test]
fn dns_records_have_the_published_format() {
    let [rsa, ed] = <[DkimKey; 2]>::try_from(both_keys()).expect("two keys");
    let r = dns_record(DOMAIN, &rsa);
    assert_eq!(r.name, "mr202406r._domainkey.example.test");
    assert_eq!(r.value, format!("v=DKIM1; k=rsa; p={}", rsa.public_key_b64));
    assert_eq!(r.txt_strings().len(), 2);
    let e = dns_record(DOMAIN, &ed);
    assert_eq!(e.name, "mr202406e._domainkey.example.test");
    assert_eq!(e.value, format!("v=DKIM1; k=ed25519; p={}", ed.public_key_b64));
    // And mail-auth, standing in for a receiver, accepts both as DKIM key records.
    assert!(DomainKey::parse(r.value.as_bytes()).is_ok());
    assert!(DomainKey::parse(e.value.as_bytes()).is_ok());
}

#[tokio::test]
async fn signatures_from_both_key_types_verify() {
    let keys = both_keys();
    let records: Vec<DnsRecord> = keys.iter().map(|k| dns_record(DOMAIN, k)).collect();
    let message = signed(MESSAGE, &keys);

    let text = String::from_utf8(message.clone()).expect("ascii");
    let header_section = &text[..text.find("\r\n\r\n").expect("header end")];
    assert!(header_section.lines().all(|l| l.len() <= 100), "signature fields are folded:\n{header_section}");
    let signatures: Vec<Vec<(String, String)>> =
        header_section.split("DKIM-Signature:").skip(1).map(dkim_tags).collect();
    assert_eq!(signatures.len(), 2);
    let tag = |sig: &[(String, String)], name: &str| sig.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    assert_eq!(tag(&signatures[0], "a").as_deref(), Some("rsa-sha256"));
    assert_eq!(tag(&signatures[1], "a").as_deref(), Some("ed25519-sha256"));
    for sig in &signatures {
        assert_eq!(tag(sig, "c").as_deref(), Some("relaxed/relaxed"));
        assert_eq!(tag(sig, "d").as_deref(), Some(DOMAIN));
        assert!(tag(sig, "t").is_some_and(|t| t.parse::<u64>().is_ok()), "timestamp");
        assert_eq!(tag(sig, "x"), None, "no expiry");
    }
    assert_eq!(verify(&message, &records).await, vec![DkimResult::Pass, DkimResult::Pass]);
}

#[tokio::test]
async fn from_is_oversigned_and_absent_headers_are_not_listed() {
    let key = generate(Algorithm::Ed25519, "ed").expect("key");
    let sig =
        String::from_utf8(sign(MESSAGE.as_bytes(), DOMAIN, std::slice::from_ref(&key)).expect("signs")).expect("ascii");
    let tags = dkim_tags(sig.strip_prefix("DKIM-Signature:").expect("one field"));
    let h = tags.iter().find(|(n, _)| n == "h").map(|(_, v)| v.as_str()).expect("h= tag");
    let h: Vec<String> = h.split(':').map(str::to_ascii_lowercase).collect();
    assert_eq!(h.iter().filter(|n| *n == "from").count(), 2, "{h:?}");
    for name in ["to", "subject", "date", "message-id", "mime-version", "content-type"] {
        assert!(h.contains(&name.to_owned()), "{name} in {h:?}");
    }
    for absent in ["cc", "reply-to", "references", "in-reply-to", "content-transfer-encoding"] {
        assert!(!h.contains(&absent.to_owned()), "{absent} in {h:?}");
    }

    // A second From added after signing breaks the signature.
    let mut forged = b"From: Mallory <ceo@example.test>\r\n".to_vec();
    forged.extend_from_slice(sig.as_bytes());
    forged.extend_from_slice(MESSAGE.as_bytes());
    let results = verify(&forged, &[dns_record(DOMAIN, &key)]).await;
    assert!(matches!(results.as_slice(), [DkimResult::Fail(_)]), "{results:?}");
}

#[tokio::test]
async fn tampering_with_the_body_fails_verification() {
    let keys = both_keys();
    let records: Vec<DnsRecord> = keys.iter().map(|k| dns_record(DOMAIN, k)).collect();
    let message = signed(MESSAGE, &keys);
    let tampered = String::from_utf8(message).expect("ascii").replace("attached", "deleted").into_bytes();
    let results = verify(&tampered, &records).await;
    // mail-auth reports a body hash mismatch as "neutral" with this specific error (RFC 6376 calls it
    // PERMFAIL); either way it is not a pass, which is what DMARC looks at.
    let body_hash_mismatch = DkimResult::Neutral(mail_auth::Error::Dkim(DkimError::FailedBodyHashMatch));
    assert_eq!(results, vec![body_hash_mismatch.clone(), body_hash_mismatch]);

    // Tampering with a signed header breaks the signature itself.
    let retitled = signed(MESSAGE, &keys);
    let retitled = String::from_utf8(retitled).expect("ascii").replace("Quarterly", "Annual").into_bytes();
    let results = verify(&retitled, &records).await;
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|r| matches!(r, DkimResult::Fail(_))), "{results:?}");
}

#[tokio::test]
async fn relaxed_canonicalization_tolerates_whitespace_changes() {
    let keys = both_keys();
    let records: Vec<DnsRecord> = keys.iter().map(|k| dns_record(DOMAIN, k)).collect();
    let message = signed(MESSAGE, &keys);
    let rewrapped = String::from_utf8(message)
        .expect("ascii")
        .replace("Subject: Quarterly numbers", "Subject:   Quarterly \r\n numbers")
        .replace("numbers are   attached.", "numbers are attached. ")
        .into_bytes();
    assert_eq!(verify(&rewrapped, &records).await, vec![DkimResult::Pass, DkimResult::Pass]);
}

#[tokio::test]
async fn keys_loaded_back_from_pem_sign_verifiably() {
    let generated = both_keys();
    let loaded: Vec<DkimKey> =
        generated.iter().map(|k| load(&k.selector, k.algorithm, &k.private_pkcs8_pem).expect("loads")).collect();
    assert_eq!(loaded, generated, "public halves are derived back identically");

    let records: Vec<DnsRecord> = generated.iter().map(|k| dns_record(DOMAIN, k)).collect();
    let signer = Signer::new(DOMAIN, &loaded).expect("signer");
    let mut message = signer.sign(MESSAGE.as_bytes()).expect("signs");
    message.extend_from_slice(MESSAGE.as_bytes());
    assert_eq!(verify(&message, &records).await, vec![DkimResult::Pass, DkimResult::Pass]);
}

#[test]
fn loading_rejects_garbage_and_the_wrong_algorithm() {
    let ed = generate(Algorithm::Ed25519, "e").expect("key");
    assert!(load("e", Algorithm::Rsa2048, &ed.private_pkcs8_pem).is_err());
    assert!(load("e", Algorithm::Ed25519, "not a key").is_err());
    let rsa_pkcs1 = "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK\n-----END RSA PRIVATE KEY-----\n";
    assert!(load("r", Algorithm::Rsa2048, rsa_pkcs1).is_err());
    assert!(load("bad selector", Algorithm::Ed25519, &ed.private_pkcs8_pem).is_err());
}

#[test]
fn signing_needs_a_from_header_and_a_valid_domain() {
    let key = generate(Algorithm::Ed25519, "e").expect("key");
    let keys = std::slice::from_ref(&key);
    assert!(sign(b"To: b@example.test\r\n\r\nhi\r\n", DOMAIN, keys).is_err());
    assert!(sign(MESSAGE.as_bytes(), "bad domain", keys).is_err());
    assert_eq!(sign(MESSAGE.as_bytes(), DOMAIN, &[]).expect("no keys is fine"), Vec::<u8>::new());
}
