//! Reload when a loaded file changes: the config, password and secret files,
//! PEM keys, the JWKS file, CA and certificate files. Kubernetes updates
//! mounted Secrets and ConfigMaps by swapping a `..data` symlink in the
//! mount's folder, and editors replace files by renaming; so the folders are
//! watched (not the files), and an event counts when it names a loaded file
//! or a `..`-prefixed entry. Events are debounced by the caller.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use notify::{Event, EventKind, RecursiveMode, Watcher as _};
use tokio::sync::Notify;

/// Watches the folders of a set of files; `changed` is notified on a relevant event.
pub struct FileWatch {
    watcher: notify::RecommendedWatcher,
    dirs: HashSet<PathBuf>,
    names: Arc<Mutex<HashSet<OsString>>>,
    pub changed: Arc<Notify>,
}

impl FileWatch {
    pub fn new() -> notify::Result<FileWatch> {
        let names: Arc<Mutex<HashSet<OsString>>> = Arc::default();
        let changed = Arc::new(Notify::new());
        let (seen, wake) = (names.clone(), changed.clone());
        let watcher = notify::recommended_watcher(move |event: notify::Result<Event>| {
            let Ok(event) = event else { return };
            if matches!(event.kind, EventKind::Access(_)) {
                return;
            }
            let names = seen.lock().unwrap_or_else(PoisonError::into_inner);
            let relevant = event
                .paths
                .iter()
                .filter_map(|p| p.file_name())
                .any(|name| names.contains(name) || name.to_string_lossy().starts_with(".."));
            if relevant {
                wake.notify_one();
            }
        })?;
        Ok(FileWatch { watcher, dirs: HashSet::new(), names, changed })
    }

    /// Watches exactly the folders of `files` (and of their symlink targets).
    pub fn set(&mut self, files: &[PathBuf]) {
        let mut dirs = HashSet::new();
        let mut names = HashSet::new();
        for file in files {
            let mut add = |path: &Path| {
                if let (Some(dir), Some(name)) = (path.parent(), path.file_name()) {
                    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
                    dirs.insert(dir.to_owned());
                    names.insert(name.to_owned());
                }
            };
            add(file);
            if let Ok(target) = std::fs::canonicalize(file) {
                if &target != file {
                    add(&target);
                }
            }
        }
        for gone in self.dirs.difference(&dirs) {
            let _ = self.watcher.unwatch(gone);
        }
        for dir in dirs.difference(&self.dirs) {
            if let Err(e) = self.watcher.watch(dir, RecursiveMode::NonRecursive) {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot watch for config changes; SIGHUP still reloads");
            }
        }
        self.dirs = dirs;
        *self.names.lock().unwrap_or_else(PoisonError::into_inner) = names;
    }
}
