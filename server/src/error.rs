//! The library's error type: what can stop [`run`](crate::run) as a whole.
//!
//! Everything that goes wrong with one connection (bad frames, a peer that vanished,
//! a slow reader) is handled inside that connection's task, logged once and turned
//! into a WebSocket close; it never reaches this type.

/// Why the relay could not start or could not keep serving.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A [`Config`](crate::Config) value the relay cannot work with.
    #[error("invalid configuration: {0}")]
    InvalidConfig(&'static str),
    /// The data folder (or its `rooms` folder) could not be created.
    #[error("could not create the data folder {}", path.display())]
    DataDir {
        /// The folder.
        path: std::path::PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The relay could not be set up as a cluster node (`--redis`): a bad
    /// URL, or no tokio runtime.
    #[error("could not set up the relay as a cluster node: {0}")]
    Redis(#[source] crate::store::StoreError),
    /// The relay's password could not be turned into its key.
    #[error("could not set up the relay's password")]
    Password(#[source] tabula_shared::access::AccessError),
    /// Accepting connections kept failing for too long to be a passing hiccup.
    #[error("the listener kept failing to accept connections")]
    Accept(#[source] std::io::Error),
}
