//! Fidelity: the `TestServer` against the reference Kairoi server.
//!
//! Each scenario (`scenarios.rs`) writes raw bytes over one or several
//! connections, step by step. What a client can observe is written down as
//! a transcript (`transcript.rs`): every answer, and whether it was
//! written as soon as its request was read (`now`) or at the scheduler's
//! next tick (`tick`); whether and when each connection closed; and the
//! state the server ended with: its jobs (identifier, time, status) and
//! rules, and the runs of its shell runners, which record the exact job
//! identifier they were given in files on disk.
//!
//! How the answers were split into reads is left out on purpose: TCP
//! keeps no write boundaries, so a client can rely on none, and the two
//! servers write differently (each answer in a write of its own without
//! `TCP_NODELAY`, or the answers that are ready together in one; see the
//! differences in the `kairoi_test_server` docs).
//!
//! - **Offline** (the default, and in `cargo test --workspace fidelity`):
//!   each scenario runs against a `TestServer`, and its transcript must be
//!   the one recorded from the reference server, in
//!   `tests/fidelity/recordings/NAME.txt`.
//! - **Live**: with `KAIROI_REFERENCE_BIN` set to the reference server's
//!   binary, each scenario also runs against a fresh reference server, and
//!   the two transcripts and the recording must all agree.
//! - **Recording**: with `KAIROI_FIDELITY_RECORD=1` as well, the reference
//!   server's transcripts are written as the new recordings:
//!
//! ```text
//! KAIROI_REFERENCE_BIN=$(../shared/reference-server/build.sh | tail -n 1) \
//!     KAIROI_FIDELITY_RECORD=1 cargo test -p kairoi-test-server --test fidelity
//! ```
//!
//! A scenario marked with `differs` shows one of the differences kept on
//! purpose (listed in the `kairoi_test_server` docs): the `TestServer`'s
//! transcript is recorded beside the reference server's, in
//! `NAME.test-server.txt`, and each side is checked against its own.
//!
//! `KAIROI_FIDELITY_ONLY=part` runs the scenarios whose name contains
//! `part`.
//!
//! To tell `now` from `tick`, both servers tick slowly (every 250 ms live,
//! 200 ms offline), and each step starts right after a tick, found by a
//! probe connection whose request is answered at the tick.

mod proxied;
mod run;
mod scenarios;
mod script;
mod transcript;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use kairoi_proto::Runner;
use kairoi_suite::reference::ReferenceServer;
use kairoi_test_server::{JobStatus, ShellRunners, TestServer};

use run::{Failed, Server};
use script::Scenario;
use transcript::{JobLine, RuleLine};

/// The scheduler tick of both servers when comparing live.
const LIVE_TICK: Duration = Duration::from_millis(250);
/// The `TestServer`'s tick when comparing with the recordings alone.
const OFFLINE_TICK: Duration = Duration::from_millis(200);
/// Attempts of a run whose steps could not start right after a tick.
const ATTEMPTS: usize = 3;

struct Embedded(TestServer);

impl Server for Embedded {
    fn addr(&self) -> std::net::SocketAddr {
        self.0.addr()
    }

    fn state(&self) -> (Vec<JobLine>, Vec<RuleLine>) {
        let jobs = self
            .0
            .jobs()
            .into_iter()
            .map(|j| JobLine {
                id: j.id,
                unix_seconds: j.execution.unix_seconds(),
                status: match j.status {
                    JobStatus::Planned => "planned",
                    JobStatus::Triggered => "triggered",
                    JobStatus::Executed => "executed",
                    JobStatus::Failed => "failed",
                    _ => "unknown",
                }
                .to_owned(),
            })
            .collect();
        let rules = self
            .0
            .rules()
            .into_iter()
            .map(|r| RuleLine {
                id: r.id,
                pattern: r.pattern,
                runner: match r.runner {
                    Runner::Shell { command } => vec!["shell".into(), command.to_string()],
                    Runner::Amqp {
                        dsn,
                        exchange,
                        routing_key,
                    } => vec![
                        "amqp".into(),
                        dsn.to_string(),
                        exchange.to_string(),
                        routing_key.to_string(),
                    ],
                    _ => vec!["unknown".into()],
                },
            })
            .collect();
        (jobs, rules)
    }
}

impl Server for ReferenceServer {
    fn addr(&self) -> std::net::SocketAddr {
        ReferenceServer::addr(self)
    }

