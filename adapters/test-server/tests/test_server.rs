//! The TestServer's Kairoi semantics, over real loopback connections.

mod common;

use std::time::{Duration, Instant};

use common::{Kcp, Raw, at};
use kairoi_proto::{Config, Outcome, Runner};
use kairoi_test_server::{Clock, JobStatus, RunOutcome, ShellRunners, TestServer};

fn manual(start: &str) -> TestServer {
    TestServer::builder()
        .clock(Clock::Manual(at(start)))
        .start()
        .expect("server starts")
}

#[test]
fn jobs_fire_against_the_longest_matching_rule() {
    let server = manual("2030-01-01 00:00:00");
    let mut client = Kcp::connect(server.addr());
    client.set_rule("all", "", Runner::shell("all.sh")).unwrap();
    client
        .set_rule("app", "app.", Runner::shell("app.sh"))
        .unwrap();
    client
        .set_rule(
            "mail",
            "app.mail.",
            Runner::amqp("amqp://u:p@h:5672/v", "x", "k"),
        )
        .unwrap();
    let when = at("2030-01-01 00:01:00");
    for job in ["app.mail.1", "app.sms.1", "misc"] {
        client.set_job(job, when).unwrap();
    }
    assert_eq!(server.rules().len(), 3);
    assert!(server.executions().is_empty());
    assert_eq!(server.job("misc").unwrap().status, JobStatus::Planned);

    server.advance(Duration::from_secs(59));
    assert!(server.executions().is_empty(), "not due yet");
    server.advance(Duration::from_secs(1));
    let log = server.executions();
    let fired: Vec<(&str, &str)> = log
        .iter()
        .map(|e| (e.job.as_str(), e.rule.as_str()))
        .collect();
    assert_eq!(
        fired,
        [
            ("app.mail.1", "mail"),
            ("app.sms.1", "app"),
            ("misc", "all")
        ]
    );
    assert_eq!(log[0].runner, Runner::amqp("amqp://u:p@h:5672/v", "x", "k"));
    assert_eq!(log[0].scheduled, when);
    assert_eq!(log[0].fired_at, when);
    assert!(
        server
            .jobs()
            .iter()
            .all(|j| j.status == JobStatus::Executed)
    );
}

#[test]
fn a_due_job_with_no_rule_fails_and_is_not_logged() {
    let server = manual("2030-01-01 00:00:00");
    let mut client = Kcp::connect(server.addr());
    client.set_rule("r", "app.", Runner::shell("x")).unwrap();
    client
        .set_job("other.1", at("2029-12-31 00:00:00"))
        .unwrap();
    // A time already past fires at once, before the OK is written.
    assert_eq!(server.job("other.1").unwrap().status, JobStatus::Failed);
    assert!(server.executions().is_empty());
    // Setting it again plans it again.
    client
        .set_job("other.1", at("2030-02-01 00:00:00"))
        .unwrap();
    assert_eq!(server.job("other.1").unwrap().status, JobStatus::Planned);
}

#[test]
fn set_on_a_triggered_job_is_rejected_until_its_run_ends() {
    let server = manual("2030-01-01 00:00:00");
    server.set_run_outcome(|e| {
        if e.job.starts_with("slow.") {
            RunOutcome::Triggered
        } else {
            RunOutcome::Failed
        }
    });
    let mut client = Kcp::connect(server.addr());
    client.set_rule("r", "", Runner::shell("x")).unwrap();
    let now = server.now();
    client.set_job("slow.1", now).unwrap();
    client.set_job("quick.1", now).unwrap();
    assert_eq!(server.job("slow.1").unwrap().status, JobStatus::Triggered);
    assert_eq!(server.job("quick.1").unwrap().status, JobStatus::Failed);

    let err = client
        .set_job("slow.1", at("2031-01-01 00:00:00"))
        .unwrap_err();
    assert_eq!(err, Outcome::Rejected);
    assert_eq!(server.job("slow.1").unwrap().execution, now, "not moved");

    assert!(server.complete("slow.1", RunOutcome::Executed));
    assert_eq!(server.job("slow.1").unwrap().status, JobStatus::Executed);
    client.set_job("slow.1", at("2031-01-01 00:00:00")).unwrap();
    assert_eq!(server.job("slow.1").unwrap().status, JobStatus::Planned);
    // A failed job can be set again too.
    client
        .set_job("quick.1", at("2031-01-01 00:00:00"))
        .unwrap();
    assert_eq!(server.job("quick.1").unwrap().status, JobStatus::Planned);
}

