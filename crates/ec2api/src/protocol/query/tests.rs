//! The decoder's tests: both protocols, the bounds, garbage.

use super::*;
use crate::error::code_and_status;

fn p(s: &str) -> Params {
    Params::parse(s.as_bytes()).unwrap()
}

#[test]
fn flattened_lists_and_structures() {
    let v = decode(
        "DescribeInstances",
        &p("Action=DescribeInstances&Version=2016-11-15&InstanceId.2=i-b&InstanceId.1=i-a&Filter.1.Name=tag:Name&Filter.1.Value.1=x&Filter.1.Value.2=y&MaxResults=5"),
    )
    .unwrap();
    assert_eq!(v["InstanceIds"], serde_json::json!(["i-a", "i-b"]));
    assert_eq!(v["Filters"][0]["Name"], "tag:Name");
    assert_eq!(v["Filters"][0]["Values"], serde_json::json!(["x", "y"]));
    assert_eq!(v["MaxResults"], 5);
}

#[test]
fn nested_structures() {
    let v = decode(
        "RunInstances",
        &p("MinCount=1&MaxCount=1&MetadataOptions.HttpTokens=required&TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=web"),
    )
    .unwrap();
    assert_eq!(v["MetadataOptions"]["HttpTokens"], "required");
    assert_eq!(v["TagSpecifications"][0]["Tags"][0]["Key"], "Name");
}

#[test]
fn unknown_and_missing() {
    assert_eq!(
        decode(
            "ModifyInstanceMetadataOptions",
            &p("InstanceId=i-1&Foo=bar")
        ),
        Err(Ec2Error::UnknownParameter("Foo".into()))
    );
    assert_eq!(
        decode(
            "ModifyInstanceMetadataOptions",
            &p("InstanceId=i-1&HttpTokensEnforced=enabled")
        ),
        Err(Ec2Error::UnknownParameter("HttpTokensEnforced".into()))
    );
    assert_eq!(
        decode("ModifyInstanceMetadataOptions", &p("HttpTokens=required")),
        Err(Ec2Error::MissingParameter("InstanceId".into()))
    );
    assert_eq!(
        decode("ModifyInstanceMetadataOptions", &p("InstanceId=")),
        Err(Ec2Error::MissingParameter("InstanceId".into()))
    );
    assert!(matches!(
        decode("RunInstances", &p("MinCount=1&MaxCount=1&MetadataOptions.Bogus=1")),
        Err(Ec2Error::UnknownParameter(n)) if n == "MetadataOptions.Bogus"
    ));
    assert!(matches!(
        decode("DescribeInstances", &p("InstanceId.x=i-1")),
        Err(Ec2Error::UnknownParameter(_))
    ));
    assert!(matches!(
        decode("DescribeInstances", &p("InstanceId..1=i-1")),
        Err(Ec2Error::UnknownParameter(_))
    ));
}

#[test]
fn types() {
    assert!(matches!(
        decode(
            "ModifyInstanceMetadataOptions",
            &p("InstanceId=i-1&HttpPutResponseHopLimit=abc")
        ),
        Err(Ec2Error::InvalidParameterValue(_))
    ));
    assert!(matches!(
        decode(
            "ModifyInstanceMetadataOptions",
            &p("InstanceId=i-1&DryRun=maybe")
        ),
        Err(Ec2Error::InvalidParameterValue(_))
    ));
    let v = decode(
        "ModifyInstanceMetadataOptions",
        &p("InstanceId=i-1&DryRun=true"),
    )
    .unwrap();
    assert_eq!(v["DryRun"], true);
}

/// Issue 10: a 30 KB name of 15,000 dotted segments overflowed a worker's stack (the
/// tree was as deep as the name, and dropped recursively) and took memory quadratic in
/// its depth. It is an unknown parameter, refused before the tree grows.
#[test]
fn deep_names_are_unknown_parameters_without_a_deep_tree() {
    let deep = vec!["a"; 15_000].join(".");
    for op in ["DescribeInstances", "RunInstances"] {
        match decode(op, &p(&format!("{deep}=1"))) {
            Err(Ec2Error::UnknownParameter(name)) => {
                assert!(name.len() <= limits::MAX_NAME_LEN + 3, "{}", name.len())
            }
            other => panic!("{other:?}"),
        }
    }
    // Deep but short: still refused at the segment bound.
    let short_deep = vec!["a"; limits::MAX_NAME_SEGMENTS + 1].join(".");
    assert_eq!(
        tree(&p(&format!("{short_deep}=1")), Protocol::Ec2).err(),
        Some(Ec2Error::UnknownParameter(short_deep))
    );
    // What the tree holds is never deeper than the bound.
    let ok = vec!["a"; limits::MAX_NAME_SEGMENTS].join(".");
    let root = tree(&p(&format!("{ok}=1")), Protocol::Ec2).unwrap();
    let mut depth = 0;
    let mut n = &root;
    while let Some(c) = n.children.values().next() {
        depth += 1;
        n = c;
    }
    assert_eq!(depth, limits::MAX_NAME_SEGMENTS);
}

