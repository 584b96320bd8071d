//! `imds bench fleet` on a small fleet, as a user runs it (the debug build's binary): it names
//! every figure, and its figures are sane — the fleet it launched is the one it described and
//! modified, the server's memory was read, the restart was timed. No timing is asserted.

use std::process::{Command, Stdio};

const INSTANCES: usize = 2000;

#[test]
fn the_fleet_bench_names_every_figure_and_counts_what_it_launched() {
    let dir = std::env::temp_dir().join(format!("imds-bench-fleet-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let md = dir.join("fleet.md");
    let child = Command::new(env!("CARGO_BIN_EXE_imds"))
        .args(["bench", "fleet", "--instances", &INSTANCES.to_string()])
        .args(["--seconds", "1", "--pages", "3", "--write"])
        .arg(&md)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("imds runs");
    let workdir = std::env::temp_dir().join(format!("imds-bench-fleet-{}", child.id()));
    let out = child.wait_with_output().expect("imds ends");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for figure in [
        "launch, instances/s",
        "RSS per instance, steady",
        "RSS per instance, right after a restart",
        "filtered page p50, ms (server-side)",
        "filtered page p99, ms (server-side)",
        "restart, s",
        "Modify, changes/s",
        "moto: not measured",
    ] {
        assert!(
            stdout.contains(figure),
            "{figure:?} missing from:\n{stdout}"
        );
    }
    // --write appends the report and the figures' JSON line.
    assert_eq!(std::fs::read_to_string(&md).unwrap().trim(), stdout.trim());
    let jsonl = std::fs::read_to_string(dir.join("fleet.jsonl")).unwrap();
    let lines: Vec<&str> = jsonl.lines().collect();
    assert_eq!(lines.len(), 1);
    let f: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    let num = |k: &str| {
        f[k].as_f64()
            .unwrap_or_else(|| panic!("{k} is no number: {f}"))
    };
    assert_eq!(num("instances"), INSTANCES as f64);
    // Half the fleet was launched with HttpTokens=required; the store's first instance is not.
    assert_eq!(num("described"), (INSTANCES / 2) as f64);
    assert!(num("pages") >= 3.0);
    for k in [
        "launch_per_s",
        "rss_bytes_steady",
        "rss_bytes_restart",
        "rss_bytes_per_instance_steady",
        "rss_bytes_per_instance_restart",
        "page_p50_ms",
        "page_p99_ms",
        "restart_s",
        "start_s",
        "modify_per_s",
    ] {
        assert!(num(k) > 0.0 && num(k).is_finite(), "{k}: {f}");
    }
    assert!(num("page_p50_ms") <= num("page_p99_ms"));
    // A whole server's memory, not a page's: more than a megabyte, less than the machine.
    assert!(num("rss_bytes_steady") > 1e6 && num("rss_bytes_steady") < 64e9);
    assert_eq!(num("modify_errors"), 0.0);
    assert!(f["moto"].is_null());
    // The bench's own work dir is gone.
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        !workdir.exists(),
        "the bench left {} behind",
        workdir.display()
    );
}
