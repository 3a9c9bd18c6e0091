//! Self-signed certificates for a relay on a LAN: made with rcgen (ECDSA
//! P-256), written as PEM with the key readable by its owner alone, for
//! `tabula-server gen-cert` ([`generate`], [`write_pair`]) and for the app's
//! host, which makes one the first time it hosts and keeps it, so that its
//! fingerprint, and the short code people compare, stays the same
//! ([`load_or_generate`]).
//!
//! No certificate authority vouches for these: clients trust them by their
//! fingerprint (`tabula_shared::pinning`), so the names in them matter
//! little, and a file is only ever replaced by hand.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use tabula_shared::fingerprint::Fingerprint;

use super::{CERT_FILE, KEY_FILE, TlsError, TlsSettings};
use crate::discovery;

/// What the app's host names the certificate it keeps.
const KEPT_CERT_FILE: &str = "cert.pem";
/// What the app's host names the key it keeps.
const KEPT_KEY_FILE: &str = "key.pem";

/// A self-signed certificate and its key, just made.
#[derive(Clone)]
pub struct Generated {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PEM (PKCS#8). Secret.
    pub key_pem: String,
    /// The certificate's fingerprint.
    pub fingerprint: Fingerprint,
}

/// Makes a self-signed certificate (ECDSA P-256) valid for `names`: host
/// names and IP addresses, each a subject alternative name.
pub fn generate(names: &[String]) -> Result<Generated, TlsError> {
    let mut params = rcgen::CertificateParams::new(names.to_vec())?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Tabula relay");
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok(Generated {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        fingerprint: Fingerprint::of_certificate(cert.der()),
    })
}

/// The names a LAN relay's certificate is made for when none are given:
/// this machine's name, `localhost`, the loopback addresses, and the
/// addresses others on the network can reach it at.
#[must_use]
pub fn default_names() -> Vec<String> {
    let mut names = vec![
        discovery::machine_name(),
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    match discovery::reachable_addresses(IpAddr::V4(Ipv4Addr::UNSPECIFIED)) {
        Ok(addresses) => names.extend(addresses.iter().map(IpAddr::to_string)),
        Err(err) => tracing::warn!(%err, "could not list this machine's addresses"),
    }
    let mut seen = std::collections::HashSet::new();
    names.retain(|name| !name.is_empty() && seen.insert(name.clone()));
    names
}

/// Writes `generated` into `dir` as [`CERT_FILE`] and [`KEY_FILE`] (the key
/// readable by its owner alone), refusing to overwrite either. Returns their
/// paths.
pub fn write_pair(dir: &Path, generated: &Generated) -> Result<(PathBuf, PathBuf), TlsError> {
    let (cert, key) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
    for path in [&cert, &key] {
        if path.exists() {
            return Err(TlsError::Exists { path: path.clone() });
        }
    }
    create_dir(dir)?;
    write_file(&key, &generated.key_pem, true)?;
    write_file(&cert, &generated.cert_pem, false)?;
    Ok((cert, key))
}

/// The certificate kept in `dir` (`cert.pem`, `key.pem`), made first if
/// there is none yet (for [`default_names`]), so that its fingerprint stays
/// the same from one run to the next: the app's host. The key is written
/// before the certificate, each in full before it takes its name, so a pair
/// cut short by a crash is made again rather than left half-written.
pub fn load_or_generate(dir: &Path) -> Result<TlsSettings, TlsError> {
    let (cert, key) = (dir.join(KEPT_CERT_FILE), dir.join(KEPT_KEY_FILE));
    if !cert.exists() || !key.exists() {
        let made = generate(&default_names())?;
        create_dir(dir)?;
        write_file(&key, &made.key_pem, true)?;
        write_file(&cert, &made.cert_pem, false)?;
        tracing::info!(
            cert = %cert.display(),
            code = %made.fingerprint.short_code(),
            "made a certificate for this host"
        );
    }
    TlsSettings::load(&cert, &key)
}

/// Makes `dir` and its parents.
fn create_dir(dir: &Path) -> Result<(), TlsError> {
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
        path: dir.to_path_buf(),
        source,
    })
}

/// Writes `path` whole: into `PATH.new` first, flushed to disk, then renamed
/// over `path`. A `secret` file is created readable by its owner alone (on
/// Unix), never briefly readable by others.
fn write_file(path: &Path, text: &str, secret: bool) -> Result<(), TlsError> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".new");
    let partial = PathBuf::from(partial);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let error = |source| TlsError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut file = options.open(&partial).map_err(error)?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(error)?;
    drop(file);
    std::fs::rename(&partial, path).map_err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_pair_loads_with_its_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let made = generate(&["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        let (cert, key) = write_pair(dir.path(), &made).unwrap();
        let settings = TlsSettings::load(&cert, &key).unwrap();
        assert_eq!(settings.fingerprint(), made.fingerprint);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let permissions = std::fs::metadata(&key).unwrap().permissions().mode();
            assert_eq!(permissions & 0o777, 0o600, "the key is its owner's alone");
        }
        let again = write_pair(dir.path(), &made).unwrap_err();
        assert!(matches!(again, TlsError::Exists { .. }), "{again}");
    }

    #[test]
    fn a_host_keeps_its_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let kept = dir.path().join("tls");
        let first = load_or_generate(&kept).unwrap();
        let second = load_or_generate(&kept).unwrap();
        assert_eq!(first.fingerprint(), second.fingerprint());
        // A pair cut short is made again, not left unusable.
        std::fs::remove_file(kept.join(KEPT_CERT_FILE)).unwrap();
        let third = load_or_generate(&kept).unwrap();
        assert_ne!(third.fingerprint(), first.fingerprint());
        assert!(!default_names().is_empty());
    }
}
