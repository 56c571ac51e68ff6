//! What the binary shows of its client: `bench`'s latency percentiles
//! and its row per connection count, the log of `-v`, `-vv` and
//! `KAIROI_LOG` on stderr (and nothing more without them), and
//! `import`'s summary, whose counts are the client's stats snapshot and
//! equal the outcomes of the lines.

mod common;

use std::time::Duration;

use common::{TempDir, cli, code, run, summary, text};
use kairoi_std::Instruction;
use kairoi_test_server::{Clock, TestServer};
use serde_json::Value;

fn server() -> (TestServer, String) {
    let server = TestServer::builder().clock(Clock::Real).start().unwrap();
    let addr = server.addr().to_string();
    (server, addr)
}

/// The rows of bench's table: the lines that start with a number.
fn rows(stdout: &str) -> Vec<Vec<&str>> {
    stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|cells| cells.first().is_some_and(|c| c.parse::<u16>().is_ok()))
        .collect()
}

#[test]
fn bench_prints_the_percentiles_and_a_row_per_connection_count() {
    let (server, addr) = server();
    let out = run(cli(&addr).args(["bench", "--jobs", "2000", "--connections", "1,2,4"]));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stderr}");
    assert_eq!(stderr, "", "nothing on stderr without -v");
    let header = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("connections"))
        .unwrap_or_else(|| panic!("no header in {stdout}"));
    let titles: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        titles,
        [
            "connections",
            "seconds",
            "jobs/s",
            "p50",
            "ms",
            "p90",
            "ms",
            "p99",
            "ms",
            "p99.9",
            "ms",
            "max",
            "ms",
            "outcomes"
        ],
        "{stdout}"
    );
    let rows = rows(&stdout);
    assert_eq!(rows.len(), 3, "{stdout}");
    for (row, connections) in rows.iter().zip(["1", "2", "4"]) {
        assert_eq!(row[0], connections, "{stdout}");
        let numbers: Vec<f64> = row[1..8].iter().map(|c| c.parse().unwrap()).collect();
        assert!(numbers[0] > 0.0 && numbers[1] > 0.0, "{row:?}");
        // p50 <= p90 <= p99 <= p99.9 <= max.
        let latencies = &numbers[2..];
        assert!(latencies.windows(2).all(|w| w[0] <= w[1]), "{row:?}");
        assert!(latencies[4] > 0.0, "{row:?}");
        assert_eq!(row[8..], ["2000", "ok"], "{stdout}");
    }
    assert!(
        stdout
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("client protocol cost: ")),
        "{stdout}"
    );
    assert_eq!(server.job_count(), 2000, "the same jobs each time");

    // JSON: one object per row, with the percentiles in microseconds.
    let out = run(cli(&addr).args(["--json", "bench", "--jobs", "500", "--connections", "2,1"]));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stderr}");
    let objects: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    assert_eq!(objects.len(), 2, "{stdout}");
    for (object, connections) in objects.iter().zip([2u64, 1]) {
        assert_eq!(object["connections"], connections, "{object}");
        assert_eq!((&object["ok"], &object["jobs"]), (&500.into(), &500.into()));
        assert!(object["jobs_per_second"].as_f64() > Some(0.0), "{object}");
        assert!(object["client_ns_per_request"].as_f64() > Some(0.0));
        // The first connection is made at once, the others when the
        // batch needs them.
        let connects = object["connects"].as_u64().unwrap_or(0);
        assert!((1..=connections).contains(&connects), "{object}");
        let latency = &object["latency_us"];
        let values: Vec<u64> = ["p50", "p90", "p99", "p99_9", "max"]
            .iter()
            .map(|p| {
                latency[p]
                    .as_u64()
                    .unwrap_or_else(|| panic!("{p}: {object}"))
            })
            .collect();
        assert!(values.windows(2).all(|w| w[0] <= w[1]), "{object}");
        assert!(values[4] > 0, "{object}");
    }
}

