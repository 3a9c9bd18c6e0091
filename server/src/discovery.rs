//! Finding relays on the local network: advertising one over mDNS / DNS-SD,
//! and browsing for the others.
//!
//! A relay is a `_tabula._tcp.local.` service instance
//! ([`SERVICE_TYPE`]); its TXT record is a [`tabula_shared::lan::Advert`]
//! (protocol, TLS, password, the open rooms with their member counts). The
//! work is done by the `mdns-sd` crate's daemon, one OS thread per
//! [`Advertiser`] or [`Browser`]; nothing here blocks a tokio worker.
//!
//! Both can be limited to some network interfaces ([`Interfaces`], from
//! `--mdns-interface` or `TABULA_MDNS_INTERFACES`), for machines with several
//! networks, and for tests, which advertise and browse on the loopback
//! interface only.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::mpsc;
use std::time::Duration;

use mdns_sd::{IfKind, ServiceDaemon, ServiceEvent, ServiceInfo};
pub use tabula_shared::lan::SERVICE_TYPE;
use tabula_shared::lan::{Advert, AdvertError};
use tracing::{debug, info, trace, warn};

/// How long stopping an advertisement waits for its goodbye to be sent.
const GOODBYE_WAIT: Duration = Duration::from_secs(1);

/// The variable that limits discovery to some interfaces when no flag does:
/// comma-separated names, e.g. `lo` or `eth0,wlan0`.
pub const INTERFACES_VARIABLE: &str = "TABULA_MDNS_INTERFACES";

/// Why discovery could not start.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The mDNS daemon refused a request (it could not start, or a record was
    /// malformed).
    #[error("mDNS: {0}")]
    Mdns(#[from] mdns_sd::Error),
    /// An instance name mDNS cannot carry.
    #[error("the name {0:?} cannot be advertised: use 1 to 63 bytes")]
    BadName(String),
}

/// Which network interfaces discovery uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Interfaces {
    /// Interface names (`lo`, `eth0`); empty means every interface.
    names: Vec<String>,
}

impl Interfaces {
    /// Every interface the machine has.
    #[must_use]
    pub fn all() -> Self {
        Self::default()
    }

    /// Just these interfaces, by name; none means every interface.
    #[must_use]
    pub fn named<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Self {
        Self {
            names: names
                .into_iter()
                .map(|name| name.as_ref().trim().to_owned())
                .filter(|name| !name.is_empty())
                .collect(),
        }
    }

    /// A comma-separated list, as in [`INTERFACES_VARIABLE`].
    #[must_use]
    pub fn from_list(list: &str) -> Self {
        Self::named(list.split(','))
    }

    /// What [`INTERFACES_VARIABLE`] says, or every interface when it is unset.
    #[must_use]
    pub fn from_env() -> Self {
        std::env::var(INTERFACES_VARIABLE)
            .map(|list| Self::from_list(&list))
            .unwrap_or_default()
    }

    /// The names, empty for every interface.
    #[must_use]
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// A daemon limited to these interfaces. The limits are queued before
    /// anything else, so no advertisement or query leaves on another.
    fn daemon(&self) -> Result<ServiceDaemon, DiscoveryError> {
        let daemon = ServiceDaemon::new()?;
        if !self.names.is_empty() {
            daemon.disable_interface(IfKind::All)?;
            let names: Vec<IfKind> = self.names.iter().map(IfKind::from).collect();
            daemon.enable_interface(names)?;
        }
        Ok(daemon)
    }
}

/// How a relay makes itself known on the local network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Advertise {
    /// The name people see in their join dialog: the machine's name, the
    /// person hosting, or `--mdns-name`.
    pub instance: String,
    /// The interfaces it is advertised on.
    pub interfaces: Interfaces,
    /// Which of its rooms the record lists.
    pub rooms: ListRooms,
}

