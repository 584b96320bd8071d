//! `imds bench nodes` on a small fleet, as a user runs it (the debug build's binary), against
//! the throw-away PostgreSQL the test command starts (`scripts/postgres`; its URL in
//! `IMDS_TEST_POSTGRES_URL`): it names every figure, and its figures are sane — both stores
//! launched the fleet and described its half, the propagation samples were all taken and
//! took time, its database and work dir are gone. No timing is asserted.

use std::process::{Command, Stdio};

const INSTANCES: usize = 500;
const SAMPLES: usize = 20;

/// The test's own directory, removed when the test ends (passed or not).
struct TestDir(std::path::PathBuf);

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The server's URL; without one the test is skipped, loudly, and under
/// `IMDS_REQUIRE_ALL=1` (as `.ci/run` sets) it fails instead.
fn server_url() -> Option<String> {
    match std::env::var("IMDS_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            let why = "SKIPPED: no PostgreSQL server for imds bench nodes (IMDS_TEST_POSTGRES_URL is unset; scripts/test starts one from the machine's binaries: apt-get install -y postgresql)";
            assert!(
                std::env::var("IMDS_REQUIRE_ALL").as_deref() != Ok("1"),
                "{why}, and IMDS_REQUIRE_ALL=1 makes a skip a failure"
            );
            eprintln!("{why}");
            None
        }
    }
}

#[test]
fn the_nodes_bench_names_every_figure_and_counts_its_samples() {
    let Some(url) = server_url() else { return };
    let dir = std::env::temp_dir().join(format!("imds-bench-nodes-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let dir = TestDir(dir);
    let md = dir.0.join("nodes.md");
    // A results log: --write appends to what it holds.
    std::fs::write(&md, "earlier results\n").unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_imds"))
        .args(["bench", "nodes", "--instances", &INSTANCES.to_string()])
        .args(["--seconds", "1", "--pages", "2"])
        .args(["--samples", &SAMPLES.to_string()])
        .args(["--database-url", &url, "--write"])
        .arg(&md)
        .env_remove("IMDS_BENCH_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("imds runs");
    let pid = child.id();
    let workdir = std::env::temp_dir().join(format!("imds-bench-nodes-{pid}"));
    let out = child.wait_with_output().expect("imds ends");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for figure in [
        "| figure | SQLite, one node | PostgreSQL, api + metadata host | PostgreSQL / SQLite |",
        "launch, instances/s",
        "filtered page p50, ms (server-side)",
        "filtered page p99, ms (server-side)",
        "filtered page p50, ms (client round trip)",
        "filtered page p99, ms (client round trip)",
        "Modify, changes/s",
        "propagation p50, ms (modify → enforced)",
        "propagation p99, ms (modify → enforced)",
        "--apply-delay 0s",
    ] {
        assert!(
            stdout.contains(figure),
            "{figure:?} missing from:\n{stdout}"
        );
    }
    assert!(stdout.contains(&format!("## imds bench nodes: {INSTANCES} instances")));
    // --write: the report appended, and the figures' JSON line beside it.
    assert_eq!(
        std::fs::read_to_string(&md).unwrap().trim(),
        format!("earlier results\n{}", stdout.trim())
    );
    let jsonl = std::fs::read_to_string(dir.0.join("nodes.jsonl")).unwrap();
    let lines: Vec<&str> = jsonl.lines().collect();
    assert_eq!(lines.len(), 1);
    let f: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(f["instances"].as_u64(), Some(INSTANCES as u64), "{f}");
    assert_eq!(f["samples"].as_u64(), Some(SAMPLES as u64), "{f}");
    assert_eq!(f["apply_delay_ms"].as_u64(), Some(0), "{f}");
    for store in ["sqlite", "postgres"] {
        let s = &f[store];
        let num = |k: &str| {
            s[k].as_f64()
                .unwrap_or_else(|| panic!("{store}.{k} is no number: {f}"))
        };
        // The launch's calls of 1,000 alternate HttpTokens required/optional, the first
        // required: 500 instances are one call, all required; the store's first instance is
        // not.
        assert_eq!(num("described"), INSTANCES as f64, "{store}: {f}");
        assert!(num("pages") >= 2.0, "{store}: {f}");
        assert_eq!(num("propagation_samples"), SAMPLES as f64, "{store}: {f}");
        // Every sample polled at least once.
        assert!(num("polls") >= SAMPLES as f64, "{store}: {f}");
        for k in [
            "launch_per_s",
            "page_p50_ms",
            "page_p99_ms",
            "page_client_p50_ms",
            "page_client_p99_ms",
            "modify_per_s",
            "propagation_p50_ms",
            "propagation_p99_ms",
            "propagation_max_ms",
            "poll_interval_ms",
        ] {
            assert!(num(k) > 0.0 && num(k).is_finite(), "{store}.{k}: {f}");
        }
        assert!(num("page_p50_ms") <= num("page_p99_ms"), "{store}: {f}");
        assert!(
            num("propagation_p50_ms") <= num("propagation_p99_ms")
                && num("propagation_p99_ms") <= num("propagation_max_ms"),
            "{store}: {f}"
        );
        assert_eq!(num("modify_errors"), 0.0, "{store}: {f}");
    }
    // The bench's own work dir is gone, and so is its database.
    assert!(
        !workdir.exists(),
        "the bench left {} behind",
        workdir.display()
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let left: bool = rt.block_on(async {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(format!("imds_bench_{pid}"))
            .fetch_one(&mut admin)
            .await
            .unwrap()
    });
    assert!(!left, "the bench left its database imds_bench_{pid} behind");
}
