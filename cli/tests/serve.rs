//! The binary against `kairoi-cli serve` started by the test: set, rule,
//! import, jobs printed as they fire, shell runners run with `--exec`,
//! the count of requests with `--report-every`, and Ctrl-C.

mod common;

use std::time::Duration;

use common::{
    Serve, TempDir, cli, code, recorded, recording_script, run, summary, text, wait_for,
    write_jsonl,
};

const LONG: Duration = Duration::from_secs(30);

#[test]
fn set_and_rule_and_the_job_fires() {
    let serve = Serve::start(&[]);
    let out = run(cli(&serve.addr).args(["rule", "all", "app.", "shell", "/bin/true"]));
    assert_eq!(code(&out), 0, "{:?}", text(&out));
    let out = run(cli(&serve.addr).args(["set", "app.now", "now"]));
    assert_eq!(code(&out), 0, "{:?}", text(&out));
    let line = serve.line_with("\"app.now\"", LONG);
    assert!(line.contains("rule \"all\", shell \"/bin/true\""), "{line}");
    let out = run(cli(&serve.addr).args(["set", "app.later", "+1d"]));
    assert_eq!(code(&out), 0);
}

#[test]
fn import_against_serve() {
    let serve = Serve::start(&[]);
    let dir = TempDir::new("serve-import");
    let file = dir.path("jobs.jsonl");
    write_jsonl(&file, "s.", 20_000, "2030-01-01 08:00:00");
    let out = run(cli(&serve.addr)
        .args(["import", "--connections", "2"])
        .arg(&file));
    assert_eq!(code(&out), 0, "{:?}", text(&out));
    assert!(summary(&text(&out).0).starts_with("20000 jobs: 20000 ok, 0 rejected"));
}

#[test]
fn report_every_counts_the_requests_received() {
    let serve = Serve::start(&["--report-every", "1000", "--json"]);
    let dir = TempDir::new("serve-report");
    let file = dir.path("jobs.jsonl");
    write_jsonl(&file, "r.", 3_000, "2030-01-01 08:00:00");
    let out = run(cli(&serve.addr).arg("import").arg(&file));
    assert_eq!(code(&out), 0, "{:?}", text(&out));
    // The count stops at 3,000: the last line reports it.
    let line = serve.line_with("\"received\":3000", LONG);
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["event"], "requests");
    assert!(event["connections_open"].is_u64(), "{line}");
}

#[test]
fn exec_runs_shell_rules_with_the_exact_job_id() {
    let serve = Serve::start(&["--exec", "--json"]);
    let dir = TempDir::new("serve-exec");
    let (script, got) = recording_script(&dir, "record job.sh");
    std::fs::write(dir.path("fail.sh"), "exit 7\n").unwrap();
    let rule = |name: &str, pattern: &str, path: &std::path::Path| {
        let out = run(cli(&serve.addr)
            .args(["rule", name, pattern, "shell"])
            .arg(path));
        assert_eq!(code(&out), 0, "{:?}", text(&out));
    };
    rule("record", "rec", &script);
    rule("fail", "fail.", &dir.path("fail.sh"));

    let job = "rec: it's \"a job\"\nwith  spaces ";
    let out = run(cli(&serve.addr).args(["set", job, "now"]));
    assert_eq!(code(&out), 0, "{:?}", text(&out));
    let received = recorded(&got, LONG);
    assert_eq!(received.as_deref(), Some(job.as_bytes()));
    let line = serve.line_with("\"executed\"", LONG);
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["job"], job);
    assert_eq!(event["exit_status"], 0);

    let out = run(cli(&serve.addr).args(["set", "fail.1", "now"]));
    assert_eq!(code(&out), 0);
    let line = serve.line_with("\"failed\"", LONG);
    let event: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        (event["job"].as_str(), event["exit_status"].as_i64()),
        (Some("fail.1"), Some(7))
    );
}

#[test]
fn ctrl_c_ends_it_and_closes_its_port() {
    use std::os::unix::process::ExitStatusExt;
    let mut serve = Serve::start(&[]);
    let pid = serve.child.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = wait_for(LONG, || serve.child.try_wait().unwrap()).expect("serve ended");
    assert_eq!(status.signal(), Some(2), "ended by SIGINT's default action");
    let out = run(cli(&serve.addr).args(["--connect-timeout", "2s", "set", "x", "now"]));
    assert_eq!(code(&out), 2, "nothing listens any more: {:?}", text(&out));
}
