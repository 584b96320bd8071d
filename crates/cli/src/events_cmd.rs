//! `imds events`: what EC2 does to an instance on its own, done on request through the
//! running server's event controls (the `admin` module's routes): `schedule` and `cancel` a
//! maintenance event, set the `lifecycle` state Auto Scaling targets, `interrupt` a Spot
//! instance. Each prints the server's JSON answer; a refusal prints EC2's code and message
//! and exits 1.
//!
//! Values are passed on as given (`--in 10m`, `--at 2026-12-07T02:00:00Z`): the server
//! checks them, so the command and the route refuse the same things with the same errors.

mod http;

use crate::exec::ServerArgs;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

pub use http::EventsError;

#[derive(Debug, Args)]
pub struct EventsArgs {
    #[command(subcommand)]
    pub command: EventsCommand,
}

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Schedule a maintenance event (it shows in DescribeInstanceStatus and the instance's
    /// `events/maintenance/scheduled`, and takes effect at its start).
    Schedule(ScheduleArgs),
    /// Cancel an active maintenance event (it moves to the history as canceled).
    Cancel(CancelArgs),
    /// Set (or, with --clear, remove) the instance's `autoscaling/target-lifecycle-state`.
    Lifecycle(LifecycleArgs),
    /// Interrupt a running Spot instance: the rebalance recommendation now, the two-minute
    /// notice, then its interruption behaviour.
    Interrupt(InterruptArgs),
}

/// Which server and which instance.
#[derive(Debug, Args)]
pub struct Target {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The instance.
    #[arg(long)]
    pub instance: String,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("start").required(true).args(["in_", "at"]))]
pub struct ScheduleArgs {
    #[command(flatten)]
    pub target: Target,
    /// instance-reboot, system-reboot, system-maintenance, instance-retirement or
    /// instance-stop.
    #[arg(long)]
    pub code: String,
    /// Start this long from now (e.g. 10m, 3d).
    #[arg(long = "in", value_name = "DURATION")]
    pub in_: Option<String>,
    /// Start at this time (RFC 3339, e.g. 2026-12-07T02:00:00Z).
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// The window from its start to its NotAfter (default 2h).
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,
    /// The latest start ModifyInstanceEventStartTime may move it to, this long after its
    /// start (e.g. 7d); without one the event cannot be moved.
    #[arg(long, value_name = "DURATION")]
    pub deadline: Option<String>,
    /// The description (default: EC2's for the code).
    #[arg(long)]
    pub description: Option<String>,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    #[command(flatten)]
    pub target: Target,
    /// The event (instance-event-…).
    #[arg(long)]
    pub event: String,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("to").required(true).args(["state", "clear"]))]
pub struct LifecycleArgs {
    #[command(flatten)]
    pub target: Target,
    /// InService, Terminated, Detached, Standby, Warmed:Hibernated, Warmed:Running,
    /// Warmed:Stopped or Warmed:Terminated.
    #[arg(long)]
    pub state: Option<String>,
    /// Remove the state (the instance is in no Auto Scaling group).
    #[arg(long)]
    pub clear: bool,
}

#[derive(Debug, Args)]
pub struct InterruptArgs {
    #[command(flatten)]
    pub target: Target,
    /// How long before the interruption (2m to 15m, default 2m), scaled as `imds serve
    /// --spot-notice` scales the notice.
    #[arg(long = "in", value_name = "DURATION")]
    pub in_: Option<String>,
}

/// The request a command makes: its target, method, path under the instance and JSON body.
struct Call<'a> {
    target: &'a Target,
    method: &'static str,
    path: String,
    body: Option<Value>,
}

impl EventsCommand {
    fn call(&self) -> Call<'_> {
        match self {
            EventsCommand::Schedule(a) => {
                let mut body = json!({"code": a.code});
                let members = [
                    ("in", &a.in_),
                    ("notBefore", &a.at),
                    ("duration", &a.duration),
                    ("deadline", &a.deadline),
                    ("description", &a.description),
                ];
                for (name, value) in members {
                    if let Some(v) = value {
                        body[name] = json!(v);
                    }
                }
                Call {
                    target: &a.target,
                    method: "POST",
                    path: "events".into(),
                    body: Some(body),
                }
            }
            EventsCommand::Cancel(a) => Call {
                target: &a.target,
                method: "DELETE",
                path: format!("events/{}", http::path_segment(&a.event)),
                body: None,
            },
            EventsCommand::Lifecycle(a) => Call {
                target: &a.target,
                method: "PUT",
                path: "target-lifecycle-state".into(),
                body: Some(json!({"state": if a.clear { None } else { a.state.as_deref() }})),
            },
            EventsCommand::Interrupt(a) => {
                let body = match &a.in_ {
                    Some(d) => json!({"in": d}),
                    None => json!({}),
                };
                Call {
                    target: &a.target,
                    method: "POST",
                    path: "interruption".into(),
                    body: Some(body),
                }
            }
        }
    }
}

