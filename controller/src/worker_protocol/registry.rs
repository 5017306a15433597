//! Remote workers that announced themselves to this server (the remote runner's pool).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a registered remote worker stays live without announcing itself.
const REGISTRATION_TTL: Duration = Duration::from_secs(10);

/// Remote workers that announced themselves to this server.
#[derive(Debug, Default)]
pub struct WorkerRegistry {
    seen: Mutex<BTreeMap<String, Instant>>,
}

impl WorkerRegistry {
    /// Records an announcement from the worker at `url`.
    pub fn announce(&self, url: &str) {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(url.trim_end_matches('/').to_string(), Instant::now());
    }

    /// URLs of workers heard from recently, in a stable order.
    pub fn live(&self) -> Vec<String> {
        let now = Instant::now();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|_, t| now.duration_since(*t) < REGISTRATION_TTL * 6);
        seen.iter()
            .filter(|(_, t)| now.duration_since(**t) < REGISTRATION_TTL)
            .map(|(u, _)| u.clone())
            .collect()
    }
}
