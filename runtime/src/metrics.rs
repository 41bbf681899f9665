//! Process-wide Prometheus metrics (the `prometheus` crate): HTTP requests
//! by route and status with latency histograms, Python calls by function
//! with errors and latency, open and shed connections, the runaway work
//! the runtime interrupted, and model versions of a `tandem.ModelRegistry`
//! (calls, errors, latency, predicted labels, shadow comparisons). Served
//! as text at `/metrics`.

use std::sync::OnceLock;

use prometheus::{Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// Latency buckets from 50 µs to about 13 s: in-process Python calls take
/// microseconds, model inference milliseconds.
fn latency_buckets() -> Vec<f64> {
    prometheus::exponential_buckets(0.00005, 2.0, 19).expect("valid bucket layout")
}

pub(crate) struct Metrics {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    http_in_flight: IntGauge,
    python_calls: IntCounterVec,
    python_errors: IntCounterVec,
    python_duration: HistogramVec,
    python_batch_size: HistogramVec,
    interrupts: IntCounterVec,
    connections_open: IntGauge,
    connections_shed: IntCounter,
    models: ModelFamilies,
}

/// The metric families of `tandem.ModelRegistry`, labelled by model and
/// version.
struct ModelFamilies {
    calls: IntCounterVec,
    errors: IntCounterVec,
    duration: HistogramVec,
    labels: IntCounterVec,
    shadow: IntCounterVec,
    batch_size: HistogramVec,
}

impl ModelFamilies {
    fn new(registry: &Registry) -> prometheus::Result<Self> {
        let families = ModelFamilies {
            calls: IntCounterVec::new(
                Opts::new("tandem_model_calls_total", "Calls of a model version of a tandem.ModelRegistry"),
                &["model", "version"],
            )?,
            errors: IntCounterVec::new(
                Opts::new("tandem_model_errors_total", "Calls of a model version that raised"),
                &["model", "version"],
            )?,
            duration: HistogramVec::new(
                HistogramOpts::new("tandem_model_duration_seconds", "Duration of calls of a model version")
                    .buckets(latency_buckets()),
                &["model", "version"],
            )?,
            labels: IntCounterVec::new(
                Opts::new("tandem_model_predictions_total", "Predicted labels of a model version"),
                &["model", "version", "label"],
            )?,
            shadow: IntCounterVec::new(
                Opts::new(
                    "tandem_model_shadow_total",
                    "Shadow calls of a candidate version compared with the primary's answer, by outcome (agree, disagree, error, dropped)",
                ),
                &["model", "primary", "candidate", "outcome"],
            )?,
            batch_size: HistogramVec::new(
                HistogramOpts::new(
                    "tandem_model_batch_size",
                    "Inputs per call of a model version (1 unless the version is registered with batch=)",
                )
                .buckets(prometheus::exponential_buckets(1.0, 2.0, 10)?),
                &["model", "version"],
            )?,
        };
        registry.register(Box::new(families.calls.clone()))?;
        registry.register(Box::new(families.errors.clone()))?;
        registry.register(Box::new(families.duration.clone()))?;
        registry.register(Box::new(families.labels.clone()))?;
        registry.register(Box::new(families.shadow.clone()))?;
        registry.register(Box::new(families.batch_size.clone()))?;
        Ok(families)
    }
}

/// What the runtime interrupted, as the `what` label of
/// `tandem_interrupts_total` says it.
#[derive(Clone, Copy)]
pub(crate) enum Interrupted {
    /// JavaScript that held a worker's thread past a request's deadline.
    JavaScript,
    /// A Python call on a worker's thread past a request's deadline.
    Python,
    /// A Python call past its own time limit (`--python-call-timeout`).
    PythonCallLimit,
    /// A WSGI request's Python past its deadline, or its client gone.
    Wsgi,
}

impl Interrupted {
    fn label(self) -> &'static str {
        match self {
            Interrupted::JavaScript => "javascript",
            Interrupted::Python => "python",
            Interrupted::PythonCallLimit => "python_call_limit",
            Interrupted::Wsgi => "wsgi",
        }
    }
}

