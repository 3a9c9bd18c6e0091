//! The HTTP side: what a browser, curl or a port scanner gets.

use std::time::Duration;

use tokio_tungstenite::tungstenite;

use crate::support::{TestRelay, http_exchange, test_config};

#[tokio::test]
async fn plain_http_gets_426_with_directions() {
    let relay = TestRelay::start().await;
    for path in ["/", "/some-room", "/favicon.ico"] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
        let answer = http_exchange(&relay, request.as_bytes()).await;
        assert!(
            answer.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
            "{answer}"
        );
        let lower = answer.to_ascii_lowercase();
        assert!(lower.contains("\r\nupgrade: websocket\r\n"), "{answer}");
        assert!(lower.contains("\r\nconnection: close\r\n"), "{answer}");
        assert!(lower.contains("\r\ncontent-type: text/plain"), "{answer}");
        assert!(answer.contains("Tabula relay"), "{answer}");
        assert!(answer.contains("ws://HOST:PORT/ROOM"), "{answer}");
    }
}

#[tokio::test]
async fn a_bad_room_path_gets_400_with_the_reason() {
    let relay = TestRelay::start().await;
    let upgrade = |path: &str| {
        format!(
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        )
    };
    let answer = http_exchange(&relay, upgrade("/a/b").as_bytes()).await;
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(answer.contains("may hold only letters"), "{answer}");
    let answer = http_exchange(&relay, upgrade("/").as_bytes()).await;
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(answer.contains("the room name is missing"), "{answer}");

    // A real WebSocket client is refused the same way.
    let long = "x".repeat(65);
    match tokio_tungstenite::connect_async(relay.url(&long)).await {
        Err(tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 400);
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default())
                .into_owned();
            assert!(body.contains("65 bytes long"), "{body}");
        }
        other => panic!("expected a 400, got {other:?}"),
    }
}

#[tokio::test]
async fn garbage_gets_an_answer_and_a_close_never_a_hang() {
    let relay = TestRelay::start().await;
    // A line that is not a request line (a TLS client hello gets a 400 of
    // its own: see the tls tests).
    let answer = http_exchange(&relay, b"hello there\r\n\r\n").await;
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(answer.contains("not an HTTP request"), "{answer}");
    // A head that never ends.
    let mut endless = b"GET / HTTP/1.1\r\n".to_vec();
    endless
        .extend(b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(200));
    let answer = http_exchange(&relay, &endless).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");

    // Something that might still become a request, but never does: a relay
    // with a short handshake timeout, so the test need not wait out a long one.
    let relay = TestRelay::with_config(tabula_server::Config {
        handshake_timeout: Duration::from_millis(300),
        ..test_config()
    })
    .await;
    let answer = http_exchange(&relay, b"GET / HTTP/1.1\r\nHost: slow").await;
    assert!(
        answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{answer}"
    );
}
