//! A free port for a process started on it by number (and perhaps restarted on it), shared by
//! the test suites of several crates and by kenar-bench (each includes this file with
//! `#[path]`).

/// Chosen below Linux's ephemeral range (32768 and up), where the kernel picks the ports of
/// `bind` to port 0 and of outgoing connections: a port freed there can be handed to another
/// socket before the process binds it. (It happened to a test: the process it started then
/// failed with "Address already in use".) `None` if no port of a thousand tried was free.
pub fn free_port() -> Option<u16> {
    use std::hash::{BuildHasher, Hasher};
    let seed = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (0..1000_u64)
        .map(|i| 20_000 + (seed.wrapping_add(i.wrapping_mul(7_919)) % 12_000) as u16)
        .find(|&port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok())
}
