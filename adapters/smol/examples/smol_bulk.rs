//! Schedules many jobs from concurrent tasks over a pool.
//!
//! `cargo run --release -p kairoi-smol --example smol_bulk -- --jobs 100000 --connections 4`
//! runs against `KAIROI_ADDR` when it is set, otherwise against an
//! embedded TestServer. It ends with `N jobs in S s: R jobs/s`.

use std::time::Instant;

use kairoi_smol::{Client, DateTime};
use kairoi_std::testing::Target;

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
    let target = Target::from_env()?;
    eprintln!("Using {target}.");
    smol::block_on(async {
        let client = Client::builder()
            .connections(connections)
            .connect(target.addr())
            .await?;
        let when: DateTime = "2999-01-01 00:00:00".parse()?;
        let start = Instant::now();
        let mut handles = Vec::new();
        for t in 0..tasks {
            let client = client.clone();
            handles.push(smol::spawn(async move {
                let mut failed = 0usize;
                for n in (t..jobs).step_by(tasks) {
                    if client.set_job(format!("bulk.{n}"), when).await.is_err() {
                        failed += 1;
                    }
                }
                failed
            }));
        }
        let mut failed = 0;
        for h in handles {
            failed += h.await;
        }
        let secs = start.elapsed().as_secs_f64();
        client.close().await;
        if failed > 0 {
            eprintln!("{failed} jobs failed");
        }
        println!(
            "{jobs} jobs in {secs:.2} s: {:.0} jobs/s",
            jobs as f64 / secs
        );
        Ok(())
    })
}