#[test]
fn the_manual_clock_fires_rescheduled_jobs_at_their_new_time() {
    let server = manual("2030-01-01 00:00:00");
    let mut client = Kcp::connect(server.addr());
    client.set_rule("r", "", Runner::shell("x")).unwrap();
    client.set_job("a", at("2030-01-01 00:00:10")).unwrap();
    client.set_job("a", at("2030-01-01 00:00:30")).unwrap();
    server.set_now(at("2030-01-01 00:00:20"));
    assert!(server.executions().is_empty(), "moved to a later time");
    server.set_now(at("2030-01-01 00:00:30"));
    let run = server
        .wait_for_execution("a", Duration::ZERO)
        .expect("fired");
    assert_eq!(run.scheduled, at("2030-01-01 00:00:30"));
    // Executed jobs run again when set again.
    client.set_job("a", at("2030-01-01 00:00:31")).unwrap();
    server.advance(Duration::from_secs(1));
    assert_eq!(server.executions().len(), 2);
}

#[test]
fn the_real_clock_fires_jobs_on_its_own() {
    let server = TestServer::start().unwrap();
    let mut client = Kcp::connect(server.addr());
    client.set_rule("r", "", Runner::shell("x")).unwrap();
    let soon = server.now().checked_add_seconds(1).unwrap();
    client.set_job("soon", soon).unwrap();
    let run = server
        .wait_for_execution("soon", Duration::from_secs(10))
        .expect("fired within 10 s");
    assert_eq!(run.scheduled, soon);
    assert!(run.fired_at >= soon);
    // A shifted real clock fires far-future jobs too.
    client.set_job("later", at("2100-01-01 00:00:00")).unwrap();
    server.set_now(at("2100-01-01 00:00:00"));
    assert!(server.wait_for_status("later", JobStatus::Executed, Duration::from_secs(5)));
}

#[test]
fn wait_for_execution_times_out_on_a_job_that_does_not_fire() {
    let server = manual("2030-01-01 00:00:00");
    let start = Instant::now();
    assert!(
        server
            .wait_for_execution("never", Duration::from_millis(50))
            .is_none()
    );
    assert!(start.elapsed() >= Duration::from_millis(50));
    assert_eq!(server.wait_for_executions(1, Duration::from_millis(10)), []);
}

#[test]
fn any_job_identifier_round_trips() {
    let server = manual("2030-01-01 00:00:00");
    let mut client = Kcp::connect(server.addr());
    let odd = [
        "",
        "with space",
        "quote \" and \\ backslash",
        "line\nfeed",
        "😱",
    ];
    for id in odd {
        client.set_job(id, at("2031-01-01 00:00:00")).unwrap();
    }
    let held: Vec<String> = server.jobs().into_iter().map(|j| j.id).collect();
    let mut expected: Vec<String> = odd.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(held, expected);
}

