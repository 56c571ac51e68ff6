//! Placement of jobs over several Kairoi servers, by job identifier.
//!
//! A Kairoi server has no cluster mode: an application that needs more
//! than one runs several, and its clients spread the jobs over them by job
//! identifier. Kairoi stores jobs, so a job placed on two servers fires
//! twice: every client of the application, in every language, must send an
//! identifier to the same server. This module is that placement, fixed and
//! written out below so that any language can implement it: rendezvous
//! (highest random weight) hashing over the servers' names, with XXH64.
//!
//! [`place`] picks the server of an identifier, [`score`] is the weight of
//! one server for one identifier, and [`xxh64`] is the hash under both. All
//! three are pure functions of their arguments: no allocation, no random
//! seed, no floating point, no dependence on the platform.
//!
//! # Guarantees
//!
//! For a list of distinct server names:
//!
//! - **Stable.** The same identifier always goes to the same server while
//!   the list of names is unchanged, in every process, on every platform.
//! - **Order-free.** The order of the list does not matter: a permutation
//!   of it places every identifier on the same name (at its new index).
//! - **Adding a server** moves only the identifiers that now score highest
//!   on it, about 1/(n+1) of them when there are n+1 servers; every other
//!   identifier stays where it was.
//! - **Removing a server** moves only the identifiers that were on it; they
//!   spread over the others, and no other identifier moves.
//! - **Balance.** Each of n servers gets about 1/n of the identifiers (the
//!   tests place a million identifiers over 3, 5 and 8 servers and find
//!   every share within 2 % of even).
//!
//! Placement never fails over: when a server is down, its jobs wait for it
//! or fail, because sending them to another server would make them fire
//! twice once it is back. For the same reason, when the list changes, the
//! jobs of the identifiers that move are still stored on their old server:
//! move them, or let them fire there, before their identifiers are sent to
//! the new placement.
//!
//! # Names, not addresses
//!
//! The name of a server is hashed, not its address: a server moved to a
//! new address (a new host, port or IP address) keeps its name and so its
//! jobs. Give each server a name that lasts as long as its data
//! (`kairoi-1`, `kairoi-eu-2`), and map names to addresses in
//! configuration.
//!
//! Placement assumes the names are distinct and does not check it:
//! duplicate names are the caller's concern, best rejected where the list
//! is configured. With a name listed twice, [`place`] returns the first of
//! the two, and the guarantees above hold for the names.
//!
//! # No weights
//!
//! Every server takes the same share. Weighted rendezvous hashing scores a
//! server with a logarithm of its hash, in floating point, whose last bits
//! differ between math libraries and platforms: two clients could then
//! disagree on an identifier whose two best scores are close, and such a
//! disagreement is a job that fires twice. Placement uses integer
//! arithmetic only, so it is exact everywhere. A server meant to take a
//! double share can be listed under two names that the application maps
//! to the same address.
//!
//! # The function, step by step
//!
//! An identifier and the server names are byte strings: the UTF-8 bytes of
//! the identifier as sent in `SET`, and of each name.
//!
//! 1. For each server, build the bytes *name* ‖ `0x00` ‖ *identifier*: the
//!    name, one zero byte, then the identifier.
//! 2. The server's score is the XXH64 of those bytes with seed 0, an
//!    unsigned 64-bit integer. XXH64 is specified by the xxHash project
//!    (<https://github.com/Cyan4973/xxHash/blob/dev/doc/xxhash_spec.md>);
//!    most languages have an implementation.
//! 3. The identifier goes to the server with the highest score, compared
//!    as unsigned integers (in a language with signed 64-bit integers only,
//!    such as Java, compare them unsigned). Equal scores go to the server
//!    whose name is smaller byte-wise (as `memcmp`; a name that is a
//!    prefix of another is the smaller); equal names go to the first in
//!    the list.
//! 4. An empty list places nothing.
//!
//! In Python, with the `xxhash` package:
//!
//! ```python
//! import xxhash
//!
//! def score(name: bytes, id: bytes) -> int:
//!     return xxhash.xxh64_intdigest(name + b"\x00" + id, seed=0)
//!
//! def place(id: bytes, names: list[bytes]) -> int | None:
//!     """The index of the server of `id`, or None for an empty list."""
//!     if not names:
//!         return None
//!     # min() keeps the first of equal keys: highest score, then smallest name.
//!     return min(range(len(names)), key=lambda i: (-score(names[i], id), names[i]))
//! ```
//!
//! # A worked example
//!
//! The identifier `app.mail.42` over the servers `kairoi-a`, `kairoi-b`
//! and `kairoi-c`. For `kairoi-a` the bytes hashed are these 20:
//!
//! ```text
//! 6b 61 69 72 6f 69 2d 61 00 61 70 70 2e 6d 61 69 6c 2e 34 32
//! k  a  i  r  o  i  -  a  \0 a  p  p  .  m  a  i  l  .  4  2
//! ```
//!
//! | server | score (hexadecimal) | score (decimal) |
//! | --- | --- | --- |
//! | `kairoi-a` | `0x551949b61b43bf67` | 6132013414131941223 |
//! | `kairoi-b` | `0x4fa0a6a6c686072b` | 5737769160495466283 |
//! | `kairoi-c` | `0x9193657cc3126f09` | 10489839543599132425 |
//!
//! `kairoi-c` has the highest score, so the job goes to `kairoi-c`, index 2.
//! Its score is above 2<sup>63</sup>: compared as a signed integer it would
//! be negative, and the job would wrongly go to `kairoi-a`.
//!
//! ```
//! use kairoi_proto::placement::{place, score};
//!
//! let servers = ["kairoi-a", "kairoi-b", "kairoi-c"];
//! assert_eq!(score(b"kairoi-a", b"app.mail.42"), 6132013414131941223);
//! assert_eq!(score(b"kairoi-b", b"app.mail.42"), 5737769160495466283);
//! assert_eq!(score(b"kairoi-c", b"app.mail.42"), 10489839543599132425);
//! assert_eq!(place(b"app.mail.42", &servers), Some(2));
//!
//! // The order of the list does not matter.
//! assert_eq!(place(b"app.mail.42", &["kairoi-c", "kairoi-a", "kairoi-b"]), Some(0));
//! assert_eq!(place::<&str>(b"app.mail.42", &[]), None);
//! ```
//!
//! `tests/placement/vectors.jsonl` in the repository holds several hundred
//! more cases, generated with the Python `xxhash` package by
//! `tests/placement/generate.py`, to check another implementation against.

