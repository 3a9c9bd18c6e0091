//! Where the load goes: the relay's address and the room, parsed from
//! `ws://HOST:PORT/ROOM` or `wss://HOST:PORT/ROOM[#fp=…]` (the app's parser,
//! so an invitation works as it does in the app), the certificate a `wss://`
//! relay must present, and the URL of each room when peers are spread over
//! several (`ROOM-0`, `ROOM-1`, …).
//!
//! The generator drives relays on this machine only: it refuses any host that is
//! not a loopback address, so a typo cannot turn it on someone else's server.

use anyhow::{Context as _, bail};
use tabula_shared::access::{InviteToken, Password, split_code, split_invite};
use tabula_shared::fingerprint::Fingerprint;
use tabula_shared::pinning::Expect;
use tabula_shared::relay_url::RelayUrl;

/// A relay on loopback and the room (or room prefix) to load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The relay and the room of the URL; with several rooms, the prefix of
    /// their names.
    url: RelayUrl,
    /// How many rooms the peers are spread over.
    rooms: usize,
    /// For `wss://`: the certificate the relay must present.
    certificate: Option<Expect>,
    /// The relay's password, to answer its challenge with: `--password`, or
    /// the URL's `#code=`.
    password: Option<Password>,
    /// The invitation every peer comes with: `--token`, or the URL's
    /// `#invite=`, as the app reads an invitation link.
    invite: Option<InviteToken>,
}

/// How a `wss://` relay's certificate is checked, from the flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Trust {
    /// `--fingerprint`: the relay must present this certificate.
    pub fingerprint: Option<Fingerprint>,
    /// `--insecure`: any certificate will do.
    pub insecure: bool,
}

impl Target {
    /// Parses `ws[s]://HOST:PORT/ROOM[#fp=…]`, checking that the host is
    /// loopback, the room a valid Tabula room name, and, for `wss://`, that
    /// something says which certificate to accept.
    pub fn parse(url: &str, rooms: usize, trust: Trust) -> anyhow::Result<Self> {
        let parsed = RelayUrl::parse(url)
            .with_context(|| format!("{url:?} (expected ws://127.0.0.1:PORT/ROOM)"))?;
        if !is_loopback(&parsed.host) {
            bail!(
                "{:?} is not a loopback address: tabula-bench loads relays on this \
                 machine only (127.0.0.1, localhost or [::1])",
                parsed.host
            );
        }
        if rooms == 0 {
            bail!("--rooms must be at least 1");
        }
        let certificate = certificate(&parsed, trust)?;
        let target = Self {
            url: parsed,
            rooms,
            certificate,
            password: split_code(url).1,
            invite: split_invite(url).1,
        };
        if url.contains("invite=") && target.invite.is_none() {
            bail!("the URL's #invite= is not an invitation (64 hex digits)");
        }
        if target.invite.is_some() && rooms > 1 {
            bail!("an invitation admits to one room: use --rooms 1");
        }
        for index in [0, rooms - 1] {
            let name = target.room_name(index);
            tabula_shared::room_name::validate(&name)
                .with_context(|| format!("room {name:?} is not a valid room name"))?;
        }
        Ok(target)
    }

    /// For `wss://`, the certificate the relay must present; `None` for
    /// plain `ws://`.
    pub fn certificate(&self) -> Option<Expect> {
        self.certificate
    }

    /// Answers the relay's password challenges with `password` (`--password`)
    /// rather than the URL's `#code=`.
    pub fn set_password(&mut self, password: Password) {
        self.password = Some(password);
    }

    /// Comes with `invite` (`--token`) rather than the URL's `#invite=`.
    pub fn set_invite(&mut self, invite: InviteToken) -> anyhow::Result<()> {
        if self.rooms > 1 {
            bail!("an invitation admits to one room: use --rooms 1");
        }
        self.invite = Some(invite);
        Ok(())
    }

    /// The invitation every peer comes with, if there is one.
    pub fn invite(&self) -> Option<&InviteToken> {
        self.invite.as_ref()
    }

    /// The answer to the relay's `challenge` for `client` in `room`: the
    /// proofs of this target's password and invitation it asks for.
    pub fn answer(
        &self,
        challenge: &tabula_shared::Challenge,
        room: &str,
        client: tabula_shared::ClientId,
    ) -> anyhow::Result<Vec<u8>> {
        crate::wire::authenticate(challenge, self.password(), self.invite(), room, client)
    }

    /// The password that answers the relay's challenge, if there is one.
    pub fn password(&self) -> Option<&Password> {
        self.password.as_ref()
    }

    /// The relay's host, as the URL names it.
    pub fn host(&self) -> &str {
        &self.url.host
    }

    /// How many rooms there are.
    pub fn rooms(&self) -> usize {
        self.rooms
    }

    /// The same relay with `rooms` rooms: with more than one, room `index` is
    /// `ROOM-index` (so indexes past the run's rooms name rooms none of its
    /// peers are in).
    #[must_use]
    pub fn with_rooms(&self, rooms: usize) -> Self {
        Self {
            rooms,
            ..self.clone()
        }
    }

    /// The name of room `index`: the URL's room alone, or `ROOM-index` when there
    /// are several.
    pub fn room_name(&self, index: usize) -> String {
        if self.rooms == 1 {
            self.url.room.clone()
        } else {
            format!("{}-{index}", self.url.room)
        }
    }