    fn state(&self) -> (Vec<JobLine>, Vec<RuleLine>) {
        let state = ReferenceServer::state(self);
        let jobs = state
            .jobs
            .into_iter()
            .map(|j| JobLine {
                id: j.id,
                unix_seconds: j.unix_seconds,
                status: j.status.name().to_owned(),
            })
            .collect();
        let rules = state
            .rules
            .into_iter()
            .map(|r| RuleLine {
                id: r.id,
                pattern: r.pattern,
                runner: r.runner,
            })
            .collect();
        (jobs, rules)
    }
}

fn recordings() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fidelity/recordings")
}

/// A fresh directory for one run's scripts (and the reference server's
/// database).
fn scratch(scenario: &str, who: &str, attempt: usize) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "kairoi-fidelity-{}-{scenario}-{who}-{attempt}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

/// Runs `scenario` against a fresh server from `start`, again when a step
/// could not start right after a tick.
fn transcript(
    scenario: &Scenario,
    who: &str,
    tick: Duration,
    start: &dyn Fn(&Path) -> Box<dyn Server>,
) -> String {
    let mut why = String::new();
    for attempt in 0..ATTEMPTS {
        let dir = scratch(scenario.name, who, attempt);
        let server = start(&dir);
        let result = run::run(scenario, server.as_ref(), tick, &dir);
        drop(server);
        let _ = std::fs::remove_dir_all(&dir);
        match result {
            Ok(text) => return text,
            Err(Failed::Unsynchronised(step)) => why = step,
        }
    }
    panic!(
        "{}: {who}: {why} could not start right after a tick in {ATTEMPTS} attempts",
        scenario.name
    );
}

fn embedded(tick: Duration) -> impl Fn(&Path) -> Box<dyn Server> {
    move |_| {
        let server = TestServer::builder()
            .tick(tick)
            .shell_runners(ShellRunners::Run)
            .start()
            .expect("a TestServer");
        Box::new(Embedded(server))
    }
}

/// What became of one scenario.
enum Verdict {
    Agreed,
    /// A documented difference, checked on both sides.
    Differs,
    Disagreed(String),
}

/// `NAME.txt` holds the reference server's transcript; for a documented
/// difference, `NAME.test-server.txt` holds the `TestServer`'s.
fn recording(name: &str, test_server: bool) -> PathBuf {
    let suffix = if test_server { ".test-server" } else { "" };
    recordings().join(format!("{name}{suffix}.txt"))
}

/// Compares a transcript with its recording.
fn against(path: &Path, who: &str, text: &str) -> Result<(), String> {
    match std::fs::read_to_string(path) {
        Ok(recorded) if recorded == text => Ok(()),
        Ok(recorded) => Err(format!(
            "{who}, recorded in {}:\n{recorded}\n{who} now:\n{text}",
            path.display()
        )),
        Err(_) => Err(format!(
            "no recording at {}: record it (see the docs of tests/fidelity/main.rs)\n{who} now:\n{text}",
            path.display()
        )),
    }
}

fn check(scenario: &Scenario, live: Option<&Path>, record: bool) -> Verdict {
    let theirs_path = recording(scenario.name, false);
    let ours_path = recording(scenario.name, true);
    let tick = if live.is_some() {
        LIVE_TICK
    } else {
        OFFLINE_TICK
    };
    let ours = transcript(scenario, "test-server", tick, &embedded(tick));
    let theirs = match live {
        Some(bin) => {
            let start_reference = |dir: &Path| -> Box<dyn Server> {
                let framerate = (1.0 / LIVE_TICK.as_secs_f64()).round() as u32;
                Box::new(ReferenceServer::start(bin, &dir.join("db"), framerate))
            };
            let theirs = transcript(scenario, "reference", LIVE_TICK, &start_reference);
            if record {
                std::fs::create_dir_all(recordings()).expect("the recordings directory");
                std::fs::write(&theirs_path, &theirs).expect("write the recording");
                if scenario.differs.is_some() {
                    std::fs::write(&ours_path, &ours).expect("write the recording");
                }
            }
            if let Err(stale) = against(&theirs_path, "the reference server", &theirs) {
                return Verdict::Disagreed(stale);
            }
            theirs
        }
        None => match std::fs::read_to_string(&theirs_path) {
            Ok(theirs) => theirs,
            Err(_) => {
                return Verdict::Disagreed(format!(
                    "no recording at {}: record it (see the docs of tests/fidelity/main.rs)\nthe TestServer:\n{ours}",
                    theirs_path.display()
                ));
            }
        },
    };
    match scenario.differs {
        None if theirs == ours => Verdict::Agreed,
        None => Verdict::Disagreed(format!(
            "the reference server:\n{theirs}\nthe TestServer:\n{ours}"
        )),
        Some(why) => match against(&ours_path, "the TestServer", &ours) {
            Err(e) => Verdict::Disagreed(format!("a documented difference ({why}) changed: {e}")),
            Ok(()) if theirs == ours => Verdict::Disagreed(format!(
                "documented as a difference ({why}), but both servers now agree: \
                 drop the difference from the scenario and the docs\n{ours}"
            )),
            Ok(()) => Verdict::Differs,
        },
    }
}

