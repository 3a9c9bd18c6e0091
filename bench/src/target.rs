//! Where the load goes: the relay's address and the room, parsed from
//! `ws://HOST:PORT/ROOM`, and the URL of each room when peers are spread over
//! several (`ROOM-0`, `ROOM-1`, …).
//!
//! The generator drives relays on this machine only: it refuses any host that is
//! not a loopback address, so a typo cannot turn it on someone else's server.

use anyhow::{Context as _, bail};

/// A relay on loopback and the room (or room prefix) to load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// `ws://HOST:PORT`, without the path.
    base: String,
    /// The room of the URL; with several rooms, the prefix of their names.
    room: String,
    /// How many rooms the peers are spread over.
    rooms: usize,
}

impl Target {
    /// Parses `ws://HOST:PORT/ROOM`, checking that the host is loopback and the
    /// room a valid Tabula room name.
    pub fn parse(url: &str, rooms: usize) -> anyhow::Result<Self> {
        let Some(rest) = url.strip_prefix("ws://") else {
            bail!("{url:?} is not a ws:// URL (expected ws://127.0.0.1:PORT/ROOM)");
        };
        let Some((authority, room)) = rest.split_once('/') else {
            bail!("{url:?} names no room (expected ws://127.0.0.1:PORT/ROOM)");
        };
        let host = match authority.rsplit_once(':') {
            Some((host, port)) => {
                port.parse::<u16>()
                    .with_context(|| format!("{port:?} in {url:?} is not a port"))?;
                host
            }
            None => authority,
        };
        if !is_loopback(host) {
            bail!(
                "{host:?} is not a loopback address: tabula-bench loads relays on this \
                 machine only (127.0.0.1, localhost or [::1])"
            );
        }
        if rooms == 0 {
            bail!("--rooms must be at least 1");
        }
        let target = Self {
            base: format!("ws://{authority}"),
            room: room.to_owned(),
            rooms,
        };
        for index in [0, rooms - 1] {
            let name = target.room_name(index);
            tabula_shared::room_name::validate(&name)
                .with_context(|| format!("room {name:?} is not a valid room name"))?;
        }
        Ok(target)
    }

    /// How many rooms there are.
    pub fn rooms(&self) -> usize {
        self.rooms
    }

    /// The name of room `index`: the URL's room alone, or `ROOM-index` when there
    /// are several.
    pub fn room_name(&self, index: usize) -> String {
        if self.rooms == 1 {
            self.room.clone()
        } else {
            format!("{}-{index}", self.room)
        }
    }

    /// `HOST:PORT` of the relay.
    pub fn authority(&self) -> &str {
        self.base.strip_prefix("ws://").unwrap_or(&self.base)
    }

    /// The request path of room `index`: `/ROOM`.
    pub fn path(&self, index: usize) -> String {
        format!("/{}", self.room_name(index))
    }

    /// The URL of room `index`.
    pub fn url(&self, index: usize) -> String {
        format!("{}/{}", self.base, self.room_name(index))
    }
}

/// Whether a URL host is a loopback address.
fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_room_keeps_its_name_several_are_numbered() {
        let one = Target::parse("ws://127.0.0.1:7457/bench", 1).unwrap();
        assert_eq!(one.url(0), "ws://127.0.0.1:7457/bench");
        let many = Target::parse("ws://localhost:7457/bench", 3).unwrap();
        assert_eq!(many.url(2), "ws://localhost:7457/bench-2");
        assert_eq!(many.room_name(0), "bench-0");
        assert_eq!(many.authority(), "localhost:7457");
        assert_eq!(many.path(1), "/bench-1");
        assert!(Target::parse("ws://[::1]:9/r", 1).is_ok());
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
            assert!(Target::parse(url, 1).is_err(), "{url}");
        }
        assert!(Target::parse("ws://127.0.0.1:7457/bench", 0).is_err());
    }
}