#[test]
fn a_slow_server_shows_in_the_percentiles() {
    let (server, addr) = server();
    // One connection, window 1,024: each request waits at least 20 ms.
    server.faults().set_delay(Duration::from_millis(20));
    let out = run(cli(&addr).args(["--json", "bench", "--jobs", "200"]));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stderr}");
    let json: Value = serde_json::from_str(stdout.trim()).unwrap();
    let p50 = json["latency_us"]["p50"].as_u64().unwrap();
    assert!(p50 >= 20_000, "{json}");
}

#[test]
fn a_bad_list_of_connections_is_a_usage_error_naming_it() {
    for bad in ["0", "1,257", "1,x", "1,,2", ""] {
        let out = run(cli("127.0.0.1:1").args(["bench", "--connections", bad]));
        let (stdout, stderr) = text(&out);
        assert_eq!(code(&out), 64, "{bad:?}: {stderr}");
        assert!(
            stderr.contains("is not a number of connections from 1 to 256"),
            "{bad:?}: {stderr}"
        );
        assert_eq!(stdout, "");
    }
}

/// The log lines of stderr: those with a level.
fn log_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| {
            [" INFO ", " WARN ", " DEBUG ", " TRACE "]
                .iter()
                .any(|lvl| l.contains(lvl))
        })
        .collect()
}

#[test]
fn v_logs_connections_vv_each_request_and_nothing_without() {
    let (_server, addr) = server();
    let set = ["set", "app.logged", "2030-01-01 08:00:00"];
    let out = run(cli(&addr).args(set));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stderr}");
    assert_eq!(stderr, "", "nothing on stderr without -v");
    let quiet_stdout = stdout;

    let out = run(cli(&addr).arg("-v").args(set));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stderr}");
    assert_eq!(stdout, quiet_stdout, "stdout as without -v");
    let logged = log_lines(&stderr);
    assert!(
        logged
            .iter()
            .any(|l| l.contains(" INFO ") && l.ends_with("connected")),
        "{stderr}"
    );
    assert!(!stderr.contains("kairoi_request"), "{stderr}");

    for vv in [&["-vv"][..], &["-v", "-v"]] {
        let out = run(cli(&addr).args(vv).args(set));
        let (_, stderr) = text(&out);
        assert_eq!(code(&out), 0, "{stderr}");
        let request = log_lines(&stderr)
            .into_iter()
            .find(|l| l.contains("kairoi_request"))
            .unwrap_or_else(|| panic!("{vv:?}: no request line in {stderr}"));
        assert!(
            request.contains(" DEBUG ")
                && request.contains("operation=\"SET\"")
                && request.contains("outcome=\"ok\"")
                && request.contains("request ended"),
            "{request}"
        );
    }

    // KAIROI_LOG, alone: the same request lines.
    let out = run(cli(&addr)
        .env("KAIROI_LOG", "kairoi_client=debug")
        .args(set));
    let (_, stderr) = text(&out);
    assert!(stderr.contains("request ended"), "{stderr}");
    let out = run(cli(&addr)
        .env("KAIROI_LOG", "kairoi_client=chatty")
        .args(set));
    let (_, stderr) = text(&out);
    assert_eq!(code(&out), 64, "{stderr}");
    assert!(
        stderr.contains("bad KAIROI_LOG \"kairoi_client=chatty\""),
        "{stderr}"
    );

    // A server that cannot be reached: the failed attempt at warn.
    let out = run(cli("127.0.0.1:1").arg("-v").args(set));
    let (_, stderr) = text(&out);
    assert_eq!(code(&out), 2, "{stderr}");
    assert!(
        log_lines(&stderr)
            .iter()
            .any(|l| l.contains(" WARN ") && l.contains("connection attempt failed")),
        "{stderr}"
    );
}

