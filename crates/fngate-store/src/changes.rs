//! The change feed: how a node learns that another node changed what it keeps in memory.
//!
//! PostgreSQL only (one SQLite file has one node). Every write to a watched table notifies
//! channel [`CHANNEL`] at commit (migration `postgres/0020_change_feed.sql`); the feed LISTENs and
//! reports the [`Topic`] at once. Notifications are not durable (a dropped connection loses
//! them), so the feed also compares a fingerprint of each topic's tables every reconcile period
//! and right after it reconnects, and reports what differs. The fingerprint is an md5 over the
//! rows' text, computed by the server: 32 bytes on the wire, whatever the tables hold.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{Db, Result, Store};

/// The NOTIFY channel the triggers use.
pub const CHANNEL: &str = "fngate_changes";

/// What a node reloads when its tables change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Topic {
    /// Apps, functions and triggers (the functions runtime).
    Functions,
    /// API deployments (the gateway's route table).
    Deployments,
    /// IdP registrations, users and signing keys.
    Idp,
    /// OCI API signing keys and OCI-only fields.
    Oci,
}

impl Topic {
    pub const ALL: [Topic; 4] = [Topic::Functions, Topic::Deployments, Topic::Idp, Topic::Oci];

    /// The watched tables of this topic (the triggers' list, grouped).
    pub fn tables(self) -> &'static [&'static str] {
        match self {
            Topic::Functions => &["fn_apps", "fn_fns", "fn_triggers"],
            Topic::Deployments => &["deployments"],
            Topic::Idp => &[
                "idp_tenants",
                "idp_api_apps",
                "idp_client_apps",
                "idp_client_secrets",
                "idp_role_grants",
                "idp_signing_keys",
                "idp_client_certificates",
                "idp_redirect_uris",
                "idp_users",
                "idp_groups",
                "idp_group_members",
                "idp_user_assignments",
                "idp_consents",
            ],
            Topic::Oci => &["oci_settings", "oci_api_keys", "oci_resources", "oci_gateways"],
        }
    }

    pub fn of_table(table: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|topic| topic.tables().contains(&table))
    }
}

/// How the feed is doing, for readiness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedHealth {
    /// SQLite: one node, nothing to follow.
    NotNeeded,
    /// Listening, and the last reconcile read the database.
    Following,
    /// Not listening yet (starting) or the database is unreachable since `since`.
    Lost { since_ms: u128, error: String },
}

struct Shared {
    lost: Mutex<Option<(Instant, String)>>,
}

/// A running feed; reports changed topics on the receiver handed out by [`ChangeFeed::start`].
#[derive(Clone)]
pub struct ChangeFeed {
    shared: Option<Arc<Shared>>,
}

/// One topic's fingerprint: md5 of its tables' rows, order-independent.
async fn fingerprint(pool: &PgPool, topic: Topic) -> Result<String> {
    let parts: Vec<String> = topic
        .tables()
        .iter()
        .map(|table| {
            format!("(SELECT coalesce(md5(string_agg(md5(t::text), '' ORDER BY md5(t::text))), '') FROM {table} t)")
        })
        .collect();
    let sql = format!("SELECT {}", parts.join(" || ':' || "));
    Ok(sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql))
        .fetch_one(pool)
        .await?)
}

impl Store {
    /// The fingerprints of every topic (PostgreSQL); empty on SQLite.
    pub async fn fingerprints(&self) -> Result<HashMap<Topic, String>> {
        let mut all = HashMap::new();
        if let Db::Postgres(pool) = self.pool() {
            for topic in Topic::ALL {
                all.insert(topic, fingerprint(pool, topic).await?);
            }
        }
        Ok(all)
    }
}

impl ChangeFeed {
    /// Takes the baseline fingerprints now (call it before the components load, so nothing
    /// written in between is missed), then follows the database until `stop`. On SQLite it does
    /// nothing and the receiver never yields.
    pub async fn start(
        store: &Store,
        reconcile_every: Duration,
        stop: CancellationToken,
    ) -> Result<(ChangeFeed, mpsc::UnboundedReceiver<BTreeSet<Topic>>)> {
        let (tx, rx) = mpsc::unbounded_channel();
        let Db::Postgres(pool) = store.pool() else {
            return Ok((ChangeFeed { shared: None }, rx));
        };
        let baseline = store.fingerprints().await?;
        let shared = Arc::new(Shared {
            lost: Mutex::new(Some((Instant::now(), "not listening yet".into()))),
        });
        let follower = Follower {
            pool: pool.clone(),
            seen: baseline,
            tx,
            shared: shared.clone(),
            reconcile_every,
        };
        tokio::spawn(follower.run(stop));
        Ok((ChangeFeed { shared: Some(shared) }, rx))
    }

