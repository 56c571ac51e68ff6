//! The binary against a real Kairoi server at `KAIROI_ADDR` (the
//! reference server, in CI). Ignored in a plain `cargo test`; asked for
//! with `--ignored`, each case fails, naming the variable, without it:
//!
//! ```sh
//! KAIROI_ADDR=127.0.0.1:5678 cargo test -p kairoi-cli --test live -- --ignored --test-threads 1
//! ```

mod common;

use std::time::Duration;

use common::{TempDir, cli, code, recorded, recording_script, run, summary, text, write_jsonl};

/// The server's address; a case asked for without it fails, naming it.
fn server(case: &str) -> String {
    match std::env::var("KAIROI_ADDR") {
        Ok(addr) if !addr.is_empty() => addr,
        _ => panic!(
            "live: {case} needs KAIROI_ADDR, the address of a Kairoi server (see the README's live check)"
        ),
    }
}

/// A prefix of job identifiers no other run uses.
fn tag() -> String {
    format!("cli.{}.", std::process::id())
}

/// What a case needs: the server's address, the prefix of its job
/// identifiers and a directory of its own.
fn live(case: &str) -> (String, String, TempDir) {
    (server(case), tag(), TempDir::new(case))
}

#[test]
#[ignore = "live: needs a Kairoi server at KAIROI_ADDR"]
fn live_set_and_rule() {
    let addr = server("live_set_and_rule");
    let t = tag();
    let out = run(cli(&addr).args(["rule", &format!("{t}shell"), &t, "shell", "/bin/true"]));
    assert_eq!(code(&out), 0, "{:?}", text(&out));
    let out = run(cli(&addr).args([
        "rule",
        &format!("{t}amqp"),
        &format!("{t}amqp."),
        "amqp",
        "amqp://guest:guest@127.0.0.1:5672/%2f",
        "jobs",
        "key",
    ]));
    assert_eq!(code(&out), 0, "{:?}", text(&out));
    let out = run(cli(&addr).args(["--json", "set", &format!("{t}set \"q\""), "+1d"]));
    assert_eq!(code(&out), 0, "{:?}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["outcome"], "ok");
    println!("live: set and rule: ok against {addr}");
}

#[test]
#[ignore = "live: needs a Kairoi server at KAIROI_ADDR"]
fn live_import_of_100_000_json_lines_all_ok() {
    let (addr, t, dir) = live("live_import_of_100_000_json_lines_all_ok");
    let file = dir.path("jobs.jsonl");
    write_jsonl(&file, &format!("{t}big."), 100_000, "+1d");
    let out = run(cli(&addr).args(["import", "--connections", "4"]).arg(&file));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stderr}");
    let line = summary(&stdout);
    assert!(
        line.starts_with("100000 jobs: 100000 ok, 0 rejected, 0 not sent, 0 unknown, 0 timed out"),
        "{line}"
    );
    println!("live: {line}");
}

#[test]
#[ignore = "live: needs a Kairoi server at KAIROI_ADDR"]
fn live_import_with_bad_lines_then_the_failed_file_fixed() {
    let (addr, t, dir) = live("live_import_with_bad_lines_then_the_failed_file_fixed");
    let file = dir.path("jobs.csv");
    let failed = dir.path("failed.csv");
    std::fs::write(
        &file,
        format!(
            "job,at\n{t}a,+1d\n{t}b,later\n\"{t}c, \"\"d\"\"\",+2d\n{t}e,2030-02-30 00:00:00\n"
        ),
    )
    .unwrap();
    let out = run(cli(&addr)
        .arg("import")
        .arg(&file)
        .arg("--failed")
        .arg(&failed));
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 64, "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("line ")).collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with("line 3: bad time \"later\""),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with("line 5: bad time \"2030-02-30 00:00:00\""),
        "{stderr}"
    );
    assert!(
        summary(&stdout).starts_with(
            "4 jobs: 2 ok, 0 rejected, 0 not sent, 0 unknown, 0 timed out, 2 bad input"
        )
    );
    let fixed = std::fs::read_to_string(&failed)
        .unwrap()
        .replace("later", "+3d")
        .replace("02-30", "02-28");
    std::fs::write(&failed, fixed).unwrap();
    let out = run(cli(&addr).arg("import").arg(&failed));
    assert_eq!(code(&out), 0, "{:?}", text(&out));
    assert!(summary(&text(&out).0).starts_with("2 jobs: 2 ok"));
    println!("live: bad lines reported at lines 3 and 5, the fixed failed file all ok");
}

#[test]
#[ignore = "live: needs a Kairoi server at KAIROI_ADDR"]
fn live_shell_rule_receives_the_exact_job_id() {
    let (addr, t, dir) = live("live_shell_rule_receives_the_exact_job_id");
    let (script, got) = recording_script(&dir, "record.sh");
    let out = run(cli(&addr)
        .args(["rule", &format!("{t}rec"), &format!("{t}rec")])
        .arg("shell")
        .arg(&script));
    assert_eq!(code(&out), 0, "{:?}", text(&out));
    let job = format!("{t}rec it's \"a job\"\nwith  spaces ");
    let out = run(cli(&addr).args(["set", &job, "now"]));
    assert_eq!(code(&out), 0, "{:?}", text(&out));
    let received = recorded(&got, Duration::from_secs(60));
    assert_eq!(
        received.as_deref(),
        Some(job.as_bytes()),
        "the script got the job id"
    );
    println!("live: the shell rule got the exact job id");
}
