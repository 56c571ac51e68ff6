//! The binary over several servers, three `TestServer`s named alpha, beta
//! and gamma: an import and a rule land where placement says, with a
//! summary line per server; a server taken down fails exactly its jobs,
//! naming it, while the others are set; a rule that one server rejects
//! gives each server's result; `which` agrees with the placement.

mod common;

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{BIN, TempDir, cli, cli_servers, code, run, summary, text, wait_for, write_jsonl};
use kairoi_proto::{Instruction, placement};
use kairoi_test_server::{Clock, TestServer};
use serde_json::Value;

/// The servers' names, in the order given.
const NAMES: [&str; 3] = ["alpha", "beta", "gamma"];
/// A time that does not come during the tests.
const AT: &str = "2030-01-01 08:00:00";
/// How long a condition or the binary may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(120);

/// Three servers on the real clock, and their `(name, address)` list.
fn three() -> ([TestServer; 3], Vec<(&'static str, String)>) {
    let servers = [(); 3].map(|_| {
        TestServer::builder()
            .clock(Clock::Real)
            .start()
            .expect("a test server")
    });
    let list = NAMES
        .iter()
        .zip(&servers)
        .map(|(name, server)| (*name, server.addr().to_string()))
        .collect();
    (servers, list)
}

/// The position of the server a job goes to.
fn placed(job: &str) -> usize {
    placement::place(job.as_bytes(), &NAMES).expect("three servers")
}

/// The jobs `prefix0` .. `prefix{n-1}` placed on the server at `at`.
fn placed_on(prefix: &str, n: usize, at: usize) -> HashSet<String> {
    (0..n)
        .map(|i| format!("{prefix}{i}"))
        .filter(|job| placed(job) == at)
        .collect()
}

/// The identifiers of the jobs a server holds.
fn ids(server: &TestServer) -> HashSet<String> {
    server.jobs().into_iter().map(|job| job.id).collect()
}

/// The summary line of one server: `  server NAME (ADDR): N jobs: ...`.
fn server_line<'a>(stdout: &'a str, name: &str, addr: &str) -> &'a str {
    let start = format!("  server {name} ({addr}): ");
    stdout
        .lines()
        .find(|line| line.starts_with(&start))
        .unwrap_or_else(|| panic!("no summary line for {name} in {stdout:?}"))
}

/// The counts of a summary line where `n` jobs ended `ok` and the rest
/// `not sent`.
fn counts(n: usize, ok: usize) -> String {
    format!(
        "{n} jobs: {ok} ok, 0 rejected, {} not sent, 0 unknown, 0 timed out, 0 bad input",
        n - ok
    )
}

/// The identifiers of a file of failed JSON lines.
fn failed_jobs(path: &Path) -> HashSet<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|line| {
            let json: Value = serde_json::from_str(line).expect("a JSON line");
            json["job"].as_str().expect("a job").to_owned()
        })
        .collect()
}

/// Waits for `child` to exit, within [`PATIENCE`]; kills it and fails
/// otherwise.
fn finish(child: Child) -> Output {
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(PATIENCE) {
        Ok(output) => output.expect("the binary's output"),
        Err(_) => {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
            panic!("the binary did not end within {PATIENCE:?}");
        }
    }
}

