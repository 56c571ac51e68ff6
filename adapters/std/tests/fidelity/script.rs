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
    /// Writes bytes on a connection (opened by its first step).
    Write { conn: usize, bytes: Vec<u8> },
    /// Writes pieces on a connection, each in its own write, 30 ms apart,
    /// so that the server reads them apart.
    Pieces { conn: usize, pieces: Vec<Vec<u8>> },
    /// Writes bytes on several connections, one after the other, in one
    /// step.
    Each { writes: Vec<(usize, Vec<u8>)> },
    /// Writes bytes, then closes the connection's sending side at once.
    WriteAndClose { conn: usize, bytes: Vec<u8> },
    /// Waits until this many runs of shell runners are recorded, then for
    /// two more ticks, so that the server saw the commands end.
    Runs(usize),
}

/// A named sequence of steps.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: &'static str,
    pub steps: Vec<Step>,
    /// Where the `TestServer` differs on purpose (one of the differences
    /// the `kairoi_std::testing` docs list): its own transcript is then
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
    pub fn write_on(mut self, conn: usize, bytes: impl AsRef<[u8]>) -> Self {
        let bytes = bytes.as_ref().to_vec();
        self.steps.push(Step::Write { conn, bytes });
        self
    }

    /// Writes each piece on connection 0 in its own write.
    pub fn pieces(mut self, pieces: &[&[u8]]) -> Self {
        let pieces = pieces.iter().map(|p| p.to_vec()).collect();
        self.steps.push(Step::Pieces { conn: 0, pieces });
        self
    }

    /// Writes each `(connection, bytes)` in one step.
    pub fn each(mut self, writes: Vec<(usize, String)>) -> Self {
        let writes = writes
            .into_iter()
            .map(|(c, b)| (c, b.into_bytes()))
            .collect();
        self.steps.push(Step::Each { writes });
        self
    }

    /// Writes `bytes` on connection 0, then closes its sending side.
    pub fn write_and_close(mut self, bytes: impl AsRef<[u8]>) -> Self {
        let bytes = bytes.as_ref().to_vec();
        self.steps.push(Step::WriteAndClose { conn: 0, bytes });
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