/// Which rooms a relay's record lists, with how many are in each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ListRooms {
    /// None: people must be told a room's name (`tabula-server`'s default).
    #[default]
    None,
    /// Every open room (`tabula-server --list-rooms`).
    All,
    /// Just these (the app's host lists its own room).
    Only(Vec<String>),
}

impl ListRooms {
    /// Whether the record lists `room`.
    #[must_use]
    pub fn includes(&self, room: &str) -> bool {
        match self {
            Self::None => false,
            Self::All => true,
            Self::Only(rooms) => rooms.iter().any(|r| r == room),
        }
    }
}

/// Whether the relay is advertised, for whoever shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Advertised {
    /// It was not asked to be.
    #[default]
    Off,
    /// It is, under this full DNS-SD name.
    On(String),
    /// Advertising failed, for this reason; the relay serves all the same.
    Failed(String),
}

/// The host part of the machine's name, for an instance name: `studio` for
/// `studio.example.org`; `tabula` when it cannot be read.
#[must_use]
pub fn machine_name() -> String {
    let full = gethostname::gethostname();
    let full = full.to_string_lossy();
    let short = full.split('.').next().unwrap_or_default().trim();
    if short.is_empty() {
        "tabula".to_owned()
    } else {
        short.to_owned()
    }
}

/// A relay advertised on the network until [`Advertiser::stop`] (or drop).
pub struct Advertiser {
    /// The mDNS daemon answering for the relay.
    daemon: ServiceDaemon,
    /// What is advertised, to re-register it when the advert changes.
    info: ServiceInfo,
    /// The advert last registered, to skip updates that change nothing.
    advert: Advert,
    /// The interfaces it is limited to, for the log.
    interfaces: Interfaces,
}

impl std::fmt::Debug for Advertiser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Advertiser")
            .field("instance", &self.info.get_fullname())
            .field("port", &self.info.get_port())
            .field("advert", &self.advert)
            .finish_non_exhaustive()
    }
}

impl Advertiser {
    /// Advertises a relay listening on `port` as `instance` (the name people
    /// see in their join dialog) with `advert` as its TXT record, on
    /// `interfaces`. The addresses advertised are those of the interfaces,
    /// kept current by the daemon.
    pub fn start(
        instance: &str,
        port: u16,
        interfaces: &Interfaces,
        advert: Advert,
    ) -> Result<Self, DiscoveryError> {
        if instance.is_empty() || instance.len() > 63 {
            return Err(DiscoveryError::BadName(instance.to_owned()));
        }
        let daemon = interfaces.daemon()?;
        // A host name of its own: several relays on one machine (the app
        // hosting beside a tabula-server) must not share one, or the goodbye
        // of the first to stop withdraws the others' addresses too.
        let host = format!("{}-tabula-{port}.local.", dns_label(&machine_name()));
        let info = service_info(instance, &host, port, &advert)?;
        daemon.register(info.clone())?;
        info!(
            instance,
            port,
            interfaces = ?interfaces.names(),
            "advertising the relay on the local network ({SERVICE_TYPE})"
        );
        Ok(Self {
            daemon,
            info,
            advert,
            interfaces: interfaces.clone(),
        })
    }

    /// The advertised instance's full DNS-SD name.
    #[must_use]
    pub fn fullname(&self) -> &str {
        self.info.get_fullname()
    }

    /// Advertises `advert` from now on (the rooms and their counts change as
    /// people come and go); nothing is sent when it is what is advertised.
    pub fn update(&mut self, advert: Advert) -> Result<(), DiscoveryError> {
        if advert == self.advert {
            return Ok(());
        }
        let info = service_info(
            &instance_of(self.info.get_fullname()),
            self.info.get_hostname(),
            self.info.get_port(),
            &advert,
        )?;
        self.daemon.register(info.clone())?;
        debug!(?advert, "updated the relay's advertisement");
        self.info = info;
        self.advert = advert;
        Ok(())
    }

