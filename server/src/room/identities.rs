//! Who someone is in a room: each client id the room has seen, with the
//! resume secret its first welcome gave it.
//!
//! A client id is public (every peer sees it in welcomes, presence and every
//! op's author), so it proves nothing. What does is the [`ResumeSecret`] the
//! relay hands the client in its welcome and nobody else ever sees: a later
//! hello naming the same id must present it. One that does not is refused
//! before anything in the room changes: the member it names stays connected,
//! keeps its open stroke, and the room hears nothing of it.
//!
//! A room that has no record of an id (it is new here: the relay restarted,
//! closed the room while it was empty, or took it over from another relay)
//! keeps the secret the first hello for that id presents, or mints one for a
//! hello that presents none. So a member's secret survives a restart and a
//! move to another relay: it reconnects with it and the relay adopts it.
//!
//! The record is bounded ([`MAX_REMEMBERED`]): past it, the id used longest
//! ago that is not in the room is forgotten.
//!
//! An operator's id is worth more: the room's log gives it its role on every
//! node and after every restart, where this record starts empty. So the
//! room's settings also keep, for each id that entered as an operator, a
//! verifier of its secret (its SHA-256, [`OPERATOR_SECRETS_SETTING`]),
//! checked before anything else: a hello naming an operator's id without
//! that secret is refused on any node and after a restart.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::fmt::Write as _;

use sha2::{Digest as _, Sha256};
use tabula_shared::ClientId;
use tabula_shared::access::ResumeSecret;
use uuid::Uuid;

/// The room setting with a verifier of each operator's resume secret: one
/// `CLIENT-UUID=SHA256-HEX` line per operator.
pub const OPERATOR_SECRETS_SETTING: &str = "operator_secrets";

/// The most operators whose verifiers a room keeps.
pub const MAX_OPERATOR_SECRETS: usize = 256;

/// Each operator's verifier, as [`OPERATOR_SECRETS_SETTING`] keeps them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OperatorSecrets(BTreeMap<ClientId, String>);

impl OperatorSecrets {
    /// The verifiers in a setting's text; lines that do not parse are
    /// passed over.
    #[must_use]
    pub fn parse(text: &str) -> Self {
        Self(
            text.lines()
                .filter_map(|line| {
                    let (client, verifier) = line.split_once('=')?;
                    let client = ClientId(Uuid::parse_str(client).ok()?);
                    (verifier.len() == 64).then(|| (client, verifier.to_owned()))
                })
                .collect(),
        )
    }

    /// Whether `presented` is `client`'s secret, if the room keeps a
    /// verifier for `client` (`None`: it keeps none, anyone may claim it).
    #[must_use]
    pub fn accepts(&self, client: ClientId, presented: Option<&ResumeSecret>) -> Option<bool> {
        let kept = self.0.get(&client)?;
        Some(presented.is_some_and(|secret| verifier(secret) == *kept))
    }

    /// Keeps `secret`'s verifier for `client`; `false` when it was kept
    /// already, or the room keeps as many as it may.
    pub fn keep(&mut self, client: ClientId, secret: &ResumeSecret) -> bool {
        let verifier = verifier(secret);
        if self.0.get(&client) == Some(&verifier)
            || (!self.0.contains_key(&client) && self.0.len() >= MAX_OPERATOR_SECRETS)
        {
            return false;
        }
        self.0.insert(client, verifier);
        true
    }

    /// The setting's text.
    #[must_use]
    pub fn to_setting(&self) -> String {
        let mut text = String::new();
        for (client, verifier) in &self.0 {
            let _ = writeln!(text, "{}={verifier}", client.0);
        }
        text
    }
}

