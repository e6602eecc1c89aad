//! Starting, reloading and stopping the gateway.

use std::cell::Cell;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use wardgate_guard::{ConnectionLimiter, RateLimitStore};
use wardgate_identity::Identity;
use wardgate_identity::policy::AccessPolicy;
use wardgate_pki::RevocationList;
use wardgate_policy::{Diagnostic, PolicyHandle, ReloadEvent, ReloadOutcome};

use crate::department::DepartmentService;
use crate::exchange_log::ExchangeLog;
use crate::firewall::Firewall;
use crate::metrics::GatewayMetrics;
use crate::upstream::{Upstreams, upstream_tls};

/// What every connection and exchange shares.
pub(crate) struct Shared {
    pub policy: PolicyHandle,
    pub rate_limits: Arc<dyn RateLimitStore>,
    pub departments: Option<Arc<dyn DepartmentService>>,
    /// The pooled upstream clients: one per worker thread in the per-core model (so a
    /// pooled upstream connection is driven on the thread of the client's connection), one
    /// in the shared model.
    upstreams: Vec<Upstreams>,
    pub log: ExchangeLog,
    pub metrics: Arc<GatewayMetrics>,
    pub draining: AtomicBool,
    pub revocations: ArcSwap<RevocationList>,
    pub identity: Identity,
    /// What is built from each policy version (the firewall), and which version that is.
    pub derived: ArcSwap<PolicyDerived>,
}

/// What the gateway builds from one policy version.
pub(crate) struct PolicyDerived {
    /// The policy version it was built from.
    pub version: u64,
    /// The inspect phase's firewall.
    pub firewall: Firewall,
}

thread_local! {
    /// The per-core worker this thread is (0 on every other thread).
    static WORKER: Cell<usize> = const { Cell::new(0) };
}

impl Shared {
    /// The upstream clients of the thread asking.
    pub(crate) fn upstreams(&self) -> &Upstreams {
        let worker = WORKER.with(Cell::get);
        &self.upstreams[worker.min(self.upstreams.len() - 1)]
    }

    /// Answer 504 for every worker's exchanges whose response deadline has passed.
    pub(crate) fn sweep_response_deadlines(&self) {
        let now = std::time::Instant::now();
        for upstreams in &self.upstreams {
            upstreams.sweep_deadlines(now);
        }
    }

    /// Close every worker's upstream connections that have been idle too long.
    pub(crate) fn close_idle_upstreams(&self) {
        for upstreams in &self.upstreams {
            upstreams.close_idle();
        }
    }

    /// What was built from the policy version `active`, building it (and handing identity
    /// the access part of that policy) the first time an exchange sees a new version. A reload
    /// thus changes the firewall and the access rules with the policy, atomically per version.
    pub(crate) fn derived(&self, active: &wardgate_policy::ActivePolicy) -> Arc<PolicyDerived> {
        let current = self.derived.load_full();
        // An exchange that took its snapshot just before a reload gets the newer firewall:
        // going back would also hand identity the old access policy.
        if current.version >= active.version {
            return current;
        }
        let built = Arc::new(derive(&self.identity, active));
        self.derived.store(Arc::clone(&built));
        built
    }
}

fn derive(identity: &Identity, active: &wardgate_policy::ActivePolicy) -> PolicyDerived {
    identity.set_policy(AccessPolicy::from_policy(&active.policy).with_default_system_roles());
    PolicyDerived {
        version: active.version,
        firewall: Firewall::from_policy(&active.policy.waf),
    }
}

/// How the public listener's connections are spread over threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeModel {
    /// Thread-per-core: `threads` threads, each with its own current-thread Tokio runtime and
    /// its own listening socket on the public address (`SO_REUSEPORT`: the kernel spreads
    /// new connections over them), serving its connections and driving its own pooled
    /// upstream connections. An exchange never waits for another thread to be scheduled.
    PerCore {
        /// Worker threads (one per core by default).
        threads: usize,
    },
    /// Every connection a task on the caller's (multi-threaded) runtime.
    Shared,
}

