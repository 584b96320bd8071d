//! Spot: what RunInstances' `InstanceMarketOptions` makes of an instance ([`SpotMarket`]), and
//! an interruption scheduled for it ([`Interruption`]: the rebalance recommendation, the
//! two-minute notice, the action), as the EC2 user guide describes them (spec events.md §2,
//! §3, §6).

use crate::error::Ec2Error;
use serde::{Deserialize, Serialize};

/// `InstanceInterruptionBehavior`: what EC2 does to a Spot instance it interrupts, and the
/// `action` of its `spot/instance-action` notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InterruptionBehavior {
    Hibernate,
    Stop,
    Terminate,
}

impl InterruptionBehavior {
    pub fn as_str(self) -> &'static str {
        match self {
            InterruptionBehavior::Hibernate => "hibernate",
            InterruptionBehavior::Stop => "stop",
            InterruptionBehavior::Terminate => "terminate",
        }
    }

    pub fn parse(value: &str) -> Result<Self, Ec2Error> {
        Ok(match value {
            "hibernate" => InterruptionBehavior::Hibernate,
            "stop" => InterruptionBehavior::Stop,
            "terminate" => InterruptionBehavior::Terminate,
            _ => return Err(invalid_value(value, "InstanceInterruptionBehavior")),
        })
    }
}

/// `SpotInstanceType`: a one-time request ends with its instance; a persistent one is
/// reopened when its instance is interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpotRequestType {
    OneTime,
    Persistent,
}

impl SpotRequestType {
    pub fn as_str(self) -> &'static str {
        match self {
            SpotRequestType::OneTime => "one-time",
            SpotRequestType::Persistent => "persistent",
        }
    }

    fn parse(value: &str) -> Result<Self, Ec2Error> {
        Ok(match value {
            "one-time" => SpotRequestType::OneTime,
            "persistent" => SpotRequestType::Persistent,
            _ => return Err(invalid_value(value, "SpotInstanceType")),
        })
    }
}

fn invalid_value(value: &str, parameter: &str) -> Ec2Error {
    Ec2Error::InvalidParameterValue(format!(
        "Value ({value}) for parameter {parameter} is invalid."
    ))
}

/// `InstanceMarketOptions` as a launch (or its launch template) asks for them, not yet
/// checked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketRequest {
    /// `MarketType`: `spot`, `capacity-block` or `interruptible-capacity-reservation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_price: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spot_instance_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interruption_behavior: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until_ms: Option<i64>,
}

/// A Spot instance's market: the Spot request EC2 made for it at launch and how the
/// instance is interrupted. On-demand instances have none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpotMarket {
    /// `sir-` and 8 lowercase letters or digits (EC2 API reference sample responses).
    pub request_id: String,
    pub request_type: SpotRequestType,
    pub behavior: InterruptionBehavior,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_price: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until_ms: Option<i64>,
    /// CancelSpotInstanceRequests cancelled the request (its instance keeps running).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cancelled: bool,
}

/// Where a Spot request stands, as DescribeSpotInstanceRequests shows it: its `State` and
/// its status `Code` and `Message` (user guide, "Spot request status").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestStatus {
    pub state: &'static str,
    pub code: &'static str,
    pub message: &'static str,
}

