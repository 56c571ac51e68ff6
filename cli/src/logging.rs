//! The clients' `tracing` output on stderr: `-v` (info: connections
//! made, closed, ended and failed), `-vv` (debug: a line per request),
//! `-vvv` (trace), and `KAIROI_LOG`, directives in the `EnvFilter` form
//! (`kairoi_client=debug`, `info`), added to the level of `-v`. Without
//! either nothing is installed, and nothing more is printed.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

use crate::outcome::Failure;

/// The environment variable of the directives.
pub const ENV: &str = "KAIROI_LOG";

/// The filter of `-v` given `verbose` times and of `directives` (the
/// value of `KAIROI_LOG`, if set); `None` when neither asks for
/// anything. A directive that cannot be read is bad input naming it.
pub fn filter(verbose: u8, directives: Option<&str>) -> Result<Option<EnvFilter>, Failure> {
    let directives = directives.map(str::trim).filter(|d| !d.is_empty());
    let level = match verbose {
        0 => LevelFilter::OFF,
        1 => LevelFilter::INFO,
        2 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    if verbose == 0 && directives.is_none() {
        return Ok(None);
    }
    let builder = EnvFilter::builder().with_default_directive(level.into());
    match directives {
        None => Ok(Some(builder.parse_lossy(""))),
        Some(text) => builder.parse(text).map(Some).map_err(|e| {
            Failure::bad_input(format!(
                "bad {ENV} {text:?}: {e}; expected directives separated by commas, \
                 such as info, kairoi_client=debug or kairoi_client=debug,kairoi_std=info"
            ))
        }),
    }
}

/// Installs the output on stderr for `-v` given `verbose` times and
/// `KAIROI_LOG`; gives whether anything is printed (the progress bar of
/// `import` then stays hidden, so that lines and bar do not mix).
pub fn init(verbose: u8) -> Result<bool, Failure> {
    let directives = std::env::var(ENV).ok();
    let Some(filter) = filter(verbose, directives.as_deref())? else {
        return Ok(false);
    };
    let installed = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init()
        .is_ok();
    Ok(installed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_and_directives() {
        assert!(filter(0, None).unwrap().is_none());
        assert!(filter(0, Some("  ")).unwrap().is_none());
        assert_eq!(
            filter(1, None).unwrap().unwrap().max_level_hint(),
            Some(LevelFilter::INFO)
        );
        assert_eq!(
            filter(2, None).unwrap().unwrap().max_level_hint(),
            Some(LevelFilter::DEBUG)
        );
        assert_eq!(
            filter(0, Some("kairoi_client=debug"))
                .unwrap()
                .unwrap()
                .max_level_hint(),
            Some(LevelFilter::DEBUG)
        );
        let bad = filter(0, Some("kairoi_client=loud")).unwrap_err();
        assert_eq!(bad.code, crate::outcome::BAD_INPUT);
        assert!(
            bad.message
                .contains("bad KAIROI_LOG \"kairoi_client=loud\""),
            "{}",
            bad.message
        );
    }
}
