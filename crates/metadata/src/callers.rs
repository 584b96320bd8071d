//! Which process made a metadata request (issue 15, "Which process called"): inside the
//! namespaces `imds exec` builds, every request is attributed to the process whose socket
//! made it, with its command, argv and parent chain, as aws-imds-packet-analyzer reports a
//! tokenless call (an eBPF tool AWS users run for this; imds owns both ends, so it reads
//! `/proc` instead).
//!
//! The connection's two ends identify the caller's socket: in the caller's network namespace,
//! `/proc/<pid>/net/tcp{,6}` lists it with the caller's address as its local end and the
//! service's as its remote end, and its inode; the process holding that inode among its
//! `/proc/<pid>/fd` links is the caller. Every namespace is read once per lookup (through the
//! first process found in it). The lookup runs while the request's connection is still open
//! (before the reply), on a blocking thread; a caller that cannot be found (gone, or `/proc`
//! not readable) is recorded without a process.
//!
//! What is kept per instance is bounded: the last [`KEPT_CALLS`] calls, and counts by command
//! and kind for at most [`KEPT_COMMANDS`] commands.

use serde::Serialize;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;

/// Calls kept per instance (the newest).
pub const KEPT_CALLS: usize = 256;
/// Commands counted per instance; calls of further commands count under `(other)`.
pub const KEPT_COMMANDS: usize = 64;
/// Parents followed from the caller towards init.
const PARENTS: usize = 8;

/// A process, as `/proc` tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Process {
    pub pid: u32,
    /// `comm`: the command's name.
    pub command: String,
    pub argv: Vec<String>,
}

/// The process that made a call, and its parents (nearest first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    #[serde(flatten)]
    pub process: Process,
    pub parents: Vec<Process>,
}

/// How a request used the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A request without a token (IMDSv1), answered or refused.
    V1,
    /// A request with a token (IMDSv2).
    V2,
    /// A token request (`PUT /latest/api/token`).
    Token,
}

/// One attributed call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Call {
    pub at_ms: i64,
    pub method: String,
    pub path: String,
    pub kind: Kind,
    /// The status answered (0: not answered, the connection dropped).
    pub status: u16,
    /// `None`: the process could not be found.
    pub origin: Option<Origin>,
}

/// An instance's attributed calls.
#[derive(Debug, Default)]
pub struct CallLog {
    inner: Mutex<Log>,
}

#[derive(Debug, Default)]
struct Log {
    calls: VecDeque<Call>,
    counts: HashMap<(String, Kind), u64>,
}

/// The counts of an instance's calls by command and kind.
pub type CommandCounts = Vec<(String, Kind, u64)>;

impl CallLog {
    pub fn record(&self, call: Call) {
        let mut log = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let command = call
            .origin
            .as_ref()
            .map_or_else(|| "(unknown)".to_string(), |o| o.process.command.clone());
        let commands: HashSet<&String> = log.counts.keys().map(|(c, _)| c).collect();
        let key = if commands.contains(&command) || commands.len() < KEPT_COMMANDS {
            (command, call.kind)
        } else {
            ("(other)".to_string(), call.kind)
        };
        *log.counts.entry(key).or_default() += 1;
        if log.calls.len() == KEPT_CALLS {
            log.calls.pop_front();
        }
        log.calls.push_back(call);
    }

    /// The calls kept, oldest first.
    pub fn calls(&self) -> Vec<Call> {
        let log = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        log.calls.iter().cloned().collect()
    }

    /// Every call counted, by command and kind.
    pub fn counts(&self) -> CommandCounts {
        let log = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: CommandCounts = log
            .counts
            .iter()
            .map(|((c, k), n)| (c.clone(), *k, *n))
            .collect();
        out.sort_by(|a, b| (&a.0, a.1 as u8).cmp(&(&b.0, b.1 as u8)));
        out
    }
}

/// The process whose socket has `caller` as its local end and `service` as its remote end
/// (blocking: it reads `/proc`).
pub fn find(caller: SocketAddr, service: SocketAddr) -> Option<Origin> {
    let inode = socket_inode(caller, service)?;
    let pid = holder(inode)?;
    let caller = process(pid)?;
    let mut parents = Vec::new();
    let mut next = parent(pid);
    while let Some(p) = next.filter(|p| *p > 1 && parents.len() < PARENTS) {
        match process(p) {
            Some(found) => parents.push(found),
            None => break,
        }
        next = parent(p);
    }
    Some(Origin {
        process: caller,
        parents,
    })
}

fn pids() -> impl Iterator<Item = u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
}

