//! [`TestRedis`]: a real `redis-server` for the cluster tests, on a free
//! loopback port, with its append-only file at `appendfsync always` in a
//! temporary folder, as the README tells operators to run it. A test that
//! needs it fails, saying why, when it cannot start: it never passes
//! without Redis. Self-contained: the app's tests use this file too.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The longest the server may take to start and answer.
const WAIT: Duration = Duration::from_secs(30);

/// `redis-server` in a child process; killed when dropped.
pub struct TestRedis {
    /// The running server, `None` while it is stopped.
    child: Option<Child>,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its folder (the append-only file), kept across restarts.
    dir: tempfile::TempDir,
}

impl TestRedis {
    /// Starts one on a free loopback port, and waits until it answers.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("could not make a folder for Redis");
        // A port the OS just handed out and took back: free, give or take a
        // race no loopback test on this machine runs.
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|listener| listener.local_addr())
            .expect("could not find a free loopback port")
            .port();
        let mut redis = Self {
            child: None,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            dir,
        };
        redis.launch();
        redis
    }

    /// Its URL, for `--redis`.
    pub fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    /// SIGKILL: no shutdown, no save beyond what the append-only file holds.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("could not kill redis-server");
            child.wait().expect("could not reap redis-server");
        }
    }

    /// Starts it again on the same port and folder (its append-only file is
    /// read back), and waits until it answers.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    /// Runs `redis-server` and waits for its PONG.
    fn launch(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port"])
            .arg(self.addr.port().to_string())
            .arg("--dir")
            .arg(self.dir.path())
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
                "--loglevel",
                "warning",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "this test needs Redis, and redis-server could not be started ({err}): \
                     install it (Debian: apt-get install redis-server; .ci/run does)"
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + WAIT;
        loop {
            if self.pong() {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("redis-server exited at once ({status}): this test needs Redis");
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer on {} within {WAIT:?}",
                self.addr
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether it answers PING with PONG (and has loaded its data).
    fn pong(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        if stream.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut answer = [0; 7];
        stream.read_exact(&mut answer).is_ok() && &answer == b"+PONG\r\n"
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
