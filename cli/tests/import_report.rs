//! What `import` reports: read errors named by their line in either
//! format, the first failed lines then a count, the summary's words and
//! rate, and the file of failed lines only when some failed.

mod common;

use std::process::Output;

use common::{TempDir, cli, code, run, summary, text};
use kairoi_test_server::{Clock, TestServer};

fn server() -> (TestServer, String) {
    let server = TestServer::builder().clock(Clock::Real).start().unwrap();
    let addr = server.addr().to_string();
    (server, addr)
}

/// 17 MiB with no line feed: past the 16 MiB a line may take.
fn too_long() -> String {
    "x".repeat(17 << 20)
}

fn import(addr: &str, file: &std::path::Path, extra: &[&str]) -> Output {
    run(cli(addr).arg("import").arg(file).args(extra))
}

#[test]
fn a_csv_line_longer_than_16_mib_is_named_by_its_line() {
    let (server, addr) = server();
    let dir = TempDir::new("csv-long-line");
    let file = dir.path("jobs.csv");
    let mut content = String::from("job,at\nc.1,+1d\nc.2,+1d\nc.3,+1d\n");
    content.push_str(&too_long());
    std::fs::write(&file, content).unwrap();
    let out = import(&addr, &file, &[]);
    let (_, stderr) = text(&out);
    assert_eq!(code(&out), 74, "{stderr}");
    assert!(
        stderr.contains("read error at line 5:") && stderr.contains("longer than 16777216 bytes"),
        "{stderr}"
    );
    assert_eq!(server.job_count(), 3);
}

#[test]
fn a_file_with_no_line_feed_is_a_read_error_in_either_format() {
    let (_server, addr) = server();
    let dir = TempDir::new("no-line-feed");
    let file = dir.path("jobs.txt");
    std::fs::write(&file, too_long()).unwrap();
    for format in [&[][..], &["--format", "csv"], &["--format", "jsonl"]] {
        let out = import(&addr, &file, format);
        let (_, stderr) = text(&out);
        assert_eq!(code(&out), 74, "{format:?}: {stderr}");
        assert!(
            stderr.contains("read error at line 1:") && stderr.contains("longer than"),
            "{format:?}: {stderr}"
        );
    }
    // A short CSV file without the columns is bad input, not an I/O error.
    std::fs::write(&file, "a,b").unwrap();
    let out = import(&addr, &file, &[]);
    assert_eq!(code(&out), 64, "{:?}", text(&out));
    assert!(text(&out).1.contains("expected the columns `job,at`"));
}

/// `count` JSON lines with a time that cannot be read.
fn bad_lines(path: &std::path::Path, count: usize) {
    let lines: String = (0..count)
        .map(|n| format!("{{\"job\": \"b.{n}\", \"at\": \"soon\"}}\n"))
        .collect();
    std::fs::write(path, lines).unwrap();
}

/// The `line N: ...` lines of stderr.
fn described(stderr: &str) -> usize {
    stderr.lines().filter(|l| l.starts_with("line ")).count()
}

#[test]
fn only_the_first_10_failed_lines_are_shown_then_a_count() {
    let (_server, addr) = server();
    let dir = TempDir::new("first-failures");
    let (file, failed) = (dir.path("jobs.jsonl"), dir.path("failed.jsonl"));
    bad_lines(&file, 25);
    let failed_arg = failed.to_str().unwrap();
    for quiet in [&[][..], &["-q"]] {
        let out = run(cli(&addr)
            .args(quiet)
            .arg("import")
            .arg(&file)
            .args(["--failed", failed_arg]));
        let (_, stderr) = text(&out);
        assert_eq!(code(&out), 64, "{stderr}");
        assert_eq!(described(&stderr), 10, "{quiet:?}: {stderr}");
        assert!(stderr.contains("line 10: bad time \"soon\""), "{stderr}");
        assert!(
            stderr.contains("... and 15 more failed lines not shown")
                && stderr.contains(&format!("all 25 are in {failed_arg}")),
            "{quiet:?}: {stderr}"
        );
        assert_eq!(
            std::fs::read_to_string(&failed).unwrap().lines().count(),
            25
        );
    }
    // Without --failed, the count says how to keep them all.
    let out = import(&addr, &file, &[]);
    let (_, stderr) = text(&out);
    assert_eq!(described(&stderr), 10, "{stderr}");
    assert!(
        stderr.contains("--failed FILE keeps every failed line"),
        "{stderr}"
    );
    // With --json, every failed line is an object on stdout.
    let out = run(cli(&addr).args(["--json", "import"]).arg(&file));
    let (stdout, stderr) = text(&out);
    assert_eq!(described(&stderr), 10, "{stderr}");
    assert_eq!(stdout.lines().count(), 25 + 1, "{stdout}");
}

#[test]
fn one_bad_line_is_1_job_and_nothing_sent() {
    let (server, addr) = server();
    let dir = TempDir::new("one-bad-line");
    let file = dir.path("jobs.jsonl");
    bad_lines(&file, 1);
    let out = import(&addr, &file, &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 64, "{stderr}");
    let summary = summary(&stdout);
    assert!(summary.starts_with("1 job: 0 ok, "), "{summary}");
    assert!(
        summary.ends_with("(nothing sent)") && !summary.contains("jobs/s"),
        "{summary}"
    );
    assert_eq!(server.requests_received(), 0);
}

#[test]
fn no_failed_file_is_left_when_nothing_failed() {
    let (_server, addr) = server();
    let dir = TempDir::new("no-failed-file");
    let (file, failed) = (dir.path("jobs.jsonl"), dir.path("failed.jsonl"));
    common::write_jsonl(&file, "ok.", 3, "2030-01-01 08:00:00");
    // An older file of failed lines is not left either.
    std::fs::write(&failed, "{\"job\": \"stale\", \"at\": \"now\"}\n").unwrap();
    let out = import(&addr, &file, &["--failed", failed.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stderr}");
    assert!(summary(&stdout).starts_with("3 jobs: 3 ok"), "{stdout}");
    assert!(!failed.exists(), "{stderr}");
}