/// The counters of one Python function, looked up once per proxy and
/// cached by the bridge so that a call pays no label lookup.
pub(crate) struct CallMetrics {
    pub(crate) calls: IntCounter,
    pub(crate) errors: IntCounter,
    pub(crate) duration: Histogram,
}

impl Metrics {
    fn new() -> prometheus::Result<Self> {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new("tandem_http_requests_total", "HTTP requests answered, by route pattern, method and status"),
            &["route", "method", "status"],
        )?;
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "tandem_http_request_duration_seconds",
                "Time from a request's arrival to its response head, by route pattern",
            )
            .buckets(latency_buckets()),
            &["route"],
        )?;
        let http_in_flight = IntGauge::new("tandem_http_requests_in_flight", "Requests being handled")?;
        let python_calls = IntCounterVec::new(
            Opts::new("tandem_python_calls_total", "Calls from TypeScript into Python, by function"),
            &["function"],
        )?;
        let python_errors = IntCounterVec::new(
            Opts::new("tandem_python_call_errors_total", "Calls into Python that raised, by function"),
            &["function"],
        )?;
        let python_duration = HistogramVec::new(
            HistogramOpts::new("tandem_python_call_duration_seconds", "Duration of calls into Python, by function")
                .buckets(latency_buckets()),
            &["function"],
        )?;
        let python_batch_size = HistogramVec::new(
            HistogramOpts::new(
                "tandem_python_batch_size",
                "Inputs per call of a @tandem.batch function, by function",
            )
            .buckets(prometheus::exponential_buckets(1.0, 2.0, 10)?),
            &["function"],
        )?;
        let interrupts = IntCounterVec::new(
            Opts::new(
                "tandem_interrupts_total",
                "Runaway work the runtime interrupted, by what it was (javascript, python, python_call_limit, wsgi)",
            ),
            &["what"],
        )?;
        let connections_open = IntGauge::new("tandem_connections_open", "HTTP connections open")?;
        let connections_shed = IntCounter::new(
            "tandem_connections_shed_total",
            "Idle connections closed to make room at --max-connections",
        )?;
        registry.register(Box::new(interrupts.clone()))?;
        registry.register(Box::new(connections_open.clone()))?;
        registry.register(Box::new(connections_shed.clone()))?;
        registry.register(Box::new(http_requests.clone()))?;
        registry.register(Box::new(http_duration.clone()))?;
        registry.register(Box::new(http_in_flight.clone()))?;
        registry.register(Box::new(python_calls.clone()))?;
        registry.register(Box::new(python_errors.clone()))?;
        registry.register(Box::new(python_duration.clone()))?;
        registry.register(Box::new(python_batch_size.clone()))?;
        let models = ModelFamilies::new(&registry)?;
        Ok(Self {
            registry,
            http_requests,
            http_duration,
            http_in_flight,
            python_calls,
            python_errors,
            python_duration,
            python_batch_size,
            interrupts,
            connections_open,
            connections_shed,
            models,
        })
    }

    /// The process's metrics.
    pub(crate) fn get() -> &'static Metrics {
        static METRICS: OnceLock<Metrics> = OnceLock::new();
        METRICS.get_or_init(|| Metrics::new().expect("metric definitions are valid"))
    }

    pub(crate) fn request_started(&self) {
        self.http_in_flight.inc();
    }

    pub(crate) fn request_ended(&self) {
        self.http_in_flight.dec();
    }

    pub(crate) fn request_finished(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let buffer = itoa_status(status);
        let status = std::str::from_utf8(&buffer).unwrap_or("0");
        self.http_requests.with_label_values(&[route, method, status]).inc();
        self.http_duration.with_label_values(&[route]).observe(seconds);
    }

    pub(crate) fn python_function(&self, name: &str) -> CallMetrics {
        CallMetrics {
            calls: self.python_calls.with_label_values(&[name]),
            errors: self.python_errors.with_label_values(&[name]),
            duration: self.python_duration.with_label_values(&[name]),
        }
    }

    /// A `@tandem.batch` function ran on `size` inputs at once.
    pub(crate) fn batch_run(&self, function: &str, size: usize) {
        self.python_batch_size.with_label_values(&[function]).observe(size as f64);
    }

    pub(crate) fn interrupted(&self, what: Interrupted) {
        self.interrupts.with_label_values(&[what.label()]).inc();
    }

    pub(crate) fn connection_opened(&self) {
        self.connections_open.inc();
    }

    pub(crate) fn connection_closed(&self) {
        self.connections_open.dec();
    }

    pub(crate) fn connections_shed(&self, count: usize) {
        self.connections_shed.inc_by(count as u64);
    }

    /// A call of `version` of `model` took `seconds`; `label` is what it
    /// predicted, if the registry knows how to read it.
    pub(crate) fn model_called(&self, model: &str, version: &str, seconds: f64, ok: bool, label: Option<&str>) {
        let m = &self.models;
        m.calls.with_label_values(&[model, version]).inc();
        m.duration.with_label_values(&[model, version]).observe(seconds);
        if !ok {
            m.errors.with_label_values(&[model, version]).inc();
        }
        if let Some(label) = label {
            m.labels.with_label_values(&[model, version, label]).inc();
        }
    }

    /// A model version was called on `size` inputs at once.
    pub(crate) fn model_batch(&self, model: &str, version: &str, size: usize) {
        self.models.batch_size.with_label_values(&[model, version]).observe(size as f64);
    }

    /// A shadow call of `candidate` ended in `outcome` against `primary`.
    pub(crate) fn shadow_compared(&self, model: &str, primary: &str, candidate: &str, outcome: &str) {
        self.models.shadow.with_label_values(&[model, primary, candidate, outcome]).inc();
    }

    /// All metrics in Prometheus' text exposition format.
    pub(crate) fn render(&self) -> String {
        let mut out = Vec::new();
        let encoder = prometheus::TextEncoder::new();
        // Encoding into a Vec cannot fail.
        let _ = encoder.encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

fn itoa_status(status: u16) -> [u8; 3] {
    let s = status.min(999);
    [b'0' + (s / 100) as u8, b'0' + (s / 10 % 10) as u8, b'0' + (s % 10) as u8]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_requests_and_python_calls() {
        let metrics = Metrics::new().unwrap();
        metrics.request_started();
        metrics.request_finished("/users/:id", "GET", 404, 0.002);
        metrics.request_ended();
        let call = metrics.python_function("model.predict");
        call.calls.inc();
        call.duration.observe(0.0001);
        let text = metrics.render();
        assert!(text.contains(r#"tandem_http_requests_total{method="GET",route="/users/:id",status="404"} 1"#), "{text}");
        assert!(text.contains(r#"tandem_python_calls_total{function="model.predict"} 1"#), "{text}");
        assert!(text.contains("tandem_http_requests_in_flight 0"), "{text}");
        metrics.batch_run("model.predict", 3);
        let text = metrics.render();
        assert!(text.contains(r#"tandem_python_batch_size_sum{function="model.predict"} 3"#), "{text}");
    }

    #[test]
    fn renders_model_versions_and_shadow_outcomes() {
        let metrics = Metrics::new().unwrap();
        metrics.model_called("sentiment", "v2", 0.001, true, Some("positive"));
        metrics.model_called("sentiment", "v2", 0.001, false, None);
        metrics.shadow_compared("sentiment", "v1", "v2", "disagree");
        metrics.model_batch("sentiment", "v2", 5);
        let text = metrics.render();
        assert!(text.contains(r#"tandem_model_batch_size_sum{model="sentiment",version="v2"} 5"#), "{text}");
        assert!(text.contains(r#"tandem_model_calls_total{model="sentiment",version="v2"} 2"#), "{text}");
        assert!(text.contains(r#"tandem_model_errors_total{model="sentiment",version="v2"} 1"#), "{text}");
        assert!(text.contains(r#"tandem_model_predictions_total{label="positive",model="sentiment",version="v2"} 1"#), "{text}");
        assert!(text.contains(r#"tandem_model_shadow_total{candidate="v2",model="sentiment",outcome="disagree",primary="v1"} 1"#), "{text}");
    }
}
