//! How `imds exec`, `imds endpoint` and `imds stats` find the running server.
//!
//! `imds serve` writes a record (`serve-<pid>.json`: its pid, API and metadata URLs) when it is
//! ready and removes it when it stops: in its data dir, or, with `--ephemeral`, in the default
//! data dir of the user who runs it. The commands then look, in order: `--endpoint` /
//! `IMDS_ENDPOINT`; the records of `--data-dir` / `IMDS_DATA_DIR`; those of the default data
//! dir of the user who called `sudo` (`SUDO_USER`: under sudo `HOME` is root's, but the server
//! is usually the user's) and of the current user; the newest record of a live process wins.
//! Without any, the default address `http://127.0.0.1:8773`.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The API address `imds serve` listens on by default.
pub const DEFAULT_API: &str = "http://127.0.0.1:8773";

/// What a running `imds serve` records about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub pid: u32,
    /// The EC2 API, as a client on this host reaches it.
    pub api: String,
    /// The loopback metadata service.
    pub metadata: String,
    pub started_ms: i64,
}

/// A URL a client on this host can connect to: an unspecified listen address becomes the
/// loopback address of its family.
pub fn reachable_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(a) if a.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(a) if a.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// The record of this process in `dir`, removed when dropped (a clean stop).
pub struct Recorded(PathBuf);

impl Drop for Recorded {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn file_name(pid: u32) -> String {
    format!("serve-{pid}.json")
}

/// Write this server's record into `dir` (atomically: a reader never sees half of it).
pub fn record(dir: &Path, api: SocketAddr, metadata: SocketAddr) -> std::io::Result<Recorded> {
    std::fs::create_dir_all(dir)?;
    let pid = std::process::id();
    let rec = Record {
        pid,
        api: reachable_url(api),
        metadata: reachable_url(metadata),
        started_ms: model::time::now_ms(),
    };
    let path = dir.join(file_name(pid));
    let tmp = dir.join(format!(".{}.tmp", file_name(pid)));
    std::fs::write(
        &tmp,
        serde_json::to_vec(&rec).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(&tmp, &path)?;
    Ok(Recorded(path))
}

/// Whether process `pid` exists (a process of another user counts: `EPERM`).
fn alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(e) => e == nix::errno::Errno::EPERM,
    }
}

/// The records of live servers in `dir`; records of processes gone are removed where
/// permitted (a server stopped with kill -9 leaves its record behind).
pub fn records_in(dir: &Path) -> Vec<Record> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with("serve-") && name.ends_with(".json")) {
            continue;
        }
        let Some(rec) = std::fs::read(e.path())
            .ok()
            .and_then(|b| serde_json::from_slice::<Record>(&b).ok())
        else {
            continue;
        };
        if alive(rec.pid) {
            out.push(rec);
        } else {
            let _ = std::fs::remove_file(e.path());
        }
    }
    out
}

/// The default data dir of the user who ran `sudo`, when this process runs under it.
fn sudo_user_data_dir() -> Option<PathBuf> {
    let name = std::env::var("SUDO_USER").ok().filter(|n| n != "root")?;
    let user = nix::unistd::User::from_name(&name).ok()??;
    Some(user.dir.join(".local/share/imds"))
}

/// Where to look for records, best first.
fn candidate_dirs(data_dir: Option<&Path>) -> Vec<PathBuf> {
    match data_dir {
        Some(d) => vec![d.to_path_buf()],
        None => sudo_user_data_dir()
            .into_iter()
            .chain(crate::config::default_data_dir())
            .collect(),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error(
        "no running imds serve is recorded in {0} (start one with --data-dir {0}, or give --endpoint)"
    )]
    NoneIn(PathBuf),
}

/// The API of the running server, as the module's doc says.
pub fn api_endpoint(
    explicit: Option<&str>,
    data_dir: Option<&Path>,
) -> Result<String, DiscoveryError> {
    if let Some(e) = explicit {
        return Ok(e.trim_end_matches('/').to_string());
    }
    let newest = candidate_dirs(data_dir)
        .iter()
        .flat_map(|d| records_in(d))
        .max_by_key(|r| r.started_ms);
    match (newest, data_dir) {
        (Some(r), _) => Ok(r.api),
        (None, Some(d)) => Err(DiscoveryError::NoneIn(d.to_path_buf())),
        (None, None) => Ok(DEFAULT_API.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("imds-discovery-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn a_record_is_found_while_it_exists_and_gone_after_a_clean_stop() {
        let d = temp_dir("clean");
        let api: SocketAddr = "0.0.0.0:4242".parse().unwrap();
        let md: SocketAddr = "127.0.0.1:4243".parse().unwrap();
        let rec = record(&d, api, md).unwrap();
        assert_eq!(
            api_endpoint(None, Some(&d)).unwrap(),
            "http://127.0.0.1:4242"
        );
        assert_eq!(
            api_endpoint(Some("http://127.0.0.1:1/"), Some(&d)).unwrap(),
            "http://127.0.0.1:1",
            "an explicit endpoint wins"
        );
        drop(rec);
        assert!(matches!(
            api_endpoint(None, Some(&d)),
            Err(DiscoveryError::NoneIn(_))
        ));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn the_record_of_a_dead_process_is_ignored_and_removed() {
        let d = temp_dir("dead");
        std::fs::create_dir_all(&d).unwrap();
        // A pid above the kernel's maximum (4194304) belongs to no process.
        let dead = Record {
            pid: 99_999_999,
            api: "http://127.0.0.1:9".into(),
            metadata: "http://127.0.0.1:10".into(),
            started_ms: i64::MAX,
        };
        let path = d.join(file_name(dead.pid));
        std::fs::write(&path, serde_json::to_vec(&dead).unwrap()).unwrap();
        let live = record(
            &d,
            "127.0.0.1:5000".parse().unwrap(),
            "127.0.0.1:5001".parse().unwrap(),
        )
        .unwrap();
        assert_eq!(records_in(&d).len(), 1);
        assert!(!path.exists());
        assert_eq!(
            api_endpoint(None, Some(&d)).unwrap(),
            "http://127.0.0.1:5000"
        );
        drop(live);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn unspecified_addresses_become_loopback() {
        assert_eq!(reachable_url("[::]:80".parse().unwrap()), "http://[::1]:80");
        assert_eq!(
            reachable_url("10.0.0.1:80".parse().unwrap()),
            "http://10.0.0.1:80"
        );
    }
}