#[test]
fn too_many_parameters_are_refused_before_decoding() {
    let body: String = (1..=limits::MAX_PARAMETERS + 1)
        .map(|i| format!("InstanceId.{i}=i-1&"))
        .collect();
    assert!(matches!(
        Params::parse(body.as_bytes()),
        Err(Ec2Error::InvalidParameterValue(m)) if m.contains("parameters")
    ));
    // Query string and body together count too.
    let half: String = (1..=limits::MAX_PARAMETERS / 2 + 1)
        .map(|i| format!("X{i}=1&"))
        .collect();
    let mut both = p(&half);
    both.extend(p(&half));
    assert!(matches!(
        decode("DescribeInstances", &both),
        Err(Ec2Error::InvalidParameterValue(_))
    ));
}

/// spec wave2.md §3.3 (recommended): a repeated parameter is refused, never one of its
/// values silently picked.
#[test]
fn repeated_parameters_are_refused() {
    for q in [
        "InstanceId=i-1&InstanceId=i-2",
        "InstanceId=i-1&HttpTokens=required&HttpTokens=optional",
        "Action=ModifyInstanceMetadataOptions&Action=RunInstances&InstanceId=i-1",
    ] {
        assert!(
            matches!(
                decode("ModifyInstanceMetadataOptions", &p(q)),
                Err(Ec2Error::InvalidParameterValue(m)) if m.contains("more than once")
            ),
            "{q}"
        );
    }
}

fn filter_query(values: &[usize], len: usize) -> String {
    let mut q = String::new();
    for (f, n) in values.iter().enumerate() {
        q.push_str(&format!("Filter.{}.Name=tag:Name&", f + 1));
        for v in 1..=*n {
            q.push_str(&format!("Filter.{}.Value.{v}={}&", f + 1, "x".repeat(len)));
        }
    }
    q
}

/// spec wave2.md §3.5 cases 39–41, 44: refused at decoding, before any query is built.
#[test]
fn ec2_limits_on_filters_and_ids() {
    let code = |r: Result<Value, Ec2Error>| r.map(|_| ()).map_err(|e| code_and_status(&e).1);
    let ops = ["DescribeInstances", "DescribeTags", "DescribeImages"];
    for op in ops {
        assert_eq!(code(decode(op, &p(&filter_query(&[200], 3)))), Ok(()));
        assert_eq!(
            code(decode(op, &p(&filter_query(&[201], 3)))),
            Err("FilterLimitExceeded")
        );
        assert_eq!(
            code(decode(op, &p(&filter_query(&[100, 101], 3)))),
            Err("FilterLimitExceeded")
        );
        assert_eq!(code(decode(op, &p(&filter_query(&[1], 255)))), Ok(()));
        assert_eq!(
            code(decode(op, &p(&filter_query(&[1], 256)))),
            Err("FilterLimitExceeded")
        );
    }
    let ids = |n: usize| -> String {
        (1..=n)
            .map(|i| format!("InstanceId.{i}=i-{i:017x}&"))
            .collect()
    };
    assert_eq!(code(decode("DescribeInstances", &p(&ids(1000)))), Ok(()));
    assert_eq!(
        code(decode("DescribeInstances", &p(&ids(1001)))),
        Err("InvalidParameterValue")
    );
}

fn iam(op: &str, q: &str) -> Value {
    decode_query(super::super::shapes::iam(), op, &p(q))
}

/// The plain Query protocol of IAM and STS: `Name.member.N` lists of values and of
/// structures, read as IAM has always read them.
#[test]
fn plain_query_protocol() {
    let v = iam(
        "SimulateCustomPolicy",
        "Action=SimulateCustomPolicy&PolicyInputList.member.1=x&PolicyInputList.member.2=y&ContextEntries.member.1.ContextKeyName=k&ContextEntries.member.1.ContextKeyValues.member.1=v",
    );
    assert_eq!(v["PolicyInputList"], serde_json::json!(["x", "y"]));
    assert_eq!(
        v["ContextEntries"],
        serde_json::json!([{"ContextKeyName": "k", "ContextKeyValues": ["v"]}])
    );
    // Items are counted from 1 up to the first one missing.
    let v = iam(
        "SimulateCustomPolicy",
        "ActionNames.member.1=a&ActionNames.member.3=c&ActionNames.member.0=z",
    );
    assert_eq!(v["ActionNames"], serde_json::json!(["a"]));
    let v = iam("SimulateCustomPolicy", "ActionNames.member.2=b");
    assert_eq!(v["ActionNames"], serde_json::json!([]));
    // A structure item exists when one of its members is given.
    let v = iam(
        "CreateUser",
        "UserName=u&Tags.member.1.Key=k&Tags.member.2=x&Tags.member.3.Key=l",
    );
    assert_eq!(v["Tags"], serde_json::json!([{"Key": "k"}]));
}

