//! `imds exec`: run a command as if on an instance.
//!
//! The command runs in a new network namespace that holds the instance's private address (and
//! an IPv6 address that carries it), with routes to 169.254.169.254 and `fd00:ec2::254` through
//! `hops - 1` router namespaces to a metadata namespace, where the running `imds serve` is asked
//! to listen (see `metadata::netns`). Unmodified programs (curl, SDKs, cloud-init) then reach
//! the service at its real address, from the instance's address, across real hops: a token
//! reply whose TTL is too small dies on the way, as on EC2.
//!
//! Everything is built with iproute2 (`ip`), and removed on every way out: normal exit, a
//! failing command, SIGINT/SIGTERM, or an error half-way through the set-up.
//!
//! - `topology`: the namespaces, veths and routes, torn down on drop;
//! - `client`: what `imds exec`, `imds endpoint` and `imds stats` ask the running server (over
//!   HTTP on loopback, SigV4-signed with the environment's credentials);
//! - this module: the commands' arguments, the command run as if on an instance, `--rootless`.

pub(crate) mod client;
mod topology;

pub use client::{endpoint, get};

use client::{find_instance, instance_endpoint};
use topology::{build, has_net_admin};

use clap::Args;
use std::process::{Command, ExitStatus};

/// Where the running server is: `--endpoint`, or what it recorded (see `discovery`).
#[derive(Debug, Args, Clone)]
pub struct ServerArgs {
    /// The EC2 API of the running `imds serve` (default: the one it recorded in its data dir,
    /// else http://127.0.0.1:8773).
    #[arg(long, env = "IMDS_ENDPOINT")]
    pub endpoint: Option<String>,
    /// The data dir of the running `imds serve`, to find where it listens.
    #[arg(long, env = "IMDS_DATA_DIR")]
    pub data_dir: Option<std::path::PathBuf>,
}

impl ServerArgs {
    /// The API URL of the running server.
    pub fn api(&self) -> Result<String, ExecError> {
        crate::discovery::api_endpoint(self.endpoint.as_deref(), self.data_dir.as_deref())
            .map_err(|e| ExecError::Discovery(e.to_string()))
    }
}

/// Which instance: `--instance`, or the first running instance of `--region`.
#[derive(Debug, Args, Clone)]
pub struct InstanceArgs {
    /// The instance (default: the first running instance of the Region).
    #[arg(long)]
    pub instance: Option<String>,
    /// The Region of the instance.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub target: InstanceArgs,
    /// How many hops away from the metadata service (1 = on the instance; 2 = a container
    /// behind a bridge). Needs root: a loopback endpoint is no hop away.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=16), conflicts_with = "rootless")]
    pub hops: u8,
    /// Prefer the IPv6 endpoint (sets AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6 for SDKs).
    #[arg(long)]
    pub ipv6: bool,
    /// Without root: no namespaces; CMD gets AWS_EC2_METADATA_SERVICE_ENDPOINT set to the
    /// instance's own metadata endpoint on loopback. The hop limit and 169.254.169.254 need
    /// `imds exec` as root.
    #[arg(long)]
    pub rootless: bool,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, required = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `imds endpoint`: the URL of an instance's own metadata endpoint on loopback.
#[derive(Debug, Args)]
pub struct EndpointArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub target: InstanceArgs,
    /// The port to open the endpoint on (default: any free port). An endpoint already open
    /// keeps its port.
    #[arg(long)]
    pub port: Option<u16>,
    /// Print the endpoint's `[::1]` URL (for AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6).
    #[arg(long)]
    pub ipv6: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("imds exec needs root or CAP_NET_ADMIN to create network namespaces (try: sudo imds exec …); without root, `imds exec --rootless` gives CMD the instance's own metadata endpoint on loopback")]
    NotPrivileged,
    #[error("{0}")]
    Discovery(String),
    #[error("`ip` (iproute2) is needed: {0}")]
    NoIp(std::io::Error),
    #[error("`{0}` failed: {1}")]
    Ip(String, String),
    #[error("the EC2 API at {0} did not answer: {1}")]
    Api(String, String),
    #[error("{0}")]
    Instance(String),
    #[error("cannot run {0}: {1}")]
    Command(String, std::io::Error),
}

/// SIGINT/SIGTERM/SIGHUP set a flag instead of killing us: the command gets the signal,
/// and we still clean up.
fn stop_flag() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        let _ = signal_hook::flag::register(sig, stop.clone());
    }
    stop
}

/// The environment of CMD, as on an instance: its id, the endpoint mode asked for, and the
/// metadata service not switched off (a shell that set `AWS_EC2_METADATA_DISABLED` for
/// talking to the API would otherwise hide the very service `imds exec` provides).
fn instance_env(cmd: &mut Command, instance_id: &str, ipv6: bool) {
    cmd.env("IMDS_INSTANCE_ID", instance_id)
        .env_remove("AWS_EC2_METADATA_DISABLED");
    if ipv6 {
        cmd.env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6");
    }
}

/// Run `cmd`, forwarding the first SIGINT/SIGTERM/SIGHUP to it as SIGTERM, until it exits.
fn wait_forwarding(
    mut cmd: Command,
    what: &[String],
    stop: &std::sync::atomic::AtomicBool,
) -> Result<ExitStatus, ExecError> {
    let mut child = cmd
        .spawn()
        .map_err(|e| ExecError::Command(what.join(" "), e))?;
    let mut forwarded = false;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) => {}
            Err(e) => return Err(ExecError::Command(what.join(" "), e)),
        }
        if !forwarded && stop.load(std::sync::atomic::Ordering::Relaxed) {
            forwarded = true;
            if let Ok(pid) = i32::try_from(child.id()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

pub fn run(args: ExecArgs) -> Result<ExitStatus, ExecError> {
    if args.rootless {
        return run_rootless(args);
    }
    if !nix::unistd::geteuid().is_root() && !has_net_admin() {
        return Err(ExecError::NotPrivileged);
    }
    let api = args.server.api()?;
    let (id, instance_ip) =
        find_instance(&api, args.target.instance.as_deref(), &args.target.region)?;
    let stop = stop_flag();
    let topo = build(&args, &api, &id, instance_ip)?;
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &topo.names[0]])
        .args(&args.command);
    instance_env(&mut cmd, &id, args.ipv6);
    let status = wait_forwarding(cmd, &args.command, &stop);
    drop(topo);
    status
}

/// `imds exec --rootless`: no namespaces, no privileges; CMD is pointed at the instance's own
/// loopback endpoint through `AWS_EC2_METADATA_SERVICE_ENDPOINT`, which every SDK and the aws
/// CLI honour (and which wins over `…_ENDPOINT_MODE`, so `--ipv6` gives the `[::1]` URL).
fn run_rootless(args: ExecArgs) -> Result<ExitStatus, ExecError> {
    let api = args.server.api()?;
    let (id, _) = find_instance(&api, args.target.instance.as_deref(), &args.target.region)?;
    let url = instance_endpoint(&api, &id, None, args.ipv6)?;
    let stop = stop_flag();
    let mut cmd = Command::new(&args.command[0]);
    cmd.args(&args.command[1..])
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &url);
    instance_env(&mut cmd, &id, args.ipv6);
    wait_forwarding(cmd, &args.command, &stop)
}
