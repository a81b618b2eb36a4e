//! A free port for a process that a test starts on it by number (and may restart on it),
//! shared by the test suites of several crates (each includes this file with `#[path]`).

/// Chosen below Linux's ephemeral range (32768 and up), where the kernel picks the ports of
/// `bind` to port 0 and of outgoing connections: a port freed there can be handed to a test
/// running alongside before the process binds it. (It happened: the process then failed to
/// start with "Address already in use".)
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let seed = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (0..1000_u64)
        .map(|i| 20_000 + (seed.wrapping_add(i.wrapping_mul(7_919)) % 12_000) as u16)
        .find(|&port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok())
        .expect("a free port below the ephemeral range")
}
