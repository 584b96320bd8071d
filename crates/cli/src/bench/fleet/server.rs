//! The server under measurement: `imds serve` as a child process of the bench (this same
//! executable), so that its resident memory is its own (`/proc/PID/status`) and a restart is a
//! real one: SIGTERM to the child, then a new process on the same data dir. The work dir (data
//! dir, IAM config, the server's log) is removed when the bench ends, on error too; the child
//! is stopped if the bench ends while it runs. Only the child this module started is signalled.

use super::http::{answers, Signer};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The account and root key of the bench's `--iam-config`: every request is signed with it
/// and verified by the server.
const ACCOUNT: &str = model::DEFAULT_ACCOUNT;
const ROOT_KEY: &str = "AKIABENCHFLEET000001";
const ROOT_SECRET: &str = "bench/fleet/secret/00000000000000000000001";

/// How long a start may take before the bench gives up (a million instances are loaded first).
const START_TIMEOUT: Duration = Duration::from_secs(900);
/// How long a stop may take before the child is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(120);

/// A work directory: a temporary one, removed with everything in it when dropped, or one the
/// user named (`--keep`, `--reuse`), left where it is.
pub struct Workdir(pub PathBuf, bool);

impl Workdir {
    pub fn create(name: &str) -> Result<Workdir, String> {
        let path = std::env::temp_dir().join(format!("imds-bench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Workdir(path, true))
    }

    /// A new directory at `path` (which must not exist), kept when dropped.
    pub fn kept(path: &Path) -> Result<Workdir, String> {
        std::fs::create_dir(path).map_err(|e| format!("--keep {}: {e}", path.display()))?;
        Ok(Workdir(path.to_path_buf(), false))
    }

    /// The directory a `--keep` run left, kept when dropped.
    pub fn reused(path: &Path) -> Workdir {
        Workdir(path.to_path_buf(), false)
    }
}

impl Drop for Workdir {
    fn drop(&mut self) {
        if self.1 {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A free loopback port (bound, then released for the child to take).
pub fn free_port() -> Result<SocketAddr, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free loopback port: {e}"))
}

/// A child process the bench started; stopped (SIGTERM, then SIGKILL) when dropped.
pub struct ChildProcess {
    child: Option<Child>,
    log: PathBuf,
}

impl ChildProcess {
    pub fn spawn(mut command: Command, log: &Path) -> Result<ChildProcess, String> {
        let out = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {command:?}: {e}"))?;
        Ok(ChildProcess {
            child: Some(child),
            log: log.to_path_buf(),
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// An error if the child has exited, with the end of its log.
    pub fn check_alive(&mut self) -> Result<(), String> {
        let Some(child) = self.child.as_mut() else {
            return Err("the server is not running".into());
        };
        match child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!("the server exited ({status}): {}", self.log_tail())),
            Err(e) => Err(e.to_string()),
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(2000);
        text.get(start..).unwrap_or_default().to_string()
    }

    /// SIGTERM, and wait for the exit (SIGKILL after `STOP_TIMEOUT`): how long it took.
    pub fn stop(&mut self) -> Result<Duration, String> {
        let Some(mut child) = self.child.take() else {
            return Ok(Duration::ZERO);
        };
        let started = Instant::now();
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return Ok(started.elapsed()),
                Ok(None) if started.elapsed() < STOP_TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("the child did not stop within {STOP_TIMEOUT:?}"));
                }
            }
        }
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// `imds serve` on a durable data dir, with `--iam-config`, on fixed loopback ports (the same
/// across a restart).
pub struct Server {
    process: ChildProcess,
    dir: PathBuf,
    /// Arguments after the bench's own (a node of several: `--database-url`, `--role`, …),
    /// kept for a restart.
    args: Vec<String>,
    pub api: SocketAddr,
    pub imds: SocketAddr,
}

impl Server {
    /// The signer of the account's root key.
    pub fn signer() -> Signer {
        Signer {
            key: ROOT_KEY.into(),
            secret: ROOT_SECRET.into(),
        }
    }

    /// Write the IAM config into `dir` and start the server on a data dir inside it; the time
    /// until both ports answer.
    pub async fn start_new(dir: &Path) -> Result<(Server, Duration), String> {
        Server::start_node(dir, Vec::new()).await
    }

    /// As [`Server::start_new`], with `args` after the bench's own: one node of several
    /// (`imds bench nodes`: `--database-url URL --role api`, `--apply-delay 0s`, …), each in a
    /// work dir of its own (its data dir, IAM config and log).
    pub async fn start_node(dir: &Path, args: Vec<String>) -> Result<(Server, Duration), String> {
        std::fs::write(
            dir.join("iam.toml"),
            format!("[[accounts]]\nid = \"{ACCOUNT}\"\nroot_access_key_id = \"{ROOT_KEY}\"\nroot_secret_access_key = \"{ROOT_SECRET}\"\n"),
        )
        .map_err(|e| e.to_string())?;
        Server::start(dir, free_port()?, free_port()?, args).await
    }

    /// Start the server on the data dir and IAM config a `--keep` run left in `dir`.
    pub async fn start_kept(dir: &Path) -> Result<(Server, Duration), String> {
        if !dir.join("iam.toml").is_file() {
            return Err(format!("{} holds no fleet kept by --keep", dir.display()));
        }
        Server::start(dir, free_port()?, free_port()?, Vec::new()).await
    }

    async fn start(
        dir: &Path,
        api: SocketAddr,
        imds: SocketAddr,
        args: Vec<String>,
    ) -> Result<(Server, Duration), String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut command = Command::new(exe);
        command
            .arg("serve")
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--iam-config")
            .arg(dir.join("iam.toml"))
            .arg("--api-listen")
            .arg(api.to_string())
            .arg("--imds-listen")
            .arg(imds.to_string())
            .args(&args)
            .env("IMDS_LOG", "warn");
        for (k, _) in std::env::vars() {
            if k.starts_with("IMDS_") && k != "IMDS_LOG" {
                command.env_remove(k);
            }
        }
        let started = Instant::now();
        let mut process = ChildProcess::spawn(command, &dir.join("server.log"))?;
        wait_until_answering(&mut process, &[(api, "/"), (imds, "/latest/meta-data/")]).await?;
        let ready = started.elapsed();
        Ok((
            Server {
                process,
                dir: dir.to_path_buf(),
                args,
                api,
                imds,
            },
            ready,
        ))
    }

    /// Stop (SIGTERM) and start again on the same data dir and ports: the stop's time and the
    /// start's (until both ports answer).
    pub async fn restart(mut self) -> Result<(Server, Duration, Duration), String> {
        let stopped = self.process.stop()?;
        let (dir, api, imds) = (self.dir.clone(), self.api, self.imds);
        let args = std::mem::take(&mut self.args);
        drop(self);
        let (server, started) = Server::start(&dir, api, imds, args).await?;
        Ok((server, stopped, started))
    }

    /// The server's resident memory (`VmRSS`), in bytes.
    pub fn rss_bytes(&mut self) -> Result<u64, String> {
        self.process.check_alive()?;
        let pid = self.process.pid().ok_or("no server")?;
        rss_bytes(pid)
    }

    pub fn check_alive(&mut self) -> Result<(), String> {
        self.process.check_alive()
    }
}

/// Poll until every `(address, path)` answers HTTP, or the child exits, or `START_TIMEOUT`.
pub async fn wait_until_answering(
    process: &mut ChildProcess,
    ports: &[(SocketAddr, &str)],
) -> Result<(), String> {
    let started = Instant::now();
    for (addr, path) in ports {
        while !answers(*addr, path).await {
            process.check_alive()?;
            if started.elapsed() > START_TIMEOUT {
                return Err(format!("{addr} did not answer within {START_TIMEOUT:?}"));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    Ok(())
}

/// `VmRSS` of a process, in bytes.
pub fn rss_bytes(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| format!("no VmRSS in /proc/{pid}/status"))
}
