//! CloudWatch metrics as log lines in the Embedded Metric Format (EMF, AWS's "Specification:
//! Embedded metric format"): one JSON object whose `_aws.CloudWatchMetrics` names which of its
//! members are metrics, in which namespace and under which dimensions; CloudWatch Logs extracts
//! them from the function's log group. Pure formatting: the functions print the lines. Dimensions
//! stay few and low-cardinality (the function, a drift's cause), never a bucket or an object key,
//! because every distinct value is a metric of its own (and a cost).

use serde_json::{json, Map, Value};
use time::OffsetDateTime;

/// The namespace of every metric (the dashboard and the alarms read it).
pub const NAMESPACE: &str = "Breakglass";
/// The dimension every metric has: the function that emitted it (`enforcer`, `recorder`, …).
pub const FUNCTION: &str = "Function";
/// The dimension of [`Metric::Drift`]: why the policy was unlawful, one of a few fixed words
/// (`drift`, `expired`, `unauthorised`, `unapproved`).
pub const CAUSE: &str = "Cause";
/// The dimensions of a [`Metric::HeartbeatAge`] per place: the logging account, its Region and
/// the half (`management`, `data`). Few values: the accounts and Regions of the config.
pub const ACCOUNT: &str = "Account";
pub const REGION: &str = "Region";
pub const HALF: &str = "Half";

/// What breakglass measures, named once for the functions, the dashboard and its test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    /// ClosedAccess written and verified over an unlawful policy.
    Remediations,
    /// An unlawful policy found (written back or not: dry run, refused), by [`CAUSE`].
    Drift,
    /// Object reads by a principal that is not an investigator role of the bucket.
    ReadsOutsideGrant,
    /// Object reads the bucket policy refused (`AccessDenied`).
    RefusedReads,
    /// How long a sweep invocation took (the whole sweep inline, or one batch of shards).
    SweepDuration,
    /// Sweep invocations or shard messages that failed (retried, then dead-lettered).
    SweepFailures,
    /// Shards a scheduled sweep sent to the sweep queue (organisation mode's fan-out).
    ShardsPlanned,
    /// Shards swept with every bucket checked. Fewer than planned, hour after hour, means shards
    /// are lost on the way (a drained queue, a removed event source mapping): an alarm that an idle
    /// enforcer cannot satisfy by merely being invoked.
    ShardsSwept,
    /// Seconds since the last heartbeat that came back (per account, Region and half; with the
    /// function's dimension alone, the oldest of them, which the alarm watches).
    HeartbeatAge,
}

impl Metric {
    pub const ALL: [Metric; 9] = [
        Metric::Remediations,
        Metric::Drift,
        Metric::ReadsOutsideGrant,
        Metric::RefusedReads,
        Metric::SweepDuration,
        Metric::SweepFailures,
        Metric::ShardsPlanned,
        Metric::ShardsSwept,
        Metric::HeartbeatAge,
    ];

    /// The metric's name in CloudWatch.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Remediations => "Remediations",
            Metric::Drift => "Drift",
            Metric::ReadsOutsideGrant => "ReadsOutsideGrant",
            Metric::RefusedReads => "RefusedReads",
            Metric::SweepDuration => "SweepDuration",
            Metric::SweepFailures => "SweepFailures",
            Metric::ShardsPlanned => "ShardsPlanned",
            Metric::ShardsSwept => "ShardsSwept",
            Metric::HeartbeatAge => "HeartbeatAge",
        }
    }

    /// Its CloudWatch unit.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::SweepDuration => "Milliseconds",
            Metric::HeartbeatAge => "Seconds",
            _ => "Count",
        }
    }
}

/// The values of one EMF line: one function, the same dimensions for every metric in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    dimensions: Vec<(&'static str, String)>,
    values: Vec<(Metric, Vec<f64>)>,
}