    /// `HOST:PORT` of the relay.
    pub fn authority(&self) -> String {
        self.url.authority()
    }

    /// The request path of room `index`: `/ROOM`.
    pub fn path(&self, index: usize) -> String {
        format!("/{}", self.room_name(index))
    }

    /// The URL of room `index` (without a fingerprint).
    pub fn url(&self, index: usize) -> String {
        let scheme = if self.url.secure { "wss" } else { "ws" };
        format!("{scheme}://{}/{}", self.authority(), self.room_name(index))
    }
}

/// Which certificate a `wss://` relay must present: the URL's `#fp=` or
/// `--fingerprint` (which must agree), or any with `--insecure`.
fn certificate(url: &RelayUrl, trust: Trust) -> anyhow::Result<Option<Expect>> {
    if !url.secure {
        if trust.fingerprint.is_some() || trust.insecure || url.fingerprint.is_some() {
            bail!("--fingerprint, --insecure and #fp= are for wss:// URLs");
        }
        return Ok(None);
    }
    let named = match (url.fingerprint, trust.fingerprint) {
        (Some(in_url), Some(flag)) if in_url != flag => bail!(
            "the URL's #fp= ({}) and --fingerprint ({}) name different certificates",
            in_url.short_code(),
            flag.short_code()
        ),
        (in_url, flag) => in_url.or(flag),
    };
    match (named, trust.insecure) {
        (Some(_), true) => bail!("--insecure accepts any certificate: drop it, or the fingerprint"),
        (Some(fingerprint), false) => Ok(Some(Expect::Certificate(fingerprint))),
        (None, true) => Ok(Some(Expect::Anything)),
        (None, false) => bail!(
            "a wss:// relay's certificate must be checked: give --fingerprint FP (tabula-server \
             gen-cert prints it), an invitation URL with #fp=…, or --insecure"
        ),
    }
}

/// Whether a URL host (an IPv6 address without brackets) is a loopback
/// address.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_room_keeps_its_name_several_are_numbered() {
        let plain = Trust::default();
        let one = Target::parse("ws://127.0.0.1:7457/bench", 1, plain).unwrap();
        assert_eq!(one.url(0), "ws://127.0.0.1:7457/bench");
        let many = Target::parse("ws://localhost:7457/bench", 3, plain).unwrap();
        assert_eq!(many.url(2), "ws://localhost:7457/bench-2");
        assert_eq!(many.room_name(0), "bench-0");
        assert_eq!(many.authority(), "localhost:7457");
        assert_eq!(many.path(1), "/bench-1");
        assert!(Target::parse("ws://[::1]:9/r", 1, plain).is_ok());
        assert_eq!(one.certificate(), None);
        // Rooms past a run's own are rooms none of its peers are in.
        assert_eq!(one.with_rooms(3).room_name(1), "bench-1");
        assert_eq!(many.with_rooms(5).url(3), "ws://localhost:7457/bench-3");
        assert_eq!(many.with_rooms(5).authority(), many.authority());
    }

    #[test]
    fn wss_needs_a_certificate_to_check() {
        let fp = Fingerprint::of_certificate(b"relay");
        let other = Fingerprint::of_certificate(b"other");
        let url = "wss://127.0.0.1:7457/bench";
        let invite = format!("{url}#fp={}", fp.url_form());
        let insecure = Trust {
            insecure: true,
            ..Trust::default()
        };
        let pinned = |fingerprint| Trust {
            fingerprint: Some(fingerprint),
            insecure: false,
        };
        let checked = |url: &str, trust| Target::parse(url, 1, trust).map(|t| t.certificate());
        assert!(
            checked(url, Trust::default()).is_err(),
            "nothing to check it by"
        );
        assert_eq!(checked(url, insecure).unwrap(), Some(Expect::Anything));
        assert_eq!(
            checked(url, pinned(fp)).unwrap(),
            Some(Expect::Certificate(fp))
        );
        assert_eq!(
            checked(&invite, Trust::default()).unwrap(),
            Some(Expect::Certificate(fp))
        );
        assert_eq!(
            checked(&invite, pinned(fp)).unwrap(),
            Some(Expect::Certificate(fp))
        );
        assert!(
            checked(&invite, pinned(other)).is_err(),
            "two different certificates"
        );
        assert!(checked(&invite, insecure).is_err());
        assert!(checked("ws://127.0.0.1:7457/bench", insecure).is_err());
        let target = Target::parse(&invite, 2, Trust::default()).unwrap();
        assert_eq!(target.url(1), "wss://127.0.0.1:7457/bench-1");
        assert_eq!(target.host(), "127.0.0.1");
    }

    #[test]
    fn refuses_other_hosts_and_bad_urls() {
        for url in [
            "ws://10.0.0.1:7457/bench",
            "ws://example.com:7457/bench",
            "http://127.0.0.1:7457/bench",
            "ws://127.0.0.1:7457",
            "ws://127.0.0.1:notaport/bench",
            "ws://127.0.0.1:7457/a/b",
            "ws://127.0.0.1:7457/",
        ] {
            assert!(Target::parse(url, 1, Trust::default()).is_err(), "{url}");
        }
        assert!(Target::parse("ws://127.0.0.1:7457/bench", 0, Trust::default()).is_err());
    }
}
