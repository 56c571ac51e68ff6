//! Sets a rule and schedules a few jobs with the blocking client.
//!
//! ```sh
//! cargo run --example quickstart                          # embedded test server
//! KAIROI_ADDR=127.0.0.1:5678 cargo run --example quickstart  # your Kairoi server
//! ```
//!
//! With `KAIROI_ADDR` unset it starts an embedded `TestServer` (rules and
//! jobs in memory, runners recorded instead of executed) and prints the
//! jobs as they fire, a second or two later.

use std::error::Error;
use std::time::{Duration, SystemTime};

use kairoi_std::{Client, DateTime, Runner};
use kairoi_test_server::Target;

fn main() -> Result<(), Box<dyn Error>> {
    let target = Target::from_env()?;
    println!("Using {target}.");
    let addr = target.addr();

    let mut client = Client::connect(addr.as_str())?;

    // Jobs whose identifier starts with "quickstart." run `echo` with the
    // job identifier.
    client.set_rule("quickstart", "quickstart.", Runner::shell("echo"))?;
    println!("RULE SET quickstart \"quickstart.\" shell echo -> OK");

    let now = DateTime::try_from(SystemTime::now())?;
    let in_seconds = |s: i64| now.checked_add_seconds(s).ok_or("date out of range");
    let jobs = [
        ("quickstart.hello", in_seconds(1)?),
        // Any identifier works: spaces, quotes and line feeds are quoted
        // on the wire.
        (
            "quickstart.a \"quoted\" name\nspanning two lines",
            in_seconds(2)?,
        ),
        ("quickstart.tomorrow", in_seconds(86_400)?),
    ];
    let mut failed = 0;
    for (job, when) in &jobs {
        match client.set_job(*job, *when) {
            Ok(()) => println!("SET {job:?} at {when} -> OK"),
            Err(e) => {
                failed += 1;
                println!("SET {job:?} at {when} -> {e}");
            }
        }
    }
    if failed > 0 {
        return Err(format!("{failed} job(s) not scheduled").into());
    }

    if let Some(server) = target.embedded() {
        println!("Waiting for the jobs due in the next seconds to fire...");
        for (job, _) in &jobs[..2] {
            match server.wait_for_execution(job, Duration::from_secs(10)) {
                Some(run) => println!(
                    "fired {:?} at {}: rule {:?}, runner {:?}",
                    run.job, run.fired_at, run.rule, run.runner
                ),
                None => return Err(format!("{job:?} did not fire").into()),
            }
        }
        for job in server.jobs() {
            println!("{:?}: {:?} at {}", job.id, job.status, job.execution);
        }
    }
    client.close()?;
    Ok(())
}
