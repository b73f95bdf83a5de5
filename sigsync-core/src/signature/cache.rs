//! A bounded cache of rendered signatures: the same sender, signature and attributes render to
//! the same bytes, and a service sees the same senders again and again. Lookups compare the
//! whole key, so a hit is exactly what rendering would produce.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use super::{Origin, RenderedSignature, UserAttributes};
use crate::Result;

/// The default number of cached renderings per engine.
pub const DEFAULT_RENDER_CACHE: usize = 1024;

struct Entry {
    signature: Option<String>,
    disclaimer: Option<String>,
    origin: Origin,
    user: UserAttributes,
    rendered: RenderedSignature,
}

/// Renderings keyed by (signature, disclaimer, origin, the sender's attributes).
pub(super) struct RenderCache {
    capacity: usize,
    entries: Mutex<(usize, HashMap<u64, Vec<Entry>>)>,
}

impl RenderCache {
    /// A cache of at most `capacity` renderings; 0 turns it off.
    pub(super) fn new(capacity: usize) -> Self {
        RenderCache {
            capacity,
            entries: Mutex::new((0, HashMap::new())),
        }
    }

    /// The cached rendering, or `render()`'s result, remembered when it succeeds.
    pub(super) fn get_or_render(
        &self,
        signature: Option<&str>,
        disclaimer: Option<&str>,
        origin: Origin,
        user: &UserAttributes,
        render: impl FnOnce() -> Result<RenderedSignature>,
    ) -> Result<RenderedSignature> {
        if self.capacity == 0 {
            return render();
        }
        // The bucket: the fields that tell senders apart; a lookup compares the whole key.
        let mut h = DefaultHasher::new();
        (
            signature,
            disclaimer,
            origin,
            &user.mail,
            &user.display_name,
        )
            .hash(&mut h);
        let key = h.finish();
        {
            let guard = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(e) = guard.1.get(&key).and_then(|bucket| {
                bucket.iter().find(|e| {
                    e.signature.as_deref() == signature
                        && e.disclaimer.as_deref() == disclaimer
                        && e.origin == origin
                        && e.user == *user
                })
            }) {
                return Ok(e.rendered.clone());
            }
        }
        let rendered = render()?;
        let mut guard = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if guard.0 >= self.capacity {
            guard.1.clear();
            guard.0 = 0;
        }
        guard.0 += 1;
        guard.1.entry(key).or_default().push(Entry {
            signature: signature.map(str::to_owned),
            disclaimer: disclaimer.map(str::to_owned),
            origin,
            user: user.clone(),
            rendered: rendered.clone(),
        });
        Ok(rendered)
    }
}
