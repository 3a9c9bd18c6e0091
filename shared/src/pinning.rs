//! How a client trusts a relay's certificate: by its [`Fingerprint`], not by
//! who signed it. The rustls client configuration the app and `tabula-bench`
//! open `wss://` connections with, and the workspace's one crypto provider.
//!
//! A LAN relay's certificate is self-signed (`tabula-server gen-cert`, the
//! app's host): no certificate authority vouches for it, so a client checks
//! that the relay presents *the* certificate it expects, by its SHA-256:
//! - [`Expect::Certificate`]: the one an invitation's `#fp=` named, or the
//!   one remembered for this host; any other ends the handshake before a
//!   byte of the room is sent.
//! - [`Expect::Anything`]: the first connection to a host nobody vouched for
//!   (trust on first use: the client then remembers what was presented, and
//!   people compare its short code aloud), and `tabula-bench --insecure`.
//!
//! Either way the relay must prove, in the handshake, that it holds the
//! private key of the certificate it presents (its signature is checked with
//! the provider's algorithms), and [`PinnedClient::presented`] says which
//! certificate that was, also when the handshake failed because it was not
//! the one expected.
//!
//! Names and validity dates are not checked: the fingerprint *is* the
//! identity, and a LAN certificate made for `192.168.1.20` still has to work
//! when DHCP hands the machine another address.

use std::sync::{Arc, Mutex, PoisonError};

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, InvalidDnsNameError, ServerName, UnixTime};

use crate::fingerprint::Fingerprint;

/// The one crypto provider of the workspace: ring, which builds with the
/// Rust toolchain alone (aws-lc-rs, rustls' default, needs cmake).
///
/// rustls 0.23.48 deprecates it because ring has no post-quantum key
/// exchange (X25519MLKEM768): a recording of today's traffic could be
/// decrypted by a large quantum computer some day. For a whiteboard on a LAN
/// that is a fair trade for a build without cmake; a pure-Rust provider with
/// ML-KEM would lift it.
#[must_use]
#[expect(deprecated, reason = "ring, for builds without cmake; see above")]
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Which certificate the relay must present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// This one, and no other.
    Certificate(Fingerprint),
    /// Any (its fingerprint is recorded): trust on first use, or a test
    /// that accepts whatever the relay has.
    Anything,
}

/// The relay presented a certificate other than the one expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the relay presented certificate {} ({presented}), not the expected {} ({expected})",
    presented.short_code(),
    expected.short_code()
)]
pub struct Mismatch {
    /// The certificate the client expected.
    pub expected: Fingerprint,
    /// The certificate the relay presented.
    pub presented: Fingerprint,
}

/// A rustls client configuration that trusts one certificate (or, for
/// [`Expect::Anything`], whatever is presented), and the fingerprint of the
/// certificate the relay presented. One per connection attempt.
#[derive(Clone, Debug)]
pub struct PinnedClient {
    /// What the handshake runs with.
    config: Arc<rustls::ClientConfig>,
    /// Written by the handshake.
    verifier: Arc<PinningVerifier>,
}

impl PinnedClient {
    /// A client configuration that expects `expect`.
    #[must_use]
    pub fn new(expect: Expect) -> Self {
        let provider = provider();
        let verifier = Arc::new(PinningVerifier {
            expect,
            algorithms: provider.signature_verification_algorithms,
            presented: Mutex::new(None),
        });
        // The provider's defaults (TLS 1.3 and 1.2) cannot be refused by its
        // own builder: a failure here is a build of rustls without them.
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap_or_else(|err| panic!("ring supports TLS 1.2 and 1.3: {err}"))
            .dangerous()
            .with_custom_certificate_verifier(Arc::clone(&verifier) as Arc<dyn ServerCertVerifier>)
            .with_no_client_auth();
        Self {
            config: Arc::new(config),
            verifier,
        }
    }

    /// The configuration to hand `tokio_rustls::TlsConnector`.
    #[must_use]
    pub fn config(&self) -> Arc<rustls::ClientConfig> {
        Arc::clone(&self.config)
    }

    /// The fingerprint of the certificate the relay presented, once the
    /// handshake has seen it (also when it was refused).
    #[must_use]
    pub fn presented(&self) -> Option<Fingerprint> {
        *self
            .verifier
            .presented
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The certificate the relay presented, if it was not the one expected.
    #[must_use]
    pub fn mismatch(&self) -> Option<Mismatch> {
        match (self.verifier.expect, self.presented()) {
            (Expect::Certificate(expected), Some(presented)) if presented != expected => {
                Some(Mismatch {
                    expected,
                    presented,
                })
            }
            _ => None,
        }
    }
}

/// The name a TLS client asks for when it dials `host` (an IPv6 address
/// without brackets): a DNS name is sent as SNI; an IP address is not.
pub fn server_name(host: &str) -> Result<ServerName<'static>, InvalidDnsNameError> {
    ServerName::try_from(host.to_owned())
}

/// The verifier: compares the leaf's fingerprint, records it, and checks the
/// handshake's signatures against the key in it.
#[derive(Debug)]
struct PinningVerifier {
    /// Which certificate is acceptable.
    expect: Expect,
    /// The provider's signature algorithms.
    algorithms: WebPkiSupportedAlgorithms,
    /// The leaf the relay presented.
    presented: Mutex<Option<Fingerprint>>,
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented = Fingerprint::of_certificate(end_entity);
        *self
            .presented
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(presented);
        match self.expect {
            Expect::Certificate(expected) if expected != presented => {
                Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::Other(rustls::OtherError(Arc::new(Mismatch {
                        expected,
                        presented,
                    }))),
                ))
            }
            _ => Ok(ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mismatch_names_both_certificates() {
        let expected = Fingerprint::of_certificate(b"the relay's");
        let presented = Fingerprint::of_certificate(b"someone else's");
        let pinned = PinnedClient::new(Expect::Certificate(expected));
        assert_eq!(pinned.presented(), None);
        let verifier = &pinned.verifier;
        let refused = verifier.verify_server_cert(
            &CertificateDer::from(&b"someone else's"[..]),
            &[],
            &server_name("127.0.0.1").unwrap(),
            &[],
            UnixTime::now(),
        );
        assert!(refused.is_err());
        let mismatch = pinned.mismatch().unwrap();
        assert_eq!(
            (mismatch.expected, mismatch.presented),
            (expected, presented)
        );
        let text = mismatch.to_string();
        for fingerprint in [expected, presented] {
            assert!(text.contains(&fingerprint.short_code()), "{text}");
            assert!(text.contains(&fingerprint.long()), "{text}");
        }
        assert!(
            verifier
                .verify_server_cert(
                    &CertificateDer::from(&b"the relay's"[..]),
                    &[],
                    &server_name("localhost").unwrap(),
                    &[],
                    UnixTime::now(),
                )
                .is_ok()
        );
        assert_eq!(pinned.mismatch(), None);
    }

    #[test]
    fn anything_is_recorded() {
        let pinned = PinnedClient::new(Expect::Anything);
        let cert = CertificateDer::from(&b"whatever"[..]);
        assert!(
            pinned
                .verifier
                .verify_server_cert(
                    &cert,
                    &[],
                    &server_name("::1").unwrap(),
                    &[],
                    UnixTime::now()
                )
                .is_ok()
        );
        assert_eq!(
            pinned.presented(),
            Some(Fingerprint::of_certificate(b"whatever"))
        );
        assert_eq!(pinned.mismatch(), None);
    }
}
