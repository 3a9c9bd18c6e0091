//! What several of the app's test binaries share.

use std::sync::OnceLock;

/// A runtime for the app to hold; the UI tests never start a network task on it.
pub fn runtime() -> tokio::runtime::Handle {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("a tokio runtime")
        })
        .handle()
        .clone()
}