impl SpotMarket {
    /// The request's status, from its instance: `active`/`fulfilled` while the instance runs;
    /// `marked-for-…` once a notice was given; after an interruption the request is `closed`
    /// (one-time) or `disabled` (stopped, persistent), after the user's termination `closed`
    /// (one-time) or `open` (persistent: EC2 would launch a replacement, which imds does
    /// not); `cancelled` after CancelSpotInstanceRequests. The codes are the user guide's;
    /// the messages of the `…-by-experiment` and `marked-…` codes, and `open` after a
    /// termination, are UNCONFIRMED.
    pub fn request_status(
        &self,
        state: crate::InstanceState,
        reason: Option<crate::instance::StateReasonCode>,
        noticed: bool,
    ) -> RequestStatus {
        use crate::instance::StateReasonCode as Reason;
        use crate::InstanceState as S;
        let status = |state, code, message| RequestStatus {
            state,
            code,
            message,
        };
        let interrupted = matches!(
            reason,
            Some(Reason::SpotInstanceTermination | Reason::SpotInstanceShutdown)
        );
        let up = matches!(state, S::Pending | S::Running);
        if self.cancelled {
            return if up {
                status(
                    "cancelled",
                    "request-canceled-and-instance-running",
                    "Spot Instance Request canceled by the user, but the instance is still running.",
                )
            } else {
                status(
                    "cancelled",
                    "canceled-before-fulfillment",
                    "Spot Instance Request canceled by the user.",
                )
            };
        }
        match state {
            S::Pending | S::Running if noticed => match self.behavior {
                InterruptionBehavior::Terminate => status(
                    "active",
                    "marked-for-termination",
                    "Spot Instance is marked for termination.",
                ),
                _ => status(
                    "active",
                    "marked-for-stop-by-experiment",
                    "Spot Instance is marked for stop by an experiment.",
                ),
            },
            S::Pending | S::Running => {
                status("active", "fulfilled", "Your Spot request is fulfilled.")
            }
            S::Stopping | S::Stopped if interrupted => status(
                "disabled",
                "instance-stopped-by-experiment",
                "Spot Instance stopped by an experiment.",
            ),
            S::Stopping | S::Stopped => status(
                "disabled",
                "instance-stopped-by-user",
                "Spot Instance stopped due to user-initiated stop.",
            ),
            S::ShuttingDown | S::Terminated => {
                let state = match self.request_type {
                    SpotRequestType::OneTime => "closed",
                    SpotRequestType::Persistent => "open",
                };
                if interrupted {
                    status(
                        state,
                        "instance-terminated-by-experiment",
                        "Spot Instance terminated by an experiment.",
                    )
                } else {
                    status(
                        state,
                        "instance-terminated-by-user",
                        "Spot Instance terminated due to user-initiated termination.",
                    )
                }
            }
        }
    }

    /// What a launch's market options make of its instances: `None` for on-demand, else the
    /// Spot market (its request id left for each instance to get), with the rules of
    /// botocore's `SpotMarketOptions.InstanceInterruptionBehavior`: hibernation configured
    /// makes the behaviour `hibernate` and any other an error; `stop` and `hibernate` only
    /// with a `persistent` request; `terminate` (the default) only with a one-time one
    /// (spec events.md §6, cases 29–31; the two messages as observed [S18]).
    pub fn decide(req: &MarketRequest, hibernation: bool) -> Result<Option<SpotMarket>, Ec2Error> {
        match req.market_type.as_deref() {
            None if req == &MarketRequest::default() => return Ok(None),
            None => {
                return Err(Ec2Error::MissingParameter(
                    "The request must contain the parameter InstanceMarketOptions.MarketType"
                        .into(),
                ))
            }
            Some("spot") => {}
            // UNCONFIRMED: EC2's answer to a capacity block without a reservation; imds
            // simulates neither capacity blocks nor interruptible reservations.
            Some(t @ ("capacity-block" | "interruptible-capacity-reservation")) => {
                return Err(Ec2Error::UnsupportedOperation(format!(
                    "The market type '{t}' is not supported by imds."
                )))
            }
            Some(other) => return Err(invalid_value(other, "MarketType")),
        }
        if let Some(price) = &req.max_price {
            // UNCONFIRMED wording; the floor is EC2's (spec events.md §6).
            let ok = price
                .parse::<f64>()
                .is_ok_and(|p| p.is_finite() && p > 0.001);
            if !ok {
                return Err(Ec2Error::InvalidParameterValue(format!(
                    "Invalid max price: {price}. The max price must be greater than 0.001."
                )));
            }
        }
        let request_type = match &req.spot_instance_type {
            Some(t) => SpotRequestType::parse(t)?,
            None => SpotRequestType::OneTime,
        };
        let asked = req
            .interruption_behavior
            .as_deref()
            .map(InterruptionBehavior::parse)
            .transpose()?;
        let behavior = match (hibernation, asked) {
            (true, None | Some(InterruptionBehavior::Hibernate)) => InterruptionBehavior::Hibernate,
            (true, Some(other)) => {
                // UNCONFIRMED wording (the rule is botocore's documentation).
                return Err(Ec2Error::InvalidParameterCombination(format!(
                    "The {} InstanceInterruptionBehavior is not supported when hibernation is configured.",
                    other.as_str()
                )));
            }
            (false, asked) => asked.unwrap_or(InterruptionBehavior::Terminate),
        };
        match (request_type, behavior) {
            (SpotRequestType::OneTime, InterruptionBehavior::Terminate)
            | (SpotRequestType::Persistent, InterruptionBehavior::Stop)
            | (SpotRequestType::Persistent, InterruptionBehavior::Hibernate) => {}
            (SpotRequestType::OneTime, b) => {
                return Err(Ec2Error::InvalidParameterCombination(format!(
                    "The request with type 'one-time' is not supported when instanceInterruptionBehavior is set to '{}'.",
                    b.as_str()
                )))
            }
            (SpotRequestType::Persistent, _) => {
                return Err(Ec2Error::InvalidParameterCombination(
                    "The terminate InstanceInterruptionBehavior is not supported when requestType is set to persistent.".into(),
                ))
            }
        }
        if req.valid_until_ms.is_some() && request_type == SpotRequestType::OneTime {
            // UNCONFIRMED: botocore says ValidUntil is for persistent requests only.
            return Err(Ec2Error::InvalidParameterCombination(
                "ValidUntil is supported only for persistent Spot requests.".into(),
            ));
        }
        Ok(Some(SpotMarket {
            request_id: String::new(),
            request_type,
            behavior,
            max_price: req.max_price.clone(),
            valid_until_ms: req.valid_until_ms,
            cancelled: false,
        }))
    }
}