impl RuntimeModel {
    /// The model `WARDGATE_RUNTIME` names (`per-core`, the default, or `shared`), with
    /// `WARDGATE_THREADS` per-core threads (default: the number of cores).
    pub fn from_env() -> Result<Self, crate::GatewayError> {
        let name = std::env::var("WARDGATE_RUNTIME").unwrap_or_default();
        match name.trim() {
            "" | "per-core" => {}
            "shared" => return Ok(RuntimeModel::Shared),
            other => {
                return Err(invalid(format!(
                    "WARDGATE_RUNTIME={other}: expected per-core or shared"
                )));
            }
        }
        let threads = match std::env::var("WARDGATE_THREADS") {
            Ok(value) => value
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=1024).contains(n))
                .ok_or_else(|| {
                    invalid(format!(
                        "WARDGATE_THREADS={value}: expected a number of threads from 1 to 1024"
                    ))
                })?,
            Err(_) => std::thread::available_parallelism().map_or(1, usize::from),
        };
        Ok(RuntimeModel::PerCore { threads })
    }
}

fn invalid(message: String) -> crate::GatewayError {
    crate::GatewayError::Listener(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        message,
    ))
}

/// Everything the gateway needs to start. The caller binds the listeners (so tests can bind
/// port 0 and the binary can report a busy port with its own words).
pub struct GatewayOptions {
    /// The policy in force, reloadable.
    pub policy: PolicyHandle,
    /// TLS of the public listener.
    pub tls: Arc<ServerConfig>,
    /// The public listener.
    pub public: TcpListener,
    /// The admin listener.
    pub admin: TcpListener,
    /// Where rate-limit state lives.
    pub rate_limits: Arc<dyn RateLimitStore>,
    /// The built-in department services, if running.
    pub departments: Option<Arc<dyn DepartmentService>>,
    /// Where exchange records go.
    pub exchange_log: ExchangeLog,
    /// How long in-flight exchanges may take to finish at shutdown.
    pub drain_timeout: Duration,
    /// Revoked device certificates (the pki crate's inventory).
    pub revocations: RevocationList,
    /// CAs trusted for `https://` upstreams besides the public web roots (the hospital CA).
    pub upstream_cas: Vec<rustls_pki_types::CertificateDer<'static>>,
    /// Accounts, tokens and the authorization decision; its access policy is replaced from
    /// the gateway's policy at start and on every reload.
    pub identity: Identity,
}

/// The gateway.
pub struct Gateway;

impl Gateway {
    /// Start serving (within a Tokio runtime).
    pub fn start(options: GatewayOptions) -> Result<RunningGateway, crate::GatewayError> {
        Self::start_with(options, RuntimeModel::from_env()?)
    }

    /// Start serving (within a Tokio runtime) with the given runtime model.
    pub fn start_with(
        options: GatewayOptions,
        model: RuntimeModel,
    ) -> Result<RunningGateway, crate::GatewayError> {
        let public_addr = options.public.local_addr()?;
        let admin_addr = options.admin.local_addr()?;
        let active = options.policy.current();
        let metrics = Arc::new(GatewayMetrics::new());
        metrics.policy_applied(active.version);
        let upstream_tls = upstream_tls(&options.upstream_cas)?;
        let workers = match model {
            RuntimeModel::PerCore { threads } => threads.max(1),
            RuntimeModel::Shared => 1,
        };
        let upstreams = (0..workers)
            .map(|_| Upstreams::new(&upstream_tls))
            .collect();
        let shared = Arc::new(Shared {
            upstreams,
            policy: options.policy,
            rate_limits: options.rate_limits,
            departments: options.departments,
            log: options.exchange_log,
            metrics,
            draining: AtomicBool::new(false),
            revocations: ArcSwap::from_pointee(options.revocations),
            derived: ArcSwap::from_pointee(derive(&options.identity, &active)),
            identity: options.identity,
        });
        drop(active);
        let shutdown = CancellationToken::new();
        let tls = Arc::new(ArcSwap::new(options.tls));
        let listening = Listening {
            shared: Arc::clone(&shared),
            tls: Arc::clone(&tls),
            shutdown: shutdown.clone(),
            drain: options.drain_timeout,
            connections: ConnectionLimiter::new(),
        };
        let public = match model {
            RuntimeModel::Shared => tokio::spawn(listening.serve(options.public)),
            RuntimeModel::PerCore { .. } => {
                listening.serve_per_core(options.public, public_addr, workers)?
            }
        };
        // The admin listener outlives the public one, so `/readyz` answers 503 while the
        // gateway drains.
        let finish = CancellationToken::new();
        let admin = tokio::spawn(crate::admin::serve_admin(
            Arc::clone(&shared),
            options.admin,
            finish.clone(),
        ));
        let flusher_shared = Arc::clone(&shared);
        let flusher_stop = finish.clone();
        let flusher = tokio::spawn(async move {
            // Every 100 ms: the exchange log flushed, response deadlines swept (how late a
            // response timeout may fire: `deadline`).
            let mut tick = tokio::time::interval(crate::deadline::SWEEP_PERIOD);
            let mut ticks = 0u32;
            loop {
                tokio::select! {
                    () = flusher_stop.cancelled() => break,
                    _ = tick.tick() => {
                        flusher_shared.sweep_response_deadlines();
                        flusher_shared.log.flush();
                        ticks = ticks.wrapping_add(1);
                        if ticks.is_multiple_of(50) {
                            flusher_shared.metrics.upkeep();
                            flusher_shared.close_idle_upstreams();
                        }
                    }
                }
            }
        });
        let stop_workers = shutdown.clone().drop_guard();
        Ok(RunningGateway {
            public_addr,
            admin_addr,
            shared,
            tls,
            shutdown,
            finish,
            public,
            tasks: vec![admin, flusher],
            _stop_workers: stop_workers,
        })
    }
}

