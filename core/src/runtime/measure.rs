//! The functions' metrics ([`crate::metrics`]) from what one invocation answered: the enforcer's
//! reports and sweep shards, the recorder's batch. Read from the answers, which name every outcome
//! already, so that no pipeline carries a second account of it; the functions print the lines.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::metrics::{Metric, Metrics, ACCOUNT, CAUSE, HALF, REGION};

/// The enforcer's metrics for one invocation of `raw`, answered with `answer` (`None`: it failed)
/// after `took`: remediations and drift by cause wherever they happen; on a sweep (the schedule
/// sweeping inline, or a batch of shards) its duration and failures. The schedule that only plans
/// the shards is no sweep's duration, but its failure is the sweep's.
pub fn enforcer(function: &str, raw: &Value, answer: Option<&Value>, took: Duration) -> Vec<Metrics> {
    let mut counts = Metrics::new(function);
    let mut causes: BTreeMap<String, f64> = BTreeMap::new();
    let mut closed = 0.0;
    let empty = Vec::new();
    let list = |v: Option<&Value>, key: &str| v.and_then(|a| a.get(key)).and_then(Value::as_array).cloned();
    for b in list(answer, "buckets").unwrap_or_default() {
        closed += f64::from(u8::from(b.get("outcome").and_then(Value::as_str) == Some("closed")));
        if let Some(cause) = b.get("cause").and_then(Value::as_str) {
            *causes.entry(cause.to_owned()).or_default() += 1.0;
        }
    }
    let shards = list(answer, "sweep");
    for s in shards.as_ref().unwrap_or(&empty) {
        closed += s.get("closed").and_then(Value::as_f64).unwrap_or(0.0);
        for (cause, n) in s.get("drift").and_then(Value::as_object).into_iter().flatten() {
            *causes.entry(cause.clone()).or_default() += n.as_f64().unwrap_or(0.0);
        }
    }
    if closed > 0.0 {
        counts.put(Metric::Remediations, closed);
    }
    let scheduled = raw.get("detail-type").and_then(Value::as_str) == Some("Scheduled Event");
    let batch = raw.get("Records").and_then(Value::as_array).map_or(0, Vec::len);
    let planned_only = answer.and_then(|a| a.get("sweep")).is_some_and(Value::is_object);
    if shards.is_some() || (answer.is_none() && batch > 0) {
        // A batch of shard messages: each one handed back is a failed shard (or close).
        let failed = match answer {
            Some(a) => list(Some(a), "batchItemFailures").map_or(0, |f| f.len()),
            None => batch,
        };
        counts.put(Metric::SweepDuration, took.as_secs_f64() * 1000.0);
        counts.put(Metric::SweepFailures, failed as f64);
        // A shard counts as swept once every bucket in it was checked (a close is no shard).
        let swept = shards.iter().flatten().filter(|s| s.get("index").is_some() && unchecked_none(s)).count();
        counts.put(Metric::ShardsSwept, swept as f64);
    } else if scheduled {
        if planned_only {
            let planned = answer.and_then(|a| a.get("sweep")?.get("shards")?.as_f64()).unwrap_or(0.0);
            counts.put(Metric::ShardsPlanned, planned);
        } else {
            counts.put(Metric::SweepDuration, took.as_secs_f64() * 1000.0);
        }
        counts.put(Metric::SweepFailures, f64::from(u8::from(answer.is_none())));
    }
    let mut lines = vec![counts];
    lines.extend(heartbeat(function, answer));
    for (cause, n) in causes {
        let mut drift = Metrics::new(function).dimension(CAUSE, &cause);
        drift.put(Metric::Drift, n);
        lines.push(drift);
    }
    lines.retain(|m| !m.is_empty());
    lines
}

/// The heartbeat's ages of a scheduled run: one line per account, Region and half, and the oldest
/// under the function's dimension alone (the alarm's, which does not know the accounts).
fn heartbeat(function: &str, answer: Option<&Value>) -> Vec<Metrics> {
    let ages = answer.and_then(|a| a.get("heartbeat")?.get("ages")?.as_array().cloned()).unwrap_or_default();
    let mut lines = Vec::new();
    let mut oldest: Option<f64> = None;
    for a in &ages {
        let word = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        let Some(age) = a.get("age_seconds").and_then(Value::as_f64) else { continue };
        let mut line = Metrics::new(function)
            .dimension(ACCOUNT, &word("account"))
            .dimension(REGION, &word("region"))
            .dimension(HALF, &word("half"));
        line.put(Metric::HeartbeatAge, age);
        lines.push(line);
        oldest = Some(oldest.map_or(age, |o| o.max(age)));
    }
    if let Some(age) = oldest {
        let mut line = Metrics::new(function);
        line.put(Metric::HeartbeatAge, age);
        lines.insert(0, line);
    }
    lines
}

fn unchecked_none(shard: &Value) -> bool {
    shard.get("unchecked").and_then(Value::as_array).is_none_or(Vec::is_empty)
}

