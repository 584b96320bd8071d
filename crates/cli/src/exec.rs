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

use clap::Args;
use std::net::Ipv4Addr;
use std::process::{Command, ExitStatus, Stdio};

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

/// The namespaces and the server attachment of one `imds exec`, torn down on drop.
struct Topology {
    names: Vec<String>,
    attached: Option<(String, String)>,
    /// (instance namespace, next hop, source) of the instance's IPv6 route to the service.
    v6_route: Option<(String, String, String)>,
}

impl Drop for Topology {
    fn drop(&mut self) {
        if let Some((endpoint, name)) = &self.attached {
            let _ = admin(endpoint, "DELETE", name);
        }
        for n in self.names.iter().rev() {
            let _ = Command::new("ip")
                .args(["netns", "del", n])
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn ip(args: &[&str]) -> Result<(), ExecError> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(ExecError::NoIp)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(ExecError::Ip(
            format!("ip {}", args.join(" ")),
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }
}

/// Whether this process holds CAP_NET_ADMIN (bit 12 of the effective set).
fn has_net_admin() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << 12) != 0)
}

/// `POST`/`DELETE` `/_imds/netns/NAME` on the server.
fn admin(endpoint: &str, method: &str, name: &str) -> Result<(), ExecError> {
    http(endpoint, method, &format!("/_imds/netns/{name}"), "").map(|_| ())
}

/// `GET path` on the server.
pub fn get(endpoint: &str, path: &str) -> Result<String, ExecError> {
    http(endpoint, "GET", path, "")
}

/// One HTTP/1.1 exchange with the server on loopback (no TLS, no redirects): the status
/// code and the body. `host` overrides the `Host` header; `extra` are more header lines.
fn request(
    endpoint: &str,
    method: &str,
    path: &str,
    host: Option<&str>,
    extra: &str,
    body: &str,
) -> Result<(String, String), ExecError> {
    use std::io::{Read, Write};
    let fail = |e: String| ExecError::Api(endpoint.to_string(), e);
    let hostport = host_of(endpoint);
    let mut s = std::net::TcpStream::connect(hostport).map_err(|e| fail(e.to_string()))?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {FORM}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        host.unwrap_or(hostport),
        body.len()
    );
    s.write_all(req.as_bytes())
        .map_err(|e| fail(e.to_string()))?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)
        .map_err(|e| fail(e.to_string()))?;
    let status = resp.split_whitespace().nth(1).unwrap_or("").to_string();
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

const FORM: &str = "application/x-www-form-urlencoded; charset=utf-8";

/// A request to the server's own endpoints (`/_imds/…`, `/metrics`): a 2xx or an error.
/// Signed when AWS credentials are in the environment: a server with `--iam-config` lets only
/// allowed callers use them (see the `admin` module).
fn http(endpoint: &str, method: &str, path: &str, body: &str) -> Result<String, ExecError> {
    let auth = signature_lines(model::DEFAULT_REGION, host_of(endpoint), method, path, body);
    let (status, body) = request(endpoint, method, path, None, &auth, body)?;
    if status.starts_with('2') {
        Ok(body)
    } else {
        Err(ExecError::Api(
            endpoint.to_string(),
            format!("{status}: {}", body.trim()),
        ))
    }
}

/// `host:port` of an `http://` endpoint.
fn host_of(endpoint: &str) -> &str {
    endpoint.trim_start_matches("http://").trim_end_matches('/')
}