/// What every public listener (one, or one per worker thread) serves with.
#[derive(Clone)]
struct Listening {
    shared: Arc<Shared>,
    tls: Arc<ArcSwap<ServerConfig>>,
    shutdown: CancellationToken,
    drain: Duration,
    /// Shared by all workers: the per-address limit is the gateway's, not a thread's.
    connections: ConnectionLimiter,
}

impl Listening {
    async fn serve(self, listener: TcpListener) {
        crate::listener::serve_public(
            self.shared,
            listener,
            self.tls,
            self.shutdown,
            self.drain,
            self.connections,
        )
        .await;
    }

    /// Replace `listener` by one `SO_REUSEPORT` socket per worker on the same address, and
    /// start the workers; the task returned ends when all have drained.
    fn serve_per_core(
        self,
        listener: TcpListener,
        addr: SocketAddr,
        workers: usize,
    ) -> Result<JoinHandle<()>, crate::GatewayError> {
        // The caller bound the address without SO_REUSEPORT; it is rebound at once with it.
        drop(listener);
        let mut sockets = Vec::with_capacity(workers);
        for _ in 0..workers {
            let socket = if addr.is_ipv4() {
                TcpSocket::new_v4()?
            } else {
                TcpSocket::new_v6()?
            };
            socket.set_reuseaddr(true)?;
            socket.set_reuseport(true)?;
            socket.bind(addr)?;
            // Listening before `start` returns: a client may connect at once. The listener
            // is registered with its worker's runtime there.
            sockets.push(socket.listen(1024)?.into_std()?);
        }
        // Each worker says when it has drained (its sender dropped, whatever the reason); a
        // task of the caller's runtime waits for all, without holding a blocking thread.
        let mut ended = Vec::with_capacity(workers);
        for (worker, socket) in sockets.into_iter().enumerate() {
            let listening = self.clone();
            let (done, finished) = tokio::sync::oneshot::channel::<()>();
            ended.push(finished);
            std::thread::Builder::new()
                .name(format!("wardgate-worker-{worker}"))
                .spawn(move || {
                    let _done = done;
                    WORKER.with(|w| w.set(worker));
                    let runtime = match tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        Ok(runtime) => runtime,
                        Err(error) => {
                            tracing::error!(%error, worker, "cannot start a worker runtime");
                            return;
                        }
                    };
                    runtime.block_on(async move {
                        match TcpListener::from_std(socket) {
                            Ok(listener) => listening.serve(listener).await,
                            Err(error) => tracing::error!(%error, worker, "cannot listen"),
                        }
                    });
                })?;
        }
        Ok(tokio::spawn(async move {
            for finished in ended {
                let _ = finished.await;
            }
        }))
    }
}

