//! Schedules a rule and a few jobs with the Tokio client.
//!
//! `cargo run -p kairoi-tokio --example tokio_quickstart` runs against
//! `KAIROI_ADDR` when it is set, otherwise against an embedded TestServer.

use std::time::Duration;

use kairoi_test_server::Target;
use kairoi_tokio::{Client, DateTime, Runner};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
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
        "demo.tokio.1",
        "demo.tokio.2",
        "demo.\"quoted\" job\nwith a line feed",
    ];
    let mut tasks = Vec::new();
    for job in jobs {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            (job, client.set_job(job, soon).await)
        }));
    }
    for task in tasks {
        let (job, result) = task.await?;
        println!("job {job:?} at {soon}: {result:?}");
        result?;
    }
    client.close().await;
    Ok(())
}
