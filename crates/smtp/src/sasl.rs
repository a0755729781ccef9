//! SASL PLAIN (RFC 4616) and LOGIN decoding for AUTH.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Decodes one base64 client response; `=` is the empty response.
pub fn decode(b64: &str) -> Option<Vec<u8>> {
    let b64 = b64.trim();
    if b64 == "=" {
        return Some(Vec::new());
    }
    STANDARD.decode(b64).ok()
}

/// Encodes a server challenge.
pub fn encode(text: &str) -> String {
    STANDARD.encode(text)
}

/// Splits a PLAIN response into (login, password). An authorization
/// identity different from the login is refused (no proxy logins).
pub fn plain(response: &[u8]) -> Option<(String, String)> {
    let mut parts = response.split(|&b| b == 0);
    let authz = parts.next()?;
    let authc = parts.next()?;
    let pass = parts.next()?;
    if parts.next().is_some() || authc.is_empty() {
        return None;
    }
    if !authz.is_empty() && authz != authc {
        return None;
    }
    Some((String::from_utf8(authc.to_vec()).ok()?, String::from_utf8(pass.to_vec()).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4616_examples() {
        let r = decode("AHRpbQB0YW5zdGFhZnRhbnN0YWFm").expect("b64");
        assert_eq!(plain(&r), Some(("tim".into(), "tanstaaftanstaaf".into())));
        let r = decode("dGltAHRpbQB0YW5zdGFhZnRhbnN0YWFm").expect("b64");
        assert_eq!(plain(&r), Some(("tim".into(), "tanstaaftanstaaf".into())));
        let r = decode("S3VydAB0aW0AdGFuc3RhYWZ0YW5zdGFhZg==").expect("b64");
        assert_eq!(plain(&r), None, "authzid differs from authcid");
        assert_eq!(decode("not base64!"), None);
        assert_eq!(decode("="), Some(vec![]));
    }
}
