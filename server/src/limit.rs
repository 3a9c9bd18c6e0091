//! Rates and counts the relay holds each sender to: a token [`Bucket`], the
//! per-connection [`Throttle`] made of two of them, and [`Addresses`], what
//! each source address has open and how many rooms it may still create. A
//! leaf: it imports nothing from the crate but the poison-tolerant lock.
//!
//! A connection over its rates is not refused: the relay stops reading its
//! socket until its buckets have refilled, so TCP pushes back on the sender
//! and an honest burst (a paste of a thousand objects) only arrives a little
//! later. What an address is over its counts for is refused, with a sentence
//! that says which limit and what to do.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::sync::lock;

/// A token bucket: `rate` tokens a second, at most `burst` saved up. Taking
/// more than it holds leaves it in debt, which says how long to wait.
#[derive(Clone, Debug)]
pub struct Bucket {
    /// Tokens added per second.
    rate: f64,
    /// The most tokens it holds.
    burst: f64,
    /// Tokens now (negative: in debt).
    tokens: f64,
    /// When `tokens` was last brought up to date.
    at: Instant,
}

impl Bucket {
    /// A full bucket.
    pub fn new(rate: f64, burst: f64, now: Instant) -> Self {
        Self {
            rate,
            burst,
            tokens: burst,
            at: now,
        }
    }

    /// Adds what flowed in since the last look.
    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.at = now;
    }

    /// Takes `cost` tokens, going into debt if need be; returns when the debt
    /// is paid off, if there is one.
    pub fn take(&mut self, cost: f64, now: Instant) -> Option<Instant> {
        self.refill(now);
        self.tokens -= cost;
        (self.tokens < 0.0).then(|| now + Duration::from_secs_f64(-self.tokens / self.rate))
    }

    /// Takes `cost` tokens if the bucket holds them; `false` (and nothing
    /// taken) if not.
    pub fn try_take(&mut self, cost: f64, now: Instant) -> bool {
        self.refill(now);
        if self.tokens < cost {
            return false;
        }
        self.tokens -= cost;
        true
    }

    /// Whether the bucket would be full now: forgetting it changes nothing.
    fn is_full(&self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens + elapsed * self.rate >= self.burst
    }
}

/// What one connection may send: messages and bytes a second, with bursts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rates {
    /// Messages (ops, cursor moves, requests) a second.
    pub messages_per_sec: f64,
    /// Messages sent at once, beyond the rate.
    pub messages_burst: f64,
    /// Bytes a second.
    pub bytes_per_sec: f64,
    /// Bytes sent at once, beyond the rate.
    pub bytes_burst: f64,
}

/// A connection's two buckets, and until when its reading is paused.
#[derive(Debug)]
pub struct Throttle {
    /// One token per message.
    messages: Bucket,
    /// One token per byte.
    bytes: Bucket,
    /// When reading may go on, while the connection is over its rates.
    pub until: Option<Instant>,
}

impl Throttle {
    /// Full buckets for a new connection.
    pub fn new(rates: Rates) -> Self {
        let now = Instant::now();
        Self {
            messages: Bucket::new(rates.messages_per_sec, rates.messages_burst, now),
            bytes: Bucket::new(rates.bytes_per_sec, rates.bytes_burst, now),
            until: None,
        }
    }

    /// Counts one message of `len` bytes; if that puts the connection over a
    /// rate, reading pauses until it is back under ([`Throttle::until`]).
    pub fn count(&mut self, len: usize) {
        let now = Instant::now();
        let messages = self.messages.take(1.0, now);
        let bytes = self.bytes.take(len as f64, now);
        self.until = messages.max(bytes);
    }
}

/// What each source address has open, and its budget of new rooms. Entries
/// go once an address has nothing open and a full budget.
#[derive(Debug)]
pub struct Addresses {
    /// By address.
    by_address: Mutex<HashMap<IpAddr, Address>>,
    /// The most connections one address may have open.
    max_connections: usize,
    /// New rooms an address may create a minute (and at once).
    new_rooms_per_minute: f64,
}

/// One address's open connections and room budget.
#[derive(Debug)]
struct Address {
    /// Connections open now.
    connections: usize,
    /// One token per new room.
    new_rooms: Bucket,
}

/// Why a connection from an address was turned away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooManyConnections {
    /// How many that address has open.
    pub open: usize,
}