/// `sir-` and 8 lowercase letters or digits from `random` (the caller's randomness).
pub fn spot_request_id(random: u64) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut r = random;
    let mut id = String::from("sir-");
    for _ in 0..8 {
        id.push(ALPHABET[(r % 36) as usize] as char);
        r /= 36;
    }
    id
}

/// EC2's two minutes of notice before it interrupts a Spot instance (user guide, "Spot
/// Instance interruption notices").
pub const NOTICE_MS: i64 = 120_000;

/// An interruption scheduled for a Spot instance: the rebalance recommendation at
/// `rebalance_at_ms`, the interruption notice at `notice_at_ms` (whose `time` is
/// `action_at_ms`), and the action at `action_at_ms`. Each step is taken once, when due
/// (`InstanceEvents::take_due`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interruption {
    /// What scheduled it: a FIS experiment's id, or `imds` for the control route.
    pub source: String,
    pub rebalance_at_ms: i64,
    pub notice_at_ms: i64,
    pub action_at_ms: i64,
}

impl Interruption {
    /// An interruption started at `start_ms` that acts `before_ms` later, as FIS's
    /// `aws:ec2:send-spot-instance-interruptions` does (spec events.md §7.6: the rebalance
    /// recommendation at once, the notice two minutes before the action). `notice_ms` is
    /// how long the two minutes of notice last here (`imds serve --spot-notice`); the whole
    /// span scales with it, so that `PT2M` still gives the notice with the recommendation.
    pub fn planned(source: &str, start_ms: i64, before_ms: i64, notice_ms: i64) -> Interruption {
        let scaled = |ms: i64| (ms as i128 * notice_ms as i128 / NOTICE_MS as i128) as i64;
        let action_at_ms = start_ms + scaled(before_ms.max(NOTICE_MS));
        Interruption {
            source: source.to_string(),
            rebalance_at_ms: start_ms,
            notice_at_ms: (action_at_ms - notice_ms).max(start_ms),
            action_at_ms,
        }
    }
}

