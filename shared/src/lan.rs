//! What a relay tells its network about itself: the DNS-SD service type and the
//! TXT record of a Tabula relay advertised over mDNS.
//!
//! The relay (`tabula-server --mdns`, or the app when it hosts) advertises a
//! `_tabula._tcp.local.` instance whose TXT record says which protocol it
//! speaks, whether it serves TLS, whether a password is needed, and, where
//! the relay allows it, its open rooms with how many people are in each. The
//! app's join dialog reads the same record back. Both ends go through
//! [`Advert::to_txt`] and [`Advert::from_txt`], so the record is defined once.
//!
//! The record is small on purpose: every entry is a DNS character-string of
//! at most 255 bytes, and the whole answer should fit one mDNS packet, so
//! rooms are listed fullest first in at most [`ROOM_ENTRIES`] entries and the
//! rest are only counted.

use crate::room_name;

/// The DNS-SD service type every Tabula relay is advertised under.
pub const SERVICE_TYPE: &str = "_tabula._tcp.local.";

/// How many TXT entries (`r0`, `r1`, …) may list rooms.
pub const ROOM_ENTRIES: usize = 4;

/// The longest TXT entry written, in bytes (`key=value`); DNS allows 255.
const MAX_ENTRY_BYTES: usize = 250;

/// One open room, as the relay lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdvertisedRoom {
    /// The room's name, as in `ws://HOST:PORT/ROOM`.
    pub name: String,
    /// How many people are in it now.
    pub members: u32,
    /// Whether joining it needs a password (or code) of its own.
    pub password: bool,
}

/// What a relay's TXT record says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Advert {
    /// The protocol version the relay speaks
    /// ([`PROTOCOL_VERSION`](crate::PROTOCOL_VERSION) of its build).
    pub protocol: u16,
    /// Whether it serves `wss://` rather than `ws://`.
    pub tls: bool,
    /// Whether every room on it needs the relay's password.
    pub password: bool,
    /// Whether the relay lists its rooms at all; when it does not, `rooms` is
    /// empty and people must be told a room's name.
    pub lists_rooms: bool,
    /// The rooms listed, fullest first.
    pub rooms: Vec<AdvertisedRoom>,
    /// Rooms open but left out of `rooms` for want of space.
    pub more_rooms: u32,
}

/// Why a TXT record was not read as a Tabula relay's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AdvertError {
    /// No `v` entry, or one that is not a number.
    #[error("the record does not say which protocol the relay speaks")]
    NoProtocol,
    /// A room entry that does not parse.
    #[error("a room entry is malformed: {0:?}")]
    BadRoom(String),
}

impl Advert {
    /// The TXT entries, as `(key, value)` pairs in a fixed order. Rooms are
    /// sorted fullest first (then by name) and packed into at most
    /// [`ROOM_ENTRIES`] entries; any that do not fit are counted in `more`.
    #[must_use]
    pub fn to_txt(&self) -> Vec<(String, String)> {
        let flag = |on: bool| if on { "1" } else { "0" }.to_owned();
        let mut txt = vec![
            ("v".to_owned(), self.protocol.to_string()),
            ("tls".to_owned(), flag(self.tls)),
            ("pw".to_owned(), flag(self.password)),
            ("list".to_owned(), flag(self.lists_rooms)),
        ];
        let mut rooms: Vec<&AdvertisedRoom> = self.rooms.iter().collect();
        rooms.sort_by(|a, b| b.members.cmp(&a.members).then_with(|| a.name.cmp(&b.name)));
        let mut entries: Vec<String> = Vec::new();
        let mut left_out = self.more_rooms;
        for room in rooms {
            let item = room_item(room);
            let key_len = "r0=".len();
            let fits_last = entries
                .last()
                .is_some_and(|last| key_len + last.len() + 1 + item.len() <= MAX_ENTRY_BYTES);
            if fits_last && let Some(last) = entries.last_mut() {
                last.push(',');
                last.push_str(&item);
            } else if entries.len() < ROOM_ENTRIES && key_len + item.len() <= MAX_ENTRY_BYTES {
                entries.push(item);
            } else {
                left_out += 1;
            }
        }
        for (i, entry) in entries.into_iter().enumerate() {
            txt.push((format!("r{i}"), entry));
        }
        if left_out > 0 {
            txt.push(("more".to_owned(), left_out.to_string()));
        }
        txt
    }

