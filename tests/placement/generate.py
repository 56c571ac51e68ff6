#!/usr/bin/env python3
"""Generates the placement vectors of kairoi_proto::placement.

The vectors come from the Python `xxhash` package, an implementation of
XXH64 independent of the Rust one, and from the placement function as the
module docs of `kairoi_proto::placement` write it out. `tests/placement.rs`
checks the Rust implementation against every line.

Run it from anywhere (it writes next to itself); the output is the same on
every run and every platform (a fixed splitmix64 generator, no `random`):

    python3 -m venv /tmp/xxhash-venv
    /tmp/xxhash-venv/bin/pip install xxhash
    /tmp/xxhash-venv/bin/python tests/placement/generate.py

It writes two files, one JSON object per line:

vectors.jsonl, placement:
    {"id": ID, "servers": [NAME, ...], "server": NAME, "index": 2,
     "scores": ["6132013414131941223", ...]}
    "index" is the index of the chosen server in "servers", "server" its
    name, "scores" the score of each server for the identifier, in the order
    of "servers", as decimal strings (a JSON number loses the low bits of a
    64-bit integer in many parsers). An ID or a NAME is a byte string,
    written as a JSON string when the bytes are UTF-8 (its UTF-8 bytes; a
    zero byte is the escape \\u0000), or else as a JSON array of the byte
    values, e.g. [255, 0, 128].

xxh64.jsonl, the hash alone:
    {"input": "00ff10", "seed": "0", "hash": "9974765773097905924"}
    "input" is the bytes in hexadecimal; "seed" and "hash" are decimal
    strings. Every length from 0 to 100 bytes (so the 32-byte stripes and
    the 8-, 4- and 1-byte tails in every combination) and a few longer
    inputs, each with several seeds.
"""

import json
import os
import string

import xxhash

HERE = os.path.dirname(os.path.abspath(__file__))
MASK = (1 << 64) - 1


class SplitMix64:
    """A small generator, fixed so the output never depends on Python's."""

    def __init__(self, seed: int):
        self.state = seed & MASK

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, n: int) -> int:
        return self.next() % n

    def choice(self, items):
        return items[self.below(len(items))]

    def bytes(self, n: int) -> bytes:
        return bytes(self.below(256) for _ in range(n))


# The placement function, as the module docs write it out.


def score(name: bytes, id: bytes) -> int:
    return xxhash.xxh64_intdigest(name + b"\x00" + id, seed=0)


def place(id: bytes, names: list) -> int:
    # min() keeps the first of equal keys: highest score, then smallest name.
    return min(range(len(names)), key=lambda i: (-score(names[i], id), names[i]))


def encode(data: bytes):
    """A byte string as a JSON value: a string when UTF-8, else the bytes."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return list(data)


def vector(id: bytes, servers: list) -> dict:
    assert len(set(servers)) == len(servers), servers
    index = place(id, servers)
    return {
        "id": encode(id),
        "servers": [encode(s) for s in servers],
        "server": encode(servers[index]),
        "index": index,
        "scores": [str(score(s, id)) for s in servers],
    }


def numbered(n: int) -> list:
    return [f"kairoi-{i}".encode() for i in range(1, n + 1)]


IDS = [
    b"",
    b"a",
    b"app.mail.42",
    b"job-0",
    b"job-1",
    b"invoice:2030-01-01:customer-8812",
    b"x" * 31,
    b"x" * 32,
    b"x" * 33,
    b"app.reports.monthly.2030-01.customer-000123456789",
    ("a-long-identifier-" * 8).encode(),
    "tâche-été".encode(),
    "ジョブ-1".encode(),
    "🚀-launch".encode(),
    b"with space",
    b"line\nfeed",
    b'quote"and\\backslash',
    b"\x00",
    b"a\x00b",
    b"\xff\x00\x80",
    b"\xc3\x28-invalid-utf8",
]

SERVER_LISTS = [numbered(n) for n in (1, 2, 3, 5, 8)] + [
    # Names that share prefixes.
    [b"kairoi", b"kairoi-1", b"kairoi-10", b"kairoi-100", b"kairoi-1a"],
    [b"a", b"aa", b"aaa"],
    [b"", b"a"],
    # Addresses as names (the name is hashed; these are only strings).
    [b"10.0.0.1:5678", b"10.0.0.2:5678", b"10.0.0.3:5678"],
    # Non-ASCII names.
    ["ordonnanceur-é".encode(), "スケジューラ".encode(), "🕰-3".encode()],
    # A zero byte in a name, and a name that is not UTF-8.
    [b"a\x00", b"a", b"\xff\xfe"],
    # Long names (over 32 bytes, alone a whole stripe).
    [b"kairoi-" + b"n" * 40 + bytes([c]) for c in b"abcd"],
]


def random_id(rng: SplitMix64) -> bytes:
    kind = rng.below(5)
    if kind == 0:
        return rng.bytes(rng.below(80))
    if kind == 1:
        alphabet = (string.ascii_letters + string.digits + ".-_:/").encode()
        return bytes(rng.choice(alphabet) for _ in range(rng.below(80)))
    word = rng.choice(["mail", "reports", "billing", "cleanup", "push", "sms"])
    return f"app.{word}.{rng.next()}".encode()


def random_name(rng: SplitMix64) -> bytes:
    kind = rng.below(4)
    if kind == 0:
        return f"kairoi-{rng.below(100)}".encode()
    if kind == 1:
        return f"10.0.{rng.below(4)}.{rng.below(256)}:5678".encode()
    if kind == 2:
        return rng.bytes(rng.below(12))
    region = rng.choice(["eu", "us", "ap", "é", "東京"])
    return f"kairoi-{region}-{rng.below(10)}".encode()


def random_servers(rng: SplitMix64) -> list:
    count = 1 + rng.below(12)
    names = []
    while len(names) < count:
        name = random_name(rng)
        if name not in names:
            names.append(name)
    return names


def placement_vectors() -> list:
    vectors = [vector(id, servers) for servers in SERVER_LISTS for id in IDS]
    rng = SplitMix64(0x4B41_4952_4F49)
    vectors += [vector(random_id(rng), random_servers(rng)) for _ in range(400)]
    return vectors


def xxh64_vectors() -> list:
    rng = SplitMix64(64)
    seeds = [0, 1, 2654435761, MASK]
    lengths = list(range(0, 101)) + [127, 128, 129, 255, 256, 1000, 4096 + 7]
    vectors = []
    for length in lengths:
        data = rng.bytes(length)
        for seed in seeds + [rng.next()]:
            digest = xxhash.xxh64_intdigest(data, seed=seed)
            vectors.append({"input": data.hex(), "seed": str(seed), "hash": str(digest)})
    return vectors


def write(name: str, vectors: list) -> None:
    with open(os.path.join(HERE, name), "w", encoding="utf-8", newline="\n") as out:
        for v in vectors:
            out.write(json.dumps(v, ensure_ascii=False) + "\n")
    print(f"{name}: {len(vectors)} vectors")


if __name__ == "__main__":
    # The worked example of the module docs.
    assert score(b"kairoi-a", b"app.mail.42") == 6132013414131941223
    assert place(b"app.mail.42", [b"kairoi-a", b"kairoi-b", b"kairoi-c"]) == 2
    write("vectors.jsonl", placement_vectors())
    write("xxh64.jsonl", xxh64_vectors())