#[test]
fn an_import_and_a_rule_land_where_placement_says() {
    const N: usize = 3_000;
    let (servers, list) = three();
    let out = run(cli_servers(&list).args(["rule", "shard", "shard.", "shell", "true"]));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stderr}");
    assert_eq!(
        stdout,
        "RULE SET shard shard. shell true => ok on every server (alpha, beta, gamma)\n"
    );
    for (name, server) in NAMES.iter().zip(&servers) {
        let rules = server.rules();
        assert!(rules.iter().any(|r| r.id == "shard"), "{name}: {rules:?}");
    }

    let dir = TempDir::new("servers-import");
    let file = dir.path("jobs.jsonl");
    write_jsonl(&file, "shard.", N, AT);
    let out = run(cli_servers(&list).arg("import").arg(&file));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stderr}");
    assert!(summary(&stdout).starts_with(&counts(N, N)), "{stdout}");
    let mut total = 0;
    for (at, server) in servers.iter().enumerate() {
        let expected = placed_on("shard.", N, at);
        // Its placed jobs, and no other: every job is on one server only.
        assert_eq!(ids(server), expected, "the jobs of {}", NAMES[at]);
        assert!(expected.len() > N / 5, "{}: {}", NAMES[at], expected.len());
        let line = server_line(&stdout, NAMES[at], &list[at].1);
        let n = expected.len();
        assert!(line.ends_with(&counts(n, n)), "{line}");
        total += n;
    }
    assert_eq!(total, N);

    // The same summary as JSON, with a `servers` object.
    let out = run(cli_servers(&list).args(["--json", "import"]).arg(&file));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stderr}");
    let json: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap();
    assert_eq!(
        (json["jobs"].as_u64(), json["ok"].as_u64()),
        (Some(3000), Some(3000))
    );
    for (at, server) in servers.iter().enumerate() {
        let entry = &json["servers"][NAMES[at]];
        assert_eq!(entry["addr"], list[at].1.as_str(), "{json}");
        assert_eq!(
            entry["jobs"].as_u64(),
            Some(server.job_count() as u64),
            "{json}"
        );
        assert_eq!(entry["ok"], entry["jobs"], "{json}");
    }

    // bench: a line per server, each with the jobs it now holds.
    let out = run(cli_servers(&list).args(["bench", "--jobs", "600"]));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stderr}");
    assert!(
        stdout.starts_with(
            "bench: 600 SET per batch over 3 servers (alpha, beta, gamma), the connections to each;"
        ),
        "{stdout}"
    );
    for (at, server) in servers.iter().enumerate() {
        let held = ids(server);
        let bench: Vec<&String> = held.iter().filter(|j| j.starts_with("bench.")).collect();
        assert!(bench.iter().all(|job| placed(job) == at), "{}", NAMES[at]);
        let line = server_line(&stdout, NAMES[at], &list[at].1);
        assert!(line.ends_with(&counts(bench.len(), bench.len())), "{line}");
    }

    // One job: on its server, which the output names.
    let job = "shard.single";
    let out = run(cli_servers(&list).args(["set", job, "+1d"]));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stderr}");
    let name = NAMES[placed(job)];
    assert!(
        stdout.ends_with(&format!("=> ok on server {name}\n")),
        "{stdout}"
    );
    for (at, server) in servers.iter().enumerate() {
        assert_eq!(
            server.job(job).is_some(),
            at == placed(job),
            "{}",
            NAMES[at]
        );
    }
}

