//! A real relay in process for the bench's tests: `tabula_server::run` on an
//! ephemeral loopback port, stopped by its sender.

use std::net::SocketAddr;

use tabula_server::Config;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The relay's task: what `tabula_server::run` returned once stopped.
pub type RelayTask = JoinHandle<Result<(), tabula_server::Error>>;

/// Starts a relay with `config`: its address, the sender that stops it, and
/// its task. `RUST_LOG=tabula_server=debug` shows its side of a failing test.
pub async fn spawn(config: Config) -> (SocketAddr, oneshot::Sender<()>, RelayTask) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(tabula_server::run(listener, config, async {
        let _ = stopped.await;
    }));
    (addr, stop, task)
}