    /// Withdraws the advertisement (browsers are told it is gone) and stops
    /// the daemon.
    pub fn stop(self) {
        // Drop does the work; this names the moment.
        drop(self);
    }
}

impl Drop for Advertiser {
    fn drop(&mut self) {
        match self.daemon.unregister(self.info.get_fullname()) {
            Ok(goodbye) => {
                let _sent_or_not = goodbye.recv_timeout(GOODBYE_WAIT);
            }
            Err(err) => debug!(%err, "could not withdraw the advertisement"),
        }
        if let Err(err) = self.daemon.shutdown() {
            debug!(%err, "the mDNS daemon had already stopped");
        }
        info!(
            interfaces = ?self.interfaces.names(),
            "stopped advertising the relay"
        );
    }
}

/// The service record for `advert`.
fn service_info(
    instance: &str,
    host: &str,
    port: u16,
    advert: &Advert,
) -> Result<ServiceInfo, DiscoveryError> {
    let txt = advert.to_txt();
    let properties: Vec<(&str, &str)> = txt.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let info = ServiceInfo::new(SERVICE_TYPE, instance, host, "", port, &properties[..])?;
    Ok(info.enable_addr_auto())
}

/// The instance part of a full service name (`Ada._tabula._tcp.local.` →
/// `Ada`), with DNS-SD's escapes undone.
fn instance_of(fullname: &str) -> String {
    let instance = fullname.strip_suffix(SERVICE_TYPE).unwrap_or(fullname);
    let instance = instance.strip_suffix('.').unwrap_or(instance);
    let mut out = String::with_capacity(instance.len());
    let mut chars = instance.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    out
}

/// A DNS host label from a machine name: letters, digits and `-` only.
fn dns_label(name: &str) -> String {
    let label: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(63)
        .collect();
    let label = label.trim_matches('-');
    if label.is_empty() {
        "tabula".to_owned()
    } else {
        label.to_owned()
    }
}

/// A relay found on the network.
#[derive(Clone, Debug, PartialEq)]
pub struct FoundRelay {
    /// Its full DNS-SD name, which identifies it.
    pub fullname: String,
    /// The name it goes by (the host's name, or the person hosting).
    pub instance: String,
    /// Its addresses, best first (see [`rank_address`]).
    pub addresses: Vec<IpAddr>,
    /// The port it listens on.
    pub port: u16,
    /// What its record says, or why the record was not understood.
    pub advert: Result<Advert, AdvertError>,
}

impl FoundRelay {
    /// The URL of `room` on this relay at its best address, if it has one.
    #[must_use]
    pub fn url(&self, room: &str) -> Option<String> {
        let tls = self.advert.as_ref().is_ok_and(|advert| advert.tls);
        self.addresses
            .first()
            .map(|address| room_url(tls, *address, self.port, room))
    }

    /// The URLs of `room` at each of its addresses, best first.
    #[must_use]
    pub fn urls(&self, room: &str) -> Vec<String> {
        let tls = self.advert.as_ref().is_ok_and(|advert| advert.tls);
        self.addresses
            .iter()
            .map(|address| room_url(tls, *address, self.port, room))
            .collect()
    }
}

/// `ws://ADDRESS:PORT/ROOM` (`wss://` with TLS; IPv6 in brackets).
#[must_use]
pub fn room_url(tls: bool, address: IpAddr, port: u16, room: &str) -> String {
    let scheme = if tls { "wss" } else { "ws" };
    match address {
        IpAddr::V4(v4) => format!("{scheme}://{v4}:{port}/{room}"),
        IpAddr::V6(v6) => format!("{scheme}://[{v6}]:{port}/{room}"),
    }
}

