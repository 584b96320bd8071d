//! The category tree of `meta-data/` (EC2 User Guide, "Instance metadata categories";
//! spec imds.md §12), built once per view of an instance.
//!
//! Listings are LF-separated with no final LF, sub-directories end in `/`; the root listing
//! is alphabetical; a category that does not apply (no instance profile, no key, tags not
//! allowed) is absent from listings and answers 404.

use crate::view::InstanceView;
use bytes::Bytes;
use model::catalogue;
use model::events::imds;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Leaf(Bytes),
    /// Entries in listing order; `listing` replaces the generated listing (`public-keys/`
    /// lists `0=name` while its path is `0/`).
    Dir {
        entries: Vec<(String, Node)>,
        listing: Option<String>,
    },
    /// Answered by the service at request time (credentials rotate, and differ by delivery).
    Credentials {
        role: String,
    },
    CredentialsInfo,
    /// `identity-credentials/ec2/info`.
    IdentityCredentialsInfo,
}

/// What a path resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<'a> {
    Leaf(&'a Bytes),
    /// A directory asked for with its trailing `/`: the listing.
    Listing(String),
    /// A directory asked for without `/`: EC2 redirects.
    Redirect,
    Credentials(&'a str),
    CredentialsInfo,
    IdentityCredentialsInfo,
    NotFound,
}

fn leaf(s: impl Into<String>) -> Node {
    Node::Leaf(Bytes::from(s.into()))
}

fn dir(entries: Vec<(&str, Node)>) -> Node {
    Node::Dir {
        entries: entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        listing: None,
    }
}

/// The version that first served each category (spec imds.md §12, from the user guide's
/// "Instance metadata categories"); paths are relative to `meta-data/`, `*` is one segment.
/// A category not named here is as old as `1.0`. Dated versions are frozen builds: a category
/// newer than the version asked for is not listed and answers 404.
const INTRODUCED: &[(&str, &str)] = &[
    ("ancestor-ami-ids", "2007-10-10"),
    ("autoscaling", "2021-07-15"),
    ("block-device-mapping", "2007-12-15"),
    ("elastic-gpus", "2016-11-30"),
    ("elastic-inference", "2018-11-29"),
    ("events", "2018-08-17"),
    ("events/recommendations", "2020-10-27"),
    ("iam", "2012-01-12"),
    ("identity-credentials", "2018-05-23"),
    ("instance-action", "2008-09-01"),
    ("instance-life-cycle", "2019-10-01"),
    ("instance-type", "2007-08-29"),
    ("ipv6", "2021-01-03"),
    ("kernel-id", "2008-02-01"),
    ("local-hostname", "2007-01-19"),
    ("mac", "2011-01-01"),
    ("network", "2011-01-01"),
    ("network/interfaces/macs/*/ipv6s", "2016-06-30"),
    ("network/interfaces/macs/*/network-card-index", "2020-11-01"),
    ("placement", "2008-02-01"),
    ("placement/availability-zone-id", "2019-10-01"),
    ("placement/group-name", "2020-08-24"),
    ("placement/host-id", "2020-08-24"),
    ("placement/partition-number", "2020-08-24"),
    ("placement/region", "2020-08-24"),
    ("product-codes", "2007-03-01"),
    ("public-hostname", "2007-01-19"),
    ("public-ipv4", "2007-01-19"),
    ("ramdisk-id", "2007-10-10"),
    ("services", "2014-02-25"),
    ("services/partition", "2015-10-20"),
    ("spot", "2014-11-05"),
    ("spot/instance-action", "2016-11-15"),
    ("tags", "2021-03-23"),
];

/// Whether the category at `path` (segments under `meta-data/`) exists in `version`.
/// Versions compare as their text: `1.0` sorts before every dated version.
fn exists_in(path: &[&str], version: &str) -> bool {
    if version == "latest" {
        return true;
    }
    INTRODUCED.iter().all(|(p, since)| {
        let pattern: Vec<&str> = p.split('/').collect();
        let applies = pattern.len() == path.len()
            && pattern.iter().zip(path).all(|(a, b)| *a == "*" || a == b);
        !applies || version >= *since
    })
}

impl Node {
    pub fn listing(&self) -> Option<String> {
        self.listing_as_of(&[], "latest")
    }

    /// The listing of a directory at `path`, as `version` serves it.
    fn listing_as_of(&self, path: &[&str], version: &str) -> Option<String> {
        match self {
            Node::Dir {
                listing: Some(l), ..
            } => Some(l.clone()),
            Node::Dir { entries, .. } => Some(
                entries
                    .iter()
                    .filter(|(k, _)| {
                        let mut p = path.to_vec();
                        p.push(k);
                        exists_in(&p, version)
                    })
                    .map(|(k, v)| match v {
                        Node::Dir { .. } => format!("{k}/"),
                        _ => k.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
            _ => None,
        }
    }

    /// Resolve `path` (the part after `meta-data/`, without the leading `/`) in `latest`.
    pub fn lookup(&self, path: &str) -> Lookup<'_> {
        self.lookup_as_of(path, "latest")
    }

    /// Resolve `path` as the dated `version` (or `latest`) serves it.
    pub fn lookup_as_of(&self, path: &str, version: &str) -> Lookup<'_> {
        let trailing = path.is_empty() || path.ends_with('/');
        let mut node = self;
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        for (i, seg) in segments.iter().enumerate() {
            if !exists_in(&segments[..=i], version) {
                return Lookup::NotFound;
            }
            match node {
                Node::Dir { entries, .. } => match entries.iter().find(|(k, _)| k == seg) {
                    Some((_, n)) => node = n,
                    None => return Lookup::NotFound,
                },
                _ => return Lookup::NotFound,
            }
        }
        // EC2 answers `tags/instance` with its listing even without the slash (spec imds.md
        // §15 row 23, and the user guide's own curl example).
        let listed_anyway = path.trim_end_matches('/') == "tags/instance";
        match node {
            Node::Dir { .. } if trailing || listed_anyway => {
                Lookup::Listing(node.listing_as_of(&segments, version).unwrap_or_default())
            }
            Node::Dir { .. } => Lookup::Redirect,
            // A leaf asked for with a trailing slash is answered as the leaf (botocore asks
            // `placement/availability-zone/`).
            Node::Leaf(b) => Lookup::Leaf(b),
            Node::Credentials { role } => Lookup::Credentials(role),
            Node::CredentialsInfo => Lookup::CredentialsInfo,
            Node::IdentityCredentialsInfo => Lookup::IdentityCredentialsInfo,
        }
    }
}

/// The name under which the instance identity credentials are served.
pub const IDENTITY_ROLE: &str = "ec2-instance";

/// The role an instance profile carries: imds names the role like the profile.
pub fn role_name(profile_arn: &str) -> &str {
    profile_arn.rsplit('/').next().unwrap_or(profile_arn)
}

/// The `meta-data/` tree of an instance.
pub fn meta_data(v: &InstanceView) -> Node {
    let vpc = catalogue::default_vpc(&v.region);
    let subnet = vpc.subnets.iter().find(|s| s.subnet_id == v.subnet_id);
    let host = v.hostname();
    let group_names: Vec<&str> = v.security_groups.iter().map(|(_, n)| n.as_str()).collect();
    let group_ids: Vec<&str> = v.security_groups.iter().map(|(i, _)| i.as_str()).collect();
    let mut mac_entries = vec![
        ("device-number", leaf("0")),
        ("interface-id", leaf(v.interface_id.clone())),
        ("local-hostname", leaf(host.clone())),
        ("local-ipv4s", leaf(v.private_ip.to_string())),
        ("mac", leaf(v.mac.clone())),
        ("network-card-index", leaf("0")),
        ("owner-id", leaf(v.account.clone())),
        ("security-group-ids", leaf(group_ids.join("\n"))),
        ("security-groups", leaf(group_names.join("\n"))),
        ("subnet-id", leaf(v.subnet_id.clone())),
    ];
    // The network as at launch; instances stored before it was kept are in a default subnet.
    let (subnet_cidr, vpc_cidr, az_id) = match (&v.network, subnet) {
        (Some(n), _) => (
            Some(n.subnet_cidr),
            n.vpc_cidr,
            n.availability_zone_id.clone(),
        ),
        (None, Some(s)) => (Some(s.cidr), vpc.vpc.cidr, s.availability_zone_id.clone()),
        (None, None) => (None, vpc.vpc.cidr, String::new()),
    };
    if let Some(c) = subnet_cidr {
        mac_entries.push(("subnet-ipv4-cidr-block", leaf(c.to_string())));
    }
    mac_entries.push(("vpc-id", leaf(v.vpc_id.clone())));
    mac_entries.push(("vpc-ipv4-cidr-block", leaf(vpc_cidr.to_string())));
    mac_entries.push(("vpc-ipv4-cidr-blocks", leaf(vpc_cidr.to_string())));

    let mut root: Vec<(&str, Node)> = vec![
        ("ami-id", leaf(v.image_id.clone())),
        ("ami-launch-index", leaf(v.ami_launch_index.to_string())),
        ("ami-manifest-path", leaf("(unknown)")),
        (
            "block-device-mapping",
            dir(vec![
                ("ami", leaf("/dev/xvda")),
                ("root", leaf("/dev/xvda")),
            ]),
        ),
        ("events", events(v)),
        ("hostname", leaf(host.clone())),
        ("instance-action", leaf("none")),
        ("instance-id", leaf(v.instance_id.clone())),
        (
            "instance-life-cycle",
            leaf(if v.spot { "spot" } else { "on-demand" }),
        ),
        ("instance-type", leaf(v.instance_type.clone())),
        ("local-hostname", leaf(host.clone())),
        ("local-ipv4", leaf(v.private_ip.to_string())),
        ("mac", leaf(v.mac.clone())),
        (
            "network",
            dir(vec![(
                "interfaces",
                dir(vec![(
                    "macs",
                    Node::Dir {
                        entries: vec![(v.mac.clone(), dir(mac_entries))],
                        listing: None,
                    },
                )]),
            )]),
        ),
        (
            "placement",
            dir(vec![
                ("availability-zone", leaf(v.availability_zone.clone())),
                ("availability-zone-id", leaf(az_id)),
                ("region", leaf(v.region.clone())),
            ]),
        ),
        ("profile", leaf("default-hvm")),
        ("reservation-id", leaf(v.reservation_id.clone())),
        ("security-groups", leaf(group_names.join("\n"))),
        (
            "services",
            dir(vec![
                ("domain", leaf("amazonaws.com")),
                ("partition", leaf("aws")),
            ]),
        ),
    ];
    if let Some(p) = &v.iam_profile {
        let role = p
            .role
            .clone()
            .unwrap_or_else(|| role_name(&p.arn).to_string());
        root.push((
            "iam",
            dir(vec![
                ("info", Node::CredentialsInfo),
                (
                    "security-credentials",
                    Node::Dir {
                        entries: vec![(role.clone(), Node::Credentials { role })],
                        listing: None,
                    },
                ),
            ]),
        ));
    }
    // The instance's own identity credentials (since 2018-05-23), on every instance.
    root.push((
        "identity-credentials",
        dir(vec![(
            "ec2",
            dir(vec![
                ("info", Node::IdentityCredentialsInfo),
                (
                    "security-credentials",
                    Node::Dir {
                        entries: vec![(
                            IDENTITY_ROLE.to_string(),
                            Node::Credentials {
                                role: IDENTITY_ROLE.to_string(),
                            },
                        )],
                        listing: None,
                    },
                ),
            ]),
        )]),
    ));
    if let Some(k) = &v.key_name {
        root.push((
            "public-keys",
            Node::Dir {
                entries: vec![(
                    "0".into(),
                    dir(vec![(
                        "openssh-key",
                        leaf(format!(
                            "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC{} {k}\n",
                            "imds".repeat(8)
                        )),
                    )]),
                )],
                listing: Some(format!("0={k}")),
            },
        ));
    }
    if v.options.instance_metadata_tags.is_enabled() {
        let tags = Node::Dir {
            entries: v
                .tags
                .iter()
                .map(|t| (t.key.clone(), leaf(t.value.clone())))
                .collect(),
            listing: None,
        };
        root.push(("tags", dir(vec![("instance", tags)])));
    }
    if let Some(notice) = &v.events.notice {
        let mut spot = vec![("instance-action", leaf(imds::instance_action(notice)))];
        if let Some(t) = imds::termination_time(notice) {
            spot.push(("termination-time", leaf(t)));
        }
        root.push(("spot", dir(spot)));
    }
    if let Some(state) = v.events.target_lifecycle_state {
        root.push((
            "autoscaling",
            dir(vec![("target-lifecycle-state", leaf(state.as_str()))]),
        ));
    }
    root.sort_by(|a, b| a.0.cmp(b.0));
    dir(root)
}

/// `events/`: `maintenance/` always (`[]` without events, which node termination handlers
/// poll on every instance), `recommendations/` once a rebalance recommendation was emitted
/// (listings UNCONFIRMED, spec events.md §1).
fn events(v: &InstanceView) -> Node {
    let e = &v.events;
    let mut entries = vec![(
        "maintenance",
        dir(vec![
            ("history", leaf(imds::maintenance(&e.history()))),
            ("scheduled", leaf(imds::maintenance(&e.scheduled()))),
        ]),
    )];
    if let Some(at) = e.rebalance_ms {
        entries.push((
            "recommendations",
            dir(vec![("rebalance", leaf(imds::rebalance(at)))]),
        ));
    }
    dir(entries)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn sample() -> InstanceView {
        let mut i = instance();
        i.key_name = Some("my-key".into());
        InstanceView::of(&i)
    }

    pub fn instance() -> model::Instance {
        let vpc = catalogue::default_vpc("us-east-1");
        let subnet = &vpc.subnets[0];
        let mut i = model::testing::instance("t3.micro");
        i.subnet_id = subnet.subnet_id.clone();
        i.vpc_id = vpc.vpc.vpc_id.clone();
        i.availability_zone = subnet.availability_zone.clone();
        i.security_groups = vec![("sg-1".into(), "default".into())];
        i.tags = vec![model::tags::Tag {
            key: "Name".into(),
            value: "web".into(),
        }];
        i
    }

    #[test]
    fn listings_and_lookups() {
        let t = meta_data(&sample());
        let root = t.listing().unwrap();
        assert!(root.starts_with("ami-id\nami-launch-index\n"));
        assert!(!root.ends_with('\n'));
        assert!(root.contains("\nblock-device-mapping/\n"));
        assert!(!root.contains("iam/"), "no profile, no iam/");
        assert!(!root.contains("tags/"), "tags not allowed");
        assert_eq!(
            t.lookup("instance-id"),
            Lookup::Leaf(&Bytes::from("i-0123456789abcdef0"))
        );
        assert_eq!(
            t.lookup("placement/availability-zone/"),
            Lookup::Leaf(&Bytes::from("us-east-1a"))
        );
        assert_eq!(t.lookup("placement"), Lookup::Redirect);
        assert_eq!(t.lookup("nope"), Lookup::NotFound);
        assert_eq!(t.lookup("public-keys/"), Lookup::Listing("0=my-key".into()));
        assert_eq!(
            t.lookup("public-keys/0/"),
            Lookup::Listing("openssh-key".into())
        );
        let names: Vec<&str> = root.lines().collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted, "alphabetical");
    }

    /// An instance in a subnet of one's own VPC (issue 11): its blocks and zone id are the
    /// ones kept at launch, not the default VPC's.
    #[test]
    fn a_created_subnet_shows_its_own_blocks() {
        let mut i = instance();
        i.vpc_id = "vpc-0aaaaaaaaaaaaaaaa".into();
        i.subnet_id = "subnet-0bbbbbbbbbbbbbbbb".into();
        i.availability_zone = "us-east-1c".into();
        i.network = Some(model::instance::NetworkPlacement {
            subnet_cidr: model::cidr::Cidr::parse("10.5.7.16/28").unwrap(),
            vpc_cidr: model::cidr::Cidr::parse("10.5.0.0/16").unwrap(),
            availability_zone_id: "use1-az3".into(),
        });
        let v = InstanceView::of(&i);
        let t = meta_data(&v);
        let mac = format!("network/interfaces/macs/{}/", v.mac);
        for (path, want) in [
            ("subnet-ipv4-cidr-block", "10.5.7.16/28"),
            ("vpc-ipv4-cidr-block", "10.5.0.0/16"),
            ("vpc-ipv4-cidr-blocks", "10.5.0.0/16"),
            ("vpc-id", "vpc-0aaaaaaaaaaaaaaaa"),
            ("subnet-id", "subnet-0bbbbbbbbbbbbbbbb"),
        ] {
            assert_eq!(
                t.lookup(&format!("{mac}{path}")),
                Lookup::Leaf(&Bytes::from(want)),
                "{path}"
            );
        }
        assert_eq!(
            t.lookup("placement/availability-zone-id"),
            Lookup::Leaf(&Bytes::from("use1-az3"))
        );
    }

    #[test]
    fn tags_follow_the_option() {
        let mut v = sample();
        v.options.instance_metadata_tags = model::InstanceMetadataTags::Enabled;
        let t = meta_data(&v);
        assert!(t.listing().unwrap().contains("\ntags/"));
        assert_eq!(t.lookup("tags/instance/"), Lookup::Listing("Name".into()));
        assert_eq!(
            t.lookup("tags/instance/Name"),
            Lookup::Leaf(&Bytes::from("web"))
        );
    }

    #[test]
    fn dated_versions_serve_the_categories_they_had() {
        let t = meta_data(&sample());
        let listing = |version: &str| match t.lookup_as_of("", version) {
            Lookup::Listing(l) => l,
            _ => panic!("no listing"),
        };
        let old = listing("2007-01-19");
        assert!(old.contains("instance-id") && old.contains("local-hostname"));
        assert!(
            !old.contains("instance-type") && !old.contains("placement/"),
            "{old}"
        );
        assert!(listing("2008-02-01").contains("placement/"));
        assert!(!listing("2011-01-01").contains("iam/"));
        assert!(!listing("2021-01-03").contains("tags/"));
        assert!(listing("latest").contains("identity-credentials/"));
        assert!(matches!(
            t.lookup_as_of("instance-type", "2007-03-01"),
            Lookup::NotFound
        ));
        assert!(matches!(
            t.lookup_as_of("instance-type", "2007-08-29"),
            Lookup::Leaf(_)
        ));
        assert!(matches!(
            t.lookup_as_of("placement/region", "2019-10-01"),
            Lookup::NotFound
        ));
        assert!(matches!(
            t.lookup_as_of("placement/availability-zone", "2019-10-01"),
            Lookup::Leaf(_)
        ));
        match t.lookup_as_of("placement/", "2019-10-01") {
            Lookup::Listing(l) => assert_eq!(l, "availability-zone\navailability-zone-id"),
            _ => panic!("no placement listing"),
        }
    }
}

#[cfg(test)]
mod event_tests {
    use super::tests::instance;
    use super::*;
    use model::events::{
        EventCode, EventSchedule, Interruption, InterruptionBehavior, TargetLifecycleState,
    };

    fn spot(behavior: InterruptionBehavior) -> model::Instance {
        let mut i = instance();
        i.market = Some(model::testing::spot_market(behavior));
        i
    }

    /// spec events.md cases 1, 2, 4 and 15: nothing pending is 404, maintenance `[]`.
    #[test]
    fn nothing_pending() {
        let t = meta_data(&InstanceView::of(&instance()));
        assert_eq!(t.lookup("spot/instance-action"), Lookup::NotFound);
        assert_eq!(t.lookup("spot/termination-time"), Lookup::NotFound);
        assert_eq!(
            t.lookup("events/recommendations/rebalance"),
            Lookup::NotFound
        );
        assert_eq!(
            t.lookup("autoscaling/target-lifecycle-state"),
            Lookup::NotFound
        );
        let empty = Bytes::from("[]");
        assert_eq!(
            t.lookup("events/maintenance/scheduled"),
            Lookup::Leaf(&empty)
        );
        assert_eq!(t.lookup("events/maintenance/history"), Lookup::Leaf(&empty));
        assert_eq!(
            t.lookup("instance-life-cycle"),
            Lookup::Leaf(&Bytes::from("on-demand"))
        );
        let s = meta_data(&InstanceView::of(&spot(InterruptionBehavior::Terminate)));
        assert_eq!(
            s.lookup("instance-life-cycle"),
            Lookup::Leaf(&Bytes::from("spot"))
        );
        assert_eq!(s.lookup("spot/instance-action"), Lookup::NotFound);
    }

    /// spec events.md cases 5, 6, 8, 13 and 14.
    #[test]
    fn a_notice_and_its_recommendation() {
        let mut i = spot(InterruptionBehavior::Terminate);
        i.schedule_interruption(Interruption::planned(
            "EXP",
            1_505_722_800_000,
            120_000,
            120_000,
        ))
        .unwrap();
        i.take_due_events(1_505_722_800_000, 10);
        let t = meta_data(&InstanceView::of(&i));
        let action = Bytes::from(r#"{"action": "terminate", "time": "2017-09-18T08:22:00Z"}"#);
        assert_eq!(t.lookup("spot/instance-action"), Lookup::Leaf(&action));
        assert_eq!(
            t.lookup("spot/termination-time"),
            Lookup::Leaf(&Bytes::from("2017-09-18T08:22:00Z"))
        );
        assert_eq!(
            t.lookup("events/recommendations/rebalance"),
            Lookup::Leaf(&Bytes::from(r#"{"noticeTime": "2017-09-18T08:20:00Z"}"#))
        );
        assert_eq!(
            t.lookup("spot/"),
            Lookup::Listing("instance-action\ntermination-time".into())
        );
        assert_eq!(
            t.lookup_as_of("spot/instance-action", "2016-09-02"),
            Lookup::NotFound,
            "older than the item"
        );
        assert_eq!(
            t.lookup_as_of("spot/instance-action", "2018-03-28"),
            Lookup::Leaf(&action)
        );
        assert_eq!(
            t.lookup_as_of("events/recommendations/rebalance", "2019-10-01"),
            Lookup::NotFound
        );

        let mut s = spot(InterruptionBehavior::Stop);
        s.schedule_interruption(Interruption::planned("EXP", 0, 120_000, 120_000))
            .unwrap();
        s.take_due_events(0, 10);
        let t = meta_data(&InstanceView::of(&s));
        assert!(
            matches!(t.lookup("spot/instance-action"), Lookup::Leaf(b) if b.starts_with(br#"{"action": "stop""#))
        );
        assert_eq!(t.lookup("spot/termination-time"), Lookup::NotFound);
    }

    /// spec events.md cases 16, 18 and 28.
    #[test]
    fn maintenance_and_autoscaling() {
        let mut i = instance();
        i.schedule_event(
            EventSchedule {
                code: EventCode::SystemReboot,
                description: None,
                not_before_ms: 1_548_061_243_000,
                window_ms: Some(1_000_000),
                deadline_ms: None,
            },
            "instance-event-0d59937288b749b32".into(),
        )
        .unwrap();
        let t = meta_data(&InstanceView::of(&i));
        let Lookup::Leaf(b) = t.lookup("events/maintenance/scheduled") else {
            panic!("scheduled")
        };
        let v: serde_json::Value = serde_json::from_slice(b).unwrap();
        assert_eq!(v[0]["NotBefore"], "21 Jan 2019 09:00:43 GMT");
        assert_eq!(v[0]["State"], "active");
        i.take_due_events(1_548_061_243_000, 10);
        let t = meta_data(&InstanceView::of(&i));
        assert_eq!(
            t.lookup("events/maintenance/scheduled"),
            Lookup::Leaf(&Bytes::from("[]"))
        );
        let Lookup::Leaf(b) = t.lookup("events/maintenance/history") else {
            panic!("history")
        };
        let v: serde_json::Value = serde_json::from_slice(b).unwrap();
        assert_eq!(v[0]["State"], "completed");
        assert!(v[0]["Description"]
            .as_str()
            .unwrap()
            .starts_with("[Completed] "));
        i.set_target_lifecycle_state(Some(TargetLifecycleState::Terminated));
        let t = meta_data(&InstanceView::of(&i));
        assert_eq!(
            t.lookup("autoscaling/target-lifecycle-state"),
            Lookup::Leaf(&Bytes::from("Terminated"))
        );
    }
}