impl Metrics {
    /// The metrics of `function` (its [`FUNCTION`] dimension).
    pub fn new(function: &str) -> Metrics {
        Metrics { dimensions: vec![(FUNCTION, function.to_owned())], values: Vec::new() }
    }

    /// One more dimension for every metric of this line (a low-cardinality word).
    pub fn dimension(mut self, name: &'static str, value: &str) -> Metrics {
        self.dimensions.push((name, value.to_owned()));
        self
    }

    /// Adds one value of `metric`; several values of one metric go out as EMF's array of values.
    pub fn put(&mut self, metric: Metric, value: f64) {
        match self.values.iter_mut().find(|(m, _)| *m == metric) {
            Some((_, values)) => values.push(value),
            None => self.values.push((metric, vec![value])),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The EMF object at `at`, or `None` when there is nothing to say.
    pub fn to_emf(&self, at: OffsetDateTime) -> Option<Value> {
        if self.values.is_empty() {
            return None;
        }
        let timestamp = i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        let names: Vec<&str> = self.dimensions.iter().map(|(name, _)| *name).collect();
        let metrics: Vec<Value> =
            self.values.iter().map(|(m, _)| json!({ "Name": m.name(), "Unit": m.unit() })).collect();
        let mut root = Map::new();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp,
                "CloudWatchMetrics": [{ "Namespace": NAMESPACE, "Dimensions": [names], "Metrics": metrics }],
            }),
        );
        for (name, value) in &self.dimensions {
            root.insert((*name).to_owned(), json!(value));
        }
        for (metric, values) in &self.values {
            let value = match values.as_slice() {
                [one] => json!(one),
                many => json!(many),
            };
            root.insert(metric.name().to_owned(), value);
        }
        Some(Value::Object(root))
    }

    /// [`Metrics::to_emf`] as the one log line CloudWatch reads it from.
    pub fn to_line(&self, at: OffsetDateTime) -> Option<String> {
        self.to_emf(at).map(|v| v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_has_the_specifications_shape() {
        let mut m = Metrics::new("enforcer").dimension(CAUSE, "expired");
        m.put(Metric::Drift, 1.0);
        m.put(Metric::Drift, 1.0);
        m.put(Metric::Remediations, 2.0);
        let at = OffsetDateTime::from_unix_timestamp(1_764_900_000).unwrap();
        let v = m.to_emf(at).unwrap();
        assert_eq!(
            v,
            json!({
                "_aws": {
                    "Timestamp": 1_764_900_000_000_i64,
                    "CloudWatchMetrics": [{
                        "Namespace": "Breakglass",
                        "Dimensions": [["Function", "Cause"]],
                        "Metrics": [{"Name": "Drift", "Unit": "Count"}, {"Name": "Remediations", "Unit": "Count"}],
                    }],
                },
                "Function": "enforcer",
                "Cause": "expired",
                "Drift": [1.0, 1.0],
                "Remediations": 2.0,
            })
        );
        // The specification's rules: every dimension and metric named in the directive is a member
        // of the root; dimension values are strings; metric values numbers (or arrays of them).
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        for name in directive["Dimensions"][0].as_array().unwrap() {
            assert!(v[name.as_str().unwrap()].is_string());
        }
        for metric in directive["Metrics"].as_array().unwrap() {
            let value = &v[metric["Name"].as_str().unwrap()];
            assert!(value.is_number() || value.as_array().is_some_and(|a| a.iter().all(Value::is_number)));
        }
        assert!(!m.to_line(at).unwrap().contains('\n'));
    }

    #[test]
    fn nothing_measured_is_no_line() {
        assert_eq!(Metrics::new("recorder").to_line(OffsetDateTime::UNIX_EPOCH), None);
    }

    #[test]
    fn units_are_cloudwatch_units_and_names_are_unique() {
        let names: std::collections::BTreeSet<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(names.len(), Metric::ALL.len());
        for m in Metric::ALL {
            assert!(["Count", "Milliseconds", "Seconds"].contains(&m.unit()), "{m:?}");
        }
    }
}