/// How good an address is for reaching a relay from elsewhere on the
/// network, lower first: private and public IPv4, then IPv6, then
/// link-local, then loopback (which only reaches this machine).
#[must_use]
pub fn rank_address(address: &IpAddr) -> u8 {
    match address {
        IpAddr::V4(v4) if v4.is_loopback() => 5,
        IpAddr::V4(v4) if v4.is_link_local() => 3,
        IpAddr::V4(v4) if v4.is_private() => 0,
        IpAddr::V4(_) => 1,
        IpAddr::V6(v6) if v6.is_loopback() => 6,
        IpAddr::V6(v6) if v6.is_unicast_link_local() => 4,
        IpAddr::V6(_) => 2,
    }
}

/// Sorts addresses best first by [`rank_address`], then by value, without
/// duplicates; IPv6 link-local addresses, which need an interface to be
/// reached, are dropped.
pub fn sort_addresses(addresses: &mut Vec<IpAddr>) {
    addresses.retain(|address| !matches!(address, IpAddr::V6(v6) if v6.is_unicast_link_local()));
    addresses.sort_by_key(|address| (rank_address(address), *address));
    addresses.dedup();
}

/// The addresses a relay listening on `bound` can be reached at, best first
/// (see [`rank_address`]): `bound` itself, or for an unspecified address
/// (`0.0.0.0`, `::`) those of every interface that is up, of the same family
/// (both for `::`, which on most systems also takes IPv4).
pub fn reachable_addresses(bound: IpAddr) -> std::io::Result<Vec<IpAddr>> {
    if !bound.is_unspecified() {
        return Ok(vec![bound]);
    }
    let mut addresses: Vec<IpAddr> = if_addrs::get_if_addrs()?
        .into_iter()
        .filter(|interface| interface.is_oper_up() || interface.is_loopback())
        .map(|interface| interface.ip())
        .filter(|address| bound.is_ipv6() || address.is_ipv4())
        .collect();
    sort_addresses(&mut addresses);
    Ok(addresses)
}

/// What the browsing thread hands over.
enum Found {
    /// A relay appeared or its record changed.
    Relay(FoundRelay),
    /// A relay said goodbye (or its record expired).
    Gone(String),
}

/// The relays on the network, kept current by a thread of its own while it
/// lives.
pub struct Browser {
    /// The mDNS daemon asking the network.
    daemon: ServiceDaemon,
    /// What the browsing thread found since the last [`Browser::poll`].
    found: mpsc::Receiver<Found>,
    /// The relays known now, by full name.
    relays: BTreeMap<String, FoundRelay>,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser")
            .field("relays", &self.relays)
            .finish_non_exhaustive()
    }
}

impl Browser {
    /// Starts looking for relays on `interfaces`; `wake` is called (on the
    /// browsing thread) whenever something was found or lost, so that a UI
    /// can run a frame to [`Browser::poll`].
    pub fn start(
        interfaces: &Interfaces,
        wake: impl Fn() + Send + 'static,
    ) -> Result<Self, DiscoveryError> {
        let daemon = interfaces.daemon()?;
        let events = daemon.browse(SERVICE_TYPE)?;
        let (tx, found) = mpsc::channel();
        std::thread::Builder::new()
            .name("tabula-browse".to_owned())
            .spawn(move || {
                // Ends when the daemon shuts down (the browser was dropped) or
                // nobody polls any more.
                while let Ok(event) = events.recv() {
                    trace!(?event, "mDNS");
                    let found = match event {
                        ServiceEvent::ServiceResolved(service) => {
                            Found::Relay(found_relay(&service))
                        }
                        ServiceEvent::ServiceRemoved(_, fullname) => Found::Gone(fullname),
                        _ => continue,
                    };
                    if tx.send(found).is_err() {
                        return;
                    }
                    wake();
                }
            })
            .map_err(|err| DiscoveryError::Mdns(mdns_sd::Error::Msg(err.to_string())))?;
        debug!(interfaces = ?interfaces.names(), "looking for relays on the local network");
        Ok(Self {
            daemon,
            found,
            relays: BTreeMap::new(),
        })
    }

