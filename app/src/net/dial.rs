//! Opening a connection to a relay: TCP; for `wss://`, TLS with the relay's
//! certificate checked; then the WebSocket handshake.
//!
//! A `wss://` relay must present the certificate it is known by, checked in
//! the handshake, before a byte of the room goes either way:
//! - the one an invitation names (`#fp=…`): that is what the link is for,
//!   and it is remembered for the host from then on;
//! - otherwise the one remembered for the host (`HOST:PORT`) in the known
//!   hosts ([`KnownHosts`]);
//! - otherwise, the first time, whatever it presents: it is remembered, and
//!   its short code shown, for people to compare with the host's.
//!
//! A relay that presents another certificate than the one expected is
//! refused, with both fingerprints, and never retried: someone may be
//! intercepting the connection, or the relay has a new certificate, and only
//! a person can tell which.

use tabula_shared::fingerprint::Fingerprint;
use tabula_shared::pinning::{Expect, Mismatch, PinnedClient, server_name};
use tabula_shared::relay_url::RelayUrl;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite;

use super::known_hosts::KnownHosts;
use super::socket::{Socket, Stream};
use super::{Ended, RelayCertificate, Trust};

/// Connects to the relay at `url` and opens the WebSocket. Returns the
/// socket and, over TLS, the certificate the relay presented and why it was
/// trusted.
pub(super) async fn dial(
    url: &str,
    known_hosts: &KnownHosts,
) -> Result<(Socket, Option<RelayCertificate>), Ended> {
    let url = RelayUrl::parse(url).map_err(|err| Ended::Refused(err.to_string()))?;
    let tcp = TcpStream::connect((url.host.as_str(), url.port))
        .await
        .map_err(|err| Ended::lost(format!("could not connect: {err}"), false))?;
    // Frames are small and latency matters more than packets saved.
    let _ = tcp.set_nodelay(true);
    let (stream, certificate): (Box<dyn Stream>, _) = if url.secure {
        let (tls, certificate) = secure(tcp, &url, known_hosts).await?;
        (Box::new(tls), Some(certificate))
    } else {
        (Box::new(tcp), None)
    };
    let config = tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(tabula_shared::codec::MAX_FRAME_BYTES))
        .max_frame_size(Some(tabula_shared::codec::MAX_FRAME_BYTES));
    match tokio_tungstenite::client_async_with_config(url.address(), stream, Some(config)).await {
        Ok((socket, _response)) => Ok((socket, certificate)),
        Err(tungstenite::Error::Http(response)) => Err(http_refusal(&response)),
        Err(err) => Err(Ended::lost(format!("could not connect: {err}"), false)),
    }
}

/// What an HTTP answer instead of a WebSocket means: a relay that is full
/// (503) or that has too many connections from this address (429) is tried
/// again later, with its own sentence saying why; anything else will not
/// change by retrying.
fn http_refusal(response: &tungstenite::http::Response<Option<Vec<u8>>>) -> Ended {
    let status = response.status();
    let said = response
        .body()
        .as_deref()
        .map(|body| String::from_utf8_lossy(body).trim().to_owned())
        .filter(|said| !said.is_empty());
    match (status.as_u16(), said) {
        (429 | 503, Some(said)) => Ended::lost(format!("the relay is busy: {said}"), false),
        (429 | 503, None) => Ended::lost(format!("the relay is busy (HTTP {status})"), false),
        (_, Some(said)) => Ended::Refused(format!(
            "the relay answered HTTP {status} instead of opening a WebSocket: {said}"
        )),
        (_, None) => Ended::Refused(format!(
            "the relay answered HTTP {status} instead of opening a WebSocket"
        )),
    }
}