#[test]
fn a_server_taken_down_fails_exactly_its_jobs_naming_it() {
    const N: usize = 3_000;
    let (servers, list) = three();
    let (down, beta) = (1, list[1].1.clone());
    let dir = TempDir::new("servers-down");
    let failed = dir.path("failed.jsonl");
    let lines: String = (0..N)
        .map(|i| format!("{{\"job\": \"down.{i}\", \"at\": \"{AT}\"}}\n"))
        .collect();
    // From stdin, the servers are reached before the input is read: beta
    // goes down in between, its connection idle.
    let mut child = cli_servers(&list)
        .args(["--timeout", "1s", "import", "-", "--failed"])
        .arg(&failed)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let connected = wait_for(PATIENCE, || {
        servers
            .iter()
            .all(|s| s.connections_open() >= 1)
            .then_some(())
    });
    if connected.is_none() {
        let _ = child.kill();
        panic!(
            "the binary did not connect to all three servers: {:?}",
            finish(child)
        );
    }
    servers[down].take_down();
    if let Some(mut stdin) = child.stdin.take() {
        // An early exit shows in the output below.
        let _ = stdin.write_all(lines.as_bytes());
    }
    let out = finish(child);
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 2, "{stdout}\n{stderr}");

    // Beta's jobs failed, and only they; the others are set.
    let on_beta = placed_on("down.", N, down);
    let b = on_beta.len();
    assert!(summary(&stdout).starts_with(&counts(N, N - b)), "{stdout}");
    assert_eq!(
        failed_jobs(&failed),
        on_beta,
        "the failed lines are beta's jobs"
    );
    for at in [0, 2] {
        assert_eq!(
            ids(&servers[at]),
            placed_on("down.", N, at),
            "{}",
            NAMES[at]
        );
        let n = placed_on("down.", N, at).len();
        let line = server_line(&stdout, NAMES[at], &list[at].1);
        assert!(line.ends_with(&counts(n, n)), "{line}");
    }
    assert!(ids(&servers[down]).is_empty());
    let line = server_line(&stdout, "beta", &beta);
    assert!(line.ends_with(&counts(b, 0)), "{line}");
    // Each failure names beta and why.
    let described: Vec<&str> = stderr.lines().filter(|l| l.starts_with("line ")).collect();
    assert_eq!(described.len(), 10, "{stderr}");
    for line in described {
        assert!(
            line.contains(&format!(
                "not sent to server beta: cannot connect to {beta}"
            )),
            "{line}"
        );
    }
    assert!(
        stderr.contains(&format!("{b} jobs were not sent ({b} on beta)")),
        "{stderr}"
    );

    // Down when a command starts: the command starts all the same; beta's
    // jobs (all of the failed file's) fail naming it, and a rule reaches
    // the other two.
    let before: Vec<u64> = servers.iter().map(TestServer::requests_received).collect();
    let out = run(cli_servers(&list)
        .args(["--timeout", "1s", "import"])
        .arg(&failed));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 2, "{stderr}");
    assert!(
        server_line(&stdout, "beta", &beta).ends_with(&counts(b, 0)),
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!(
            "not sent to server beta: cannot connect to {beta}"
        )),
        "{stderr}"
    );
    let after: Vec<u64> = servers.iter().map(TestServer::requests_received).collect();
    assert_eq!(before, after, "only beta's jobs, and none reached a server");
    // The attempts that failed are beta's.
    let connections = stdout
        .lines()
        .find(|l| l.starts_with("connections: "))
        .unwrap_or_default();
    assert!(
        connections.starts_with("connections: 2 made, ") && connections.contains(" to beta); "),
        "{stdout}"
    );
    let out = run(cli_servers(&list)
        .args(["--timeout", "1s", "--json", "import"])
        .arg(&failed));
    let (stdout, _) = text(&out);
    let json: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap();
    assert_eq!(json["not_sent"].as_u64(), Some(b as u64), "{json}");
    assert_eq!(
        json["servers"]["beta"]["not_sent"], json["not_sent"],
        "{json}"
    );
    assert_eq!(json["servers"]["beta"]["connects"], 0, "{json}");
    assert!(
        json["servers"]["beta"]["connect_failures"].as_u64() >= Some(1),
        "{json}"
    );
    assert_eq!(json["servers"]["alpha"]["connect_failures"], 0, "{json}");
    assert_eq!(json["connects"], 2, "{json}");
    let rule = ["--timeout", "1s", "rule", "late", "down.", "shell", "true"];
    let out = run(cli_servers(&list).args(rule));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 2, "{stdout}{stderr}");
    assert!(
        format!("{stdout}{stderr}").contains("failed on 1 of 3 servers"),
        "{stdout}{stderr}"
    );
    for (n, server) in servers.iter().enumerate() {
        let has = server.rules().iter().any(|r| r.id == "late");
        assert_eq!(has, n != down, "{}", NAMES[n]);
    }

    // Back up: the failed lines imported again land on beta.
    servers[down].bring_up().expect("beta on its port again");
    let out = run(cli_servers(&list).arg("import").arg(&failed));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stderr}");
    assert!(
        server_line(&stdout, "beta", &beta).ends_with(&counts(b, b)),
        "{stdout}"
    );
    assert_eq!(ids(&servers[down]), on_beta);
}