#[test]
fn invalid_bodies_are_answered_before_earlier_valid_requests() {
    let server = manual("2030-01-01 00:00:00");
    let mut raw = Raw::connect(server.addr());
    raw.send(
        b"a SET job \"2030-01-01 00:00:00\"\nb SET job 2030-13-01\nc NOPE x\n\
          d RULE SET r \"\" shell x\ne RULE SET r p SHELL x\n",
    );
    let (text, ended) = raw.read_lines(5);
    assert!(!ended, "{text:?}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines, ["b ERROR", "c ERROR", "e ERROR", "a OK", "d OK"]);
    assert_eq!(server.requests_received(), 5);
    assert_eq!(server.rules().len(), 1);
}

#[test]
fn a_malformed_request_closes_the_connection_without_any_answer() {
    let server = manual("2030-01-01 00:00:00");
    let mut raw = Raw::connect(server.addr());
    raw.send(b"a SET job \"2030-01-01 00:00:00\"\nb \"bad \\x escape\"\n");
    let (text, ended) = raw.read_lines(1);
    assert!(ended);
    assert_eq!(text, "", "no answer at all");
    // The valid request before it is applied at the next tick, as the
    // reference server's database applies it after the connection's
    // thread died. Due at once and matching no rule, it fails.
    assert!(server.wait_for_status("job", JobStatus::Failed, Duration::from_secs(5)));
    // The server itself keeps serving.
    let mut client = Kcp::connect(server.addr());
    client.set_job("x", at("2031-01-01 00:00:00")).unwrap();
}

#[test]
fn a_malformed_request_drops_the_delayed_answer_of_a_request_read_before() {
    let server = TestServer::start().unwrap();
    server.faults().set_delay(Duration::from_millis(100));
    let mut raw = Raw::connect(server.addr());
    // A valid request, then one that can never parse: nothing is answered,
    // not even the valid request already read.
    raw.send(b"1 SET a \"2031-01-01 00:00:00\"\n");
    std::thread::sleep(Duration::from_millis(20));
    raw.send(b"2\n");
    let (text, ended) = raw.read_lines(1);
    assert!(ended);
    assert_eq!(text, "");
    // It was applied, though: the answer is what got lost.
    assert!(server.job("a").is_some());
}

#[test]
fn counters_count_connections_and_requests() {
    let server = TestServer::start().unwrap();
    assert_eq!(server.connections_accepted(), 0);
    let batch = common::jobs("j", 10);
    for _ in 0..3 {
        let mut client = Kcp::connect(server.addr());
        assert!(client.execute_all(&batch).iter().all(Outcome::is_ok));
    }
    assert_eq!(server.connections_accepted(), 3);
    assert_eq!(server.requests_received(), 30);
    assert!(server.wait_for_open_connections(0, Duration::from_secs(5)));
    assert_eq!(server.job_count(), 10);
}

#[test]
fn per_request_cost_serves_each_connection_one_request_at_a_time() {
    let cost = Duration::from_millis(20);
    let server = TestServer::builder()
        .per_request_cost(cost)
        .start()
        .unwrap();
    let mut client = Kcp::connect(server.addr());
    let start = Instant::now();
    let results = client.execute_all(&common::jobs("j", 5));
    assert!(results.iter().all(Outcome::is_ok));
    assert!(start.elapsed() >= cost * 5, "{:?}", start.elapsed());
}

#[test]
fn dropping_the_server_closes_open_connections_without_hanging() {
    let server = TestServer::start().unwrap();
    let addr = server.addr();
    let mut client = Kcp::connect(addr);
    client.set_job("a", at("2031-01-01 00:00:00")).unwrap();
    let mut idle = Raw::connect(addr);
    server.faults().set_stop_reading(true);
    let start = Instant::now();
    drop(server);
    assert!(start.elapsed() < Duration::from_secs(5));
    let (_, ended) = idle.read_lines(1);
    assert!(ended);
    let err = client.set_job("b", at("2031-01-01 00:00:00")).unwrap_err();
    assert!(
        matches!(err, Outcome::NotSent | Outcome::Unknown),
        "{err:?}"
    );
}

/// Reading stops while a connection waits in a read: what the client sends
/// next is neither applied nor answered until reading resumes, and then it
/// is, as if it had been read then.
#[test]
fn stop_reading_keeps_what_a_waiting_read_takes_unseen_until_it_resumes() {
    let server = TestServer::start().unwrap();
    let mut raw = Raw::connect(server.addr());
    raw.send(b"0 SET first \"2099-01-01 00:00:00\"\n");
    assert_eq!(raw.read_lines(1), ("0 OK\n".to_owned(), false));
    // Answered: the connection now waits in a read.
    server.faults().set_stop_reading(true);
    raw.send(b"1 SET second \"2099-01-01 00:00:00\"\n2 SET\n");
    // Many ticks (1/128 s each) pass: no answer comes.
    raw.0
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let err = std::io::Read::read(&mut raw.0, &mut [0u8; 64]).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{err:?}"
    );
    assert_eq!(server.requests_received(), 1);
    assert!(server.job("second").is_none());
    // Reading resumes: the invalid body is answered at once, the valid one
    // at the tick.
    raw.0
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    server.faults().set_stop_reading(false);
    assert_eq!(raw.read_lines(2), ("2 ERROR\n1 OK\n".to_owned(), false));
    assert!(server.job("second").is_some());
}