mod hash;

use hash::Xxh64;

/// XXH64 of `data` with `seed`, as specified by the xxHash project.
///
/// ```
/// use kairoi_proto::placement::xxh64;
///
/// assert_eq!(xxh64(b"", 0), 0xEF46DB3751D8E999);
/// ```
#[must_use]
pub fn xxh64(data: &[u8], seed: u64) -> u64 {
    let mut hash = Xxh64::new(seed);
    hash.update(data);
    hash.finish()
}

/// The score of the server named `server` for the job identifier `id`:
/// XXH64, seed 0, of the name, one zero byte and the identifier.
///
/// The same as `xxh64(&[server, &[0], id].concat(), 0)`, without the
/// allocation. [`place`] picks the server with the highest score.
#[must_use]
pub fn score(server: &[u8], id: &[u8]) -> u64 {
    let mut hash = Xxh64::new(0);
    hash.update(server);
    hash.update(&[0]);
    hash.update(id);
    hash.finish()
}

/// The index in `servers` of the server of the job identifier `id`, or
/// `None` when `servers` is empty.
///
/// The server with the highest [`score`]; on equal scores the one whose
/// name is smaller byte-wise, and on equal names the first. The names are
/// assumed distinct (see [the module docs](crate::placement)); any input
/// is safe.
///
/// ```
/// use kairoi_proto::placement::place;
///
/// let servers = vec![String::from("kairoi-1"), String::from("kairoi-2")];
/// let index = place(b"app.mail.42", &servers).expect("a non-empty list");
/// println!("app.mail.42 goes to {}", servers[index]);
/// ```
#[must_use]
pub fn place<S: AsRef<[u8]>>(id: &[u8], servers: &[S]) -> Option<usize> {
    let mut best: Option<(usize, u64, &[u8])> = None;
    for (index, server) in servers.iter().enumerate() {
        let name = server.as_ref();
        let candidate = score(name, id);
        if best
            .is_none_or(|(_, best_score, best_name)| wins(candidate, name, best_score, best_name))
        {
            best = Some((index, candidate, name));
        }
    }
    best.map(|(index, _, _)| index)
}

/// Whether a server of score `score` named `name` beats the best so far,
/// which comes before it in the list: a higher score, or the same score and
/// a smaller name. Equal names keep the first.
fn wins(score: u64, name: &[u8], best_score: u64, best_name: &[u8]) -> bool {
    score > best_score || (score == best_score && name < best_name)
}

#[cfg(test)]
mod tests {
    use super::{place, score, wins, xxh64};

    #[test]
    fn score_hashes_the_name_a_zero_byte_and_the_identifier() {
        assert_eq!(
            score(b"kairoi-a", b"app.mail.42"),
            xxh64(b"kairoi-a\0app.mail.42", 0)
        );
        assert_eq!(score(b"", b""), xxh64(b"\0", 0));
        let long = [b'x'; 70];
        let mut joined = alloc::vec::Vec::from(&long[..40]);
        joined.push(0);
        joined.extend_from_slice(&long);
        assert_eq!(score(&long[..40], &long), xxh64(&joined, 0));
    }

    #[test]
    fn equal_scores_go_to_the_smaller_name_and_equal_names_to_the_first() {
        assert!(wins(2, b"b", 1, b"a"));
        assert!(!wins(1, b"a", 2, b"b"));
        assert!(wins(5, b"a", 5, b"b"));
        assert!(!wins(5, b"b", 5, b"a"));
        assert!(wins(5, b"kairoi", 5, b"kairoi-1"));
        assert!(!wins(5, b"kairoi", 5, b"kairoi"));
    }

    #[test]
    fn duplicates_and_empty_names_are_safe() {
        assert_eq!(place::<&[u8]>(b"job", &[]), None);
        assert_eq!(place(b"job", &[""]), Some(0));
        assert_eq!(place(b"", &["", ""]), Some(0));
        let servers = ["kairoi-a", "kairoi-b", "kairoi-a", "kairoi-c"];
        for n in 0..200 {
            let id = alloc::format!("job-{n}");
            let index = place(id.as_bytes(), &servers);
            assert_ne!(index, Some(2), "{id} went to the duplicate");
        }
    }
}
