//! The binary against a `TestServer` in the test process: each outcome
//! and its exit code, rules, and imports (large, with bad lines, CSV,
//! from stdin, over a failing connection).

mod common;

use std::time::Duration;

use common::{TempDir, cli, code, run, summary, text, write_jsonl};
use kairoi_std::{Instruction, Runner};
use kairoi_test_server::{Clock, JobStatus, TestServer};

fn server() -> (TestServer, String) {
    let server = TestServer::builder().clock(Clock::Real).start().unwrap();
    let addr = server.addr().to_string();
    (server, addr)
}

#[test]
fn set_prints_the_wire_body_and_exits_with_its_outcome() {
    let (server, addr) = server();
    let out = run(cli(&addr).args(["set", "app \"x\"", "2030-01-01T09:00:00+01:00"]));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stderr}");
    assert_eq!(
        stdout,
        "SET \"app \\\"x\\\"\" \"2030-01-01 08:00:00\" => ok\n"
    );
    let job = server.job("app \"x\"").unwrap();
    assert_eq!(job.execution.to_string(), "2030-01-01 08:00:00");

    // Rejected: the server answers ERROR.
    server
        .faults()
        .reject_when(|i| matches!(i, Instruction::Set { job, .. } if job == "no"));
    let out = run(cli(&addr).args(["set", "no", "+1d"]));
    assert_eq!(code(&out), 1);
    assert!(text(&out).1.contains("=> rejected: "), "{:?}", text(&out));
    server.faults().clear();

    // Timed out: no answer within --timeout.
    server.faults().set_delay(Duration::from_secs(5));
    let out = run(cli(&addr).args(["--timeout", "300ms", "set", "slow", "+1d"]));
    assert_eq!(code(&out), 4, "{:?}", text(&out));
    assert!(text(&out).1.contains("may or may not have been applied"));
    server.faults().clear();

    // Unknown: written, then the connection closed without an answer.
    server.faults().set_close_without_answer(true);
    let out = run(cli(&addr).args(["set", "lost", "+1d"]));
    assert_eq!(code(&out), 3, "{:?}", text(&out));
    assert!(text(&out).1.contains("=> unknown: "));
    server.faults().clear();

    // Bad input: nothing is sent.
    let before = server.requests_received();
    let out = run(cli(&addr).args(["set", "x", "2030-13-01 00:00:00"]));
    assert_eq!(code(&out), 64);
    assert!(
        text(&out)
            .1
            .contains("bad time \"2030-13-01 00:00:00\": month 13"),
        "{:?}",
        text(&out)
    );
    let out = run(cli(&addr).args(["set", &"y".repeat(70_000), "now"]));
    assert_eq!(code(&out), 64, "{:?}", text(&out));
    assert_eq!(server.requests_received(), before);
}

#[test]
fn a_server_that_is_down_means_not_sent() {
    let addr = {
        let (_server, addr) = server();
        addr
    };
    let out = run(cli(&addr).args(["--json", "set", "x", "now"]));
    assert_eq!(code(&out), 2);
    let (stdout, stderr) = text(&out);
    assert!(stderr.contains("nothing was sent"), "{stderr}");
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(json["exit_code"], 2);
}

#[test]
fn rules_with_both_runners_and_json_output() {
    let (server, addr) = server();
    let out = run(cli(&addr).args(["rule", "mail", "app.mail.", "shell", "/bin/send mail"]));
    assert_eq!(code(&out), 0, "{:?}", text(&out));
    assert_eq!(
        text(&out).0,
        "RULE SET mail app.mail. shell \"/bin/send mail\" => ok\n"
    );
    let out = run(cli(&addr).args([
        "--json",
        "rule",
        "ev",
        "",
        "amqp",
        "amqp://g:g@h:5672/v",
        "jobs",
        "app.ev",
    ]));
    assert_eq!(code(&out), 0);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["outcome"], "ok");
    assert_eq!(
        json["wire"],
        "RULE SET ev \"\" amqp amqp://g:g@h:5672/v jobs app.ev"
    );
    let rules = server.rules();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[1].runner, Runner::shell("/bin/send mail"));
    assert_eq!(
        rules[0].runner,
        Runner::amqp("amqp://g:g@h:5672/v", "jobs", "app.ev")
    );
}

