//! wss://: a relay with a certificate speaks TLS under the WebSocket; a plain
//! request on its port, and a TLS one on a plain relay's, get a sentence
//! saying which to use; a TLS handshake that stalls is cut off by the
//! handshake timeout.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use tabula_server::Config;
use tabula_server::tls::TlsSettings;
use tabula_server::tls::self_signed::{generate, write_pair};
use tabula_shared::fingerprint::Fingerprint;
use tabula_shared::pinning::{Expect, PinnedClient, server_name};
use tabula_shared::{
    ClientMessage, Credentials, Hello, PROTOCOL_VERSION, ServerMessage, decode, encode,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::support::{
    TestClient, TestRelay, WAIT, http_exchange, peer_info, stroke_op, test_config,
};

/// A certificate for 127.0.0.1, loaded as a relay loads one, with its
/// fingerprint, and kept in a folder that lives as long as the test.
fn certificate() -> (TlsSettings, Fingerprint, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let made = generate(&["127.0.0.1".to_owned(), "localhost".to_owned()]).expect("a certificate");
    let (cert, key) = write_pair(dir.path(), &made).expect("the pair written");
    let settings = TlsSettings::load(&cert, &key).expect("the pair loads");
    assert_eq!(settings.fingerprint(), made.fingerprint);
    (settings, made.fingerprint, dir)
}

/// A relay serving wss:// with `settings`.
async fn tls_relay(settings: TlsSettings) -> TestRelay {
    TestRelay::with_config(Config {
        tls: Some(settings),
        ..test_config()
    })
    .await
}

/// A TLS connection to `relay`, as the app and the bench make one: trusting
/// the certificate `cert` names and no other.
async fn tls_stream(relay: &TestRelay, cert: Fingerprint) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(relay.addr).await?;
    let client = PinnedClient::new(Expect::Certificate(cert));
    let name = server_name("127.0.0.1").expect("an IP address is a server name");
    timeout(WAIT, TlsConnector::from(client.config()).connect(name, tcp))
        .await
        .expect("the TLS handshake hung")
}

/// A wss:// WebSocket to `room`.
async fn wss(
    relay: &TestRelay,
    cert: Fingerprint,
    room: &str,
) -> WebSocketStream<TlsStream<TcpStream>> {
    let stream = tls_stream(relay, cert)
        .await
        .expect("the TLS handshake failed");
    let url = format!("wss://{}/{room}", relay.addr);
    let (ws, _) = timeout(WAIT, tokio_tungstenite::client_async(url, stream))
        .await
        .expect("the WebSocket handshake hung")
        .expect("the WebSocket handshake failed");
    ws
}

/// Sends one message.
async fn send(ws: &mut WebSocketStream<TlsStream<TcpStream>>, message: &ClientMessage) {
    let frame = encode(message).expect("could not encode");
    ws.send(Message::Binary(frame.into()))
        .await
        .expect("send failed");
}

/// The next message that is not a recorded join or leave, a word on access
/// or news of who came and went.
async fn recv(ws: &mut WebSocketStream<TlsStream<TcpStream>>) -> ServerMessage {
    timeout(WAIT, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Binary(frame))) => {
                    match decode(&frame).expect("a frame this build reads") {
                        ServerMessage::Op(op) if op.op.kind.is_presence() => {}
                        ServerMessage::Access(_) | ServerMessage::Peers { .. } => {}
                        message => return message,
                    }
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                other => panic!("expected a frame, got {other:?}"),
            }
        }
    })
    .await
    .expect("nothing arrived")
}