    /// Takes in what was found since the last call; `true` if the list
    /// changed.
    pub fn poll(&mut self) -> bool {
        let mut changed = false;
        while let Ok(found) = self.found.try_recv() {
            changed = true;
            match found {
                Found::Relay(relay) => {
                    if let Err(err) = &relay.advert {
                        warn!(relay = relay.fullname, %err, "a relay's record was not understood");
                    }
                    self.relays.insert(relay.fullname.clone(), relay);
                }
                Found::Gone(fullname) => {
                    self.relays.remove(&fullname);
                }
            }
        }
        changed
    }

    /// The relays known now, by name.
    pub fn relays(&self) -> impl Iterator<Item = &FoundRelay> + '_ {
        self.relays.values()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Err(err) = self.daemon.shutdown() {
            debug!(%err, "the mDNS daemon had already stopped");
        }
    }
}

/// A resolved service as a [`FoundRelay`].
fn found_relay(service: &mdns_sd::ResolvedService) -> FoundRelay {
    let mut addresses: Vec<IpAddr> = service
        .get_addresses()
        .iter()
        .map(mdns_sd::ScopedIp::to_ip_addr)
        .collect();
    sort_addresses(&mut addresses);
    let properties = service.get_properties();
    let advert = Advert::from_txt(properties.iter().map(|p| (p.key(), p.val_str())));
    FoundRelay {
        fullname: service.get_fullname().to_owned(),
        instance: instance_of(service.get_fullname()),
        addresses,
        port: service.get_port(),
        advert,
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    #[test]
    fn addresses_reachable_from_elsewhere_come_first() {
        let mut addresses: Vec<IpAddr> = vec![
            Ipv4Addr::LOCALHOST.into(),
            Ipv6Addr::LOCALHOST.into(),
            "169.254.3.4".parse().expect("ip"),
            "fe80::1".parse().expect("ip"),
            "2001:db8::1".parse().expect("ip"),
            "8.8.8.8".parse().expect("ip"),
            "192.168.1.20".parse().expect("ip"),
            "192.168.1.20".parse().expect("ip"),
        ];
        sort_addresses(&mut addresses);
        let text: Vec<String> = addresses.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "192.168.1.20",
                "8.8.8.8",
                "2001:db8::1",
                "169.254.3.4",
                "127.0.0.1",
                "::1"
            ]
        );
        assert_eq!(
            room_url(false, "2001:db8::1".parse().expect("ip"), 7457, "team"),
            "ws://[2001:db8::1]:7457/team"
        );
        assert_eq!(
            room_url(true, Ipv4Addr::LOCALHOST.into(), 7458, "a"),
            "wss://127.0.0.1:7458/a"
        );
    }

    #[test]
    fn a_relay_on_every_interface_is_reachable_on_each_and_on_loopback_last() {
        let bound: IpAddr = Ipv4Addr::LOCALHOST.into();
        assert_eq!(reachable_addresses(bound).expect("listed"), [bound]);
        let every = reachable_addresses(Ipv4Addr::UNSPECIFIED.into()).expect("listed");
        assert!(every.iter().all(IpAddr::is_ipv4));
        assert_eq!(every.last(), Some(&bound), "loopback last: {every:?}");
    }

    #[test]
    fn instance_names_and_interface_lists_are_read() {
        assert_eq!(
            instance_of("Ada on studio._tabula._tcp.local."),
            "Ada on studio"
        );
        assert_eq!(instance_of(r"a\.b._tabula._tcp.local."), "a.b");
        assert_eq!(
            Interfaces::from_list(" lo, eth0 ,,").names(),
            ["lo", "eth0"]
        );
        assert!(Interfaces::from_list("").names().is_empty());
        assert_eq!(dns_label("my laptop.local"), "my-laptop-local");
        assert_eq!(dns_label("..."), "tabula");
    }
}
