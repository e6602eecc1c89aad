//! What the gateway counts, rendered in the Prometheus text format on the admin listener.
//!
//! Each gateway owns its recorder (not the process-global one), so two gateways in one
//! process (tests) keep separate counts.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;
use std::time::Duration;

use metrics::{
    Counter, Histogram, Key, Label, Level, Metadata, Recorder, counter, gauge, with_local_recorder,
};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

/// Latency buckets in seconds: fine below a millisecond (the gateway's own cost), coarse up
/// to the upstream response timeout.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];

/// The gateway's metrics.
pub struct GatewayMetrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    /// The per-exchange counter and histogram of each department, status and decision, looked
    /// up once: registering them anew per exchange (label strings, key hashing) was a
    /// measurable part of the gateway's cost per request.
    exchanges: Mutex<KeyMap<String, DepartmentHandles>>,
}

/// One department's exchange metrics.
struct DepartmentHandles {
    duration: Histogram,
    /// `wardgate_requests_total` by status and whether the gateway refused the exchange.
    requests: KeyMap<(u16, bool), Counter>,
}

/// A map keyed by department names (from the policy) and status codes: few keys, none
/// chosen by a client, so SipHash's defence against chosen keys buys nothing here and cost
/// about a hundred instructions per lookup, two lookups per exchange.
type KeyMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// FNV-1a (64 bits).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

impl GatewayMetrics {
    /// A fresh set of metrics.
    pub fn new() -> Self {
        let builder = PrometheusBuilder::new();
        // The matcher and buckets are constants; the builder only refuses an empty list.
        let builder = match builder
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
        {
            Ok(with_buckets) => with_buckets,
            Err(_) => PrometheusBuilder::new(),
        };
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let metrics = GatewayMetrics {
            recorder,
            handle,
            exchanges: Mutex::new(KeyMap::default()),
        };
        metrics.record(|| {
            metrics::describe_counter!(
                "wardgate_requests_total",
                "Exchanges by department, status and decision"
            );
            metrics::describe_histogram!(
                "wardgate_request_duration_seconds",
                "Time from request head to last response byte"
            );
            metrics::describe_gauge!(
                "wardgate_open_connections",
                "Client connections open on the public listener"
            );
            metrics::describe_counter!(
                "wardgate_refused_total",
                "Exchanges the gateway answered itself, by stable code"
            );
            metrics::describe_counter!(
                "wardgate_rate_limited_total",
                "Requests refused by a rate limit, by department"
            );
            metrics::describe_counter!(
                "wardgate_connections_refused_total",
                "Connections closed at accept, by reason"
            );
            metrics::describe_counter!(
                "wardgate_waf_verdicts_total",
                "Requests the firewall blocked (or, in detect mode, would have), by class"
            );
            metrics::describe_gauge!(
                "wardgate_policy_version",
                "Version of the policy in force (1 at start, +1 per reload)"
            );
            metrics::describe_counter!(
                "wardgate_policy_reload_failures_total",
                "Policy reloads refused because the new policy was invalid"
            );
            gauge!("wardgate_open_connections").set(0.0);
            counter!("wardgate_policy_reload_failures_total").absolute(0);
        });
        metrics
    }

    fn record<T>(&self, f: impl FnOnce() -> T) -> T {
        with_local_recorder(&self.recorder as &dyn Recorder, f)
    }

    /// Count one finished exchange.
    pub fn exchange(
        &self,
        department: &str,
        status: u16,
        refusal_code: Option<&'static str>,
        duration: Duration,
    ) {
        let refused = refusal_code.is_some();
        {
            let mut exchanges = self
                .exchanges
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if !exchanges.contains_key(department) {
                let labels = vec![Label::new("department", department.to_owned())];
                let key = Key::from_parts("wardgate_request_duration_seconds", labels);
                let handles = DepartmentHandles {
                    duration: self.recorder.register_histogram(&key, &METADATA),
                    requests: KeyMap::default(),
                };
                exchanges.insert(department.to_owned(), handles);
            }
            // Present: inserted just above if it was not.
            if let Some(handles) = exchanges.get_mut(department) {
                handles.duration.record(duration.as_secs_f64());
                handles
                    .requests
                    .entry((status, refused))
                    .or_insert_with(|| {
                        let labels = vec![
                            Label::new("department", department.to_owned()),
                            Label::new("status", status.to_string()),
                            Label::new("decision", if refused { "refused" } else { "forwarded" }),
                        ];
                        let key = Key::from_parts("wardgate_requests_total", labels);
                        self.recorder.register_counter(&key, &METADATA)
                    })
                    .increment(1);
            }
        }
        if let Some(code) = refusal_code {
            self.record(|| {
                counter!("wardgate_refused_total", "code" => code).increment(1);
                if code == "wardgate.rate-limited" {
                    counter!("wardgate_rate_limited_total", "department" => department.to_owned())
                        .increment(1);
                }
            });
        }
    }

    /// The firewall blocked (`blocked`) or would have blocked (`detected`) a request whose
    /// top finding is of `class`.
    pub fn waf_verdict(&self, class: &'static str, outcome: &'static str) {
        self.record(|| {
            counter!("wardgate_waf_verdicts_total", "class" => class, "outcome" => outcome)
                .increment(1)
        });
    }

    /// A client connection was accepted (+1) or closed (-1).
    pub fn connections(&self, delta: f64) {
        self.record(|| gauge!("wardgate_open_connections").increment(delta));
    }

    /// A connection was closed at accept (`per-address-limit`, `tls-handshake`).
    pub fn connection_refused(&self, reason: &'static str) {
        self.record(|| {
            counter!("wardgate_connections_refused_total", "reason" => reason).increment(1)
        });
    }

    /// A policy version was put in force.
    pub fn policy_applied(&self, version: u64) {
        self.record(|| gauge!("wardgate_policy_version").set(version as f64));
    }

    /// A reload was refused.
    pub fn reload_failed(&self) {
        self.record(|| counter!("wardgate_policy_reload_failures_total").increment(1));
    }

    /// Fold the latency samples recorded since the last call into the histograms (they are
    /// kept raw until then: without this, a gateway nobody scrapes would hold every sample).
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

impl Default for GatewayMetrics {
    fn default() -> Self {
        Self::new()
    }
}