/// Run the command: the server's answer, pretty-printed.
pub fn run(args: EventsArgs) -> Result<String, EventsError> {
    let call = args.command.call();
    let api = call
        .target
        .server
        .api()
        .map_err(|e| EventsError::Discovery(e.to_string()))?;
    let path = format!(
        "/_imds/instances/{}/{}",
        http::path_segment(&call.target.instance),
        call.path
    );
    let body = call.body.map(|b| b.to_string()).unwrap_or_default();
    let answer = http::send(&api, call.method, &path, &body)?;
    Ok(serde_json::to_string_pretty(&answer).unwrap_or_else(|_| answer.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: EventsCommand,
    }

    fn call_of(args: &[&str]) -> (String, String, Option<Value>) {
        let cli = Cli::try_parse_from(std::iter::once("events").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let c = cli.command.call();
        (c.method.to_string(), c.path, c.body)
    }

    #[test]
    fn schedule_sends_what_was_given() {
        let (method, path, body) = call_of(&[
            "schedule",
            "--instance",
            "i-0123456789abcdef0",
            "--code",
            "system-reboot",
            "--in",
            "10m",
            "--deadline",
            "7d",
        ]);
        assert_eq!((method.as_str(), path.as_str()), ("POST", "events"));
        assert_eq!(
            body,
            Some(json!({"code": "system-reboot", "in": "10m", "deadline": "7d"}))
        );
        let (_, _, body) = call_of(&[
            "schedule",
            "--instance",
            "i-1",
            "--code",
            "instance-stop",
            "--at",
            "2026-12-07T02:00:00Z",
        ]);
        assert_eq!(
            body,
            Some(json!({"code": "instance-stop", "notBefore": "2026-12-07T02:00:00Z"}))
        );
    }

    #[test]
    fn schedule_needs_one_start() {
        let base = ["events", "schedule", "--instance", "i-1", "--code", "x"];
        assert!(Cli::try_parse_from(base).is_err());
        let both = [&base[..], &["--in", "1m", "--at", "2026-12-07T02:00:00Z"]].concat();
        assert!(Cli::try_parse_from(both).is_err());
    }

    #[test]
    fn lifecycle_sets_or_clears() {
        let (method, path, body) = call_of(&[
            "lifecycle",
            "--instance",
            "i-1",
            "--state",
            "Warmed:Running",
        ]);
        assert_eq!(
            (method.as_str(), path.as_str()),
            ("PUT", "target-lifecycle-state")
        );
        assert_eq!(body, Some(json!({"state": "Warmed:Running"})));
        let (_, _, body) = call_of(&["lifecycle", "--instance", "i-1", "--clear"]);
        assert_eq!(body, Some(json!({"state": null})));
        let neither = ["events", "lifecycle", "--instance", "i-1"];
        assert!(Cli::try_parse_from(neither).is_err());
    }

    #[test]
    fn cancel_and_interrupt() {
        let (method, path, body) = call_of(&[
            "cancel",
            "--instance",
            "i-1",
            "--event",
            "instance-event-0123456789abcdef0",
        ]);
        assert_eq!(
            (method.as_str(), path.as_str(), body),
            ("DELETE", "events/instance-event-0123456789abcdef0", None)
        );
        let (method, path, body) = call_of(&["interrupt", "--instance", "i-1"]);
        assert_eq!(
            (method.as_str(), path.as_str(), body),
            ("POST", "interruption", Some(json!({})))
        );
        let (_, _, body) = call_of(&["interrupt", "--instance", "i-1", "--in", "5m"]);
        assert_eq!(body, Some(json!({"in": "5m"})));
    }
}
