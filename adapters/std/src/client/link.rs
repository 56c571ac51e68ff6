//! One connection of the blocking client's pool: the open connection, or
//! when and why to make one again.

use std::time::Instant;

use kairoi_client::{Reconnect, ServerAddr, Settings};

use super::connection::Connection;
use crate::Cause;

/// One connection slot: reconnects on demand, with backoff and jitter
/// after failed attempts.
#[derive(Debug, Default)]
pub(crate) struct Link {
    pub(crate) conn: Option<Connection>,
    reconnect: Reconnect,
}

impl Link {
    /// The open connection, after checking that it is still usable (the
    /// server may have closed it while idle, or left requests unanswered
    /// for a request timeout), or a new one. While the backoff after a
    /// failed attempt runs, fails at once with that attempt's error.
    pub(crate) fn connection(
        &mut self,
        target: &ServerAddr,
        settings: &Settings,
        until: Option<Instant>,
    ) -> Result<&mut Connection, Cause> {
        let usable = self.conn.as_mut().is_some_and(Connection::refresh);
        if !usable {
            self.conn = None;
            if let Some(cause) = self.reconnect.backing_off(Instant::now()) {
                return Err(cause.clone());
            }
            match Connection::open(target, settings, until) {
                Ok(conn) => {
                    self.reconnect.succeeded();
                    self.conn = Some(conn);
                }
                Err(cause) => {
                    let now = Instant::now();
                    self.reconnect.failed(now, &settings.backoff, cause.clone());
                    return Err(cause);
                }
            }
        }
        self.conn.as_mut().ok_or(Cause::Closed)
    }

    /// Whether a connection is open now.
    pub(crate) fn is_connected(&self) -> bool {
        self.conn.as_ref().is_some_and(Connection::is_open)
    }
}
