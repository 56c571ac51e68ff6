//! Scenarios: raw traffic over one or several connections, written step by
//! step.
//!
//! In the bytes a scenario writes, `{run:NAME}` stands for a shell script
//! that records each job it runs under `NAME`, and `{slow:NAME}` for one
//! that first sleeps two seconds (its jobs stay `Triggered` that long).

use std::path::Path;

/// One step of a scenario. Every step but [`Step::Runs`] starts right
/// after a scheduler tick, then collects what each connection receives
/// for two ticks.
#[derive(Debug, Clone)]
pub enum Step {
    /// Writes each `(connection, bytes)` in turn, opening a connection on
    /// its first write; with `apart`, 20 ms after one another, so that the
    /// server reads them apart; with `close`, the sending side of the last
    /// connection written is closed at once after.
    Writes {
        writes: Vec<(usize, Vec<u8>)>,
        apart: bool,
        close: bool,
    },
    /// Waits until this many runs of shell runners are recorded, then for
    /// two more ticks, so that the server saw the commands end.
    Runs(usize),
}

impl Step {
    /// What the step does, as the transcript shows it.
    pub fn describe(&self) -> String {
        let (writes, close) = match self {
            Step::Runs(count) => return format!("wait for {count} runs"),
            Step::Writes { writes, close, .. } => (writes, *close),
        };
        let conn = writes.first().map_or(0, |(c, _)| *c);
        if writes.iter().any(|(c, _)| *c != conn) {
            return format!("{} connections write", writes.len());
        }
        let shown: Vec<String> = writes
            .iter()
            .map(|(_, b)| crate::transcript::show(b))
            .collect();
        let then = if close { ", then closes" } else { "" };
        format!("conn {conn} writes{then} {}", shown.join(" | "))
    }
}

/// A named sequence of steps.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: &'static str,
    pub steps: Vec<Step>,
    /// Where the `TestServer` differs on purpose (one of the differences
    /// the `kairoi_test_server` docs list): its own transcript is then
    /// recorded beside the reference server's, and both are checked.
    pub differs: Option<&'static str>,
}

impl Scenario {
    pub fn new(name: &'static str) -> Self {
        Scenario {
            name,
            steps: Vec::new(),
            differs: None,
        }
    }

    /// Marks a documented difference, with its reason.
    pub fn differs(mut self, why: &'static str) -> Self {
        self.differs = Some(why);
        self
    }

    /// Writes `bytes` on connection 0.
    pub fn write(self, bytes: impl AsRef<[u8]>) -> Self {
        self.write_on(0, bytes)
    }

    /// Writes `bytes` on connection `conn`.
    pub fn write_on(self, conn: usize, bytes: impl AsRef<[u8]>) -> Self {
        self.writes(vec![(conn, bytes.as_ref().to_vec())], false, false)
    }

    /// Writes each piece on connection 0 in its own write.
    pub fn pieces(self, pieces: &[&[u8]]) -> Self {
        let writes = pieces.iter().map(|p| (0, p.to_vec())).collect();
        self.writes(writes, true, false)
    }

    /// Writes each `(connection, bytes)` in one step.
    pub fn each(self, writes: Vec<(usize, String)>) -> Self {
        let writes = writes
            .into_iter()
            .map(|(c, b)| (c, b.into_bytes()))
            .collect();
        self.writes(writes, false, false)
    }

    /// Writes `bytes` on connection 0, then closes its sending side.
    pub fn write_and_close(self, bytes: impl AsRef<[u8]>) -> Self {
        self.writes(vec![(0, bytes.as_ref().to_vec())], false, true)
    }

    fn writes(mut self, writes: Vec<(usize, Vec<u8>)>, apart: bool, close: bool) -> Self {
        self.steps.push(Step::Writes {
            writes,
            apart,
            close,
        });
        self
    }

    /// Waits for `n` recorded runs.
    pub fn runs(mut self, n: usize) -> Self {
        self.steps.push(Step::Runs(n));
        self
    }
}

/// The shell scripts a scenario's rules name, written into `dir`, and the
/// bytes with their placeholders replaced by the scripts' paths.
pub fn expand(bytes: &[u8], dir: &Path) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some(start) = find(rest, b"{") {
        out.extend_from_slice(&rest[..start]);
        let after = &rest[start..];
        let Some(end) = find(after, b"}") else {
            break;
        };
        let inner = String::from_utf8_lossy(&after[1..end]).into_owned();
        match inner.split_once(':') {
            Some((kind @ ("run" | "slow"), name)) => {
                let path = write_script(dir, name, kind == "slow");
                out.extend_from_slice(path.as_bytes());
            }
            _ => out.extend_from_slice(&after[..=end]),
        }
        rest = &after[end + 1..];
    }
    out.extend_from_slice(rest);
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Writes the script for the runner `name`: it records `NAME<TAB>job` in
/// a file of its own under `dir/runs`.
fn write_script(dir: &Path, name: &str, slow: bool) -> String {
    let runs = dir.join("runs");
    std::fs::create_dir_all(&runs).expect("the runs directory");
    let path = dir.join(format!("{name}.sh"));
    let sleep = if slow { "sleep 2\n" } else { "" };
    let script = format!(
        "{sleep}f=$(mktemp '{runs}/run.XXXXXX')\nprintf '%s\\t%s' '{name}' \"$1\" > \"$f.tmp\"\nmv \"$f.tmp\" \"$f.done\"\nrm -f \"$f\"\n",
        runs = runs.display(),
    );
    std::fs::write(&path, script).expect("the runner script");
    path.display().to_string()
}

/// The runs recorded under `dir`, each as `NAME<TAB>job`, sorted.
pub fn runs(dir: &Path) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir.join("runs")) else {
        return Vec::new();
    };
    let mut runs: Vec<Vec<u8>> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".done"))
        .filter_map(|e| std::fs::read(e.path()).ok())
        .collect();
    runs.sort();
    runs
}