/// The interruption notice as the instance reads it (`spot/instance-action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpotNotice {
    pub action: InterruptionBehavior,
    /// When the action happens (`time`).
    pub time_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spot(kind: Option<&str>, behavior: Option<&str>) -> MarketRequest {
        MarketRequest {
            market_type: Some("spot".into()),
            spot_instance_type: kind.map(str::to_string),
            interruption_behavior: behavior.map(str::to_string),
            ..MarketRequest::default()
        }
    }

    #[test]
    fn on_demand_without_market_options() {
        assert_eq!(
            SpotMarket::decide(&MarketRequest::default(), false),
            Ok(None)
        );
    }

    #[test]
    fn defaults_are_one_time_and_terminate() {
        let m = SpotMarket::decide(&spot(None, None), false)
            .unwrap()
            .unwrap();
        assert_eq!(m.request_type, SpotRequestType::OneTime);
        assert_eq!(m.behavior, InterruptionBehavior::Terminate);
    }

    /// spec events.md cases 29 and 30.
    #[test]
    fn combinations_ec2_refuses() {
        let e = SpotMarket::decide(&spot(Some("one-time"), Some("stop")), false).unwrap_err();
        assert_eq!(
            e,
            Ec2Error::InvalidParameterCombination("The request with type 'one-time' is not supported when instanceInterruptionBehavior is set to 'stop'.".into())
        );
        let e =
            SpotMarket::decide(&spot(Some("persistent"), Some("terminate")), false).unwrap_err();
        assert!(
            matches!(e, Ec2Error::InvalidParameterCombination(m) if m.starts_with("The terminate InstanceInterruptionBehavior"))
        );
        let m = SpotMarket::decide(&spot(Some("persistent"), Some("stop")), false)
            .unwrap()
            .unwrap();
        assert_eq!(m.behavior, InterruptionBehavior::Stop);
    }

    /// spec events.md case 31.
    #[test]
    fn hibernation_makes_the_behaviour_hibernate() {
        let m = SpotMarket::decide(&spot(Some("persistent"), None), true)
            .unwrap()
            .unwrap();
        assert_eq!(m.behavior, InterruptionBehavior::Hibernate);
        assert!(SpotMarket::decide(&spot(Some("persistent"), Some("stop")), true).is_err());
    }

    #[test]
    fn prices_and_market_types() {
        let mut r = spot(None, None);
        r.max_price = Some("0.0005".into());
        assert!(matches!(
            SpotMarket::decide(&r, false),
            Err(Ec2Error::InvalidParameterValue(_))
        ));
        r.max_price = Some("0.05".into());
        assert!(SpotMarket::decide(&r, false).unwrap().is_some());
        r.market_type = Some("auction".into());
        assert!(matches!(
            SpotMarket::decide(&r, false),
            Err(Ec2Error::InvalidParameterValue(_))
        ));
    }

    /// The request follows its instance (user guide, "Spot request status").
    #[test]
    fn request_status_follows_the_instance() {
        use crate::instance::StateReasonCode as R;
        use crate::InstanceState as S;
        let mut m = SpotMarket::decide(&spot(None, None), false)
            .unwrap()
            .unwrap();
        let code = |m: &SpotMarket, s, r, noticed| {
            let st = m.request_status(s, r, noticed);
            (st.state, st.code)
        };
        assert_eq!(code(&m, S::Running, None, false), ("active", "fulfilled"));
        assert_eq!(
            code(&m, S::Running, None, true),
            ("active", "marked-for-termination")
        );
        assert_eq!(
            code(&m, S::Terminated, Some(R::SpotInstanceTermination), true),
            ("closed", "instance-terminated-by-experiment")
        );
        assert_eq!(
            code(&m, S::Terminated, Some(R::UserInitiatedShutdown), false),
            ("closed", "instance-terminated-by-user")
        );
        let mut p = SpotMarket::decide(&spot(Some("persistent"), Some("stop")), false)
            .unwrap()
            .unwrap();
        assert_eq!(
            code(&p, S::Stopped, Some(R::SpotInstanceShutdown), true),
            ("disabled", "instance-stopped-by-experiment")
        );
        assert_eq!(code(&p, S::Terminated, None, false).0, "open");
        p.cancelled = true;
        m.cancelled = true;
        assert_eq!(
            code(&m, S::Running, None, false),
            ("cancelled", "request-canceled-and-instance-running")
        );
    }

    #[test]
    fn request_ids_are_sir_and_eight_characters() {
        for r in [0, 1, u64::MAX, 0xdead_beef] {
            let id = spot_request_id(r);
            assert_eq!(id.len(), 12);
            assert!(id[4..]
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        }
    }

    /// spec events.md §7.6: PT2M gives the recommendation and the notice together; PT4M
    /// gives the notice two minutes in; the span scales with a shortened notice.
    #[test]
    fn interruptions_are_planned_as_fis_sends_them() {
        let i = Interruption::planned("EXP1", 1000, 120_000, NOTICE_MS);
        assert_eq!(
            (i.rebalance_at_ms, i.notice_at_ms, i.action_at_ms),
            (1000, 1000, 121_000)
        );
        let i = Interruption::planned("EXP1", 1000, 240_000, NOTICE_MS);
        assert_eq!((i.notice_at_ms, i.action_at_ms), (121_000, 241_000));
        let i = Interruption::planned("EXP1", 1000, 240_000, 3000);
        assert_eq!((i.notice_at_ms, i.action_at_ms), (4000, 7000));
    }
}
