//! [`ChildRelay`]: the real `tabula-server` binary in a child process, for the
//! tests that must kill it (crash safety) or start it under limits the test
//! process must not share (open files). It listens on `127.0.0.1:0` and the
//! port is read from its log.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use crate::support::WAIT;

/// `tabula-server` running as a child process; killed when dropped, so that
/// a failing test leaves no relay behind.
pub struct ChildRelay {
    /// The process, to kill.
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl ChildRelay {
    /// The path of the `tabula-server` binary Cargo built for these tests.
    pub fn binary() -> &'static str {
        env!("CARGO_BIN_EXE_tabula-server")
    }

    /// Runs `command` (which starts the relay, perhaps through a wrapper
    /// such as `prlimit`; it must listen on `127.0.0.1:0`) with its log on a
    /// pipe, and waits until the log says where it listens. The log is read
    /// to its end on a thread of its own, so that the relay never blocks on
    /// a full pipe.
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .env_remove("TABULA_DATA")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("could not start tabula-server");
        let stdout = child.stdout.take().expect("no stdout");
        let (lines_tx, lines) = mpsc::channel();
        std::thread::Builder::new()
            .name("child-relay-log".to_owned())
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    let _ = lines_tx.send(line);
                }
            })
            .expect("could not start the log reader");
        let addr = loop {
            let line = lines
                .recv_timeout(WAIT)
                .expect("the relay did not say where it listens");
            if let Some(rest) = line.split("clients connect to ws://").nth(1) {
                let addr = rest.split('/').next().unwrap_or_default();
                break addr.parse().expect("a bad address in the log");
            }
        };
        Self { child, addr }
    }

    /// SIGKILL: no shutdown, no flush, no goodbye.
    pub fn kill(mut self) {
        self.child.kill().expect("could not kill the relay");
        self.child.wait().expect("could not reap the relay");
    }
}

impl Drop for ChildRelay {
    /// (After [`ChildRelay::kill`] this finds the process reaped and does
    /// nothing.)
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
