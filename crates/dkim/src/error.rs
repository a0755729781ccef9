//! The one error type of the DKIM crate.

/// What can go wrong while generating, loading or using a DKIM key.
#[derive(Debug, thiserror::Error)]
pub enum DkimError {
    /// The selector is not a DNS name made of letters, digits and hyphens.
    #[error("invalid DKIM selector {selector:?}: {reason}")]
    InvalidSelector {
        /// The selector as given.
        selector: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The signing domain is empty or contains characters a `d=` tag cannot carry.
    #[error("invalid DKIM signing domain {0:?}")]
    InvalidDomain(String),
    /// The algorithm name is neither `rsa` nor `ed25519`.
    #[error("unknown DKIM algorithm {0:?} (expected \"rsa\" or \"ed25519\")")]
    UnknownAlgorithm(String),
    /// Key generation failed (the system random source or the crypto library refused).
    #[error("could not generate a {algorithm} DKIM key: {reason}")]
    Generate {
        /// The algorithm asked for.
        algorithm: crate::Algorithm,
        /// The library's explanation.
        reason: String,
    },
    /// The private key PEM could not be read as a key of the expected algorithm.
    #[error("invalid {algorithm} DKIM private key for selector {selector:?}: {reason}")]
    InvalidKey {
        /// The selector the key belongs to.
        selector: String,
        /// The algorithm the key was expected to be.
        algorithm: crate::Algorithm,
        /// What was wrong with it.
        reason: String,
    },
    /// The message has no From header; DKIM requires From to be signed (RFC 6376 section 5.4).
    #[error("message has no From header; refusing to sign")]
    MissingFrom,
    /// The signing library failed.
    #[error("DKIM signing with selector {selector:?} failed: {source}")]
    Sign {
        /// The selector of the key that failed.
        selector: String,
        /// The underlying error.
        source: mail_auth::Error,
    },
}