#[test]
fn unknown_instructions_and_wrong_arity_are_rejected() {
    let server = TestServer::start().unwrap();
    let mut raw = Raw::connect(server.addr());
    raw.send(b"1 UNSET r\n2 SET onlyone\n");
    let (text, _) = raw.read_lines(2);
    assert_eq!(text, "1 ERROR\n2 ERROR\n");
}

#[test]
fn messages_longer_than_the_read_ahead_still_arrive_with_a_larger_limit() {
    let config = Config::default().with_max_message_len(2 << 20);
    let server = TestServer::builder().config(config).start().unwrap();
    let mut client = Kcp::with_config(server.addr(), config);
    // A 1 MiB message arrives whole, and is answered: `ERROR`, as the
    // reference server refuses identifiers longer than 65,535 bytes.
    let long = "j".repeat(1 << 20);
    let err = client
        .set_job(long.as_str(), at("2031-01-01 00:00:00"))
        .unwrap_err();
    assert_eq!(err, Outcome::Rejected);
    assert!(server.job(&long).is_none());
    let longest = "j".repeat(65_535);
    client
        .set_job(longest.as_str(), at("2031-01-01 00:00:00"))
        .unwrap();
    assert!(server.job(&longest).is_some());
    // Past the server's limit, the connection closes without an answer.
    let longer = "k".repeat(3 << 20);
    let mut client = Kcp::with_config(
        server.addr(),
        Config::default().with_max_message_len(4 << 20),
    );
    let err = client
        .set_job(longer.as_str(), at("2031-01-01 00:00:00"))
        .unwrap_err();
    assert!(
        matches!(err, Outcome::NotSent | Outcome::Unknown),
        "{err:?}"
    );
}

#[test]
fn a_valid_request_before_a_malformed_one_in_the_same_read_is_applied_unanswered() {
    let server = TestServer::start().unwrap();
    let mut raw = Raw::connect(server.addr());
    raw.send(b"0 SET raw.valid-before-malformed \"2030-01-01 12:00:00\"\nX\n");
    let (text, ended) = raw.read_lines(1);
    assert!(ended, "{text:?}");
    assert_eq!(text, "");
    assert!(server.wait_for_status(
        "raw.valid-before-malformed",
        JobStatus::Planned,
        Duration::from_secs(5)
    ));
}

#[test]
fn an_invalid_request_before_a_malformed_one_is_answered_then_the_connection_closes() {
    let server = TestServer::start().unwrap();
    let mut raw = Raw::connect(server.addr());
    raw.send(b"0 RULE SET app.rule.lf app.lf. shell \nX\n");
    let (text, ended) = raw.read_lines(2);
    assert!(ended, "{text:?}");
    assert_eq!(text, "0 ERROR\n");
    assert!(server.rules().is_empty());
}

