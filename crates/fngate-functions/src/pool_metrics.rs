//! Function pool sizes as Prometheus gauges, read from the live pools when `/metrics` is scraped:
//! pools change on every call, and counting at scrape time costs the call path nothing.

use std::collections::HashSet;
use std::sync::Mutex;

use crate::Runtime;

/// The (app, function) label pairs set at the previous scrape.
#[derive(Default)]
pub(crate) struct PublishedPools(Mutex<HashSet<(String, String)>>);

impl Runtime {
    /// Sets `fngate_function_instances` (alive: busy or idle) and `fngate_function_idle_instances`,
    /// labelled `app` and `function`, for every function. A function deleted since the previous
    /// scrape is set to 0 (a Prometheus series cannot be withdrawn from the exporter).
    pub fn publish_pool_metrics(&self) {
        let snapshot = self.snapshot();
        let mut now = HashSet::with_capacity(snapshot.fns.len());
        for entry in snapshot.fns.values() {
            let pool = entry.pool.as_ref();
            let live = pool.map(|p| p.live_count()).unwrap_or(0);
            let idle = pool.map(|p| p.idle_count()).unwrap_or(0);
            set(&entry.app.name, &entry.f.name, live, idle);
            now.insert((entry.app.name.clone(), entry.f.name.clone()));
        }
        let Ok(mut published) = self.published_pools.0.lock() else {
            return;
        };
        for (app, function) in published.difference(&now) {
            set(app, function, 0, 0);
        }
        *published = now;
    }
}

fn set(app: &str, function: &str, live: usize, idle: usize) {
    let labels = [("app", app.to_owned()), ("function", function.to_owned())];
    metrics::gauge!("fngate_function_instances", &labels).set(live as f64);
    metrics::gauge!("fngate_function_idle_instances", &labels).set(idle as f64);
}
