//! `imds aemm`: AWS's own metadata mock (AEMM, `amazon-ec2-metadata-mock`), its commands and
//! settings, on a real instance. A test that ran `ec2-metadata-mock spot -a stop -d 10` runs
//! `imds aemm spot -a stop -d 10`: the same flags, `AEMM_…` variables and `aemm-config.json`
//! ([`knobs`]), and what they ask happens to the first instance of a throw-away store as EC2
//! would do it ([`plan`]): a Spot instance is interrupted, stopped and its metadata gone; a
//! scheduled event runs at its time; Auto Scaling's target state changes. Every metadata
//! answer is the instance's own, EC2-exact (spec events.md §8, "superset rule"), and the EC2
//! API, the console and the controls (`imds events`) are there beside it.
//!
//! What AEMM has and imds does not act on (fixed metadata values, the count of callers that
//! see a notice) is accepted, and named on stderr with why (`knobs::NOT_MODELLED`).

pub mod knobs;
pub mod plan;

use crate::app::{App, AppError};
use crate::config::{ServeArgs, StoreLocation};
use knobs::Mode;
use plan::Plan;
use std::collections::BTreeMap;
use std::net::ToSocketAddrs;
use std::path::PathBuf;

/// AEMM's global flags (pkg/cmd/root: allowed before or after the command), its commands,
/// and `imds serve`'s own flags (before the command).
#[derive(clap::Args)]
#[command(
    after_help = "Settings: a flag, else AEMM_<KEY> (e.g. AEMM_SPOT_ACTION), else the \
    config file (--config-file, AEMM_CONFIG_FILE or $HOME/aemm-config.json), else AEMM's \
    default. The store is always a throw-away one."
)]
pub struct AemmArgs {
    #[command(subcommand)]
    command: Option<AemmCommand>,
    /// The metadata service's address (AEMM: 0.0.0.0; here: 127.0.0.1).
    #[arg(short = 'n', long, global = true)]
    hostname: Option<String>,
    /// The metadata service's port (default: 1338).
    #[arg(short = 'p', long, global = true)]
    port: Option<String>,
    /// AEMM's JSON config file (default: $HOME/aemm-config.json).
    #[arg(short = 'c', long = "config-file", global = true)]
    config_file: Option<PathBuf>,
    /// Seconds after start before the Spot notice and the scheduled event (default: 0).
    #[arg(short = 'd', long = "mock-delay-sec", global = true)]
    mock_delay_sec: Option<String>,
    /// When the Spot notice and the scheduled event come (RFC 3339; over --mock-delay-sec).
    #[arg(long = "mock-trigger-time", global = true)]
    mock_trigger_time: Option<String>,
    /// Accepted; not acted on (every instance here has its own endpoint).
    #[arg(short = 'x', long = "mock-ip-count", global = true)]
    mock_ip_count: Option<String>,
    /// The instance requires IMDSv2 tokens (HttpTokens=required).
    #[arg(short = 'I', long, global = true)]
    imdsv2: bool,
    /// Seconds after start before the rebalance recommendation (default: 0).
    #[arg(long = "rebalance-delay-sec", global = true)]
    rebalance_delay_sec: Option<String>,
    /// When the rebalance recommendation comes (RFC 3339; over --rebalance-delay-sec).
    #[arg(long = "rebalance-trigger-time", global = true)]
    rebalance_trigger_time: Option<String>,
    /// Seconds after start before the target lifecycle state is Terminated (default: 0).
    #[arg(long = "asg-termination-delay-sec", global = true)]
    asg_termination_delay_sec: Option<String>,
    /// When the target lifecycle state becomes Terminated (RFC 3339).
    #[arg(long = "asg-termination-trigger-time", global = true)]
    asg_termination_trigger_time: Option<String>,
    /// Accepted; not acted on (imds does not write AEMM's config file).
    #[arg(short = 's', long = "save-config-to-file", global = true)]
    save_config_to_file: bool,
    /// Accepted; not acted on (the config file is read once, at start).
    #[arg(long = "watch-config-file", global = true)]
    watch_config_file: bool,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(clap::Subcommand)]
enum AemmCommand {
    /// A Spot interruption (and rebalance recommendation) only.
    Spot(SpotFlags),
    /// A scheduled maintenance event only.
    #[command(visible_aliases = ["se", "scheduledevents"])]
    Events(EventFlags),
    /// Auto Scaling's target lifecycle state only.
    #[command(visible_aliases = ["autoscaling", "asg"])]
    Asglifecycle,
}

#[derive(clap::Args)]
struct SpotFlags {
    /// The interruption behaviour: terminate (default), stop or hibernate.
    #[arg(short = 'a', long)]
    action: Option<String>,
    /// When the action is taken (RFC 3339; default: the notice's time + the notice).
    #[arg(short = 't', long)]
    time: Option<String>,
    /// When the rebalance recommendation comes (RFC 3339).
    #[arg(short = 'r', long = "rebalance-rec-time")]
    rebalance_rec_time: Option<String>,
}

