//! The load generator as `bench/run.sh` and `bench/smoke.sh` run it: the
//! binary, against a real relay on loopback, reporting one line of JSON.
//!
//! Being an integration test also has `cargo test` build the `tabula-bench`
//! binary itself, which `bench/smoke.sh` runs after `cargo test --no-run`.

use std::process::Command;

use tabula_server::Config;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_run_against_a_relay_reports_deliveries_and_no_loss_as_json() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let relay = tokio::spawn(tabula_server::run(listener, Config::default(), async {
        let _ = stopped.await;
    }));

    let url = format!("ws://{addr}/cli");
    let pid = std::process::id().to_string();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_tabula-bench"))
            .args([
                "--url", &url, "--peers", "3", "--rate", "20", "--size", "100",
            ])
            .args(["--duration", "1", "--relay-pid", &pid, "--json"])
            .output()
            .expect("could not run tabula-bench")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{}\n{stdout}\n{stderr}",
        output.status
    );
    let last = stdout.lines().last().expect("no output");
    let report: serde_json::Value = serde_json::from_str(last).expect("the last line is JSON");
    assert!(report["delivered"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["lost"], 0, "{report}");
    assert!(report["error"].is_null(), "{report}");

    stop.send(()).unwrap();
    relay.await.unwrap().unwrap();
}