    pub fn health(&self) -> FeedHealth {
        let Some(shared) = &self.shared else {
            return FeedHealth::NotNeeded;
        };
        match &*shared.lost.lock().unwrap_or_else(|e| e.into_inner()) {
            None => FeedHealth::Following,
            Some((since, error)) => FeedHealth::Lost {
                since_ms: since.elapsed().as_millis(),
                error: error.clone(),
            },
        }
    }
}

struct Follower {
    pool: PgPool,
    seen: HashMap<Topic, String>,
    tx: mpsc::UnboundedSender<BTreeSet<Topic>>,
    shared: Arc<Shared>,
    reconcile_every: Duration,
}

impl Follower {
    async fn run(mut self, stop: CancellationToken) {
        let mut retry = Duration::from_millis(200);
        loop {
            let outcome = tokio::select! {
                _ = stop.cancelled() => return,
                outcome = self.follow() => outcome,
            };
            // `follow` only returns on a failure.
            let error = match outcome {
                Ok(()) => "the notification connection closed".to_string(),
                Err(err) => err.to_string(),
            };
            // A connection that had been following starts the back-off afresh.
            if self.is_following() {
                retry = Duration::from_millis(200);
            }
            self.lose(&error);
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(retry) => {}
            }
            retry = (retry * 2).min(Duration::from_secs(5));
        }
    }

    fn is_following(&self) -> bool {
        self.shared.lost.lock().map(|l| l.is_none()).unwrap_or(false)
    }

    fn lose(&self, error: &str) {
        let mut lost = self.shared.lost.lock().unwrap_or_else(|e| e.into_inner());
        if lost.is_none() {
            tracing::warn!(error = %error, "change feed lost the database; serving what this node has and retrying");
            *lost = Some((Instant::now(), error.to_string()));
        } else if let Some((_, last)) = lost.as_mut() {
            *last = error.to_string();
        }
    }

    fn found(&self) {
        let mut lost = self.shared.lost.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((since, _)) = lost.take() {
            tracing::info!(
                after_ms = since.elapsed().as_millis() as u64,
                "change feed following the database"
            );
        }
    }

    /// Listens, reconciles once (what was missed while not listening), then reports
    /// notifications as they come and reconciles every period. Returns on a connection failure.
    async fn follow(&mut self) -> Result<()> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANNEL).await?;
        self.reconcile().await?;
        self.found();
        let mut tick = tokio::time::interval(self.reconcile_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                notification = listener.try_recv() => {
                    // Ok(None): the connection dropped; notifications meanwhile are lost.
                    let Some(first) = notification? else { return Ok(()) };
                    let mut topics: BTreeSet<Topic> = Topic::of_table(first.payload()).into_iter().collect();
                    // A deploy writes several tables in one commit: take what else is queued.
                    while let Some(more) = listener.next_buffered() {
                        topics.extend(Topic::of_table(more.payload()));
                    }
                    for topic in &topics {
                        // So the next reconcile does not report it again.
                        if let Ok(now) = fingerprint(&self.pool, *topic).await {
                            self.seen.insert(*topic, now);
                        }
                    }
                    if !topics.is_empty() && self.tx.send(topics).is_err() {
                        return Ok(());
                    }
                }
                _ = tick.tick() => self.reconcile().await?,
            }
        }
    }

    /// Reports every topic whose fingerprint differs from the last one seen.
    async fn reconcile(&mut self) -> Result<()> {
        let mut changed = BTreeSet::new();
        for topic in Topic::ALL {
            let now = fingerprint(&self.pool, topic).await?;
            if self.seen.get(&topic) != Some(&now) {
                changed.insert(topic);
                self.seen.insert(topic, now);
            }
        }
        if !changed.is_empty() {
            tracing::debug!(?changed, "reconcile found changes");
            let _ = self.tx.send(changed);
        }
        Ok(())
    }
}
