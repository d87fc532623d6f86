//! The discovery file: how `mailwatch-cli` finds a running server (`serve`, or the app's
//! Local API) over the same data directory, so its IMAP commands go through that server's
//! pool and limits instead of opening a pool of their own.
//!
//! The file (`local-api.json` in the data directory) holds the address and the server's
//! pid, never a key: the CLI reads the key from the keyring ([`crate::keys::stored_app_key`]).
//! It is written atomically (a temporary file renamed over it), removed when the server stops
//! cleanly, and ignored when its pid is gone; the CLI also ignores it when the address does not
//! answer `GET /api/v1/health`.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The file's name in the data directory.
pub const FILE: &str = "local-api.json";

/// What the file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discovery {
    /// Where the server listens.
    pub address: SocketAddr,
    /// The server's process.
    pub pid: u32,
}

/// The file in `data_dir`.
pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE)
}

/// Removes the file when dropped, if it still names this process (another server over the same
/// data directory may have written its own since).
#[derive(Debug)]
pub struct Announced {
    path: PathBuf,
}

impl Drop for Announced {
    fn drop(&mut self) {
        if read_file(&self.path).is_some_and(|d| d.pid == std::process::id()) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Writes the file for a server of this process listening on `address`; it goes when the
/// returned guard is dropped.
///
/// # Errors
/// The data directory cannot be written.
pub fn announce(data_dir: &Path, address: SocketAddr) -> std::io::Result<Announced> {
    let target = path(data_dir);
    let mut tmp = tempfile::NamedTempFile::new_in(data_dir)?;
    let body = serde_json::to_vec(&Discovery { address, pid: std::process::id() }).map_err(std::io::Error::other)?;
    tmp.write_all(&body)?;
    tmp.as_file().sync_all()?;
    tmp.persist(&target).map_err(|e| e.error)?;
    Ok(Announced { path: target })
}

fn read_file(path: &Path) -> Option<Discovery> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// The server the file in `data_dir` names, unless there is no file, it cannot be read, or its
/// process is gone. Whether the address answers is the caller's to check.
pub fn find(data_dir: &Path) -> Option<Discovery> {
    read_file(&path(data_dir)).filter(|d| process_alive(d.pid))
}

#[cfg(unix)]
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_alive(_pid: u32) -> bool {
    // The health check decides.
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_names_this_process_goes_on_drop_and_a_dead_pid_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let address: SocketAddr = "127.0.0.1:7878".parse().unwrap();
        let announced = announce(dir.path(), address).unwrap();
        let text = std::fs::read_to_string(path(dir.path())).unwrap();
        assert_eq!(find(dir.path()), Some(Discovery { address, pid: std::process::id() }), "{text}");
        assert!(!text.contains("key"), "the file holds no key: {text}");
        drop(announced);
        assert!(!path(dir.path()).exists(), "a clean stop removes the file");

        // A pid far above any pid_max is no live process.
        std::fs::write(path(dir.path()), r#"{"address":"127.0.0.1:7878","pid":2000000000}"#).unwrap();
        assert_eq!(find(dir.path()), None, "a file whose process is gone is ignored");
        std::fs::write(path(dir.path()), "not json").unwrap();
        assert_eq!(find(dir.path()), None, "an unreadable file is ignored");
    }
}
