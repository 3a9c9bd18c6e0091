//! Who may enter the relay: its password's verifier, checking a hello's proof
//! of it, and slowing down an address that keeps getting it wrong.
//!
//! The relay never keeps its password: [`RelayPassword::new`] turns it into
//! an Ed25519 key with Argon2id over a fresh salt (once, at start) and keeps
//! the key's public half. Each connection that says hello gets a
//! [`Challenge`] with a fresh nonce and that salt and cost; the client
//! derives the same key and signs the nonce, the room and its client id
//! ([`tabula_shared::access`]). So a captured exchange proves nothing on
//! another connection.
//!
//! [`Failures`] counts the wrong and missing proofs of each source address:
//! the relay waits `FIRST_DELAY × 2^(n-1)` (at most [`MAX_DELAY`]) before
//! answering an address with `n` recent failures, so guessing online costs
//! time as well as an Argon2id per guess. It remembers at most
//! [`MAX_ADDRESSES`] addresses, forgetting those quiet longest first, and an
//! address's count after [`FORGET_AFTER`] without a failure.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tabula_shared::access::{
    self, AccessError, KeyParams, Nonce, Password, Proof, Scope, Verifier,
};
use tabula_shared::{Challenge, ClientId};

use crate::sync::lock;

/// The wait before answering an address after its first failure.
pub const FIRST_DELAY: Duration = Duration::from_millis(250);
/// The longest wait, however many failures.
pub const MAX_DELAY: Duration = Duration::from_secs(30);
/// The most addresses whose failures are remembered.
pub const MAX_ADDRESSES: usize = 4096;
/// A failure older than this counts no more.
pub const FORGET_AFTER: Duration = Duration::from_mins(15);

/// The relay-wide password, as the relay keeps it: how clients derive its
/// key, and the key's public half.
#[derive(Clone, Debug)]
pub struct RelayPassword {
    /// The salt and cost clients derive the key with.
    params: KeyParams,
    /// What checks their proofs.
    verifier: Verifier,
}

impl RelayPassword {
    /// Derives the password's key over a fresh salt (Argon2id: about 150 ms).
    pub fn new(password: &Password) -> Result<Self, AccessError> {
        let params = KeyParams::fresh()?;
        let key = access::derive(password, &params)?;
        Ok(Self {
            params,
            verifier: key.verifier(),
        })
    }

    /// What checks proofs of the password.
    #[must_use]
    pub fn verifier(&self) -> Verifier {
        self.verifier
    }

    /// How clients derive the password's key.
    #[must_use]
    pub fn params(&self) -> KeyParams {
        self.params
    }

    /// A fresh challenge for one connection, for this password alone.
    pub fn challenge(&self) -> Result<Challenge, AccessError> {
        Ok(Challenge {
            nonce: Nonce::random()?,
            relay: Some(self.params),
            room: None,
            invite: false,
        })
    }

    /// Whether `proof` proves the password for this challenge's nonce, room
    /// and client.
    #[must_use]
    pub fn accepts(&self, proof: &Proof, nonce: &Nonce, room: &str, client: ClientId) -> bool {
        self.verifier
            .accepts(proof, Scope::Relay, nonce, room, client)
    }
}

/// Recent failed authentications, by source address.
#[derive(Debug, Default)]
pub struct Failures {
    /// Each address's count and when it last failed.
    by_address: Mutex<HashMap<IpAddr, Failed>>,
}

/// One address's recent failures.
#[derive(Clone, Copy, Debug)]
struct Failed {
    /// How many, since the count was last forgotten.
    count: u32,
    /// When the last one was.
    last: Instant,
}

impl Failures {
    /// How long to wait before answering `address`: nothing for an address
    /// without recent failures.
    #[must_use]
    pub fn delay(&self, address: IpAddr) -> Duration {
        let now = Instant::now();
        lock(&self.by_address)
            .get(&address)
            .filter(|failed| now.duration_since(failed.last) < FORGET_AFTER)
            .map_or(Duration::ZERO, |failed| delay_after(failed.count))
    }

    /// Notes a failure of `address`.
    pub fn failed(&self, address: IpAddr) {
        let now = Instant::now();
        let mut by_address = lock(&self.by_address);
        if !by_address.contains_key(&address) && by_address.len() >= MAX_ADDRESSES {
            by_address.retain(|_, failed| now.duration_since(failed.last) < FORGET_AFTER);
            if by_address.len() >= MAX_ADDRESSES
                && let Some(quietest) = by_address
                    .iter()
                    .min_by_key(|(_, failed)| failed.last)
                    .map(|(address, _)| *address)
            {
                by_address.remove(&quietest);
            }
        }
        let failed = by_address.entry(address).or_insert(Failed {
            count: 0,
            last: now,
        });
        if now.duration_since(failed.last) >= FORGET_AFTER {
            failed.count = 0;
        }
        failed.count = failed.count.saturating_add(1);
        failed.last = now;
    }

    /// Forgets `address`'s failures: it proved the password.
    pub fn succeeded(&self, address: IpAddr) {
        lock(&self.by_address).remove(&address);
    }

    /// How many addresses are remembered.
    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.by_address).len()
    }
}

/// The wait after `count` failures.
fn delay_after(count: u32) -> Duration {
    if count == 0 {
        return Duration::ZERO;
    }
    FIRST_DELAY
        .saturating_mul(1 << (count - 1).min(16))
        .min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn the_wait_doubles_per_failure_up_to_a_bound_and_success_clears_it() {
        let failures = Failures::default();
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(failures.delay(a), Duration::ZERO);
        failures.failed(a);
        assert_eq!(failures.delay(a), FIRST_DELAY);
        failures.failed(a);
        assert_eq!(failures.delay(a), FIRST_DELAY * 2);
        for _ in 0..40 {
            failures.failed(a);
        }
        assert_eq!(failures.delay(a), MAX_DELAY);
        assert_eq!(failures.delay(b), Duration::ZERO, "per address");
        failures.succeeded(a);
        assert_eq!(failures.delay(a), Duration::ZERO);
    }

    #[test]
    fn at_most_so_many_addresses_are_remembered() {
        let failures = Failures::default();
        for i in 0..MAX_ADDRESSES + 10 {
            let [_, _, hi, lo] = u32::try_from(i).unwrap().to_be_bytes();
            failures.failed(IpAddr::V4(Ipv4Addr::new(10, 1, hi, lo)));
        }
        assert_eq!(failures.len(), MAX_ADDRESSES);
    }

    #[test]
    fn a_proof_holds_for_its_own_challenge_only() {
        let password = Password::new("hunter2").unwrap();
        let relay = RelayPassword::new(&password).unwrap();
        let challenge = relay.challenge().unwrap();
        let params = challenge.relay.unwrap();
        let key = access::derive(&password, &params).unwrap();
        let client = ClientId::random();
        let proof = key.prove(Scope::Relay, &challenge.nonce, "team", client);
        assert!(relay.accepts(&proof, &challenge.nonce, "team", client));
        let next = relay.challenge().unwrap();
        assert!(
            !relay.accepts(&proof, &next.nonce, "team", client),
            "replayed"
        );
        let wrong = access::derive(&Password::new("hunter3").unwrap(), &params).unwrap();
        let guess = wrong.prove(Scope::Relay, &challenge.nonce, "team", client);
        assert!(!relay.accepts(&guess, &challenge.nonce, "team", client));
    }
}