/// The TLS handshake, with the relay's certificate checked against the one
/// it is known by (see the module's doc), and the known hosts brought up to
/// date.
async fn secure(
    tcp: TcpStream,
    url: &RelayUrl,
    known_hosts: &KnownHosts,
) -> Result<(tokio_rustls::client::TlsStream<TcpStream>, RelayCertificate), Ended> {
    let authority = url.authority();
    let known = read_known(known_hosts, &authority).await?;
    let expect = match (url.fingerprint, known) {
        (Some(invited), _) => Expect::Certificate(invited),
        (None, Some(known)) => Expect::Certificate(known),
        (None, None) => Expect::Anything,
    };
    let client = PinnedClient::new(expect);
    let name = server_name(&url.host)
        .map_err(|err| Ended::Refused(format!("{:?} is not a host name: {err}", url.host)))?;
    let handshake = TlsConnector::from(client.config()).connect(name, tcp).await;
    if let Some(mismatch) = client.mismatch() {
        return Err(Ended::Refused(refusal(
            &authority,
            url.fingerprint.is_some(),
            &mismatch,
            known_hosts,
        )));
    }
    let tls = handshake.map_err(|err| handshake_failed(&err))?;
    let Some(fingerprint) = client.presented() else {
        return Err(Ended::lost(
            "the TLS handshake ended without a certificate".to_owned(),
            false,
        ));
    };
    let trust = match (url.fingerprint, known) {
        (Some(_), Some(known)) if known == fingerprint => Trust::Known,
        (Some(_), _) => Trust::Invitation,
        (None, Some(_)) => Trust::Known,
        (None, None) => Trust::FirstUse,
    };
    if trust != Trust::Known {
        remember(known_hosts, &authority, fingerprint).await;
    }
    match trust {
        Trust::FirstUse => tracing::warn!(
            relay = %authority,
            code = %fingerprint.short_code(),
            sha256 = %fingerprint,
            "trusting this relay's certificate on first use: compare its code with the host's"
        ),
        Trust::Invitation => tracing::info!(
            relay = %authority,
            code = %fingerprint.short_code(),
            "the relay presented the certificate its invitation names"
        ),
        Trust::Known => {
            tracing::debug!(relay = %authority, "the relay's certificate is the known one");
        }
    }
    Ok((
        tls,
        RelayCertificate {
            authority,
            fingerprint,
            trust,
        },
    ))
}

/// What the known hosts say of `authority`, read off the task's thread.
async fn read_known(
    known_hosts: &KnownHosts,
    authority: &str,
) -> Result<Option<Fingerprint>, Ended> {
    let (hosts, host) = (known_hosts.clone(), authority.to_owned());
    match tokio::task::spawn_blocking(move || hosts.lookup(&host)).await {
        Ok(Ok(known)) => Ok(known),
        Ok(Err(err)) => Err(Ended::Refused(format!(
            "could not read the known relays' certificates in {}: {err}",
            known_hosts
                .path()
                .map_or_else(String::new, |path| path.display().to_string())
        ))),
        Err(err) => Err(Ended::lost(
            format!("reading the known relays failed: {err}"),
            false,
        )),
    }
}

/// Remembers `fingerprint` for `authority`, off the task's thread. A failure
/// is logged: the connection goes on, trusted for this session.
async fn remember(known_hosts: &KnownHosts, authority: &str, fingerprint: Fingerprint) {
    let (hosts, host) = (known_hosts.clone(), authority.to_owned());
    match tokio::task::spawn_blocking(move || hosts.remember(&host, &fingerprint)).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            tracing::warn!(%err, relay = %authority, "could not remember the relay's certificate");
        }
        Err(err) => tracing::warn!(%err, "remembering the relay's certificate failed"),
    }
}

/// The loud refusal of a relay that presented the wrong certificate: both
/// fingerprints, what it may mean, and what to do.
fn refusal(
    authority: &str,
    invited: bool,
    mismatch: &Mismatch,
    known_hosts: &KnownHosts,
) -> String {
    let Mismatch {
        expected,
        presented,
    } = mismatch;
    let (named, advice) = if invited {
        (
            "the invitation names",
            "Do not join: ask the host for a new invitation, and compare the code their app shows."
                .to_owned(),
        )
    } else {
        (
            "this app trusted before",
            match known_hosts.path() {
                Some(path) => format!(
                    "If the host really made a new certificate, compare its code with them, then delete the line of {authority} in {} and join again.",
                    path.display()
                ),
                None => "If the host really made a new certificate, compare its code with them, then restart Tabula and join again.".to_owned(),
            },
        )
    };
    tracing::error!(
        relay = %authority,
        expected = %expected,
        presented = %presented,
        "the relay presented another certificate than the one expected"
    );
    format!(
        "CERTIFICATE CHANGED: the relay at {authority} presented certificate {} ({presented}), \
         not {} ({expected}), the one {named}. Someone on the network may be intercepting \
         the connection. {advice}",
        presented.short_code(),
        expected.short_code(),
    )
}

/// Why a TLS handshake failed, as the status line says it: a relay that
/// answers in plain text does not speak TLS, and will not by retrying.
fn handshake_failed(err: &std::io::Error) -> Ended {
    let not_tls = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|err| matches!(err, rustls::Error::InvalidMessage(_)));
    if not_tls {
        Ended::Refused(
            "the relay does not speak TLS: use ws:// instead of wss:// for it".to_owned(),
        )
    } else {
        Ended::lost(format!("the TLS handshake failed: {err}"), false)
    }
}
