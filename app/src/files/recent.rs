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

#[cfg(test)]
mod tests {
    use super::*;

    /// The file stems of `recent`'s paths, newest first.
    fn names(recent: &RecentFiles) -> Vec<String> {
        recent
            .paths()
            .iter()
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn the_newest_comes_first_and_a_file_added_again_moves_up_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut recent = RecentFiles::at(None);
        for name in ["a", "b", "c", "b"] {
            recent.add(&dir.path().join(format!("{name}.tabula")));
        }
        assert_eq!(names(&recent), ["b", "c", "a"]);
    }

    #[test]
    fn the_list_keeps_only_the_newest_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("recent-files.txt");
        let mut recent = RecentFiles::at(Some(store.clone()));
        for n in 0..RECENT_LIMIT + 3 {
            recent.add(&dir.path().join(format!("{n}.tabula")));
        }
        let newest: Vec<String> = (3..RECENT_LIMIT + 3).rev().map(|n| n.to_string()).collect();
        assert_eq!(names(&recent), newest);
        let written = fs::read_to_string(&store).unwrap();
        assert_eq!(written.lines().count(), RECENT_LIMIT);

        // A longer list, written by hand, is read up to the limit, blank lines skipped.
        let long = (0..RECENT_LIMIT + 5)
            .map(|n| format!("/boards/{n}.tabula"))
            .collect::<Vec<_>>()
            .join("\n\n");
        fs::write(&store, long).unwrap();
        assert_eq!(RecentFiles::at(Some(store)).paths().len(), RECENT_LIMIT);
    }

    #[test]
    fn a_missing_config_folder_is_made_when_the_list_is_first_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir
            .path()
            .join("config")
            .join("tabula")
            .join("recent-files.txt");
        let mut recent = RecentFiles::at(Some(store.clone()));
        assert!(recent.paths().is_empty(), "nothing to read yet");
        recent.add(&dir.path().join("a.tabula"));
        recent.add(&dir.path().join("b.tabula"));
        assert_eq!(
            names(&RecentFiles::at(Some(store))),
            ["b", "a"],
            "read back"
        );
    }

    #[test]
    fn a_list_that_cannot_be_written_is_kept_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        // The config "folder" is a file: nothing can be made under it.
        let blocked = dir.path().join("config");
        fs::write(&blocked, "not a folder").unwrap();
        let store = blocked.join("recent-files.txt");
        let mut recent = RecentFiles::at(Some(store.clone()));
        recent.add(&dir.path().join("a.tabula"));
        assert_eq!(names(&recent), ["a"]);
        assert!(!store.exists());
        assert_eq!(fs::read_to_string(&blocked).unwrap(), "not a folder");
    }

    #[test]
    fn a_file_that_exists_is_remembered_by_its_full_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("board.tabula");
        fs::write(&file, "").unwrap();
        let mut recent = RecentFiles::at(None);
        recent.add(&dir.path().join(".").join("board.tabula"));
        recent.add(&file);
        assert_eq!(
            recent.paths(),
            [fs::canonicalize(&file).unwrap()],
            "one entry"
        );
    }
}
