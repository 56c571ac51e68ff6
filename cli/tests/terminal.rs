//! `import` in a pseudo-terminal (under `script` from util-linux): the
//! progress bar is drawn, then cleared before the summary.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{BIN, TempDir, write_jsonl};
use kairoi_test_server::{Clock, TestServer};

#[test]
fn import_draws_a_progress_bar_on_a_terminal_and_clears_it() {
    let script = Command::new("script").arg("--version").output();
    assert!(
        script.is_ok_and(|o| o.status.success()),
        "this test needs `script` (util-linux, Debian's bsdutils) to run the import in a pseudo-terminal"
    );
    // Slow enough for the bar to be drawn several times.
    let server = TestServer::builder()
        .clock(Clock::Real)
        .per_request_cost(Duration::from_micros(40))
        .start()
        .unwrap();
    let dir = TempDir::new("terminal");
    let file = dir.path("jobs.jsonl");
    write_jsonl(&file, "tty.", 20_000, "2030-01-01 08:00:00");
    let command = format!(
        "'{BIN}' --addr {} import '{}'",
        server.addr(),
        file.display()
    );
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env_remove("KAIROI_ADDR")
        .env_remove("KAIROI_LOG")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    let drawn = screen.matches("jobs/s, ETA").count();
    assert!(drawn >= 2, "the bar was drawn {drawn} times: {screen:?}");
    // The last frame is erased (carriage return, erase line) and the
    // summary written in its place; nothing of the bar after it.
    let last = screen.rfind("jobs/s, ETA").unwrap();
    let after = &screen[last..];
    let cleared = after.find("\r\x1b[2K").expect("the bar is cleared");
    let rest = &after[cleared + 5..];
    assert!(
        rest.starts_with("20000 jobs: 20000 ok, 0 rejected"),
        "after the bar: {rest:?}"
    );
    assert!(
        !rest.contains("ETA") && !rest.contains('\u{2588}'),
        "{rest:?}"
    );
    assert_eq!(server.job_count(), 20_000);

    // With the log on stderr (-v), no bar: its lines and the log's would
    // mix.
    let out = Command::new("script")
        .args(["-q", "-e", "-c", &format!("{command} -v"), "/dev/null"])
        .env_remove("KAIROI_ADDR")
        .env_remove("KAIROI_LOG")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    assert!(!screen.contains("ETA"), "{screen:?}");
    assert!(screen.contains("connected"), "{screen:?}");
    assert!(screen.contains("20000 jobs: 20000 ok"), "{screen:?}");
}