/// The inode of the socket `caller` → `service`, in whichever network namespace holds it.
fn socket_inode(caller: SocketAddr, service: SocketAddr) -> Option<u64> {
    let mut namespaces = HashSet::new();
    for pid in pids() {
        let Ok(ns) = std::fs::read_link(format!("/proc/{pid}/ns/net")) else {
            continue;
        };
        if !namespaces.insert(ns) {
            continue;
        }
        for table in ["tcp", "tcp6"] {
            let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) else {
                continue;
            };
            if let Some(inode) = text
                .lines()
                .skip(1)
                .find_map(|l| matching(l, caller, service))
            {
                return Some(inode);
            }
        }
    }
    None
}

/// The inode of a line of `/proc/net/tcp{,6}` whose local end is `caller` and remote end
/// `service` (an IPv4 end may be listed v4-mapped in `tcp6`).
fn matching(line: &str, caller: SocketAddr, service: SocketAddr) -> Option<u64> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let local = parse_end(fields.get(1)?)?;
    let remote = parse_end(fields.get(2)?)?;
    (same(local, caller) && same(remote, service)).then(|| fields.get(9)?.parse().ok())?
}

fn same(a: SocketAddr, b: SocketAddr) -> bool {
    let canonical = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    a.port() == b.port() && canonical(a.ip()) == canonical(b.ip())
}

/// An end as `/proc/net/tcp{,6}` writes it: the address as the kernel's 32-bit words in
/// hex, each in the machine's byte order, then `:` and the port in hex.
fn parse_end(text: &str) -> Option<SocketAddr> {
    let (addr, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |h: &str| u32::from_str_radix(h, 16).ok().map(u32::to_ne_bytes);
    let ip = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(addr)?)),
        32 => {
            let mut bytes = [0u8; 16];
            for (k, chunk) in bytes.chunks_mut(4).enumerate() {
                chunk.copy_from_slice(&word(addr.get(k * 8..k * 8 + 8)?)?);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// The process holding the socket `inode` among its open files.
fn holder(inode: u64) -> Option<u32> {
    let link = format!("socket:[{inode}]");
    pids().find(|pid| {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|fd| {
                std::fs::read_link(fd.path())
                    .is_ok_and(|target| target.as_os_str() == link.as_str())
            })
    })
}

fn process(pid: u32) -> Option<Process> {
    let command = std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .ok()?
        .trim_end()
        .to_string();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let argv = cmdline
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    Some(Process { pid, command, argv })
}

fn parent(pid: u32) -> Option<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .and_then(|p| p.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_as_the_kernel_writes_them() {
        assert_eq!(
            parse_end("0100007F:1F90"),
            Some("127.0.0.1:8080".parse().unwrap())
        );
        assert_eq!(
            parse_end("FEA9FEA9:0050"),
            Some("169.254.169.254:80".parse().unwrap())
        );
        assert_eq!(
            parse_end("0000000000000000FFFF00000100007F:0050"),
            Some("[::ffff:127.0.0.1]:80".parse().unwrap())
        );
        assert_eq!(parse_end("nonsense"), None);
        let line = "   3: 0100007F:C350 FEA9FEA9:0050 01 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 20 4 30 10 -1";
        let caller = "127.0.0.1:50000".parse().unwrap();
        let service = "169.254.169.254:80".parse().unwrap();
        assert_eq!(matching(line, caller, service), Some(4242));
        assert_eq!(matching(line, service, caller), None);
    }

    /// The real thing on loopback: this test's own connection is found, and it is this
    /// process (with its parent, the test runner).
    #[test]
    fn finds_the_process_that_holds_a_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let service = listener.local_addr().unwrap();
        let client = std::net::TcpStream::connect(service).unwrap();
        let (_accepted, _) = listener.accept().unwrap();
        let caller = client.local_addr().unwrap();
        let Some(origin) = find(caller, service) else {
            panic!("no process found for {caller} -> {service}");
        };
        assert_eq!(origin.process.pid, std::process::id());
        assert!(!origin.process.argv.is_empty());
        assert!(origin.parents.iter().all(|p| p.pid > 1));
    }

    #[test]
    fn the_log_is_bounded() {
        let log = CallLog::default();
        let call = |command: &str| Call {
            at_ms: 0,
            method: "GET".into(),
            path: "/".into(),
            kind: Kind::V1,
            status: 200,
            origin: Some(Origin {
                process: Process {
                    pid: 1,
                    command: command.into(),
                    argv: vec![],
                },
                parents: vec![],
            }),
        };
        for k in 0..(KEPT_CALLS + KEPT_COMMANDS + 10) {
            log.record(call(&format!("cmd{k}")));
        }
        assert_eq!(log.calls().len(), KEPT_CALLS);
        let counts = log.counts();
        assert_eq!(counts.len(), KEPT_COMMANDS + 1);
        let other: u64 = counts
            .iter()
            .filter(|(c, _, _)| c == "(other)")
            .map(|(_, _, n)| n)
            .sum();
        assert_eq!(other, (KEPT_CALLS + 10) as u64);
    }
}