/// IAM ignores what the operation does not take, reads a repeated parameter's first
/// value, and leaves required members to the typed input; nothing is refused.
#[test]
fn plain_query_protocol_is_lenient() {
    let v = iam(
        "GetRole",
        "RoleName=a&RoleName=b&Bogus=1&RoleName.x=2&Tags.member.1.Key=k&..=&A..B=1",
    );
    assert_eq!(v, serde_json::json!({"RoleName": "a"}));
    assert_eq!(iam("GetRole", ""), serde_json::json!({}));
    assert_eq!(iam("NoSuchAction", "RoleName=a"), serde_json::json!({}));
    let deep = vec!["a"; 15_000].join(".");
    assert_eq!(
        iam("GetRole", &format!("{deep}=1&RoleName=r")),
        serde_json::json!({"RoleName": "r"})
    );
    // Empty is present (IAM's checks on the value come later).
    assert_eq!(
        iam("GetRole", "RoleName="),
        serde_json::json!({"RoleName": ""})
    );
}

/// An integer is a number when written as one; otherwise its text goes on for the
/// dialect to quote.
#[test]
fn plain_query_integers() {
    let max = |q: &str| {
        let v = iam("CreateRole", q);
        serde_json::from_value::<Option<Integer>>(v["MaxSessionDuration"].clone()).unwrap()
    };
    assert_eq!(max("MaxSessionDuration=3600"), Some(Integer::Number(3600)));
    assert_eq!(max("MaxSessionDuration=-5"), Some(Integer::Number(-5)));
    for text in ["abc", "+3600", "03600", " 3600", "-0", ""] {
        let got = max(&format!("MaxSessionDuration={}", text.replace('+', "%2B")));
        assert_eq!(got, Some(Integer::Text(text.to_string())), "{text:?}");
        assert_eq!(got.unwrap().text(), text);
    }
    assert_eq!(max("RoleName=r"), None);
}

/// Maps of the plain Query protocol (no operation imds serves takes one yet).
#[test]
fn plain_query_maps() {
    let model: &'static Model = Box::leak(Box::new(super::super::shapes::load(
        r#"{"operations":{"Op":{"input":{"shape":"In"}}},"shapes":{
            "In":{"type":"structure","members":{"Attrs":{"shape":"M"},"Flat":{"shape":"F"}}},
            "M":{"type":"map","key":{"shape":"S"},"value":{"shape":"I"}},
            "F":{"type":"map","key":{"shape":"S","locationName":"Name"},"value":{"shape":"S","locationName":"Val"},"flattened":true},
            "S":{"type":"string"},"I":{"type":"integer"}}}"#,
    )));
    let v = decode_query(
        model,
        "Op",
        &p("Attrs.entry.1.key=a&Attrs.entry.1.value=1&Attrs.entry.2.key=b&Attrs.entry.2.value=x&Attrs.entry.4.key=d&Flat.1.Name=n&Flat.1.Val=v"),
    );
    assert_eq!(
        v,
        serde_json::json!({"Attrs": {"a": 1, "b": "x"}, "Flat": {"n": "v"}})
    );
}

#[test]
fn garbage_never_panics() {
    let mut seed = 0x1234_5678_u64;
    let alphabet = b"ab.=&%1Z_-0\xff\x00InstanceIdFilterValue";
    for _ in 0..2000 {
        let len = (seed % 64) as usize;
        let mut s = Vec::new();
        for _ in 0..len {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            s.push(alphabet[(seed >> 33) as usize % alphabet.len()]);
        }
        for op in [
            "DescribeInstances",
            "RunInstances",
            "ModifyInstanceMetadataOptions",
        ] {
            if let Ok(params) = Params::parse(&s) {
                let _ = decode(op, &params);
            }
        }
        if let Ok(params) = Params::parse(&s) {
            let _ = decode_query(super::super::shapes::iam(), "CreateRole", &params);
        }
    }
}