/// The `X-Amz-Date`, `X-Amz-Security-Token` and `Authorization` header lines that sign a
/// request as [`request`] sends it (SigV4 for `ec2` in `region`), with the credentials of the
/// environment as the SDKs read them; none without credentials.
fn signature_lines(region: &str, host: &str, method: &str, target: &str, body: &str) -> String {
    let (Ok(key), Ok(secret)) = (
        std::env::var("AWS_ACCESS_KEY_ID"),
        std::env::var("AWS_SECRET_ACCESS_KEY"),
    ) else {
        return String::new();
    };
    if key.is_empty() {
        return String::new();
    }
    let token = std::env::var("AWS_SESSION_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    let mut headers = vec![("content-type".to_string(), FORM.to_string())];
    if let Some(t) = &token {
        headers.push(("x-amz-security-token".to_string(), t.clone()));
    }
    let (path, raw_query) = target.split_once('?').unwrap_or((target, ""));
    let own = sigv4::OwnRequest {
        method,
        host,
        path,
        raw_query,
        headers,
        body: body.as_bytes(),
    };
    let (amz, value) = sigv4::sign_request(&key, &secret, region, "ec2", &own);
    let token_line = token
        .map(|t| format!("X-Amz-Security-Token: {t}\r\n"))
        .unwrap_or_default();
    format!("X-Amz-Date: {amz}\r\n{token_line}Authorization: {value}\r\n")
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

/// The instance's id and private address, through DescribeInstances: `instance`, or the
/// first running instance of `region`.
fn find_instance(
    endpoint: &str,
    instance: Option<&str>,
    region: &str,
) -> Result<(String, Ipv4Addr), ExecError> {
    let mut body = "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=instance-state-name&Filter.1.Value.1=running".to_string();
    if let Some(id) = instance {
        body.push_str(&format!("&InstanceId.1={id}"));
    }
    let xml = ec2_call(endpoint, &format!("ec2.{region}.amazonaws.com"), &body)?;
    let item = between(&xml, "<instancesSet>", "</instancesSet>").ok_or_else(|| {
        ExecError::Instance(format!(
            "no running instance{} in {region}",
            instance.map(|i| format!(" {i}")).unwrap_or_default(),
        ))
    })?;
    let id = between(item, "<instanceId>", "</instanceId>")
        .unwrap_or_default()
        .to_string();
    let ip = between(item, "<privateIpAddress>", "</privateIpAddress>")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ExecError::Instance(format!("instance {id} has no private address")))?;
    Ok((id, ip))
}

/// The URL of the instance's own metadata endpoint (opened by the server if need be).
fn instance_endpoint(
    endpoint: &str,
    instance_id: &str,
    port: Option<u16>,
    ipv6: bool,
) -> Result<String, ExecError> {
    let mut query = Vec::new();
    if let Some(p) = port {
        query.push(format!("port={p}"));
    }
    if ipv6 {
        query.push("ipv6=true".to_string());
    }
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{}", query.join("&"))
    };
    let url = http(
        endpoint,
        "GET",
        &format!("/_imds/instances/{instance_id}/endpoint{query}"),
        "",
    )?;
    Ok(url.trim().to_string())
}

/// `imds endpoint`: the URL, for `AWS_EC2_METADATA_SERVICE_ENDPOINT`.
pub fn endpoint(args: EndpointArgs) -> Result<String, ExecError> {
    let api = args.server.api()?;
    let id = match &args.target.instance {
        // An id is passed through: the server answers for it (a stopped instance has an
        // endpoint too).
        Some(id) => id.clone(),
        None => find_instance(&api, None, &args.target.region)?.0,
    };
    instance_endpoint(&api, &id, args.port, args.ipv6)
}

/// An EC2 Query request as `host` (a regional host name: unsigned requests take their Region
/// from it), SigV4-signed when AWS credentials are in the environment (a server with
/// `--iam-config` refuses unsigned requests). An EC2 error is reported as such.
fn ec2_call(endpoint: &str, host: &str, body: &str) -> Result<String, ExecError> {
    let region = host.split('.').nth(1).unwrap_or(model::DEFAULT_REGION);
    let auth = signature_lines(region, host, "POST", "/", body);
    let (_, resp) = request(endpoint, "POST", "/", Some(host), &auth, body)?;
    if let Some(code) = between(&resp, "<Code>", "</Code>") {
        let msg = between(&resp, "<Message>", "</Message>").unwrap_or("");
        return Err(ExecError::Instance(format!("{code}: {msg}")));
    }
    Ok(resp)
}

