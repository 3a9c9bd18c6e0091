//! The recent files: the last few files opened or saved, newest first, kept
//! in `recent-files.txt` under the platform's config folder
//! (`~/.config/tabula` on Linux), one path a line.
//!
//! The list is a convenience: a folder that is missing is made when the list
//! is first written, and a list that cannot be read or written is kept in
//! memory only (and the failure logged).

use std::fs;
use std::path::{Path, PathBuf};

/// How many recent files are remembered.
pub const RECENT_LIMIT: usize = 8;

/// The last files opened or saved, newest first, kept in a small text file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecentFiles {
    /// The files, newest first, at most [`RECENT_LIMIT`].
    paths: Vec<PathBuf>,
    /// Where the list is kept; `None` keeps it in memory only (no config
    /// folder, or tests).
    store: Option<PathBuf>,
}

impl RecentFiles {
    /// The list kept in the platform's config folder.
    #[must_use]
    pub fn from_config_dir() -> Self {
        Self::at(dirs::config_dir().map(|dir| dir.join("tabula").join("recent-files.txt")))
    }

    /// The list kept in `store` (read now if it is there).
    #[must_use]
    pub fn at(store: Option<PathBuf>) -> Self {
        let paths = store
            .as_deref()
            .and_then(|store| fs::read_to_string(store).ok())
            .map(|text| {
                text.lines()
                    .filter(|line| !line.trim().is_empty())
                    .map(PathBuf::from)
                    .take(RECENT_LIMIT)
                    .collect()
            })
            .unwrap_or_default();
        Self { paths, store }
    }

    /// The files, newest first.
    #[must_use]
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Puts `path` first and writes the list down. A list that cannot be
    /// written is only logged: it is a convenience.
    pub fn add(&mut self, path: &Path) {
        let path = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        self.paths.retain(|p| *p != path);
        self.paths.insert(0, path);
        self.paths.truncate(RECENT_LIMIT);
        let Some(store) = &self.store else {
            return;
        };
        let mut text = String::new();
        for path in &self.paths {
            text.push_str(&path.to_string_lossy());
            text.push('\n');
        }
        let written = store
            .parent()
            .map_or(Ok(()), fs::create_dir_all)
            .and_then(|()| fs::write(store, text));
        if let Err(err) = written {
            tracing::warn!(store = %store.display(), %err, "could not keep the recent files");
        }
    }
}
