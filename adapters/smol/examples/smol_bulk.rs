//! Schedules many jobs over a pool, from concurrent tasks or as one batch.
//!
//! `cargo run --release -p kairoi-smol --example smol_bulk -- --jobs 100000 --connections 4`
//! sends them from `--tasks` concurrent tasks (default 64); with `--batch`
//! it sends them as one `execute_all`, which streams through the window.
//! It runs against `KAIROI_ADDR` when it is set, otherwise against an
//! embedded TestServer, and ends with `N jobs in S s: R jobs/s, F failed`.

use std::time::Instant;

use kairoi_smol::{Client, DateTime, Instruction};
use kairoi_test_server::Target;

fn arg(name: &str, default: usize) -> Result<usize, String> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("{name} takes a number")),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let jobs = arg("--jobs", 20_000)?;
    let connections = arg("--connections", 1)?;
    let tasks = arg("--tasks", 64)?.max(1);
    let batch = std::env::args().any(|a| a == "--batch");
    let target = Target::from_env()?;
    eprintln!("Using {target}.");
    smol::block_on(async {
        let client = Client::builder()
            .connections(connections)
            .connect(target.addr())
            .await?;
        let when: DateTime = "2999-01-01 00:00:00".parse()?;
        let start = Instant::now();
        let failed = if batch {
            let all = (0..jobs).map(|n| Instruction::set(format!("bulk.{n}"), when));
            let results = client.execute_all(all).await;
            results.iter().filter(|r| r.is_err()).count()
        } else {
            let handles: Vec<_> = (0..tasks)
                .map(|t| {
                    let client = client.clone();
                    smol::spawn(async move {
                        let mut failed = 0usize;
                        for n in (t..jobs).step_by(tasks) {
                            if client.set_job(format!("bulk.{n}"), when).await.is_err() {
                                failed += 1;
                            }
                        }
                        failed
                    })
                })
                .collect();
            let mut failed = 0;
            for h in handles {
                failed += h.await;
            }
            failed
        };
        let secs = start.elapsed().as_secs_f64();
        client.close().await;
        println!(
            "{jobs} jobs in {secs:.2} s: {:.0} jobs/s, {failed} failed",
            jobs as f64 / secs
        );
        Ok(())
    })
}
