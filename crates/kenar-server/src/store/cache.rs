//! What the public API reads on every call (an API key with its app, an access token, a
//! post's owner), kept for a moment so that a burst of calls does not read it again each time.
//!
//! An entry is served for at most [`CREDENTIAL_TTL`], and never after this process changed what
//! it was read from: every such write bumps its map's generation, which empties the map at
//! once. A change made by another process is seen within [`CREDENTIAL_TTL`]. Only what was
//! found is kept (each caller still checks a presented secret against the stored hash), so
//! unknown credentials cannot fill the cache. Entries are shared, not copied: a call takes a
//! reference to the records it reads, not a dozen strings of its own.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{AccessTokenRecord, ApiKeyRecord, AppRecord, PostRecord};

pub const CREDENTIAL_TTL: Duration = Duration::from_secs(1);
/// Entries per map at most; a full map is emptied (credentials in use return at once).
const MAX_ENTRIES: usize = 10_000;

struct Entry<T> {
    value: T,
    read_at: Instant,
    generation: u64,
}

pub(super) struct Map<T> {
    generation: AtomicU64,
    entries: Mutex<HashMap<String, Entry<Arc<T>>>>,
}

/// Says how much is kept, never what: the entries hold credential hashes.
impl<T> std::fmt::Debug for Map<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = self.entries.lock().map(|e| e.len()).unwrap_or(0);
        f.debug_struct("Map").field("entries", &len).finish()
    }
}

impl<T> Default for Map<T> {
    fn default() -> Self {
        Map {
            generation: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<T> Map<T> {
    /// Forgets everything read so far.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    pub fn get(&self, lookup: &str) -> Option<Arc<T>> {
        let generation = self.generation.load(Ordering::SeqCst);
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(lookup)
            .filter(|e| e.generation == generation && e.read_at.elapsed() < CREDENTIAL_TTL)
            .map(|e| Arc::clone(&e.value))
    }

    /// `get`, or `read` and keep what it found.
    pub async fn get_or_read<E, F>(&self, lookup: &str, read: F) -> Result<Option<Arc<T>>, E>
    where
        F: std::future::Future<Output = Result<Option<T>, E>>,
    {
        if let Some(found) = self.get(lookup) {
            return Ok(Some(found));
        }
        // Taken before the read, so that a write during the read makes what it read stale.
        let generation = self.generation.load(Ordering::SeqCst);
        let read_at = Instant::now();
        let found = read.await?.map(Arc::new);
        if let Some(value) = &found {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(
                lookup.to_owned(),
                Entry {
                    value: Arc::clone(value),
                    read_at,
                    generation,
                },
            );
        }
        Ok(found)
    }
}

#[derive(Debug, Default)]
pub(super) struct ReadCache {
    pub keys: Map<(ApiKeyRecord, AppRecord)>,
    pub tokens: Map<AccessTokenRecord>,
    pub posts: Map<PostRecord>,
}

impl ReadCache {
    /// Forgets every app, key, token and grant read so far.
    pub fn invalidate_credentials(&self) {
        self.keys.invalidate();
        self.tokens.invalidate();
    }
}
