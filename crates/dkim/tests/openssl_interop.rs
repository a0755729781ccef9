//! Keys move between Mailroom and the rest of the world as PKCS#8 PEM. These tests check both
//! directions against the `openssl` command: keys OpenSSL makes (generated afresh for each run,
//! never stored) load with the public key OpenSSL reports and sign verifiably, and keys we make
//! are read by OpenSSL to the same public key we would publish.

use std::io::Write as _;
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use mailroom_dkim::{Algorithm, generate, load, sign};

const MESSAGE: &[u8] = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: hi\r\n\r\nhello\r\n";

/// Runs `openssl` with `args`, feeding `stdin`; panics with a clear message if it is missing.
fn openssl(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the openssl command is needed for these tests (Debian package openssl)");
    child.stdin.take().expect("stdin").write_all(stdin).expect("write to openssl");
    let out = child.wait_with_output().expect("openssl ran");
    assert!(out.status.success(), "openssl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn openssl_key(algorithm: &str, extra: &[&str]) -> String {
    let mut args = vec!["genpkey", "-algorithm", algorithm];
    args.extend_from_slice(extra);
    String::from_utf8(openssl(&args, b"")).expect("PEM is text")
}

fn openssl_public_der(pem: &str) -> Vec<u8> {
    openssl(&["pkey", "-pubout", "-outform", "DER"], pem.as_bytes())
}

#[test]
fn openssl_keys_load_with_the_public_key_openssl_reports() {
    let ed_pem = openssl_key("ED25519", &[]);
    let ed = load("e", Algorithm::Ed25519, &ed_pem).expect("OpenSSL's PKCS#8 Ed25519 key loads");
    let der = openssl_public_der(&ed_pem);
    assert_eq!(ed.public_key_b64, BASE64.encode(&der[der.len() - 32..]));

    let rsa_pem = openssl_key("RSA", &["-pkeyopt", "rsa_keygen_bits:2048"]);
    let rsa = load("r", Algorithm::Rsa2048, &rsa_pem).expect("OpenSSL's PKCS#8 RSA key loads");
    assert_eq!(rsa.public_key_b64, BASE64.encode(openssl_public_der(&rsa_pem)));
    assert!(sign(MESSAGE, "example.test", &[ed, rsa]).is_ok());
}

#[test]
fn traditional_rsa_pem_is_refused_with_a_hint() {
    let pkcs8 = openssl_key("RSA", &["-pkeyopt", "rsa_keygen_bits:2048"]);
    let pkcs1 = String::from_utf8(openssl(&["rsa", "-traditional"], pkcs8.as_bytes())).expect("PEM is text");
    assert!(pkcs1.contains("BEGIN RSA PRIVATE KEY"), "openssl wrote PKCS#1");
    let err = load("r", Algorithm::Rsa2048, &pkcs1).expect_err("PKCS#1 is not PKCS#8");
    assert!(err.to_string().contains("openssl pkcs8 -topk8"), "{err}");
}

#[test]
fn openssl_reads_our_keys() {
    let rsa = generate(Algorithm::Rsa2048, "r").expect("rsa");
    assert_eq!(BASE64.encode(openssl_public_der(&rsa.private_pkcs8_pem)), rsa.public_key_b64);

    let ed = generate(Algorithm::Ed25519, "e").expect("ed25519");
    let der = openssl_public_der(&ed.private_pkcs8_pem);
    // The SubjectPublicKeyInfo of an Ed25519 key ends with the raw 32-byte key, which is what DNS gets.
    assert_eq!(BASE64.encode(&der[der.len() - 32..]), ed.public_key_b64);
}