#[test]
fn import_summary_counts_equal_the_outcomes_of_the_lines() {
    let (server, addr) = server();
    // Every job ending in 7 is rejected; every 50th line is bad.
    server
        .faults()
        .reject_when(|i| matches!(i, Instruction::Set { job, .. } if job.as_str().ends_with('7')));
    let dir = TempDir::new("observe-import");
    let file = dir.path("jobs.jsonl");
    const N: usize = 1_000;
    let lines: String = (0..N)
        .map(|n| match n % 50 {
            0 => format!("{{\"job\": \"o.{n}\", \"at\": \"whenever\"}}\n"),
            _ => format!("{{\"job\": \"o.{n}\", \"at\": \"2030-01-01 08:00:00\"}}\n"),
        })
        .collect();
    std::fs::write(&file, lines).unwrap();
    let (bad, rejected) = (
        N / 50,
        (0..N).filter(|n| n % 50 != 0 && n % 10 == 7).count(),
    );
    let ok = N - bad - rejected;

    let out = run(cli(&addr).args(["import", "--connections", "2"]).arg(&file));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 1, "{stderr}");
    assert!(
        summary(&stdout).starts_with(&format!(
            "{N} jobs: {ok} ok, {rejected} rejected, 0 not sent, 0 unknown, 0 timed out, {bad} bad input in "
        )),
        "{stdout}"
    );
    let connections = stdout.lines().nth(1).unwrap_or_default();
    let made = connections
        .strip_prefix("connections: ")
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse::<u64>().ok());
    assert!(matches!(made, Some(1..=2)), "{stdout}");
    assert!(
        connections.contains(" made, 0 failed attempts; ")
            && connections.contains(" written, ")
            && connections.ends_with(" read"),
        "{stdout}"
    );
    assert_eq!(server.job_count(), ok);

    // With --json: the failed lines' objects and the summary agree.
    let out = run(cli(&addr).args(["--json", "import"]).arg(&file));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 1, "{stderr}");
    let objects: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    let (last, failed) = objects.split_last().unwrap();
    let outcome = |word: &str| failed.iter().filter(|o| o["outcome"] == word).count();
    assert_eq!(failed.len(), bad + rejected, "{stdout}");
    assert_eq!(last["summary"], true, "{last}");
    assert_eq!(last["jobs"], N, "{last}");
    assert_eq!(last["ok"], ok, "{last}");
    assert_eq!(last["rejected"], outcome("rejected"), "{last}");
    assert_eq!(last["bad_input"], outcome("bad input"), "{last}");
    assert_eq!(last["connects"], 1, "{last}");
    assert_eq!(last["connect_failures"], 0, "{last}");
    assert!(last["bytes_written"].as_u64() > Some(0), "{last}");
    assert!(last["bytes_read"].as_u64() > Some(0), "{last}");
}

#[test]
fn import_summary_counts_equal_the_outcomes_when_the_connection_fails() {
    let (server, addr) = server();
    // The connection closes after 300 requests, every time: the rest
    // ends unknown or not sent, and the client connects again.
    server.faults().set_close_after(Some(300));
    let dir = TempDir::new("observe-lost");
    let file = dir.path("jobs.jsonl");
    common::write_jsonl(&file, "lost.", 2000, "2030-01-01 08:00:00");
    let out = run(cli(&addr)
        .args(["--json", "--timeout", "5s", "import"])
        .arg(&file));
    let (stdout, stderr) = text(&out);
    let objects: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    let (last, failed) = objects.split_last().unwrap();
    let count = |word: &str| failed.iter().filter(|o| o["outcome"] == word).count() as u64;
    let field = |name: &str| last[name].as_u64().unwrap_or(u64::MAX);
    assert_eq!(field("jobs"), 2000, "{last}");
    assert_eq!(field("unknown"), count("unknown"), "{last}");
    assert_eq!(field("not_sent"), count("not sent"), "{last}");
    assert_eq!(field("timed_out"), count("timed out"), "{last}");
    assert_eq!(field("ok") + failed.len() as u64, 2000, "{last}");
    assert!(field("unknown") + field("not_sent") > 0, "{last}");
    assert!(field("ok") >= 300, "{last}");
    let expected = if field("unknown") > 0 { 3 } else { 2 };
    assert_eq!(code(&out), expected, "{stderr}");
}
