//! The reference Kairoi server, for live tests: the real server's binary
//! (given by the test, usually from `KAIROI_REFERENCE_BIN`) run as a child
//! process on a free loopback port, with its database in a folder of the
//! test's own. The live restart case uses it, and so does the fidelity
//! test of `kairoi-test-server`.
//!
//! - [`ReferenceServer`] starts it, restarts it on the same port with the
//!   same folder (the way a deploy restarts a server), and stops it.
//! - [`read_log`] reads the jobs and rules the server wrote to its
//!   database folder, the last entry of each identifier winning: what it
//!   will hold after its next start.
//! - [`ScratchFolder`] is a fresh database folder, removed when the test
//!   passes and kept for a look when it fails.
//!
//! The server's database loop persists a change before it answers `OK`,
//! so every job a client was told `OK` about is in the log, even when the
//! server is killed. It stores times as 64-bit nanoseconds since 1970: a
//! job after 2262-04-11 is written wrong, and most such jobs keep the
//! server from loading its folder at its next start (it exits; see
//! `docs/protocol.md` §3), so tests that restart it date their jobs
//! before then.

mod folder;
mod log;
mod process;

pub use folder::ScratchFolder;
pub use log::{Job, JobStatus, Rule, State, read_log};
pub use process::{ReferenceServer, Stop};
