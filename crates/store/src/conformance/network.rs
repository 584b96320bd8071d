//! The VPCs and subnets accounts create.

use super::{listed_tags, refused, scope, tag, Backend};
use crate as store;
use model::{catalogue, Ec2Error, Scope};

/// VPCs and subnets an account creates: listed in creation order beside the catalogue's
/// default ones, a subnet checked against its VPC's others (default subnets included),
/// retagged, deleted once the model allows it (with their tags); unknown ids are the
/// resource's `NotFound`; another scope sees none of them.
pub async fn vpcs_and_subnets_are_kept_per_scope<B: Backend>(b: &B) {
    use model::vpc::{Subnet, Vpc};
    let s = b.open().await;
    let default = catalogue::default_vpc("us-west-2");
    let vpc = Vpc {
        vpc_id: "vpc-0000000000000aaaa".into(),
        cidr: model::cidr::Cidr::parse("10.1.0.0/16").unwrap(),
        is_default: false,
        instance_tenancy: "default".into(),
        tags: vec![tag("Name", "main")],
    };
    s.create_vpc(&scope(), vpc.clone()).await.unwrap();
    assert_eq!(s.vpcs(&scope()).await.unwrap(), vec![vpc.clone()]);
    let other = Scope::new("999999999999", "us-west-2");
    assert!(s.vpcs(&other).await.unwrap().is_empty());

    let subnet_of = |vpc_id: &str, id: &str, block: &str| Subnet {
        subnet_id: id.into(),
        vpc_id: vpc_id.into(),
        availability_zone: "us-west-2a".into(),
        availability_zone_id: "usw2-az1".into(),
        cidr: model::cidr::Cidr::parse(block).unwrap(),
        default_for_az: false,
        tags: vec![],
    };
    let made = subnet_of(&vpc.vpc_id, "subnet-0000000000000aaaa", "10.1.1.0/24");
    let (expected_vpc, m) = (vpc.clone(), made.clone());
    let created = s
        .create_subnet(
            &scope(),
            &vpc.vpc_id,
            Box::new(move |v, siblings| {
                assert_eq!(v, &expected_vpc);
                assert!(siblings.is_empty());
                Ok(m)
            }),
        )
        .await
        .unwrap();
    assert_eq!(created, made);
    // In the default VPC, the default subnets are the siblings the model checks against.
    let (expected, in_default) = (
        default.subnets.clone(),
        subnet_of(
            &default.vpc.vpc_id,
            "subnet-0000000000000bbbb",
            "172.31.128.0/24",
        ),
    );
    let d = in_default.clone();
    s.create_subnet(
        &scope(),
        &default.vpc.vpc_id,
        Box::new(move |_, siblings| {
            assert_eq!(siblings, expected.as_slice());
            Ok(d)
        }),
    )
    .await
    .unwrap();
    assert_eq!(
        s.subnets(&scope()).await.unwrap(),
        vec![made.clone(), in_default.clone()],
        "in creation order"
    );
    assert!(matches!(
        refused(
            s.create_subnet(
                &scope(),
                "vpc-0000000000000dead",
                Box::new(|_, _| panic!("not called"))
            )
            .await
        ),
        Ec2Error::InvalidVpcIdNotFound(_)
    ));

    for id in [&vpc.vpc_id, &made.subnet_id] {
        s.update_network_tags(
            &scope(),
            id,
            Box::new(|tags| {
                tags.retain(|t| t.key != "Name");
                tags.push(tag("env", "prod"));
                Ok(())
            }),
        )
        .await
        .unwrap();
    }
    assert_eq!(
        s.vpcs(&scope()).await.unwrap()[0].tags,
        vec![tag("env", "prod")]
    );
    assert_eq!(
        s.subnets(&scope()).await.unwrap()[0].tags,
        vec![tag("env", "prod")]
    );
    assert_eq!(
        listed_tags(&*s).await,
        vec![
            format!("{} subnet env prod", made.subnet_id),
            format!("{} vpc env prod", vpc.vpc_id),
        ]
    );
    assert!(matches!(
        refused(
            s.update_network_tags(&other, &vpc.vpc_id, Box::new(|_| Ok(())))
                .await
        ),
        Ec2Error::InvalidVpcIdNotFound(_)
    ));
    assert!(matches!(
        refused(
            s.update_network_tags(&scope(), "subnet-0000000000000dead", Box::new(|_| Ok(())))
                .await
        ),
        Ec2Error::InvalidSubnetIdNotFound(_)
    ));

    let subnets = |n: usize| {
        Box::new(move |_: &Vpc, count: usize| {
            assert_eq!(count, n);
            model::vpc::check_vpc_deletable(&vpc_stub(), count)
        }) as store::VpcDeletion
    };
    fn vpc_stub() -> Vpc {
        Vpc {
            vpc_id: "vpc-0000000000000aaaa".into(),
            cidr: model::cidr::Cidr::parse("10.1.0.0/16").unwrap(),
            is_default: false,
            instance_tenancy: "default".into(),
            tags: vec![],
        }
    }
    assert!(matches!(
        refused(s.delete_vpc(&scope(), &vpc.vpc_id, subnets(1)).await),
        Ec2Error::DependencyViolation(_)
    ));
    let gone = s
        .delete_subnet(
            &scope(),
            &made.subnet_id,
            Box::new(|_, held| {
                assert_eq!(held, 0);
                Ok(())
            }),
        )
        .await
        .unwrap();
    assert_eq!(gone.subnet_id, made.subnet_id);
    s.delete_vpc(&scope(), &vpc.vpc_id, subnets(0))
        .await
        .unwrap();
    assert!(s.vpcs(&scope()).await.unwrap().is_empty());
    assert_eq!(s.subnets(&scope()).await.unwrap(), vec![in_default]);
    assert!(
        listed_tags(&*s).await.is_empty(),
        "their tags went with them"
    );
    assert!(matches!(
        refused(s.delete_vpc(&scope(), &vpc.vpc_id, subnets(0)).await),
        Ec2Error::InvalidVpcIdNotFound(_)
    ));
    assert!(matches!(
        refused(
            s.delete_subnet(&scope(), &made.subnet_id, Box::new(|_, _| Ok(())))
                .await
        ),
        Ec2Error::InvalidSubnetIdNotFound(_)
    ));
    s.close().await;
}
