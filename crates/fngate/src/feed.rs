//! Several nodes on one PostgreSQL: what another node changed reaches this node's data plane.
//!
//! The store's [`ChangeFeed`] reports changed topics (LISTEN/NOTIFY, and a reconcile every
//! `--reconcile-secs` as the fallback); each topic has one reloader task here, so a burst of
//! changes costs one reload and a slow one (a function's environment being prepared) does not
//! hold up the others. `/readyz` reads [`Readiness`].

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use fngate_store::changes::{ChangeFeed, FeedHealth, Topic};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

/// How long `/readyz` waits for the database.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// What reloads each topic on this node.
pub struct Reloaders {
    pub runtime: Arc<fngate_functions::Runtime>,
    pub gateway: Arc<fngate_gateway::Gateway>,
    pub oci: Arc<fngate_oci::Oci>,
}

/// What `/readyz` checks: the store answers, the feed follows it, the last reloads worked.
#[derive(Clone)]
pub struct Readiness {
    store: fngate_store::Store,
    feed: ChangeFeed,
    failed: Arc<Mutex<Vec<(Topic, String)>>>,
}

impl Readiness {
    /// 200 "ready", or 503 with every reason this node is not.
    pub async fn check(&self) -> (StatusCode, String) {
        let mut reasons = Vec::new();
        if let Err(err) = self.store.db().ping(PING_TIMEOUT).await {
            reasons.push(format!("store ({}) unreachable: {err}", self.store.backend().name()));
        }
        if let FeedHealth::Lost { since_ms, error } = self.feed.health() {
            reasons.push(format!(
                "not following the database's changes for {} ms ({error}); serving what this node has",
                since_ms
            ));
        }
        for (topic, error) in self.failed.lock().map(|f| f.clone()).unwrap_or_default() {
            reasons.push(format!("reloading {topic:?} failed: {error}"));
        }
        if reasons.is_empty() {
            (StatusCode::OK, "ready\n".into())
        } else {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("not ready: {}\n", reasons.join("; ")),
            )
        }
    }
}

/// Applies the feed's reports until `stop`; returns what `/readyz` reads.
pub fn follow(
    store: fngate_store::Store,
    feed: ChangeFeed,
    mut changes: mpsc::UnboundedReceiver<BTreeSet<Topic>>,
    reloaders: Reloaders,
    stop: CancellationToken,
) -> Readiness {
    let failed: Arc<Mutex<Vec<(Topic, String)>>> = Arc::default();
    let reloaders = Arc::new(reloaders);
    let wakers: Vec<(Topic, Arc<Notify>)> = Topic::ALL.into_iter().map(|t| (t, Arc::new(Notify::new()))).collect();
    for (topic, wake) in &wakers {
        let (topic, wake, reloaders, failed, stop) =
            (*topic, wake.clone(), reloaders.clone(), failed.clone(), stop.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = wake.notified() => {}
                }
                let outcome = reload(&reloaders, topic).await;
                let mut failed = failed.lock().unwrap_or_else(|e| e.into_inner());
                failed.retain(|(t, _)| *t != topic);
                match outcome {
                    Ok(()) => tracing::info!(?topic, "reloaded after a change in the database"),
                    Err(err) => {
                        tracing::error!(?topic, error = %format!("{err:#}"), "cannot apply a change from the database");
                        failed.push((topic, format!("{err:#}")));
                    }
                }
            }
        });
    }
    tokio::spawn(async move {
        loop {
            let topics = tokio::select! {
                _ = stop.cancelled() => return,
                topics = changes.recv() => topics,
            };
            let Some(topics) = topics else { return };
            for (topic, wake) in &wakers {
                if topics.contains(topic) {
                    // One stored permit: changes while a reload runs cause exactly one more.
                    wake.notify_one();
                }
            }
        }
    });
    Readiness { store, feed, failed }
}

async fn reload(reloaders: &Reloaders, topic: Topic) -> anyhow::Result<()> {
    match topic {
        Topic::Functions => reloaders.runtime.follow_store().await,
        Topic::Deployments => reloaders.gateway.sync().await,
        Topic::Oci => reloaders.oci.reload().await,
        // The IdP keeps its registrations from start; see docs/notes/store.md.
        Topic::Idp => {
            tracing::debug!("IdP registrations changed on another node; this node's IdP reloads at restart");
            Ok(())
        }
    }
}