/// A scratch directory for the scripts of one test.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("kairoi-test-server-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A script that writes its process id to `dir/pid` and the job
/// identifier it is given to `dir/ran`, waits until `dir/go` exists, then
/// exits with `status`.
fn script(dir: &std::path::Path, status: u8) -> String {
    let path = dir.join(format!("run-{status}.sh"));
    let body = format!(
        "echo $$ > '{d}/pid'\nprintf '%s' \"$1\" > '{d}/ran.tmp'\nmv '{d}/ran.tmp' '{d}/ran'\n\
         while [ ! -e '{d}/go' ]; do sleep 0.01; done\nexit {status}\n",
        d = dir.display()
    );
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

/// A server that runs shell runners as `mode` says, and a client of it.
fn shell_server(mode: ShellRunners) -> (TestServer, Kcp) {
    let server = TestServer::builder().shell_runners(mode).start().unwrap();
    let client = Kcp::connect(server.addr());
    (server, client)
}

fn wait_for_file(path: &std::path::Path) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(bytes) = std::fs::read(path) {
            return bytes;
        }
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn shell_runners_run_for_real_with_the_exact_job_identifier() {
    let dir = scratch("shell-run");
    let (server, mut client) = shell_server(ShellRunners::Run);
    client
        .set_rule("r", "", Runner::shell(script(&dir, 3)))
        .unwrap();
    let id = "a \"quoted\" id\nwith a line feed, \\ and 🦀";
    client.set_job(id, at("2000-01-01 00:00:00")).unwrap();
    assert_eq!(wait_for_file(&dir.join("ran")), id.as_bytes());
    // Triggered while the command runs: a SET is refused.
    assert_eq!(server.job(id).unwrap().status, JobStatus::Triggered);
    let refused = client.set_job(id, at("2099-01-01 00:00:00")).unwrap_err();
    assert_eq!(refused, Outcome::Rejected);
    std::fs::write(dir.join("go"), b"").unwrap();
    // Exit status 3, and Executed all the same, as the reference server.
    assert!(server.wait_for_status(id, JobStatus::Executed, Duration::from_secs(20)));
    let runs = server.wait_for_shell_runs(1, Duration::from_secs(20));
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].job.as_str(), &runs[0].exit), (id, &Ok(Some(3))));
    assert_eq!(runs[0].status, JobStatus::Executed);
    client.set_job(id, at("2099-01-01 00:00:00")).unwrap();
    assert_eq!(server.job(id).unwrap().status, JobStatus::Planned);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn run_checking_status_fails_the_jobs_whose_command_fails() {
    let dir = scratch("shell-status");
    std::fs::write(dir.join("go"), b"").unwrap();
    let (server, mut client) = shell_server(ShellRunners::RunCheckingStatus);
    client
        .set_rule("ok", "ok.", Runner::shell(script(&dir, 0)))
        .unwrap();
    client
        .set_rule("bad", "bad.", Runner::shell(script(&dir, 1)))
        .unwrap();
    client
        .set_rule("missing", "missing.", Runner::shell("/nonexistent/script"))
        .unwrap();
    let past = at("2000-01-01 00:00:00");
    for job in ["ok.1", "bad.1", "missing.1"] {
        client.set_job(job, past).unwrap();
    }
    let wait = Duration::from_secs(20);
    assert!(server.wait_for_status("ok.1", JobStatus::Executed, wait));
    assert!(server.wait_for_status("bad.1", JobStatus::Failed, wait));
    // `sh` starts and cannot open the script: it exits with a failure.
    assert!(server.wait_for_status("missing.1", JobStatus::Failed, wait));
    assert_eq!(server.executions().len(), 3);
    let mut runs: Vec<_> = server
        .wait_for_shell_runs(3, wait)
        .into_iter()
        .map(|r| (r.job, r.exit, r.status))
        .collect();
    runs.sort_by(|a, b| a.0.cmp(&b.0));
    // `sh` cannot open the missing script: a non-zero status of its own
    // choosing (2 for dash, 127 for bash).
    let missing = runs.remove(1);
    assert!(
        matches!(missing, (ref job, Ok(Some(code)), JobStatus::Failed) if job == "missing.1" && code != 0),
        "{missing:?}"
    );
    assert_eq!(
        runs,
        [
            ("bad.1".to_owned(), Ok(Some(1)), JobStatus::Failed),
            ("ok.1".to_owned(), Ok(Some(0)), JobStatus::Executed),
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dropping_the_server_stops_the_commands_still_running() {
    let dir = scratch("shell-drop");
    let (server, mut client) = shell_server(ShellRunners::Run);
    client
        .set_rule("r", "", Runner::shell(script(&dir, 0)))
        .unwrap();
    client
        .set_job("forever", at("2000-01-01 00:00:00"))
        .unwrap();
    wait_for_file(&dir.join("ran"));
    let pid = String::from_utf8(wait_for_file(&dir.join("pid"))).unwrap();
    let proc = std::path::PathBuf::from(format!("/proc/{}", pid.trim()));
    assert!(proc.exists(), "the command runs");
    // The script waits for a file that never comes: the drop kills it
    // and reaps it.
    drop(client);
    server.shutdown();
    assert!(!proc.exists(), "the command was stopped");
    let _ = std::fs::remove_dir_all(&dir);
}