/// A gateway that is serving.
pub struct RunningGateway {
    public_addr: std::net::SocketAddr,
    admin_addr: std::net::SocketAddr,
    shared: Arc<Shared>,
    tls: Arc<ArcSwap<ServerConfig>>,
    shutdown: CancellationToken,
    finish: CancellationToken,
    public: JoinHandle<()>,
    tasks: Vec<JoinHandle<()>>,
    /// Dropping the gateway without `shutdown` stops the per-core workers too (they run on
    /// threads of their own, which the caller's runtime would not stop).
    _stop_workers: tokio_util::sync::DropGuard,
}

impl RunningGateway {
    /// Where the public listener is bound.
    pub fn public_addr(&self) -> std::net::SocketAddr {
        self.public_addr
    }

    /// Where the admin listener is bound.
    pub fn admin_addr(&self) -> std::net::SocketAddr {
        self.admin_addr
    }

    /// The policy handle the gateway reads.
    pub fn policy(&self) -> &PolicyHandle {
        &self.shared.policy
    }

    /// Re-read the policy file; a policy that fails validation is refused, logged with its
    /// reasons and counted, and the policy in force stays.
    pub fn reload(&self, path: &Path) -> Result<ReloadOutcome, Vec<Diagnostic>> {
        let outcome = self.shared.policy.reload_from(path);
        match &outcome {
            Ok(ReloadOutcome::Swapped {
                version,
                fingerprint,
                warnings,
            }) => {
                self.applied(*version, &fingerprint.short(), warnings);
            }
            Ok(ReloadOutcome::Unchanged { version }) => tracing::info!(version, "policy unchanged"),
            Err(diagnostics) => self.refused(diagnostics),
        }
        outcome
    }

    /// A callback for the policy crate's file watcher that logs and counts each event.
    pub fn reload_listener(&self) -> impl FnMut(ReloadEvent) + Send + 'static {
        let shared = Arc::clone(&self.shared);
        move |event| match event {
            ReloadEvent::Swapped {
                version,
                fingerprint,
                warnings,
            } => {
                applied(&shared, version, &fingerprint.short(), &warnings);
            }
            ReloadEvent::Refused { diagnostics } => refused(&shared, &diagnostics),
        }
    }

    fn applied(&self, version: u64, fingerprint: &str, warnings: &[Diagnostic]) {
        applied(&self.shared, version, fingerprint, warnings);
    }

    fn refused(&self, diagnostics: &[Diagnostic]) {
        refused(&self.shared, diagnostics);
    }

    /// Present a new server certificate to new connections (certificate rotation).
    pub fn set_tls(&self, config: Arc<ServerConfig>) {
        self.tls.store(config);
    }

    /// Refuse the devices of a new revocation list (after `wardgate cert revoke`).
    pub fn set_revocations(&self, revocations: RevocationList) {
        self.shared.revocations.store(Arc::new(revocations));
    }

    /// The Prometheus text of the gateway's metrics (as `/metrics` serves it).
    pub fn metrics_text(&self) -> String {
        self.shared.metrics.render()
    }

    /// Stop accepting, let in-flight exchanges finish (up to the drain timeout), flush the
    /// exchange log, and return.
    pub async fn shutdown(self) {
        self.shared.draining.store(true, Ordering::Relaxed);
        self.shutdown.cancel();
        let _ = self.public.await;
        self.finish.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        self.shared.log.flush();
    }
}

fn applied(shared: &Shared, version: u64, fingerprint: &str, warnings: &[Diagnostic]) {
    shared.metrics.policy_applied(version);
    // Build the new firewall now rather than in the first exchange that sees the version.
    let _ = shared.derived(&shared.policy.current());
    tracing::info!(
        version,
        fingerprint,
        warnings = warnings.len(),
        "policy reloaded"
    );
    for warning in warnings {
        tracing::warn!("{warning}");
    }
}

fn refused(shared: &Shared, diagnostics: &[Diagnostic]) {
    shared.metrics.reload_failed();
    tracing::error!(
        errors = diagnostics.len(),
        version_in_force = shared.policy.version(),
        "new policy refused; the policy in force stays"
    );
    for diagnostic in diagnostics {
        tracing::error!("{diagnostic}");
    }
}
