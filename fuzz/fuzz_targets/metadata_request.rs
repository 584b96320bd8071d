//! The metadata service's request path: method, path and headers to a reply, for a served
//! instance built as the metadata crate's unit tests build one (model's `test-support`
//! sample), under each kind of metadata options.
//!
//! Input: the first byte picks the instance (see `fixtures`), the rest is a request in a plain
//! text form of `imds_fuzz::TextRequest` (no body). A token header whose value is
//! `VALID` or `EXPIRED` is replaced by such a token for the instance, so the IMDSv2 paths are
//! reachable (a fuzzer cannot forge the token's MAC).
#![no_main]

use bytes::Bytes;
use imds_fuzz::TextRequest;
use libfuzzer_sys::fuzz_target;
use metadata::counters::Counters;
use metadata::rendered::Rendered;
use metadata::service::{answer_rendered, CredentialRequest, Request, TOKEN_HEADER};
use metadata::token::TokenKey;
use metadata::view::InstanceView;
use model::instance::IamProfileRef;
use model::tags::Tag;
use model::{HopLimit, HttpEndpoint, HttpProtocolIpv6, HttpTokens, InstanceMetadataTags};
use std::sync::OnceLock;

/// 2026-11-22T18:03:18Z: "now" for every request.
const NOW_MS: i64 = 1_795_370_598_000;

fn served(rich: bool, options: model::MetadataOptions) -> Rendered {
    let mut i = model::testing::instance("t3.micro");
    i.launch_time_ms = NOW_MS - 3_600_000;
    if rich {
        i.key_name = Some("my-key".into());
        i.security_groups = vec![("sg-1".into(), "default".into())];
        i.tags = vec![
            Tag {
                key: "Name".into(),
                value: "web".into(),
            },
            Tag {
                key: "a/b c".into(),
                value: "x\ny".into(),
            },
        ];
        i.iam_instance_profile = Some(IamProfileRef {
            arn: "arn:aws:iam::123456789012:instance-profile/web".into(),
            id: "AIPAEXAMPLE".into(),
            role: Some("web-role".into()),
        });
        i.user_data = Some("#!/bin/sh\necho hi\n".into());
    }
    let mut view = InstanceView::of(&i);
    view.options = options;
    Rendered::new(view)
}

/// Built once: the instance under the options that change what the service answers.
fn fixtures() -> &'static (Vec<Rendered>, TokenKey) {
    static F: OnceLock<(Vec<Rendered>, TokenKey)> = OnceLock::new();
    F.get_or_init(|| {
        let built_in = model::MetadataOptions::BUILT_IN;
        let all = vec![
            served(true, built_in),
            served(
                true,
                model::MetadataOptions {
                    http_tokens: HttpTokens::Required,
                    ..built_in
                },
            ),
            served(
                true,
                model::MetadataOptions {
                    instance_metadata_tags: InstanceMetadataTags::Enabled,
                    ..built_in
                },
            ),
            served(false, built_in),
            served(
                true,
                model::MetadataOptions {
                    http_endpoint: HttpEndpoint::Disabled,
                    ..built_in
                },
            ),
            served(
                true,
                model::MetadataOptions {
                    http_tokens: HttpTokens::Required,
                    hop_limit: HopLimit::new(64).unwrap(),
                    http_endpoint: HttpEndpoint::Enabled,
                    http_protocol_ipv6: HttpProtocolIpv6::Enabled,
                    instance_metadata_tags: InstanceMetadataTags::Enabled,
                },
            ),
        ];
        (all, TokenKey::random())
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let (all, key) = fixtures();
    let served = &all[usize::from(pick) % all.len()];
    let text = String::from_utf8_lossy(rest);
    let TextRequest {
        method,
        target: path,
        headers,
        ..
    } = TextRequest::parse(&text, "GET");
    let now_s = (NOW_MS / 1000) as u64;
    let boot = served.view.launch_time_ms;
    // The server hands the service lowercase names and trimmed values.
    let headers: Vec<(String, String)> = headers
        .into_iter()
        .map(|(n, v)| {
            let (n, mut v) = (n.trim().to_ascii_lowercase(), v.trim().to_string());
            if n == TOKEN_HEADER && v == "VALID" {
                v = key.issue(&served.view.instance_id, boot, now_s, 21_600);
            } else if n == TOKEN_HEADER && v == "EXPIRED" {
                v = key.issue(&served.view.instance_id, boot, now_s - 100, 60);
            }
            (n, v)
        })
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let req = Request {
        method,
        path,
        header: &header,
    };
    let creds = |r: CredentialRequest<'_>| match r {
        CredentialRequest::Role { name, .. } => {
            Bytes::from(format!("{{\"Code\":\"Success\",\"Role\":\"{name}\"}}"))
        }
        _ => Bytes::from_static(b"{\"Code\":\"Success\"}"),
    };
    let signatures = |_: &Rendered| {
        (
            Bytes::from_static(b"c2lnbmF0dXJl"),
            Bytes::from_static(b"cGtjczc="),
        )
    };
    let counters = Counters::default();
    let reply = answer_rendered(&req, served, &counters, key, NOW_MS, &creds, &signatures);
    // The service answers a client's mistakes with 4xx, never 5xx.
    assert!(
        matches!(reply.status, 200 | 301 | 400 | 401 | 403 | 404 | 405),
        "{method} {path}: {}",
        reply.status
    );
});
