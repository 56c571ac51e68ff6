//! A pass over the pool: one connection in the caller's thread, or one
//! scoped thread per connection, all taking requests from the same
//! iterator, with results handed back to the caller's thread.

use std::sync::{Mutex, mpsc};

use kairoi_client::mux::Payload;
use kairoi_client::{ServerAddr, Settings};

use super::batch::{Pass, Request, Sink};
use super::link::Link;
use crate::{Cause, RequestError};

/// Sends `items` over the connections of `links` and reports each result
/// to `sink` once. A connection that cannot be opened, or that ends, stops
/// taking requests; what no connection took is reported
/// [`RequestError::NotSent`] with the last cause.
pub(crate) fn run<Q, It>(
    links: &mut [Link],
    target: &ServerAddr,
    settings: &Settings,
    pass: Pass,
    mut items: It,
    sink: &mut Sink<'_>,
) where
    Q: Request + Send,
    It: Iterator<Item = (usize, Q)> + Send,
{
    // What fits in one window goes over one connection, an open one if
    // there is any.
    let small = items.size_hint().1.is_some_and(|n| n <= settings.window());
    let cause = match links {
        [one] => one_link(one, target, settings, pass, &mut items, sink),
        many if small => {
            let open = many.iter().position(Link::is_connected).unwrap_or(0);
            one_link(&mut many[open], target, settings, pass, &mut items, sink)
        }
        many => {
            let shared = Mutex::new(&mut items);
            let (tx, rx) = mpsc::channel::<(usize, Option<Payload>, Result<(), RequestError>)>();
            let causes = std::thread::scope(|scope| {
                let workers: Vec<_> = many
                    .iter_mut()
                    .map(|link| {
                        let tx = tx.clone();
                        let shared = &shared;
                        scope.spawn(move || {
                            let mut taken = std::iter::from_fn(|| {
                                shared.lock().unwrap_or_else(|e| e.into_inner()).next()
                            });
                            let mut send = |i, kept, result| {
                                let _ = tx.send((i, kept, result));
                            };
                            one_link(link, target, settings, pass, &mut taken, &mut send)
                        })
                    })
                    .collect();
                drop(tx);
                // The caller's sink runs here, in its own thread.
                for (index, kept, result) in rx {
                    sink(index, kept, result);
                }
                workers
                    .into_iter()
                    .filter_map(|w| w.join().ok().flatten())
                    .collect::<Vec<_>>()
            });
            causes.into_iter().last()
        }
    };
    let cause = cause.unwrap_or(Cause::Closed);
    for (index, item) in items {
        let kept = pass.keep.then(|| item.to_payload());
        let cause = cause.clone();
        sink(index, kept, Err(RequestError::NotSent { cause }));
    }
}

/// A pass over one connection; the cause when it could not be opened or
/// ended.
fn one_link<Q: Request>(
    link: &mut Link,
    target: &ServerAddr,
    settings: &Settings,
    pass: Pass,
    items: &mut dyn Iterator<Item = (usize, Q)>,
    sink: &mut Sink<'_>,
) -> Option<Cause> {
    let conn = match link.connection(target, settings, pass.until) {
        Ok(conn) => conn,
        Err(cause) => return Some(cause),
    };
    let cause = pass.run(conn, items, sink)?;
    link.conn = None;
    Some(cause)
}