#[test]
fn a_rule_one_server_rejects_gives_each_servers_result() {
    let (servers, list) = three();
    servers[1]
        .faults()
        .reject_when(|i| matches!(i, Instruction::RuleSet { .. }));
    let out = run(cli_servers(&list).args(["rule", "mail", "app.mail.", "shell", "true"]));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 1, "{stdout}\n{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some("RULE SET mail app.mail. shell true => failed on 1 of 3 servers:"),
        "{stderr}"
    );
    assert_eq!(
        lines.get(1).copied(),
        Some("  alpha: ok (applied)"),
        "{stderr}"
    );
    let beta = lines.get(2).copied().unwrap_or("");
    assert!(
        beta.starts_with("  beta: rejected: the server answered ERROR")
            && beta.ends_with("(not applied)"),
        "{stderr}"
    );
    assert_eq!(
        lines.get(3).copied(),
        Some("  gamma: ok (applied)"),
        "{stderr}"
    );
    let held: Vec<bool> = servers
        .iter()
        .map(|s| s.rules().iter().any(|r| r.id == "mail"))
        .collect();
    assert_eq!(held, [true, false, true]);

    let out =
        run(cli_servers(&list).args(["--json", "rule", "mail", "app.mail.", "shell", "true"]));
    let json: Value = serde_json::from_str(text(&out).0.trim()).unwrap();
    assert_eq!(json["outcome"], "rejected", "{json}");
    assert_eq!(json["applied"], "partly applied", "{json}");
    assert_eq!(json["exit_code"], 1, "{json}");
    assert_eq!(json["servers"]["alpha"]["outcome"], "ok", "{json}");
    assert_eq!(json["servers"]["beta"]["outcome"], "rejected", "{json}");
    assert_eq!(json["servers"]["gamma"]["applied"], "applied", "{json}");

    // A job on beta, rejected: the error names beta.
    servers[1]
        .faults()
        .reject_when(|i| matches!(i, Instruction::Set { .. }));
    let job = (0..).map(|i| format!("app.{i}")).find(|j| placed(j) == 1);
    let job = job.unwrap_or_default();
    let out = run(cli_servers(&list).args(["set", &job, "+1d"]));
    let (_, stderr) = text(&out);
    assert_eq!(code(&out), 1, "{stderr}");
    assert!(
        stderr.contains("=> rejected by server beta: it answered ERROR"),
        "{stderr}"
    );
}

#[test]
fn which_prints_the_placed_server_of_each_identifier_without_connecting() {
    // Nothing listens on these: `which` connects to nothing.
    let list = [
        ("alpha", "127.0.0.1:1"),
        ("beta", "127.0.0.1:2"),
        ("gamma", "[::1]:3"),
    ];
    let mut jobs: Vec<String> = (0..200).map(|i| format!("app.mail.{i}")).collect();
    jobs.push("with space".to_owned());
    let out = run(cli_servers(&list).arg("which").args(&jobs));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), jobs.len(), "{stdout}");
    for (job, line) in jobs.iter().zip(&lines) {
        let (name, addr) = list[placed(job)];
        let shown = match job.contains(' ') {
            true => format!("{job:?}"),
            false => job.clone(),
        };
        assert_eq!(*line, format!("{shown} => {name} ({addr})"));
    }
    // Each server has some of them.
    for (name, addr) in list {
        assert!(stdout.contains(&format!("=> {name} ({addr})")), "{stdout}");
    }

    // The same from KAIROI_ADDR, in another order: the names decide.
    let env: Vec<String> = list.iter().rev().map(|(n, a)| format!("{n}={a}")).collect();
    let out = run(Command::new(BIN)
        .env("KAIROI_ADDR", env.join(","))
        .args(["--json", "which"])
        .args(&jobs));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stderr}");
    let objects: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect();
    assert_eq!(objects.len(), jobs.len());
    for (job, object) in jobs.iter().zip(&objects) {
        let (name, addr) = list[placed(job)];
        assert_eq!(object["job"], job.as_str());
        assert_eq!(object["server"], name, "{object}");
        assert_eq!(object["addr"], addr, "{object}");
        assert_eq!(object["placed"], true, "{object}");
    }

    // One server without a name: no placement, and it says so.
    let out = run(cli("127.0.0.1:1").args(["which", "app.mail.1"]));
    let (stdout, _) = text(&out);
    assert_eq!(code(&out), 0);
    assert_eq!(
        stdout,
        "app.mail.1 => 127.0.0.1:1 (the only server, without a name: every job goes to it)\n"
    );
    let out = run(cli("127.0.0.1:1").args(["--json", "which", "app.mail.1"]));
    let json: Value = serde_json::from_str(text(&out).0.trim()).unwrap();
    assert_eq!(
        (json["server"].is_null(), &json["placed"]),
        (true, &Value::Bool(false))
    );
}
