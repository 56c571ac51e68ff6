//! Schedules a rule and a few jobs with the smol client.
//!
//! `cargo run -p kairoi-smol --example smol_quickstart` runs against
//! `KAIROI_ADDR` when it is set, otherwise against an embedded TestServer.

use std::time::Duration;

use kairoi_smol::{Client, DateTime, Runner};
use kairoi_test_server::Target;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    smol::block_on(async {
        let target = Target::from_env()?;
        println!("Using {target}.");
        let client = Client::builder()
            .request_timeout(Duration::from_secs(5))
            .connect(target.addr())
            .await?;
        client
            .set_rule("demo", "demo.", Runner::shell("echo"))
            .await?;
        println!("rule demo: OK");
        let soon = DateTime::try_from(std::time::SystemTime::now())?
            .checked_add_seconds(1)
            .ok_or("date out of range")?;
        let jobs = [
            "demo.smol.1",
            "demo.smol.2",
            "demo.\"quoted\" job\nwith a line feed",
        ];
        let mut tasks = Vec::new();
        for job in jobs {
            let client = client.clone();
            tasks.push(smol::spawn(async move {
                (job, client.set_job(job, soon).await)
            }));
        }
        for task in tasks {
            let (job, result) = task.await;
            println!("job {job:?} at {soon}: {result:?}");
            result?;
        }
        client.close().await;
        Ok(())
    })
}
