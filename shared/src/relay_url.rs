//! A room's address, as people pass it around: `ws://HOST:PORT/ROOM`, or
//! `wss://HOST:PORT/ROOM#fp=…` for a relay that speaks TLS, whose invitation
//! names the certificate it presents. The app and `tabula-bench` read URLs
//! with this one parser, so a link that works in one works in the other.
//!
//! The fragment (after `#`) never reaches the relay: it is `&`-separated
//! `key=value` pairs for the client, of which `fp` is the certificate's
//! [`Fingerprint`] (any of the forms [`Fingerprint::parse`] reads); other keys
//! are ignored here.

use std::fmt;

use crate::fingerprint::{Fingerprint, FingerprintError};
use crate::room_name::{self, RoomNameError};

/// The port of a `ws://` URL that names none.
pub const WS_DEFAULT_PORT: u16 = 80;
/// The port of a `wss://` URL that names none.
pub const WSS_DEFAULT_PORT: u16 = 443;

/// A relay and room, parsed from `ws[s]://HOST[:PORT]/ROOM[#fp=…]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayUrl {
    /// `wss://`: the connection goes through TLS.
    pub secure: bool,
    /// The host as written, an IPv6 address without its brackets: what the
    /// connection dials and, over TLS, the server name it asks for.
    pub host: String,
    /// The port, written or the scheme's default.
    pub port: u16,
    /// The room, from the path.
    pub room: String,
    /// The certificate the relay must present (`#fp=`), when the URL names it.
    pub fingerprint: Option<Fingerprint>,
}

/// Why a text is not a room's address.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not `ws://` or `wss://`.
    #[error("a relay address starts with ws:// or wss://, as in ws://HOST:7457/ROOM")]
    NotWebSocket,
    /// No host between the scheme and the path.
    #[error("the relay address names no host, as in ws://HOST:7457/ROOM")]
    NoHost,
    /// The port is not a number from 1 to 65535.
    #[error("{0:?} is not a port, as in ws://HOST:7457/ROOM")]
    BadPort(String),
    /// The path is not a valid room.
    #[error(transparent)]
    Room(#[from] RoomNameError),
    /// The fragment's `fp=` is not a fingerprint.
    #[error("the address's #fp= is not a certificate fingerprint: {0}")]
    Fingerprint(#[from] FingerprintError),
}

impl RelayUrl {
    /// Parses and checks a room's address.
    pub fn parse(url: &str) -> Result<Self, UrlError> {
        let (secure, rest) = if let Some(rest) = url.strip_prefix("wss://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("ws://") {
            (false, rest)
        } else {
            return Err(UrlError::NotWebSocket);
        };
        let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let (host, port) = split_authority(authority)?;
        if host.is_empty() {
            return Err(UrlError::NoHost);
        }
        let room = room_name::from_path(path)?.to_owned();
        let mut fingerprint = None;
        for pair in fragment.split('&') {
            if let Some(value) = pair.strip_prefix("fp=") {
                fingerprint = Some(Fingerprint::parse(value)?);
            }
        }
        Ok(Self {
            secure,
            host: host.to_owned(),
            port: port.unwrap_or(if secure {
                WSS_DEFAULT_PORT
            } else {
                WS_DEFAULT_PORT
            }),
            room,
            fingerprint,
        })
    }

    /// `HOST:PORT` (an IPv6 host in brackets): what a connection dials, and
    /// what the app remembers a relay's certificate by.
    #[must_use]
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The URL without its fragment: what the WebSocket handshake asks for.
    #[must_use]
    pub fn address(&self) -> String {
        let scheme = if self.secure { "wss" } else { "ws" };
        format!("{scheme}://{}/{}", self.authority(), self.room)
    }
}

impl fmt::Display for RelayUrl {
    /// The address, with `#fp=` when it names a certificate.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address())?;
        if let Some(fingerprint) = &self.fingerprint {
            write!(f, "#fp={}", fingerprint.url_form())?;
        }
        Ok(())
    }
}

/// `url` with `#fp=` naming `fingerprint` (replacing any fragment it had).
#[must_use]
pub fn with_fingerprint(url: &str, fingerprint: &Fingerprint) -> String {
    let bare = url.split_once('#').map_or(url, |(bare, _)| bare);
    format!("{bare}#fp={}", fingerprint.url_form())
}

/// The host and, if written, the port of `HOST[:PORT]` or `[V6][:PORT]`.
fn split_authority(authority: &str) -> Result<(&str, Option<u16>), UrlError> {
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or(UrlError::NoHost)?;
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Err(UrlError::BadPort(after.to_owned())),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = port
        .map(|port| {
            port.parse::<u16>()
                .ok()
                .filter(|port| *port > 0)
                .ok_or_else(|| UrlError::BadPort(port.to_owned()))
        })
        .transpose()?;
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_tls_addresses() {
        let plain = RelayUrl::parse("ws://127.0.0.1:7457/team").unwrap();
        assert_eq!(
            plain,
            RelayUrl {
                secure: false,
                host: "127.0.0.1".to_owned(),
                port: 7457,
                room: "team".to_owned(),
                fingerprint: None,
            }
        );
        assert_eq!(plain.to_string(), "ws://127.0.0.1:7457/team");
        let tls = RelayUrl::parse("wss://example.org/team").unwrap();
        assert_eq!((tls.secure, tls.port), (true, 443));
        assert_eq!(RelayUrl::parse("ws://h/r").unwrap().port, 80);
        let v6 = RelayUrl::parse("wss://[::1]:9/r").unwrap();
        assert_eq!(
            (v6.host.as_str(), v6.authority()),
            ("::1", "[::1]:9".to_owned())
        );
    }

    #[test]
    fn an_invitation_names_its_certificate() {
        let fp = Fingerprint::of_certificate(b"cert");
        let url = with_fingerprint("wss://10.0.0.2:7457/team", &fp);
        let parsed = RelayUrl::parse(&url).unwrap();
        assert_eq!(parsed.fingerprint, Some(fp));
        assert_eq!(parsed.address(), "wss://10.0.0.2:7457/team");
        assert_eq!(parsed.to_string(), url);
        // Other keys are someone else's; the long form reads too.
        let long = format!("wss://h:1/r#invite=x&fp={}&y", fp.long());
        assert_eq!(RelayUrl::parse(&long).unwrap().fingerprint, Some(fp));
        assert_eq!(
            RelayUrl::parse("wss://h:1/r#other").unwrap().fingerprint,
            None
        );
        assert!(matches!(
            RelayUrl::parse("wss://h:1/r#fp=nope"),
            Err(UrlError::Fingerprint(_))
        ));
    }

    #[test]
    fn bad_addresses_say_why() {
        assert_eq!(
            RelayUrl::parse("http://x/team"),
            Err(UrlError::NotWebSocket)
        );
        assert_eq!(RelayUrl::parse("ws:///team"), Err(UrlError::NoHost));
        assert_eq!(RelayUrl::parse("ws://:80/team"), Err(UrlError::NoHost));
        assert!(matches!(
            RelayUrl::parse("ws://h:x/team"),
            Err(UrlError::BadPort(_))
        ));
        assert!(matches!(
            RelayUrl::parse("ws://h:0/team"),
            Err(UrlError::BadPort(_))
        ));
        assert!(matches!(
            RelayUrl::parse("ws://h:7457/"),
            Err(UrlError::Room(_))
        ));
        assert!(matches!(
            RelayUrl::parse("ws://h:7457/a/b"),
            Err(UrlError::Room(_))
        ));
    }
}
