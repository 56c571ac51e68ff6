//! [`InOrder`]: results reported in completion order, collected in input
//! order, for the `execute_all` of every client.

use crate::{Cause, RequestError};

/// Collects `(position, result)` pairs into a vector in input order.
#[derive(Debug, Default)]
pub struct InOrder(Vec<Option<Result<(), RequestError>>>);

impl InOrder {
    /// Records the result of the request at `index`.
    pub fn put(&mut self, index: usize, result: Result<(), RequestError>) {
        if self.0.len() <= index {
            self.0.resize_with(index + 1, || None);
        }
        self.0[index] = Some(result);
    }

    /// The results in input order. The batch calls report every position
    /// exactly once; a position never reported would read as not sent.
    pub fn finish(self) -> Vec<Result<(), RequestError>> {
        self.0
            .into_iter()
            .map(|r| {
                r.unwrap_or(Err(RequestError::NotSent {
                    cause: Cause::Closed,
                }))
            })
            .collect()
    }
}
