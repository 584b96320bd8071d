//! The `imds` command: parses its arguments and runs the subcommand (see the library's
//! modules, `imds::app` first).

use clap::{Parser, Subcommand};
use imds::{app, bench, config, exec, metrics, serve};

#[derive(Parser)]
#[command(
    name = "imds",
    version,
    about = "A local stand-in for EC2 instance metadata options and the Instance Metadata Service"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the EC2 API (and its simulated fleet) until SIGINT or SIGTERM.
    Serve(Box<config::ServeArgs>),
    /// Run a command as if on an instance: in a network namespace with the instance's address,
    /// where 169.254.169.254 is the metadata service (needs root or CAP_NET_ADMIN).
    Exec(exec::ExecArgs),
    /// Print the URL of an instance's own metadata endpoint on loopback (opened if need be),
    /// for AWS_EC2_METADATA_SERVICE_ENDPOINT: any instance, without root.
    Endpoint(exec::EndpointArgs),
    /// A line per instance: metadata requests, MetadataNoToken, MetadataNoTokenRejected, tokens.
    Stats(StatsArgs),
    /// Measure against a baseline in the same run (`imds bench metadata`, `authz`, `fleet`,
    /// `nodes`).
    Bench(bench::BenchArgs),
    /// Move a fleet to IMDSv2: `plan` judges each instance by its metadata traffic (safe,
    /// blocked, unknown, done); `apply` requires IMDSv2 on the safe ones.
    Migrate(imds::migrate::MigrateArgs),
    /// Reports: `v1-callers`, the processes that called the metadata service without a token
    /// inside `imds exec`.
    Report(imds::report::ReportArgs),
    /// Print the certificate that verifies instance identity documents (PEM).
    Certificate(CertificateArgs),
    /// Do what EC2 does to an instance on its own: `schedule` and `cancel` maintenance events,
    /// set the Auto Scaling `lifecycle` state, `interrupt` a Spot instance.
    Events(imds::events_cmd::EventsArgs),
    /// AWS's metadata mock (amazon-ec2-metadata-mock): its commands (`spot`, `events`,
    /// `asglifecycle`), flags, AEMM_* variables and aemm-config.json, done to a real instance
    /// as EC2 would (a throw-away store).
    Aemm(Box<imds::aemm::AemmArgs>),
}

#[derive(clap::Args)]
struct CertificateArgs {
    /// The data dir of `imds serve` (its key is made there if it does not exist yet).
    #[arg(long, env = "IMDS_DATA_DIR")]
    data_dir: Option<std::path::PathBuf>,
    /// The PostgreSQL database of several nodes (their key is kept there, shared).
    #[arg(long, env = "IMDS_DATABASE_URL")]
    database_url: Option<String>,
}

#[derive(clap::Args)]
struct StatsArgs {
    #[command(flatten)]
    server: exec::ServerArgs,
}

/// The certificate (PEM) of the key that signs identity documents: the one kept in the
/// PostgreSQL database of several nodes, or in the data dir (made there if need be).
fn certificate(c: CertificateArgs) -> Result<String, String> {
    if let Some(url) = c.database_url {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let signer = rt
            .block_on(app::shared_identity(&url))
            .map_err(|e| e.to_string())?;
        return Ok(signer.certificate_pem());
    }
    let dir = c
        .data_dir
        .or_else(config::default_data_dir)
        .ok_or("no data directory; give --data-dir")?;
    let _ = std::fs::create_dir_all(&dir);
    let signer =
        metadata::identity::IdentitySigner::load_or_create(Some(&dir.join(app::IDENTITY_KEY)))
            .map_err(|e| e.to_string())?;
    Ok(signer.certificate_pem())
}

/// The exit status of a client command (`migrate`, `report`): its own, or 2 with the error.
fn exit(command: &str, r: Result<i32, exec::ExecError>) -> std::process::ExitCode {
    match r {
        Ok(code) => std::process::ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("imds {command}: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("IMDS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = match cli.command {
        Command::Exec(args) => {
            return match exec::run(args) {
                Ok(status) => {
                    std::process::ExitCode::from(status.code().unwrap_or(1).clamp(0, 255) as u8)
                }
                Err(e) => {
                    eprintln!("imds exec: {e}");
                    std::process::ExitCode::from(125)
                }
            }
        }
        Command::Migrate(args) => return exit("migrate", imds::migrate::run(args)),
        Command::Report(args) => return exit("report", imds::report::run(args)),
        Command::Endpoint(args) => {
            return match exec::endpoint(args) {
                Ok(url) => {
                    println!("{url}");
                    std::process::ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("imds endpoint: {e}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
        Command::Stats(args) => {
            let metrics = args
                .server
                .api()
                .and_then(|api| exec::get(&api, "/metrics"));
            return match metrics {
                Ok(text) => {
                    for line in metrics::stats_lines(&text) {
                        println!("{line}");
                    }
                    std::process::ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("imds stats: {e}");
                    std::process::ExitCode::FAILURE
                }
            };
        }
        Command::Certificate(c) => {
            return match certificate(c) {
                Ok(pem) => {
                    print!("{pem}");
                    std::process::ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("imds certificate: {e}");
                    std::process::ExitCode::FAILURE
                }
            };
        }
        Command::Events(args) => {
            return match imds::events_cmd::run(args) {
                Ok(json) => {
                    println!("{json}");
                    std::process::ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("imds events: {e}");
                    std::process::ExitCode::FAILURE
                }
            };
        }
        Command::Aemm(args) => {
            let outcome = runtime().and_then(|rt| {
                rt.block_on(imds::aemm::run(*args))
                    .map_err(|e| e.to_string())
            });
            return match outcome {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("{e}");
                    std::process::ExitCode::FAILURE
                }
            };
        }
        Command::Serve(args) => (*args, None),
        Command::Bench(b) => (config::ServeArgs::default(), Some(b)),
    };
    let (args, bench_args) = args;
    if let Some(b) = bench_args {
        // The benchmark builds its own runtimes, one per core.
        // `fleet` and `nodes` append to their file themselves (a results log); the others
        // write it whole.
        let write = b
            .write
            .clone()
            .filter(|_| !matches!(b.what.as_str(), "fleet" | "nodes"));
        return match bench::run(b) {
            Ok(report) => {
                println!("{report}");
                if let Some(path) = write {
                    if let Err(e) = std::fs::write(&path, format!("{report}\n")) {
                        eprintln!("imds bench: cannot write {}: {e}", path.display());
                        return std::process::ExitCode::FAILURE;
                    }
                }
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("imds bench: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let runtime = match runtime() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve::run(args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("imds: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The multi-threaded runtime `imds serve` and `imds aemm` run on.
fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("imds: cannot start the runtime: {e}"))
}