#[test]
fn import_of_100_000_json_lines_all_ok() {
    let (server, addr) = server();
    let dir = TempDir::new("import-100k");
    let file = dir.path("jobs.jsonl");
    write_jsonl(&file, "big.", 100_000, "2030-01-01 08:00:00");
    let out = run(cli(&addr).args(["import", "--connections", "2"]).arg(&file));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stderr}");
    assert!(
        stderr.is_empty(),
        "no progress bar and no failure off a terminal: {stderr:?}"
    );
    assert!(
        summary(&stdout).starts_with(
            "100000 jobs: 100000 ok, 0 rejected, 0 not sent, 0 unknown, 0 timed out, 0 bad input"
        ),
        "{stdout}"
    );
    assert_eq!(server.job_count(), 100_000);
}

#[test]
fn bad_lines_are_reported_with_their_numbers_and_not_sent() {
    let (server, addr) = server();
    server.faults().reject_when(
        |i| matches!(i, Instruction::Set { job, .. } if job.as_str().starts_with("flaky")),
    );
    let dir = TempDir::new("import-bad");
    let file = dir.path("jobs.jsonl");
    let lines = [
        r#"{"job": "a", "at": "+1d"}"#,
        r#"{"job": "b", "at": "tomorrow"}"#,
        "",
        r#"not json"#,
        r#"{"job": "flaky.1", "at": "2030-01-01 08:00:00"}"#,
        r#"{"job": "c", "at": "2030-02-30 00:00:00"}"#,
        r#"{"job": "d", "at": "now", "extra": 1}"#,
        r#"{"job": "e\n\"f\"", "at": "2030-01-01T08:00:00Z"}"#,
    ];
    // Line 9: an identifier longer than a message may be.
    let long = format!(r#"{{"job": "{}", "at": "now"}}"#, "x".repeat(70_000));
    std::fs::write(&file, lines.join("\n") + "\n" + &long + "\n").unwrap();
    let failed = dir.path("failed.jsonl");
    let out = run(cli(&addr)
        .args(["import", "--connections", "3"])
        .arg(&file)
        .arg("--failed")
        .arg(&failed));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 1, "the worst outcome is a rejection: {stderr}");
    let reported: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("line ")?.split(':').next())
        .collect();
    let mut sorted = reported.clone();
    sorted.sort_by_key(|n| n.parse::<u32>().unwrap());
    assert_eq!(sorted, ["2", "4", "5", "6", "7", "9"], "{stderr}");
    assert!(
        stderr.contains("line 2: bad time \"tomorrow\": expected"),
        "{stderr}"
    );
    assert!(stderr.contains("line 4: invalid JSON"), "{stderr}");
    assert!(
        stderr.contains("line 6: bad time \"2030-02-30 00:00:00\": day 30"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 7: invalid JSON (unknown field `extra`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("line 5: job \"flaky.1\": rejected"),
        "{stderr}"
    );
    assert!(
        summary(&stdout).starts_with(
            "8 jobs: 2 ok, 1 rejected, 0 not sent, 0 unknown, 0 timed out, 5 bad input"
        )
    );
    assert!(
        stderr.contains("line 9: job \"xxxx") && stderr.contains("cannot be sent: "),
        "{stderr}"
    );
    assert_eq!(server.job_count(), 2);
    assert_eq!(server.job("e\n\"f\"").unwrap().status, JobStatus::Planned);

    // The failed lines, as they were: fixing the bad ones and importing
    // the file again, once the server accepts `flaky`, sets them all.
    let written = std::fs::read_to_string(&failed).unwrap();
    let mut kept: Vec<&str> = written.lines().collect();
    kept.sort_unstable();
    let mut expected = [lines[1], lines[3], lines[4], lines[5], lines[6], &long];
    expected.sort_unstable();
    assert_eq!(kept, expected);
    server.faults().clear();
    let retry = written
        .replace("tomorrow", "+1d")
        .replace("not json", r#"{"job": "g", "at": "now"}"#)
        .replace("02-30", "02-28")
        .replace(", \"extra\": 1", "")
        .lines()
        .filter(|l| l.len() < 1000)
        .map(|l| format!("{l}\n"))
        .collect::<String>();
    std::fs::write(&failed, retry).unwrap();
    let out = run(cli(&addr).arg("import").arg(&failed));
    assert_eq!(code(&out), 0, "{:?}", text(&out));
    assert!(summary(&text(&out).0).starts_with("5 jobs: 5 ok, 0 rejected"));
    assert_eq!(server.job_count(), 7);
}

#[test]
fn csv_from_stdin_and_its_failed_lines_imported_again() {
    let (server, addr) = server();
    server.faults().reject_every(2);
    let dir = TempDir::new("import-csv");
    let failed = dir.path("failed.csv");
    let mut csv = String::from("job,at\n");
    for n in 0..10 {
        csv.push_str(&format!("\"job, {n} \"\"quoted\"\"\",+{n}h\n"));
    }
    let mut child = cli(&addr)
        .args(["import", "-", "--failed"])
        .arg(&failed)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(csv.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(code(&out), 1, "{:?}", text(&out));
    assert!(summary(&text(&out).0).starts_with("10 jobs: 5 ok, 5 rejected"));
    server.faults().clear();
    let written = std::fs::read_to_string(&failed).unwrap();
    assert!(written.starts_with("job,at\n"), "{written}");
    let out = run(cli(&addr).arg("import").arg(&failed));
    assert_eq!(code(&out), 0, "{:?}", text(&out));
    assert!(summary(&text(&out).0).starts_with("5 jobs: 5 ok"));
    assert_eq!(server.job_count(), 10);
    assert!(server.job("job, 3 \"quoted\"").is_some());
}

#[test]
fn a_connection_lost_mid_import_says_what_may_have_been_applied() {
    let (server, addr) = server();
    server.faults().set_close_after(Some(500));
    let dir = TempDir::new("import-lost");
    let file = dir.path("jobs.jsonl");
    write_jsonl(&file, "lost.", 3000, "2030-01-01 08:00:00");
    let out = run(cli(&addr).args(["--json", "import"]).arg(&file));
    let (stdout, stderr) = text(&out);
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(last["jobs"], 3000);
    let (ok, unknown, not_sent) = (
        last["ok"].as_u64().unwrap(),
        last["unknown"].as_u64().unwrap(),
        last["not_sent"].as_u64().unwrap(),
    );
    assert_eq!(ok + unknown + not_sent, 3000, "{last}");
    assert!(ok >= 500 && unknown + not_sent > 0, "{last}");
    assert_eq!(code(&out), if unknown > 0 { 3 } else { 2 });
    if unknown > 0 {
        assert!(
            stderr.contains(&format!("{unknown} job"))
                && stderr.contains("may or may not have been applied"),
            "{stderr}"
        );
    }
    // One JSON object per failed line, then the summary.
    assert_eq!(stdout.lines().count() as u64, unknown + not_sent + 1);
}

#[test]
fn help_shows_the_exit_codes_and_usage_errors_exit_64() {
    let out = run(std::process::Command::new(common::BIN).arg("--help"));
    assert_eq!(code(&out), 0);
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("Exit codes:") && stdout.contains("64  bad input"),
        "{stdout}"
    );
    assert!(stdout.contains("kairoi-cli import jobs.jsonl"), "{stdout}");
    let out = run(std::process::Command::new(common::BIN).args(["set", "only-a-job"]));
    assert_eq!(code(&out), 64, "{:?}", text(&out));
    let out = run(cli("127.0.0.1:1").args(["import", "/nonexistent/jobs.jsonl"]));
    assert_eq!(code(&out), 74, "{:?}", text(&out));
    assert!(text(&out).1.contains("cannot open /nonexistent/jobs.jsonl"));
}

#[test]
fn bench_reports_throughput_and_the_client_cost() {
    let (server, addr) = server();
    let out = run(cli(&addr).args(["bench", "--jobs", "3000", "--connections", "2"]));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stderr}");
    assert!(
        stdout.starts_with(&format!("bench: 3000 SET per batch to {addr};")),
        "{stdout}"
    );
    assert!(stdout.contains("ns per request"), "{stdout}");
    assert_eq!(server.job_count(), 3000);
    let out = run(cli(&addr).args(["--json", "bench", "--jobs", "100"]));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["ok"], 100);
    assert!(json["client_ns_per_request"].as_f64().unwrap() > 0.0);
}

#[test]
fn a_line_longer_than_16_mib_ends_the_import_with_its_line_number() {
    let (server, addr) = server();
    let dir = TempDir::new("import-long-line");
    let file = dir.path("jobs.jsonl");
    let mut content = String::from(
        "{\"job\": \"long.1\", \"at\": \"2030-01-01 08:00:00\"}\n\
         {\"job\": \"long.2\", \"at\": \"2030-01-01 08:00:00\"}\n",
    );
    // No line feed for 17 MiB: memory stays bounded, the import stops.
    content.push_str(&"x".repeat(17 << 20));
    std::fs::write(&file, content).unwrap();
    let out = run(cli(&addr).args(["import"]).arg(&file));
    let (_, stderr) = text(&out);
    assert_eq!(code(&out), 74, "{stderr}");
    assert!(
        stderr.contains("line 3") && stderr.contains("longer than 16777216 bytes"),
        "{stderr}"
    );
    assert!(server.job("long.1").is_some() && server.job("long.2").is_some());
}
