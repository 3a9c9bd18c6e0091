//! The relays' certificates this app has trusted, per host: the
//! `known-hosts` file in the app's data folder, read before each `wss://`
//! connection and written (atomically) when a host is trusted on first use
//! or an invitation names its certificate.
//!
//! One line per relay, `HOST:PORT FINGERPRINT` (the fingerprint in its long,
//! colon-separated hex form), as a person can read, check and edit it: to
//! trust a relay's new certificate, delete its line. Blank lines and lines
//! starting with `#` are kept as they are; a line that cannot be read is
//! kept too, and ignored.
//!
//! Without a file ([`KnownHosts::in_memory`], what a [`crate::session::Session`]
//! starts with, so that tests never write the data folder) certificates are
//! remembered for as long as the app runs.

use std::collections::BTreeMap;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use tabula_shared::fingerprint::Fingerprint;

/// The file's name in the app's data folder.
const FILE_NAME: &str = "known-hosts";

/// The first lines of a new file.
const HEADER: &str = "# Relay certificates Tabula trusts: HOST:PORT SHA-256.\n\
                      # Delete a relay's line to trust a new certificate of its.\n";

/// Where the certificates of known relays are kept (cheap to clone: clones
/// share them).
#[derive(Clone, Debug)]
pub struct KnownHosts {
    /// The file, or, without one, the certificates remembered in memory.
    place: Place,
}

/// Where [`KnownHosts`] keeps what it knows.
#[derive(Clone, Debug)]
enum Place {
    /// In a file.
    File(PathBuf),
    /// In memory, for as long as the app runs.
    Memory(Arc<Mutex<BTreeMap<String, Fingerprint>>>),
}

impl KnownHosts {
    /// The file in the app's data folder (`~/.local/share/tabula/known-hosts`
    /// on Linux), or memory on a system with no data folder.
    #[must_use]
    pub fn in_data_dir() -> Self {
        dirs::data_dir().map_or_else(Self::in_memory, |dir| {
            Self::at(dir.join("tabula").join(FILE_NAME))
        })
    }

    /// The file at `path`.
    #[must_use]
    pub fn at(path: PathBuf) -> Self {
        Self {
            place: Place::File(path),
        }
    }

    /// No file: certificates are remembered for as long as the app runs.
    #[must_use]
    pub fn in_memory() -> Self {
        Self {
            place: Place::Memory(Arc::default()),
        }
    }

    /// The file, if there is one.
    #[must_use]
    pub fn path(&self) -> Option<&Path> {
        match &self.place {
            Place::File(path) => Some(path),
            Place::Memory(_) => None,
        }
    }

    /// The certificate trusted for `authority` (`HOST:PORT`), if any. A file
    /// that does not exist yet knows nobody; one that cannot be read is an
    /// error: trusting anew a host whose certificate is on record would hide
    /// the very change the file is there to catch.
    pub fn lookup(&self, authority: &str) -> io::Result<Option<Fingerprint>> {
        let path = match &self.place {
            Place::File(path) => path,
            Place::Memory(known) => {
                let known = known.lock().unwrap_or_else(PoisonError::into_inner);
                return Ok(known.get(authority).copied());
            }
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err),
        };
        Ok(text
            .lines()
            .filter_map(parse_line)
            .filter(|(host, _)| *host == authority)
            .map(|(_, fingerprint)| fingerprint)
            .next_back())
    }

    /// Trusts `fingerprint` for `authority` from now on, replacing what was
    /// trusted for it. The file is written whole beside itself and renamed
    /// into place, so it is never seen half-written.
    pub fn remember(&self, authority: &str, fingerprint: &Fingerprint) -> io::Result<()> {
        let path = match &self.place {
            Place::File(path) => path,
            Place::Memory(known) => {
                let mut known = known.lock().unwrap_or_else(PoisonError::into_inner);
                known.insert(authority.to_owned(), *fingerprint);
                return Ok(());
            }
        };
        let old = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == io::ErrorKind::NotFound => HEADER.to_owned(),
            Err(err) => return Err(err),
        };
        let mut text: String = old
            .lines()
            .filter(|line| parse_line(line).is_none_or(|(host, _)| host != authority))
            .flat_map(|line| [line, "\n"])
            .collect();
        text.push_str(authority);
        text.push(' ');
        text.push_str(&fingerprint.long());
        text.push('\n');
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut partial = path.as_os_str().to_owned();
        partial.push(format!(".{}.new", std::process::id()));
        let partial = PathBuf::from(partial);
        let written = std::fs::File::create(&partial).and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.sync_all()
        });
        if let Err(err) = written.and_then(|()| std::fs::rename(&partial, path)) {
            let _ = std::fs::remove_file(&partial);
            return Err(err);
        }
        Ok(())
    }
}

/// `HOST:PORT FINGERPRINT`, or `None` for a comment, a blank line or a line
/// that is neither.
fn parse_line(line: &str) -> Option<(&str, Fingerprint)> {
    let line = line.trim();
    if line.starts_with('#') {
        return None;
    }
    let (host, fingerprint) = line.split_once(char::is_whitespace)?;
    Some((host, Fingerprint::parse(fingerprint.trim()).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_remembered_replaced_and_kept_apart() {
        let dir = tempfile::tempdir().unwrap();
        let known = KnownHosts::at(dir.path().join("data").join(FILE_NAME));
        let (first, second) = (
            Fingerprint::of_certificate(b"first"),
            Fingerprint::of_certificate(b"second"),
        );
        assert_eq!(known.lookup("h:1").unwrap(), None, "no file yet");
        known.remember("h:1", &first).unwrap();
        known.remember("[::1]:2", &second).unwrap();
        assert_eq!(known.lookup("h:1").unwrap(), Some(first));
        assert_eq!(known.lookup("[::1]:2").unwrap(), Some(second));
        assert_eq!(known.lookup("h:2").unwrap(), None, "per host and port");
        known.remember("h:1", &second).unwrap();
        assert_eq!(known.lookup("h:1").unwrap(), Some(second));
        let text = std::fs::read_to_string(known.path().unwrap()).unwrap();
        assert!(text.starts_with("# "), "{text}");
        assert_eq!(text.matches("h:1 ").count(), 1, "{text}");
        assert!(text.contains(&second.long()), "{text}");
        let leftovers = std::fs::read_dir(dir.path().join("data")).unwrap().count();
        assert_eq!(leftovers, 1, "no temporary file is left behind");
    }

    #[test]
    fn without_a_file_clones_share_what_they_remember() {
        let known = KnownHosts::in_memory();
        let fp = Fingerprint::of_certificate(b"x");
        known.clone().remember("h:1", &fp).unwrap();
        assert_eq!(known.lookup("h:1").unwrap(), Some(fp));
        assert_eq!(known.path(), None);
    }

    #[test]
    fn lines_people_wrote_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "# mine\n\nnot a line\nh:1 zz\n").unwrap();
        let known = KnownHosts::at(path.clone());
        assert_eq!(known.lookup("h:1").unwrap(), None);
        let fp = Fingerprint::of_certificate(b"x");
        known.remember("h:1", &fp).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# mine\n\nnot a line\nh:1 zz\n"), "{text}");
        assert_eq!(known.lookup("h:1").unwrap(), Some(fp));
    }
}