/// Held by each test that runs scenarios: the classes of the answers
/// depend on timing, so the tests do not load the machine together.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

#[test]
fn fidelity_scenarios() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let live = std::env::var_os("KAIROI_REFERENCE_BIN").map(PathBuf::from);
    let record = std::env::var_os("KAIROI_FIDELITY_RECORD").is_some();
    assert!(
        live.is_some() || !record,
        "KAIROI_FIDELITY_RECORD needs KAIROI_REFERENCE_BIN: recordings come from the reference server"
    );
    if let Some(bin) = &live {
        assert!(
            bin.is_file(),
            "KAIROI_REFERENCE_BIN={} is not a file",
            bin.display()
        );
    }
    let only = std::env::var("KAIROI_FIDELITY_ONLY").unwrap_or_default();
    let scenarios: Vec<Scenario> = scenarios::all()
        .into_iter()
        .filter(|s| s.name.contains(&only))
        .collect();
    assert!(!scenarios.is_empty(), "no scenario matches {only:?}");
    // Scenarios mostly wait for ticks: run several at once.
    let workers = if live.is_some() { 3 } else { 6 };
    let queue = Mutex::new(scenarios.iter());
    let verdicts = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let Some(scenario) = queue.lock().unwrap().next() else {
                        return;
                    };
                    let verdict = check(scenario, live.as_deref(), record);
                    verdicts.lock().unwrap().push((scenario.name, verdict));
                }
            });
        }
    });
    let mut verdicts = verdicts.into_inner().unwrap();
    verdicts.sort_by_key(|(name, _)| *name);
    let mut disagreed = Vec::new();
    let mut differs = 0;
    for (name, verdict) in &verdicts {
        match verdict {
            Verdict::Agreed => println!("fidelity: {name}: agreed"),
            Verdict::Differs => {
                differs += 1;
                println!("fidelity: {name}: differs as documented");
            }
            Verdict::Disagreed(both) => {
                println!("fidelity: {name}: DISAGREED\n{both}");
                disagreed.push(*name);
            }
        }
    }
    let agreed = verdicts.len() - disagreed.len() - differs;
    let documented = format!("{differs} differ as documented");
    match (&live, record) {
        (Some(_), true) => println!(
            "fidelity: {} scenarios recorded from the reference server; \
             {agreed} scenarios agreed with it, {documented}",
            verdicts.len()
        ),
        (Some(_), false) => {
            println!("fidelity: {agreed} scenarios agreed with the reference server; {documented}")
        }
        (None, _) => println!(
            "fidelity: {agreed} scenarios agreed with the recordings of the reference server, \
             {documented} (offline; set KAIROI_REFERENCE_BIN to compare live)"
        ),
    }
    assert!(
        disagreed.is_empty(),
        "scenarios that disagree: {disagreed:?}"
    );
}

#[test]
fn fidelity_every_recording_belongs_to_a_scenario() {
    let all = scenarios::all();
    let mut unique: Vec<&str> = all.iter().map(|s| s.name).collect();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), all.len(), "two scenarios share a name");
    let names: Vec<String> = all
        .iter()
        .flat_map(|s| {
            let ours = s.differs.map(|_| format!("{}.test-server.txt", s.name));
            std::iter::once(format!("{}.txt", s.name)).chain(ours)
        })
        .collect();
    for entry in std::fs::read_dir(recordings()).expect("the recordings directory") {
        let name = entry
            .expect("an entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        assert!(
            names.contains(&name),
            "recording {name} has no scenario: remove it or restore its scenario"
        );
    }
}