/// A resume secret's verifier: its SHA-256, in hex.
fn verifier(secret: &ResumeSecret) -> String {
    let mut hex = String::with_capacity(64);
    for byte in Sha256::digest(secret.0) {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// The most client ids one room remembers.
pub const MAX_REMEMBERED: usize = 10_000;

/// Why a hello may not be the client it names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The id belongs to someone the room knows, and the hello did not carry
    /// that someone's secret.
    #[error("client id {0} is someone else's here: resuming it needs its resume secret")]
    Impostor(ClientId),
    /// The system's random source failed, so no secret could be made.
    #[error("the relay could not make a resume secret (its random source failed)")]
    NoRandom,
}

/// Every client id a room has seen, with its secret.
#[derive(Debug, Default)]
pub struct Identities {
    /// Each id's secret, and when it was last claimed (a tick of `clock`).
    by_client: HashMap<ClientId, Remembered>,
    /// Counts claims, to tell which id was used longest ago.
    clock: u64,
}

/// One id the room remembers.
#[derive(Debug)]
struct Remembered {
    /// The secret its hellos must present.
    secret: ResumeSecret,
    /// The tick of its last claim.
    last_claimed: u64,
}

impl Identities {
    /// Whether the room has seen `client` (and remembers it).
    pub fn knows(&self, client: ClientId) -> bool {
        self.by_client.contains_key(&client)
    }

    /// Checks a hello's claim to be `client`, presenting `presented`, and
    /// returns the secret to give it in its welcome. `in_room` says whether
    /// an id is in the room now (never forgotten to make room).
    pub fn claim(
        &mut self,
        client: ClientId,
        presented: Option<&ResumeSecret>,
        in_room: impl Fn(ClientId) -> bool,
    ) -> Result<ResumeSecret, Refused> {
        self.clock += 1;
        if let Some(known) = self.by_client.get_mut(&client) {
            return match presented {
                Some(secret) if known.secret.matches(secret) => {
                    known.last_claimed = self.clock;
                    Ok(known.secret)
                }
                _ => Err(Refused::Impostor(client)),
            };
        }
        let secret = match presented {
            Some(secret) => *secret,
            None => ResumeSecret::random().map_err(|_| Refused::NoRandom)?,
        };
        if self.by_client.len() >= MAX_REMEMBERED {
            self.forget_oldest(&in_room);
        }
        self.by_client.insert(
            client,
            Remembered {
                secret,
                last_claimed: self.clock,
            },
        );
        Ok(secret)
    }

    /// Forgets the id claimed longest ago that is not in the room.
    fn forget_oldest(&mut self, in_room: &impl Fn(ClientId) -> bool) {
        let oldest = self
            .by_client
            .iter()
            .filter(|(client, _)| !in_room(**client))
            .min_by_key(|(_, remembered)| remembered.last_claimed)
            .map(|(client, _)| *client);
        if let Some(client) = oldest {
            self.by_client.remove(&client);
        }
    }

    /// How many ids the room remembers.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_client.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_secrets_check_only_the_ids_they_keep_and_round_trip() {
        let (ana, eve) = (ClientId::random(), ClientId::random());
        let (secret, other) = (ResumeSecret([1; 32]), ResumeSecret([2; 32]));
        let mut kept = OperatorSecrets::default();
        assert!(kept.keep(ana, &secret));
        assert!(!kept.keep(ana, &secret), "kept already");
        let read = OperatorSecrets::parse(&format!("{}garbage\nx=y\n", kept.to_setting()));
        assert_eq!(read, kept);
        assert_eq!(read.accepts(ana, Some(&secret)), Some(true));
        assert_eq!(read.accepts(ana, Some(&other)), Some(false));
        assert_eq!(read.accepts(ana, None), Some(false));
        assert_eq!(read.accepts(eve, None), None);
    }

    #[test]
    fn an_id_is_resumed_only_with_its_secret() {
        let mut ids = Identities::default();
        let a = ClientId::random();
        let secret = ids.claim(a, None, |_| false).unwrap();
        assert_eq!(ids.claim(a, Some(&secret), |_| true), Ok(secret));
        assert_eq!(ids.claim(a, None, |_| true), Err(Refused::Impostor(a)));
        let forged = ResumeSecret::random().unwrap();
        assert_eq!(
            ids.claim(a, Some(&forged), |_| true),
            Err(Refused::Impostor(a))
        );
        // The refusals changed nothing: the secret still resumes.
        assert_eq!(ids.claim(a, Some(&secret), |_| true), Ok(secret));
    }

    #[test]
    fn an_unknown_id_keeps_the_secret_it_presents() {
        let mut ids = Identities::default();
        let a = ClientId::random();
        let carried = ResumeSecret::random().unwrap();
        assert_eq!(ids.claim(a, Some(&carried), |_| false), Ok(carried));
        assert_eq!(ids.claim(a, None, |_| true), Err(Refused::Impostor(a)));
    }

    #[test]
    fn the_record_is_bounded_and_keeps_who_is_in_the_room() {
        let mut ids = Identities::default();
        let first = ClientId::random();
        let first_secret = ids.claim(first, None, |_| false).unwrap();
        let second = ClientId::random();
        ids.claim(second, None, |_| false).unwrap();
        for _ in 2..MAX_REMEMBERED {
            ids.claim(ClientId::random(), None, |_| false).unwrap();
        }
        assert_eq!(ids.len(), MAX_REMEMBERED);
        // `first` is in the room, so `second`, the next oldest, goes.
        ids.claim(ClientId::random(), None, |c| c == first).unwrap();
        assert_eq!(ids.len(), MAX_REMEMBERED);
        assert_eq!(
            ids.claim(first, None, |_| true),
            Err(Refused::Impostor(first))
        );
        assert_eq!(
            ids.claim(first, Some(&first_secret), |_| true),
            Ok(first_secret)
        );
        assert!(ids.claim(second, None, |_| false).is_ok(), "forgotten");
    }
}
