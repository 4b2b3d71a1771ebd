//! Hot instances of one function version: idle ones are reused, more concurrent calls start
//! more instances up to the per-function and global limits, then calls wait (bounded) and get
//! `Timed out - server too busy`. A retired pool (after a redeploy or config change) lets busy
//! instances finish their call and stops them instead of reusing them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use fngate_invoke::InvokeError;
use http::HeaderMap;
use tokio::sync::{Notify, Semaphore};

use crate::instance::{CallOutput, Instance, InstanceSpec, LivePids};
use crate::logs::LogSink;
use crate::registry::Evictor;
use crate::sandbox::Sandbox;

/// How often a waiting call re-checks for capacity freed elsewhere (e.g. in another pool).
const RECHECK: Duration = Duration::from_millis(25);
/// `Retry-After` Fn sends with "server too busy".
pub const RETRY_AFTER: Duration = Duration::from_secs(15);

pub struct Pool {
    pub spec: Arc<InstanceSpec>,
    idle: std::sync::Mutex<Vec<Instance>>,
    per_fn: Arc<Semaphore>,
    /// Permits `per_fn` started with: how many instances this function may have.
    max_per_fn: usize,
    global: Arc<Semaphore>,
    logs: Arc<LogSink>,
    returned: Notify,
    retired: AtomicBool,
    queue_timeout: Duration,
    evict: Evictor,
    sandbox: Arc<Sandbox>,
    /// Host pids of the live instances (busy or idle), for the status endpoint.
    pub live_pids: LivePids,
    /// Instances started over the pool's life (for tests and metrics).
    pub started: AtomicUsize,
    /// Provisioned concurrency (`deploy.oci.provisioned_concurrency` in func.yaml): instances
    /// started before any call and kept warm (never reaped or evicted below this count).
    provisioned: usize,
    /// A warm-up is running (one at a time per pool).
    warming: AtomicBool,
}

impl Pool {
    pub fn new(
        spec: InstanceSpec,
        max_per_fn: usize,
        global: Arc<Semaphore>,
        logs: Arc<LogSink>,
        queue_timeout: Duration,
        evict: Evictor,
        sandbox: Arc<Sandbox>,
    ) -> Pool {
        // A function may always run one instance.
        let max_per_fn = max_per_fn.max(1);
        Pool {
            spec: Arc::new(spec),
            idle: std::sync::Mutex::new(Vec::new()),
            per_fn: Arc::new(Semaphore::new(max_per_fn)),
            max_per_fn,
            global,
            logs,
            returned: Notify::new(),
            retired: AtomicBool::new(false),
            queue_timeout,
            evict,
            sandbox,
            live_pids: LivePids::default(),
            started: AtomicUsize::new(0),
            provisioned: 0,
            warming: AtomicBool::new(false),
        }
    }

    /// Keeps `count` instances warm (capped at the per-function limit).
    pub fn with_provisioned(mut self, count: usize) -> Pool {
        self.provisioned = count.min(self.max_per_fn);
        self
    }

    /// Tops the pool up to its provisioned instances, waiting for a warm-up already running;
    /// returns how many are alive (at most `provisioned`).
    pub async fn warm(&self) -> usize {
        while self.warming.load(Ordering::Acquire) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.warm_up().await;
        self.live_count().min(self.provisioned)
    }

    /// Whether fewer than the provisioned instances are alive (and no warm-up is running).
    pub fn needs_warm_up(&self) -> bool {
        self.provisioned > 0
            && self.live_count() < self.provisioned
            && !self.warming.load(Ordering::Acquire)
            && !self.retired.load(Ordering::Acquire)
    }

    /// How many instances this pool keeps warm.
    pub fn provisioned(&self) -> usize {
        self.provisioned
    }

    /// Starts instances until `provisioned` are alive, each idle and ready for a call; returns
    /// how many it started. Stops early (logging why) when an instance fails to start or the
    /// global limit is reached; the reaper's next tick tries again.
    pub async fn warm_up(&self) -> usize {
        if self.provisioned == 0 || self.retired.load(Ordering::Acquire) {
            return 0;
        }
        if self.warming.swap(true, Ordering::AcqRel) {
            return 0;
        }
        let mut started = 0;
        while self.live_count() < self.provisioned && !self.retired.load(Ordering::Acquire) {
            let Ok(own) = self.per_fn.clone().try_acquire_owned() else {
                break;
            };
            let shared = match self.global.clone().try_acquire_owned() {
                Ok(shared) => shared,
                Err(_) if (self.evict)(&self.spec.fn_id) => continue,
                Err(_) => {
                    tracing::warn!(fn_id = %self.spec.fn_id, provisioned = self.provisioned,
                        "provisioned concurrency: the server-wide instance limit is reached");
                    break;
                }
            };
            self.started.fetch_add(1, Ordering::Relaxed);
            match Instance::start(
                &self.spec,
                &self.sandbox,
                &self.logs,
                &self.live_pids,
                vec![own, shared],
            )
            .await
            {
                Ok(instance) => {
                    started += 1;
                    self.release(instance);
                }
                Err(err) => {
                    self.logs.write(
                        &self.spec.fn_id,
                        "-",
                        "fngate",
                        &format!("provisioned instance did not start: {err}"),
                    );
                    break;
                }
            }
        }
        self.warming.store(false, Ordering::Release);
        started
    }