impl Addresses {
    /// No address has anything open yet.
    pub fn new(max_connections: usize, new_rooms_per_minute: u32) -> Arc<Self> {
        Arc::new(Self {
            by_address: Mutex::new(HashMap::new()),
            max_connections,
            new_rooms_per_minute: f64::from(new_rooms_per_minute),
        })
    }

    /// An empty entry for a newly seen address.
    fn fresh(&self, now: Instant) -> Address {
        Address {
            connections: 0,
            new_rooms: Bucket::new(
                self.new_rooms_per_minute / 60.0,
                self.new_rooms_per_minute,
                now,
            ),
        }
    }

    /// Counts a new connection from `address`, which the [`AddressSlot`]
    /// uncounts when dropped; refused when the address has as many open as
    /// it may.
    pub fn connect(self: &Arc<Self>, address: IpAddr) -> Result<AddressSlot, TooManyConnections> {
        let now = Instant::now();
        let mut by_address = lock(&self.by_address);
        let entry = by_address.entry(address).or_insert_with(|| self.fresh(now));
        if entry.connections >= self.max_connections {
            return Err(TooManyConnections {
                open: entry.connections,
            });
        }
        entry.connections += 1;
        Ok(AddressSlot {
            addresses: Arc::clone(self),
            address,
        })
    }

    /// Takes one new room from `address`'s budget; `false` if it has created
    /// as many as it may this minute.
    pub fn create_room(&self, address: IpAddr) -> bool {
        let now = Instant::now();
        let mut by_address = lock(&self.by_address);
        by_address
            .entry(address)
            .or_insert_with(|| self.fresh(now))
            .new_rooms
            .try_take(1.0, now)
    }

    /// How many addresses are tracked (tests).
    #[cfg(test)]
    fn tracked(&self) -> usize {
        lock(&self.by_address).len()
    }

    /// Uncounts a connection that ended; forgets the address if nothing is
    /// left to remember, and, now and then, others that have nothing left.
    fn disconnect(&self, address: IpAddr) {
        let now = Instant::now();
        let mut by_address = lock(&self.by_address);
        if let Some(entry) = by_address.get_mut(&address) {
            entry.connections = entry.connections.saturating_sub(1);
            if entry.connections == 0 && entry.new_rooms.is_full(now) {
                by_address.remove(&address);
            }
        }
        // Addresses that created rooms and left keep their entry until their
        // budget is full again; sweep them when the map has grown.
        if by_address.len() > 1024 && by_address.len().is_power_of_two() {
            by_address.retain(|_, entry| entry.connections > 0 || !entry.new_rooms.is_full(now));
        }
    }
}

/// One open connection of an address, uncounted when dropped.
#[derive(Debug)]
pub struct AddressSlot {
    /// Where it is counted.
    addresses: Arc<Addresses>,
    /// Whose.
    address: IpAddr,
}

impl AddressSlot {
    /// The address.
    pub fn address(&self) -> IpAddr {
        self.address
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        self.addresses.disconnect(self.address);
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn a_bucket_gives_its_burst_then_its_rate() {
        let start = Instant::now();
        let mut bucket = Bucket::new(10.0, 5.0, start);
        for _ in 0..5 {
            assert_eq!(bucket.take(1.0, start), None);
        }
        let until = bucket.take(1.0, start).expect("in debt");
        assert_eq!(until - start, Duration::from_millis(100));
        assert!(!bucket.try_take(1.0, start));
        assert!(bucket.try_take(1.0, start + Duration::from_millis(200)));
        // Never more than the burst saved up.
        assert!(bucket.is_full(start + Duration::from_mins(1)));
    }

    #[tokio::test]
    async fn an_address_may_open_so_many_and_create_so_many_rooms() {
        let addresses = Addresses::new(2, 3);
        let here = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
        let there = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));
        let a = addresses.connect(here).unwrap();
        let b = addresses.connect(here).unwrap();
        assert_eq!(
            addresses.connect(here).unwrap_err(),
            TooManyConnections { open: 2 }
        );
        let elsewhere = addresses.connect(there).unwrap();
        drop(a);
        let c = addresses.connect(here).unwrap();
        for _ in 0..3 {
            assert!(addresses.create_room(here));
        }
        assert!(!addresses.create_room(here), "a fourth room this minute");
        assert!(addresses.create_room(there));
        drop((b, c, elsewhere));
        // Nothing open, but both are remembered until their budgets refill.
        assert_eq!(addresses.tracked(), 2);
    }
}
