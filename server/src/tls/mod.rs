//! TLS, for `wss://`: the certificate and key a relay serves, loaded and
//! checked before it starts ([`TlsSettings`]), and why they may not load
//! ([`TlsError`]).
//!
//! - [`transport`]: the stream every connection is read through, plain or
//!   TLS.
//! - [`self_signed`]: self-signed certificates for a LAN (`tabula-server
//!   gen-cert`, and the app's host, which makes one once and keeps it).
//!
//! rustls with the `ring` provider ([`tabula_shared::pinning::provider`]),
//! everywhere in the workspace: it builds with the Rust toolchain alone.
//! A self-signed certificate is trusted by what it *is*, not by who signed
//! it: clients pin its SHA-256 ([`Fingerprint`]), from an invitation's
//! `#fp=` or on first use, and people compare its short code aloud.

pub mod self_signed;
pub mod transport;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tabula_shared::fingerprint::Fingerprint;
use tabula_shared::pinning::provider;
use tokio_rustls::TlsAcceptor;

/// What `gen-cert` names the certificate it writes.
pub const CERT_FILE: &str = "tabula-cert.pem";
/// What `gen-cert` names the private key it writes.
pub const KEY_FILE: &str = "tabula-key.pem";
/// The first byte of every TLS connection: a handshake record.
pub const TLS_HANDSHAKE_BYTE: u8 = 0x16;

/// The certificate chain and key a relay serves `wss://` with, loaded and
/// checked (cheap to clone: every clone shares them).
#[derive(Clone)]
pub struct TlsSettings {
    /// The certificate file, for the log.
    cert_path: PathBuf,
    /// The leaf certificate's fingerprint: logged when the relay starts, and
    /// what invitations carry.
    fingerprint: Fingerprint,
    /// What every handshake uses: the chain, the key and the ring provider.
    server: Arc<rustls::ServerConfig>,
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("cert_path", &self.cert_path)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

/// Why TLS cannot be set up. Each message names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("could not read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// A file is not PEM, or holds nothing of the kind wanted.
    #[error("{} holds no {what} in PEM form ({detail})", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// A certificate or a private key.
        what: &'static str,
        /// What the PEM reader said.
        detail: String,
    },
    /// rustls refused the pair: the key does not match the certificate, or
    /// is of a kind it cannot sign with.
    #[error(
        "the key in {} cannot serve the certificate in {}: {source}",
        key.display(),
        cert.display()
    )]
    Unusable {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        #[source]
        source: rustls::Error,
    },
    /// rcgen could not make a certificate (a name it cannot encode).
    #[error("could not make a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// A file could not be written.
    #[error("could not write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// `gen-cert` would overwrite a certificate or key.
    #[error(
        "{} already exists: a new certificate would change its fingerprint for everyone who trusts it (remove it first, or write elsewhere with --out)",
        path.display()
    )]
    Exists {
        /// The file.
        path: PathBuf,
    },
}

impl TlsSettings {
    /// Loads a certificate chain (PEM, the relay's own certificate first) and
    /// its private key (PEM: PKCS#8, PKCS#1 or SEC1), and checks that they
    /// go together.
    pub fn load(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| TlsError::Read {
                path: path.to_path_buf(),
                source,
            })
        };
        Self::from_pem(&read(cert)?, cert, &read(key)?, key)
    }

    /// A pair from PEM text; `cert_path` and `key_path` name it in errors.
    fn from_pem(
        cert_pem: &[u8],
        cert_path: &Path,
        key_pem: &[u8],
        key_path: &Path,
    ) -> Result<Self, TlsError> {
        let pem_error = |path: &Path, what, detail: String| TlsError::Pem {
            path: path.to_path_buf(),
            what,
            detail,
        };
        let chain = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|err| pem_error(cert_path, "certificate", err.to_string()))?;
        let Some(leaf) = chain.first() else {
            return Err(pem_error(
                cert_path,
                "certificate",
                "no -----BEGIN CERTIFICATE----- section".to_owned(),
            ));
        };
        let fingerprint = Fingerprint::of_certificate(leaf);
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|err| pem_error(key_path, "private key", err.to_string()))?;
        let server = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .and_then(|builder| builder.with_no_client_auth().with_single_cert(chain, key))
            .map_err(|source| TlsError::Unusable {
                cert: cert_path.to_path_buf(),
                key: key_path.to_path_buf(),
                source,
            })?;
        Ok(Self {
            cert_path: cert_path.to_path_buf(),
            fingerprint,
            server: Arc::new(server),
        })
    }

    /// The relay's certificate's fingerprint.
    #[must_use]
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// The certificate file.
    #[must_use]
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// The acceptor each connection's handshake runs through.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(Arc::clone(&self.server))
    }
}

#[cfg(test)]
mod tests {
    use super::self_signed::{generate, write_pair};
    use super::*;

    #[test]
    fn bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let made = generate(&["localhost".to_owned()]).unwrap();
        let other = generate(&["localhost".to_owned()]).unwrap();
        let (cert, key) = write_pair(dir.path(), &made).unwrap();
        let missing = dir.path().join("nope.pem");
        let err = TlsSettings::load(&missing, &key).unwrap_err().to_string();
        assert!(err.contains("nope.pem"), "{err}");
        let err = TlsSettings::load(&key, &key).unwrap_err().to_string();
        assert!(
            err.contains(KEY_FILE) && err.contains("certificate"),
            "{err}"
        );
        let err = TlsSettings::load(&cert, &cert).unwrap_err().to_string();
        assert!(
            err.contains(CERT_FILE) && err.contains("private key"),
            "{err}"
        );
        let wrong_key = dir.path().join("other-key.pem");
        std::fs::write(&wrong_key, &other.key_pem).unwrap();
        let err = TlsSettings::load(&cert, &wrong_key)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("other-key.pem") && err.contains(CERT_FILE),
            "{err}"
        );
    }
}