/// The recorder's metrics for one answer: reads outside the investigator roles, refused reads.
pub fn recorder(function: &str, answer: &Value) -> Vec<Metrics> {
    let mut counts = Metrics::new(function);
    for (key, metric) in [("outside", Metric::ReadsOutsideGrant), ("denied", Metric::RefusedReads)] {
        match answer.get(key).and_then(Value::as_f64) {
            Some(n) if n > 0.0 => counts.put(metric, n),
            _ => {}
        }
    }
    if counts.is_empty() {
        Vec::new()
    } else {
        vec![counts]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::OffsetDateTime;

    fn lines(ms: &[Metrics]) -> Vec<Value> {
        ms.iter().filter_map(|m| m.to_emf(OffsetDateTime::UNIX_EPOCH)).collect()
    }

    #[test]
    fn a_scheduled_run_measures_each_heartbeat_age_and_the_oldest() {
        let answer = json!({"buckets": [], "heartbeat": {"ages": [
            {"account": "111122223333", "region": "eu-west-1", "half": "management", "age_seconds": 60},
            {"account": "111122223333", "region": "eu-west-1", "half": "data", "age_seconds": 2000},
        ]}});
        let raw = json!({"detail-type": "Scheduled Event"});
        let got = lines(&enforcer("enforcer", &raw, Some(&answer), Duration::from_millis(5)));
        let ages: Vec<(&Value, &Value)> = got
            .iter()
            .filter(|l| l.get("HeartbeatAge").is_some())
            .map(|l| (&l["Half"], &l["HeartbeatAge"]))
            .collect();
        assert_eq!(
            ages,
            [
                (&Value::Null, &json!(2000.0)),
                (&json!("management"), &json!(60.0)),
                (&json!("data"), &json!(2000.0))
            ]
        );
    }

    #[test]
    fn a_call_that_closed_a_drifted_bucket_counts_one_remediation_and_one_drift() {
        let answer = json!({"buckets": [
            {"bucket": "b", "outcome": "closed", "cause": "drift"},
            {"bucket": "c", "outcome": "dry-run", "cause": "expired"},
            {"bucket": "d", "outcome": "lawful", "cause": null},
        ]});
        let raw = json!({"detail-type": "AWS API Call via CloudTrail"});
        let got = lines(&enforcer("enforcer", &raw, Some(&answer), Duration::from_millis(5)));
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0]["Remediations"], 1.0);
        assert!(got[0].get("SweepDuration").is_none(), "a call is no sweep");
        assert_eq!((got[1]["Cause"].as_str(), &got[1]["Drift"]), (Some("drift"), &json!(1.0)));
        assert_eq!((got[2]["Cause"].as_str(), &got[2]["Drift"]), (Some("expired"), &json!(1.0)));
    }

    #[test]
    fn shards_and_inline_sweeps_report_duration_and_failures() {
        let raw = json!({"Records": [{"messageId": "1"}, {"messageId": "2"}]});
        let answer = json!({"batchItemFailures": [{"itemIdentifier": "2"}], "sweep": [
            {"index": 0, "closed": 2, "drift": {"drift": 1, "unapproved": 1}},
        ]});
        let got = lines(&enforcer("enforcer", &raw, Some(&answer), Duration::from_millis(1500)));
        assert_eq!(got[0]["SweepDuration"], 1500.0);
        assert_eq!(got[0]["SweepFailures"], 1.0);
        assert_eq!(got[0]["Remediations"], 2.0);
        assert_eq!(got[0]["ShardsSwept"], 1.0);
        assert_eq!(got.len(), 3);
        // A failed batch: every message comes back.
        let got = lines(&enforcer("enforcer", &raw, None, Duration::from_millis(10)));
        assert_eq!(got[0]["SweepFailures"], 2.0);

        let schedule = json!({"detail-type": "Scheduled Event", "source": "aws.events"});
        let inline = json!({"buckets": []});
        let got = lines(&enforcer("enforcer", &schedule, Some(&inline), Duration::from_millis(7)));
        assert_eq!(
            (got[0]["SweepDuration"].as_f64(), got[0]["SweepFailures"].as_f64()),
            (Some(7.0), Some(0.0))
        );
        let planned = json!({"sweep": {"id": "s", "shards": 1, "buckets": 3}});
        let got = lines(&enforcer("enforcer", &schedule, Some(&planned), Duration::from_millis(7)));
        assert!(got[0].get("SweepDuration").is_none(), "planning is not the sweep");
        assert_eq!(got[0]["ShardsPlanned"], 1.0);
        let got = lines(&enforcer("enforcer", &schedule, None, Duration::from_millis(7)));
        assert_eq!(got[0]["SweepFailures"], 1.0);
    }

    #[test]
    fn a_shard_with_unchecked_buckets_or_a_close_is_not_swept() {
        let raw = json!({"Records": [{"messageId": "1"}, {"messageId": "2"}]});
        let answer = json!({"batchItemFailures": [{"itemIdentifier": "1"}], "sweep": [
            {"index": 0, "closed": 0, "unchecked": ["b"]},
            {"index": 1, "closed": 0, "unchecked": []},
            {"closed": "sweep-1", "remediations": 0},
        ]});
        let got = lines(&enforcer("enforcer", &raw, Some(&answer), Duration::from_millis(9)));
        assert_eq!(got[0]["ShardsSwept"], 1.0);
    }

    #[test]
    fn the_recorder_counts_reads_outside_a_grant_and_refused_reads() {
        let got = lines(&recorder("recorder", &json!({"reads": 4, "outside": 1, "denied": 2})));
        assert_eq!(
            (got[0]["ReadsOutsideGrant"].as_f64(), got[0]["RefusedReads"].as_f64()),
            (Some(1.0), Some(2.0))
        );
        assert!(recorder("recorder", &json!({"reads": 4, "outside": 0, "denied": 0})).is_empty());
    }
}
