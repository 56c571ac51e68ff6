//! Choosing a connection of a pool: each counts the requests it holds.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts one request in a connection's load for as long as it lives
/// (queued, written, or waiting for the cause of the connection's end).
#[derive(Debug)]
pub struct Load(Arc<AtomicUsize>);

impl Load {
    /// Adds one to `counter` until the guard is dropped.
    pub fn new(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Load(counter.clone())
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The index of the least loaded of `count` connections (`load(i)` each),
/// looking from `start` on so that ties are taken in turn. `None` when
/// `count` is 0.
pub fn least_loaded(count: usize, start: usize, load: impl Fn(usize) -> usize) -> Option<usize> {
    (0..count)
        .map(|i| (start.wrapping_add(i)) % count)
        .min_by_key(|&i| load(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_counts_while_alive() {
        let counter = Arc::new(AtomicUsize::new(0));
        let a = Load::new(&counter);
        let b = Load::new(&counter);
        assert_eq!(counter.load(Ordering::Relaxed), 2);
        drop((a, b));
        assert_eq!(counter.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn least_loaded_takes_ties_in_turn() {
        let loads = [3, 1, 1, 2];
        assert_eq!(least_loaded(4, 0, |i| loads[i]), Some(1));
        assert_eq!(least_loaded(4, 2, |i| loads[i]), Some(2));
        assert_eq!(least_loaded(2, 1, |_| 0), Some(1));
        assert_eq!(least_loaded(3, usize::MAX, |_| 0), Some(0));
        assert_eq!(least_loaded(0, 5, |_| 0), None);
    }
}