    /// Runs one call on an instance of this pool.
    pub async fn call(&self, call_id: &str, headers: HeaderMap, body: Bytes) -> Result<CallOutput, InvokeError> {
        let mut instance = self.acquire().await?;
        match instance.call(call_id, headers, body, self.spec.timeout).await {
            Ok(output) => {
                self.release(instance);
                Ok(output)
            }
            Err(failure) => {
                if failure.kill {
                    // A limit (memory) may be why the call failed: say so in the function's log.
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    let reason = instance
                        .exit_reason(self.spec.memory_mb)
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default();
                    self.logs.write(
                        &self.spec.fn_id,
                        call_id,
                        "fngate",
                        &format!("instance {} stopped: {}{reason}", instance.pid(), failure.error),
                    );
                    instance.stop().await;
                    self.returned.notify_one();
                } else {
                    self.release(instance);
                }
                Err(failure.error)
            }
        }
    }

    async fn acquire(&self) -> Result<Instance, InvokeError> {
        // Hot path: an idle instance, without registering with `returned` (a lock inside Notify)
        // or reading the clock.
        if let Some(instance) = self.take_idle() {
            return Ok(instance);
        }
        let give_up = Instant::now() + self.queue_timeout;
        loop {
            let returned = self.returned.notified();
            tokio::pin!(returned);
            returned.as_mut().enable();
            if let Some(instance) = self.take_idle() {
                return Ok(instance);
            }
            if let Ok(own) = self.per_fn.clone().try_acquire_owned() {
                if let Ok(shared) = self.global.clone().try_acquire_owned() {
                    self.started.fetch_add(1, Ordering::Relaxed);
                    return Instance::start(
                        &self.spec,
                        &self.sandbox,
                        &self.logs,
                        &self.live_pids,
                        vec![own, shared],
                    )
                    .await;
                }
                // At the global limit: an idle instance of another function makes room (Fn's evictor).
                drop(own);
                if (self.evict)(&self.spec.fn_id) {
                    continue;
                }
            }
            let now = Instant::now();
            if now >= give_up {
                return Err(InvokeError::TooBusy {
                    retry_after: RETRY_AFTER,
                });
            }
            let wait = (give_up - now).min(RECHECK);
            tokio::select! {
                _ = returned => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    fn take_idle(&self) -> Option<Instance> {
        let mut idle = self.idle.lock().ok()?;
        while let Some(mut instance) = idle.pop() {
            if instance.is_alive() {
                return Some(instance);
            }
        }
        None
    }

    fn release(&self, instance: Instance) {
        if self.retired.load(Ordering::Acquire) {
            drop(instance);
        } else if let Ok(mut idle) = self.idle.lock() {
            idle.push(instance);
        }
        self.returned.notify_one();
    }

    /// Stops idle instances past `idle_timeout`; returns how many.
    pub fn reap_idle(&self) -> usize {
        let Ok(mut idle) = self.idle.lock() else { return 0 };
        let before = idle.len();
        let limit = self.spec.idle_timeout;
        // Provisioned instances stay however long they sit idle.
        let mut may_reap = self.live_count().saturating_sub(self.provisioned);
        idle.retain_mut(|instance| {
            // A dead instance goes whatever the count (a provisioned one is restarted by warm_up).
            if !instance.is_alive() {
                return false;
            }
            let keep = may_reap == 0 || instance.last_used.elapsed() < limit;
            if !keep {
                may_reap -= 1;
            }
            keep
        });
        let reaped = before - idle.len();
        if reaped > 0 {
            self.returned.notify_waiters();
        }
        reaped
    }

    /// Stops one idle instance to free global capacity for another function.
    pub fn evict_one(&self) -> bool {
        if self.live_count() <= self.provisioned {
            return false;
        }
        let evicted = self.idle.lock().ok().and_then(|mut idle| idle.pop()).is_some();
        if evicted {
            self.returned.notify_waiters();
        }
        evicted
    }

    /// No more reuse: idle instances stop now, busy ones after their call.
    pub fn retire(&self) {
        self.retired.store(true, Ordering::Release);
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }

    /// Stops everything, waiting for the processes to be reaped.
    pub async fn shutdown(&self) {
        self.retired.store(true, Ordering::Release);
        let instances: Vec<Instance> = self
            .idle
            .lock()
            .map(|mut idle| idle.drain(..).collect())
            .unwrap_or_default();
        for instance in instances {
            instance.stop().await;
        }
    }

    pub fn idle_count(&self) -> usize {
        self.idle.lock().map(|idle| idle.len()).unwrap_or(0)
    }

    /// Instances alive now (busy or idle).
    pub fn live_count(&self) -> usize {
        self.max_per_fn.saturating_sub(self.per_fn.available_permits())
    }
}