#[tokio::test]
async fn a_room_works_over_wss() {
    let (settings, cert, _dir) = certificate();
    let relay = tls_relay(settings).await;
    let room = "secured";
    let mut ada = wss(&relay, cert, room).await;
    let mut bob = wss(&relay, cert, room).await;
    for (ws, name) in [(&mut ada, "ada"), (&mut bob, "bob")] {
        let info = peer_info(name);
        let hello = Hello {
            protocol: PROTOCOL_VERSION,
            room: room.to_owned(),
            name: info.name,
            color: info.color,
            client: info.client,
            last_seen: 0,
            last_op: None,
            credentials: Credentials::default(),
        };
        send(ws, &ClientMessage::Hello(hello)).await;
        assert!(matches!(recv(ws).await, ServerMessage::Welcome(_)));
    }
    let op = stroke_op();
    send(&mut ada, &ClientMessage::Op(op.clone())).await;
    match recv(&mut ada).await {
        ServerMessage::Ack { op: acked, .. } => assert_eq!(acked, op.id),
        other => panic!("expected the ack, got {other:?}"),
    }
    match recv(&mut bob).await {
        ServerMessage::Op(sequenced) => assert_eq!(sequenced.op, op),
        other => panic!("expected ada's op, got {other:?}"),
    }
    relay.stop().await.unwrap();
}

#[tokio::test]
async fn a_wss_client_the_relay_turns_away_is_told_why() {
    let (settings, cert, _dir) = certificate();
    let relay = TestRelay::with_config(Config {
        tls: Some(settings),
        max_connections_per_address: 1,
        ..test_config()
    })
    .await;
    let _held = wss(&relay, cert, "busy").await;
    // A second connection from the same address: the TLS handshake completes,
    // and the WebSocket client reads the relay's 429 and its sentence.
    let stream = tls_stream(&relay, cert)
        .await
        .expect("the TLS handshake of a connection turned away");
    let url = format!("wss://{}/busy", relay.addr);
    match timeout(WAIT, tokio_tungstenite::client_async(url, stream))
        .await
        .expect("the answer hung")
    {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429);
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
                .into_owned();
            assert!(
                body.contains("This address has 1 connection open"),
                "{body}"
            );
        }
        other => panic!("expected a 429, got {other:?}"),
    }
    relay.stop().await.unwrap();
}

#[tokio::test]
async fn plain_requests_on_a_tls_port_are_told_to_use_wss() {
    let (settings, _cert, _dir) = certificate();
    let relay = tls_relay(settings).await;
    let answer = http_exchange(&relay, b"GET /room HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(answer.contains("use wss://HOST:PORT/ROOM"), "{answer}");
    // A WebSocket client gets the same sentence as its error.
    match tokio_tungstenite::connect_async(relay.url("room")).await {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 400);
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
                .into_owned();
            assert!(body.contains("wss://"), "{body}");
        }
        other => panic!("expected a 400, got {other:?}"),
    }
}

#[tokio::test]
async fn tls_on_a_plain_port_is_told_to_use_ws() {
    let relay = TestRelay::start().await;
    // The start of a TLS ClientHello, as a TLS client sends it.
    let answer = http_exchange(&relay, b"\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03").await;
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(answer.contains("plain ws://, not TLS"), "{answer}");
    // A TLS client cannot read that: its handshake fails (the app and the
    // bench turn this failure into a sentence of their own).
    let (_settings, cert, _dir) = certificate();
    let failed = tls_stream(&relay, cert).await;
    assert!(
        failed.is_err(),
        "a TLS handshake with a plain relay must fail"
    );
    // The plain port still serves plain clients.
    let (_client, _welcome) = TestClient::join(&relay, "plain", "ada").await;
}

#[tokio::test]
async fn only_the_relays_certificate_completes_a_handshake() {
    let (settings, _cert, _dir) = certificate();
    let (_other, other_cert, _other_dir) = certificate();
    let relay = tls_relay(settings).await;
    assert!(
        tls_stream(&relay, other_cert).await.is_err(),
        "a client that expects another certificate must not get through"
    );
}

#[tokio::test]
async fn a_stalled_tls_handshake_is_cut_off_by_the_handshake_timeout() {
    let (settings, _cert, _dir) = certificate();
    let relay = TestRelay::with_config(Config {
        tls: Some(settings),
        handshake_timeout: Duration::from_millis(300),
        ..test_config()
    })
    .await;
    let mut stream = TcpStream::connect(relay.addr).await.unwrap();
    stream.write_all(b"\x16\x03\x01").await.unwrap();
    let mut rest = Vec::new();
    let ended = timeout(WAIT, stream.read_to_end(&mut rest)).await;
    assert!(ended.is_ok(), "the relay kept a stalled handshake open");
}