/// Build the namespaces: instance — r1 — … — metadata, one veth per link.
fn build(
    args: &ExecArgs,
    api: &str,
    instance_id: &str,
    instance_ip: Ipv4Addr,
) -> Result<Topology, ExecError> {
    let tag = std::process::id() % 100_000;
    let hops = args.hops as usize;
    let mut topo = Topology {
        names: Vec::new(),
        attached: None,
        v6_route: None,
    };
    let mut nodes = vec![format!("imds-{tag}-i")];
    for r in 1..hops {
        nodes.push(format!("imds-{tag}-r{r}"));
    }
    nodes.push(format!("imds-{tag}-m"));
    for n in &nodes {
        ip(&["netns", "add", n])?;
        topo.names.push(n.clone());
        ip(&["-n", n, "link", "set", "lo", "up"])?;
    }
    let v6 = metadata::netns::instance_v6(instance_ip).to_string();
    let md4 = metadata::netns::IPV4.to_string();
    let md6 = metadata::netns::IPV6.to_string();
    let last = nodes.len() - 1;
    for k in 0..last {
        let (left, right) = (&nodes[k], &nodes[k + 1]);
        let (a, b) = (format!("im{tag}a{k}"), format!("im{tag}b{k}"));
        ip(&[
            "link", "add", &a, "netns", left, "type", "veth", "peer", "name", &b, "netns", right,
        ])?;
        ip(&["-n", left, "link", "set", &a, "up"])?;
        ip(&["-n", right, "link", "set", &b, "up"])?;
        let (la, ra) = (format!("10.254.{k}.1"), format!("10.254.{k}.2"));
        let (la6, ra6) = (format!("fd00:ec2:2:{k}::1"), format!("fd00:ec2:2:{k}::2"));
        ip(&["-n", left, "addr", "add", &format!("{la}/30"), "dev", &a])?;
        ip(&["-n", right, "addr", "add", &format!("{ra}/30"), "dev", &b])?;
        ip(&[
            "-n",
            left,
            "addr",
            "add",
            &format!("{la6}/64"),
            "dev",
            &a,
            "nodad",
        ])?;
        ip(&[
            "-n",
            right,
            "addr",
            "add",
            &format!("{ra6}/64"),
            "dev",
            &b,
            "nodad",
        ])?;
        if k == 0 {
            // The instance: its private address (and its IPv6), the metadata service beyond.
            ip(&[
                "-n",
                left,
                "addr",
                "add",
                &format!("{instance_ip}/32"),
                "dev",
                &a,
            ])?;
            ip(&[
                "-n",
                left,
                "addr",
                "add",
                &format!("{v6}/128"),
                "dev",
                &a,
                "nodad",
            ])?;
            ip(&[
                "-n",
                left,
                "route",
                "add",
                &format!("{md4}/32"),
                "via",
                &ra,
                "src",
                &instance_ip.to_string(),
            ])?;
            // The IPv6 route to the service is the server's to set: present only while the
            // instance has the IPv6 endpoint enabled (see metadata::netns).
            ip(&[
                "-n",
                left,
                "-6",
                "route",
                "add",
                "unreachable",
                &format!("{md6}/128"),
            ])?;
            topo.v6_route = Some((left.clone(), ra6.clone(), v6.clone()));
        } else {
            ip(&["-n", left, "route", "add", &format!("{md4}/32"), "via", &ra])?;
            ip(&[
                "-n",
                left,
                "-6",
                "route",
                "add",
                &format!("{md6}/128"),
                "via",
                &ra6,
            ])?;
        }
        if k + 1 == last {
            ip(&["-n", right, "addr", "add", &format!("{md4}/32"), "dev", &b])?;
            ip(&[
                "-n",
                right,
                "addr",
                "add",
                &format!("{md6}/128"),
                "dev",
                &b,
                "nodad",
            ])?;
        }
        // The way back to the instance, from every node after it.
        ip(&[
            "-n",
            right,
            "route",
            "add",
            &format!("{instance_ip}/32"),
            "via",
            &la,
        ])?;
        ip(&[
            "-n",
            right,
            "-6",
            "route",
            "add",
            &format!("{v6}/128"),
            "via",
            &la6,
        ])?;
        if k + 1 < last {
            for fam in ["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"] {
                let out = Command::new("ip")
                    .args(["netns", "exec", right, "sysctl", "-q", "-w", fam])
                    .output()
                    .map_err(ExecError::NoIp)?;
                if !out.status.success() {
                    return Err(ExecError::Ip(
                        format!("sysctl {fam} in {right}"),
                        String::from_utf8_lossy(&out.stderr).into(),
                    ));
                }
            }
        }
    }
    let query = match &topo.v6_route {
        Some((ns, via, src)) => {
            format!("?instance={instance_id}&instance_ns={ns}&via={via}&src={src}")
        }
        None => String::new(),
    };
    http(
        api,
        "POST",
        &format!("/_imds/netns/{}{query}", nodes[last]),
        "",
    )?;
    topo.attached = Some((api.to_string(), nodes[last].clone()));
    Ok(topo)
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