    /// Reads a relay's TXT entries back. Unknown keys are ignored (a newer
    /// relay may say more); a missing or odd protocol, or a room entry that
    /// does not parse, is an error.
    pub fn from_txt<'a>(
        entries: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, AdvertError> {
        let mut advert = Self::default();
        let mut protocol = None;
        let mut room_entries: Vec<(usize, &str)> = Vec::new();
        for (key, value) in entries {
            match key {
                "v" => protocol = value.parse().ok(),
                "tls" => advert.tls = value == "1",
                "pw" => advert.password = value == "1",
                "list" => advert.lists_rooms = value == "1",
                "more" => advert.more_rooms = value.parse().unwrap_or(0),
                _ => {
                    if let Some(i) = key.strip_prefix('r').and_then(|i| i.parse().ok())
                        && i < ROOM_ENTRIES
                    {
                        room_entries.push((i, value));
                    }
                }
            }
        }
        advert.protocol = protocol.ok_or(AdvertError::NoProtocol)?;
        room_entries.sort_unstable();
        for (_, entry) in room_entries {
            for item in entry.split(',').filter(|item| !item.is_empty()) {
                advert.rooms.push(parse_room(item)?);
            }
        }
        Ok(advert)
    }
}

/// One room in a TXT entry: `NAME:MEMBERS`, with `:p` when it needs a password.
fn room_item(room: &AdvertisedRoom) -> String {
    let lock = if room.password { ":p" } else { "" };
    format!("{}:{}{lock}", room.name, room.members)
}

/// Reads [`room_item`] back.
fn parse_room(item: &str) -> Result<AdvertisedRoom, AdvertError> {
    let bad = || AdvertError::BadRoom(item.to_owned());
    let mut fields = item.split(':');
    let name = fields.next().ok_or_else(bad)?;
    room_name::validate(name).map_err(|_| bad())?;
    let members = fields.next().and_then(|m| m.parse().ok()).ok_or_else(bad)?;
    let password = match fields.next() {
        None => false,
        Some("p") => true,
        Some(_) => return Err(bad()),
    };
    if fields.next().is_some() {
        return Err(bad());
    }
    Ok(AdvertisedRoom {
        name: name.to_owned(),
        members,
        password,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str, members: u32) -> AdvertisedRoom {
        AdvertisedRoom {
            name: name.to_owned(),
            members,
            password: false,
        }
    }

    fn read(txt: &[(String, String)]) -> Result<Advert, AdvertError> {
        Advert::from_txt(txt.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    #[test]
    fn a_record_reads_back_as_written_with_rooms_fullest_first() {
        let advert = Advert {
            protocol: 5,
            tls: true,
            password: false,
            lists_rooms: true,
            rooms: vec![
                room("design", 1),
                AdvertisedRoom {
                    password: true,
                    ..room("team", 3)
                },
                room("zoo", 1),
            ],
            more_rooms: 0,
        };
        let txt = advert.to_txt();
        assert_eq!(
            txt.iter().find(|(k, _)| k == "r0").map(|(_, v)| v.as_str()),
            Some("team:3:p,design:1,zoo:1")
        );
        let back = read(&txt).expect("reads");
        let fullest_first = [
            advert.rooms[1].clone(),
            advert.rooms[0].clone(),
            advert.rooms[2].clone(),
        ];
        assert_eq!(back.rooms, fullest_first);
        assert_eq!(
            Advert {
                rooms: advert.rooms.clone(),
                ..back
            },
            advert
        );
    }

    #[test]
    fn every_entry_fits_dns_and_rooms_beyond_the_space_are_counted() {
        let rooms: Vec<AdvertisedRoom> = (0..200)
            .map(|i| room(&format!("room-with-a-long-name-{i:03}"), i))
            .collect();
        let advert = Advert {
            protocol: 5,
            lists_rooms: true,
            rooms,
            ..Advert::default()
        };
        let txt = advert.to_txt();
        for (key, value) in &txt {
            assert!(key.len() + 1 + value.len() <= 255, "{key} is too long");
        }
        let back = read(&txt).expect("reads");
        assert!(back.rooms.len() < 200);
        assert_eq!(back.rooms.len() as u32 + back.more_rooms, 200);
        assert_eq!(back.rooms[0].members, 199, "the fullest room comes first");
    }

    #[test]
    fn odd_records_are_refused_and_unknown_keys_ignored() {
        assert_eq!(
            Advert::from_txt([("tls", "1")]),
            Err(AdvertError::NoProtocol)
        );
        assert_eq!(
            Advert::from_txt([("v", "5"), ("r0", "a b:1")]),
            Err(AdvertError::BadRoom("a b:1".to_owned()))
        );
        assert_eq!(
            Advert::from_txt([("v", "5"), ("r0", "a:x")]),
            Err(AdvertError::BadRoom("a:x".to_owned()))
        );
        let advert =
            Advert::from_txt([("v", "7"), ("future", "yes"), ("r0", "a:2")]).expect("reads");
        assert_eq!(advert.protocol, 7);
        assert_eq!(advert.rooms, [room("a", 2)]);
    }
}