#[derive(clap::Args)]
struct EventFlags {
    /// The event code (default: system-reboot).
    #[arg(short = 'o', long)]
    code: Option<String>,
    /// active (default), completed or canceled.
    #[arg(short = 't', long)]
    state: Option<String>,
    /// The event's start (RFC 3339; default: a week after the trigger).
    #[arg(short = 'b', long = "not-before")]
    not_before: Option<String>,
    /// The event's latest end (RFC 3339; default: a week after its start).
    #[arg(short = 'a', long = "not-after")]
    not_after: Option<String>,
    /// The latest start it can be moved to (RFC 3339; default: none).
    #[arg(short = 'l', long = "not-before-deadline")]
    not_before_deadline: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AemmError {
    #[error("imds aemm: {0}")]
    Settings(String),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    App(#[from] AppError),
    #[error("imds aemm: cannot arrange the instance: {0}")]
    Arrange(String),
}

impl AemmArgs {
    /// The command and the flags given, by AEMM's keys.
    fn flags(&self) -> (Mode, BTreeMap<String, String>) {
        let mut out = BTreeMap::new();
        let mut put = |key: &str, v: &Option<String>| {
            if let Some(v) = v {
                out.insert(key.to_string(), v.clone());
            }
        };
        put("server.hostname", &self.hostname);
        put("server.port", &self.port);
        put("mock-delay-sec", &self.mock_delay_sec);
        put("mock-trigger-time", &self.mock_trigger_time);
        put("mock-ip-count", &self.mock_ip_count);
        put("rebalance-delay-sec", &self.rebalance_delay_sec);
        put("rebalance-trigger-time", &self.rebalance_trigger_time);
        put("asg-termination-delay-sec", &self.asg_termination_delay_sec);
        put(
            "asg-termination-trigger-time",
            &self.asg_termination_trigger_time,
        );
        let on = |b: bool| b.then(|| "true".to_string());
        put("imdsv2", &on(self.imdsv2));
        put("save-config-to-file", &on(self.save_config_to_file));
        put("watch-config-file", &on(self.watch_config_file));
        let mode = match &self.command {
            None => Mode::All,
            Some(AemmCommand::Spot(s)) => {
                put("spot.action", &s.action);
                put("spot.time", &s.time);
                put("spot.rebalance-rec-time", &s.rebalance_rec_time);
                Mode::Spot
            }
            Some(AemmCommand::Events(e)) => {
                put("events.code", &e.code);
                put("events.state", &e.state);
                put("events.not-before", &e.not_before);
                put("events.not-after", &e.not_after);
                put("events.not-before-deadline", &e.not_before_deadline);
                Mode::Events
            }
            Some(AemmCommand::Asglifecycle) => Mode::AsgLifecycle,
        };
        (mode, out)
    }

    /// The config file's settings: the flag's file, else AEMM_CONFIG_FILE's (each must
    /// exist), else $HOME/aemm-config.json if there is one.
    fn file(&self) -> Result<BTreeMap<String, String>, AemmError> {
        let named = self
            .config_file
            .clone()
            .or_else(|| std::env::var_os("AEMM_CONFIG_FILE").map(PathBuf::from));
        let path = match named {
            Some(p) => p,
            None => {
                match std::env::var_os("HOME").map(|h| PathBuf::from(h).join("aemm-config.json")) {
                    Some(p) if p.is_file() => p,
                    _ => return Ok(BTreeMap::new()),
                }
            }
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| AemmError::Settings(format!("cannot read {}: {e}", path.display())))?;
        knobs::file_values(&text)
            .map_err(|e| AemmError::Settings(format!("{}: {e}", path.display())))
    }
}

pub async fn run(args: AemmArgs) -> Result<(), AemmError> {
    let (mode, flags) = args.flags();
    let file = args.file()?;
    let knobs = knobs::resolve(mode, &flags, |name| std::env::var(name).ok(), &file)
        .map_err(AemmError::Settings)?;
    for (key, why) in &knobs.ignored {
        eprintln!("imds aemm: {key} is accepted and not acted on: {why}");
    }
    let imds_listen = (knobs.hostname.as_str(), knobs.port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            AemmError::Settings(format!(
                "{}:{} is not an address",
                knobs.hostname, knobs.port
            ))
        })?;
    if args.serve.data_dir.is_some() || args.serve.database_url.is_some() {
        eprintln!("imds aemm: runs on a throw-away store; the data dir and database are not used");
    }
    let mut settings = args.serve.settings()?;
    settings.store = StoreLocation::Ephemeral;
    settings.database_url = None;
    settings.role = Default::default();
    settings.imds_listen = imds_listen;
    let notice_ms = i64::try_from(settings.spot_notice.as_millis()).unwrap_or(i64::MAX);
    let plan = Plan::of(&knobs, model::time::now_ms(), notice_ms);
    let app = App::builder(settings.clone())
        .first_launch(plan.launch.clone())
        .start()
        .await?;
    let id = app
        .first_instance()
        .ok_or_else(|| AemmError::Arrange("no first instance".into()))?
        .to_string();
    if let Err(e) = arrange(&app, &id, &plan).await {
        app.stop().await;
        return Err(e);
    }
    let line = format!("imds aemm: instance {id}: {}", describe(&plan));
    crate::serve::until_signal(app, &settings, &[line]).await;
    Ok(())
}

/// Write what is due now (the interruption, whose steps the lifecycle driver takes; the
/// target lifecycle state), and start a timer for each later change.
async fn arrange(app: &App, id: &str, plan: &Plan) -> Result<(), AemmError> {
    let store = app.store().clone();
    if let Some(i) = plan.interruption.clone() {
        change(&store, id, move |inst| {
            inst.schedule_interruption(i.clone())
        })
        .await?;
    }
    if let Some(at) = plan.asg_terminated_at_ms {
        use model::events::TargetLifecycleState as S;
        change(&store, id, |inst| {
            inst.set_target_lifecycle_state(Some(S::InService));
            Ok(())
        })
        .await?;
        later(&store, id, at, |inst| {
            inst.set_target_lifecycle_state(Some(S::Terminated));
            Ok(())
        });
    }
    if let Some(e) = plan.event.clone() {
        let event_id = crate::admin::events::new_event_id();
        later(&store, id, e.at_ms, move |inst| {
            inst.schedule_event(e.schedule.clone(), event_id.clone())?;
            if e.cancel {
                inst.cancel_event(&event_id, model::time::now_ms())?;
            }
            Ok(())
        });
    }
    Ok(())
}

/// One change to the instance, written as the controls write theirs.
async fn change(
    store: &std::sync::Arc<dyn store::Store>,
    id: &str,
    f: impl Fn(&mut model::Instance) -> Result<(), model::Ec2Error> + Send + 'static,
) -> Result<(), AemmError> {
    let arrange = |e: &dyn std::fmt::Display| AemmError::Arrange(e.to_string());
    let instance = store
        .instance_by_id(id)
        .await
        .map_err(|e| arrange(&e))?
        .ok_or_else(|| AemmError::Arrange(format!("{id} is gone")))?;
    store
        .update_instances(
            &instance.scope,
            &[id.to_string()],
            store::ungated(),
            Box::new(move |i, _| f(i)),
        )
        .await
        .map_err(|e| arrange(&e))?;
    Ok(())
}

/// [`change`] at `at_ms` (at once if past); a change the instance no longer allows (it was
/// terminated meanwhile) is logged, as EC2 drops what it cannot do to a gone instance.
fn later(
    store: &std::sync::Arc<dyn store::Store>,
    id: &str,
    at_ms: i64,
    f: impl Fn(&mut model::Instance) -> Result<(), model::Ec2Error> + Send + 'static,
) {
    let (store, id) = (store.clone(), id.to_string());
    tokio::spawn(async move {
        let wait = at_ms.saturating_sub(model::time::now_ms()).max(0) as u64;
        tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
        if let Err(e) = change(&store, &id, f).await {
            tracing::warn!(instance = %id, error = %e, "imds aemm: a timed change was not made");
        }
    });
}

/// One line on what will happen, for the terminal.
fn describe(plan: &Plan) -> String {
    use model::time::iso8601;
    let mut parts = Vec::new();
    if plan.launch.tokens_required {
        parts.push("IMDSv2 only".to_string());
    }
    if let (Some(i), Some(action)) = (&plan.interruption, &plan.launch.spot) {
        // Hibernation starts with the notice (spec events.md case 11).
        let acts_at = if *action == model::events::InterruptionBehavior::Hibernate {
            i.notice_at_ms
        } else {
            i.action_at_ms
        };
        parts.push(format!(
            "Spot, rebalance recommendation at {}, notice at {}, {} at {}",
            iso8601(i.rebalance_at_ms.min(i.notice_at_ms), false),
            iso8601(i.notice_at_ms, false),
            action.as_str(),
            iso8601(acts_at, false)
        ));
    }
    if let Some(e) = &plan.event {
        parts.push(format!(
            "{} event scheduled at {} for {}{}",
            e.schedule.code.as_str(),
            iso8601(e.at_ms, false),
            iso8601(e.schedule.not_before_ms, false),
            if e.cancel { ", then canceled" } else { "" }
        ));
    }
    if let Some(at) = plan.asg_terminated_at_ms {
        parts.push(format!(
            "target lifecycle state InService, Terminated at {}",
            iso8601(at, false)
        ));
    }
    if parts.is_empty() {
        "nothing scheduled".into()
    } else {
        parts.join("; ")
    }
}
