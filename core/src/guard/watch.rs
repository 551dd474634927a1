//! The paths around the policy: bucket settings that destroy or copy out the logs, the investigator
//! roles' trust, and the subscriptions that carry the mails. Pure judgements here; the enforcer reads,
//! repairs and reports.

use breakglass_config::BucketConfig;
use canonical_policies::Quoted;
use serde::Deserialize;
use serde_json::Value;

use crate::ports::{LifecycleRule, Subscription};

/// Why a lifecycle rule destroys logs unlawfully, or `None` when it keeps them long enough.
pub fn unlawful_rule(bucket: &BucketConfig, rule: &LifecycleRule) -> Option<String> {
    if !rule.enabled {
        return None;
    }
    let name = rule
        .id
        .as_deref()
        .map(|i| format!("lifecycle rule {}", Quoted(i)))
        .unwrap_or("a lifecycle rule".into());
    let keep = bucket.retention_days.map(i64::from);
    let too_soon = |days: i32| keep.is_none_or(|k| i64::from(days) < k);
    let wanted = keep
        .map(|k| format!("the logs are kept {k} days"))
        .unwrap_or("no retention_days is configured, so nothing may expire".into());
    if let Some(date) = &rule.expiration_date {
        return Some(format!("{name} expires every log object from {date} on ({wanted})"));
    }
    let days = |n: i32| if n == 1 { "1 day".to_owned() } else { format!("{n} days") };
    if let Some(n) = rule.expiration_days.filter(|d| too_soon(*d)) {
        return Some(format!("{name} expires log objects after {} ({wanted})", days(n)));
    }
    if let Some(n) = rule.noncurrent_days.filter(|d| too_soon(*d)) {
        return Some(format!("{name} deletes old versions after {} ({wanted})", days(n)));
    }
    None
}

/// SNS's default `FilterPolicyScope`: the filter policy applies to the message attributes.
const ATTRIBUTES: &str = "MessageAttributes";

/// A subscription the deployment made, as template.yaml passes it in `BREAKGLASS_SUBSCRIPTIONS`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedSubscription {
    pub protocol: String,
    pub endpoint: String,
    #[serde(default)]
    pub filter_policy: Option<Value>,
    /// The same endpoint is subscribed, unfiltered, to the alarm topic (the security team's): one
    /// flag instead of a second list, for the functions' 4 KB environment.
    #[serde(default)]
    pub alarm: bool,
}

/// The notification topic and the subscriptions it must have, no more and no fewer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Expected {
    pub topic_arn: Option<String>,
    pub subscriptions: Vec<ExpectedSubscription>,
    /// The alarm topic (the second channel) and its own subscriptions, checked the same way; what
    /// is wrong there goes out through the first channel.
    pub alarm: Option<Box<Expected>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid `BREAKGLASS_SUBSCRIPTIONS` or `BREAKGLASS_ALARM_SUBSCRIPTIONS`: {0} (expected a json list of {{\"protocol\", \"endpoint\", \"filter_policy\"}}, as template.yaml sets it)")]
pub struct ExpectedError(String);

impl Expected {
    /// `json`: `[{"protocol": "email", "endpoint": "…", "filter_policy": {…}}, …]`.
    pub fn parse(topic_arn: &str, json: &str) -> Result<Expected, ExpectedError> {
        let subscriptions: Vec<ExpectedSubscription> =
            serde_json::from_str(json).map_err(|e| ExpectedError(e.to_string()))?;
        Ok(Expected { topic_arn: Some(topic_arn.to_owned()), subscriptions, alarm: None })
    }

    /// The alarm topic `topic_arn` as these subscriptions flag it (`"alarm": true`), or as `json`
    /// lists it when the alarm topic's subscribers are not the security team's.
    pub fn with_alarm(mut self, topic_arn: &str, json: Option<&str>) -> Result<Expected, ExpectedError> {
        let alarm = match json {
            Some(json) => Expected::parse(topic_arn, json)?,
            None => {
                let flagged: Vec<ExpectedSubscription> = self
                    .subscriptions
                    .iter()
                    .filter(|s| s.alarm)
                    .map(|s| ExpectedSubscription { filter_policy: None, alarm: false, ..s.clone() })
                    .collect();
                if flagged.is_empty() {
                    return Ok(self);
                }
                Expected { topic_arn: Some(topic_arn.to_owned()), subscriptions: flagged, alarm: None }
            }
        };
        self.alarm = Some(Box::new(alarm));
        Ok(self)
    }

    /// Everything wrong with the live subscriptions, in words; empty when they are as deployed.
    /// A filter policy is also judged by its scope (`FilterPolicyScope`), which SNS keeps apart.
    pub fn problems(&self, live: &[Subscription]) -> Vec<String> {
        let mut out = Vec::new();
        let same =
            |e: &ExpectedSubscription, s: &Subscription| e.protocol == s.protocol && e.endpoint == s.endpoint;
        for e in &self.subscriptions {
            match live.iter().find(|s| same(e, s)) {
                None => out.push(format!("{} subscription {} is gone", e.protocol, Quoted(&e.endpoint))),
                Some(s) if s.arn == "PendingConfirmation" => out.push(format!(
                    "{} subscription {} is not confirmed: it receives nothing",
                    e.protocol,
                    Quoted(&e.endpoint)
                )),
                // breakglass's filters are on message attributes; applied to the body (plain text
                // for email, never the JSON SNS would need), any filter policy matches nothing.
                Some(s)
                    if s.filter_policy.is_some()
                        && s.filter_scope.as_deref().is_some_and(|f| f != ATTRIBUTES) =>
                {
                    out.push(format!(
                        "{} subscription {} applies its filter policy to {}, so it receives nothing",
                        e.protocol,
                        Quoted(&e.endpoint),
                        Quoted(s.filter_scope.as_deref().unwrap_or_default())
                    ))
                }
                Some(s) => {
                    let live_filter: Option<Value> =
                        s.filter_policy.as_deref().and_then(|f| serde_json::from_str(f).ok());
                    if live_filter != e.filter_policy {
                        out.push(format!(
                            "{} subscription {} has filter policy {} instead of {}",
                            e.protocol,
                            Quoted(&e.endpoint),
                            s.filter_policy.as_deref().unwrap_or("none"),
                            e.filter_policy.as_ref().map(Value::to_string).unwrap_or("none".into())
                        ));
                    }
                }
            }
        }
        for s in live.iter().filter(|s| !self.subscriptions.iter().any(|e| same(e, s))) {
            out.push(format!(
                "unexpected {} subscription {} reads every notification",
                s.protocol,
                Quoted(&s.endpoint)
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alarm_topic_expects_the_flagged_endpoints_unfiltered_or_its_own_list() {
        let json = r#"[{"protocol":"email","endpoint":"c@x","filter_policy":{"kind":["change"]}},
            {"protocol":"email","endpoint":"s@x","filter_policy":{"severity":["critical"]},"alarm":true}]"#;
        let e = Expected::parse("arn:n", json).unwrap().with_alarm("arn:a", None).unwrap();
        let alarm = e.alarm.as_deref().unwrap();
        assert_eq!(alarm.topic_arn.as_deref(), Some("arn:a"));
        assert_eq!(alarm.subscriptions.len(), 1);
        assert_eq!(
            (alarm.subscriptions[0].endpoint.as_str(), &alarm.subscriptions[0].filter_policy),
            ("s@x", &None)
        );
        let own = r#"[{"protocol":"sqs","endpoint":"arn:q"}]"#;
        let e = Expected::parse("arn:n", json).unwrap().with_alarm("arn:a", Some(own)).unwrap();
        assert_eq!(e.alarm.unwrap().subscriptions[0].endpoint, "arn:q");
        let unflagged = r#"[{"protocol":"email","endpoint":"c@x"}]"#;
        assert!(Expected::parse("arn:n", unflagged)
            .unwrap()
            .with_alarm("arn:a", None)
            .unwrap()
            .alarm
            .is_none());
    }

    #[test]
    fn subscriptions_lost_silenced_or_added_are_problems() {
        let expected = Expected::parse(
            "arn:aws:sns:eu-central-1:111122223333:breakglass-notifications",
            r#"[{"protocol":"email","endpoint":"council@example.com","filter_policy":{"kind":["change"]}},
                {"protocol":"email","endpoint":"security@example.com"}]"#,
        )
        .unwrap();
        let sub = |endpoint: &str, filter: Option<&str>| Subscription {
            arn: format!("arn:aws:sns:eu-central-1:111122223333:breakglass-notifications:{endpoint}"),
            protocol: "email".into(),
            endpoint: endpoint.into(),
            filter_policy: filter.map(str::to_owned),
            filter_scope: None,
        };
        let good = [
            sub("council@example.com", Some(r#"{ "kind": ["change"] }"#)),
            sub("security@example.com", None),
        ];
        assert!(expected.problems(&good).is_empty());
        let silenced =
            [sub("council@example.com", Some(r#"{"kind":["never"]}"#)), sub("security@example.com", None)];
        assert_eq!(expected.problems(&silenced).len(), 1);
        // The same filter, applied to the message body: nothing matches (regression: not seen).
        let mut body = good.clone();
        body[0].filter_scope = Some("MessageBody".into());
        let p = expected.problems(&body);
        assert!(p.len() == 1 && p[0].contains("`MessageBody`"), "{p:?}");
        body[0].filter_scope = Some("MessageAttributes".into());
        assert!(expected.problems(&body).is_empty());
        let lost = [sub("security@example.com", None), sub("mallory@example.net", None)];
        let p = expected.problems(&lost);
        assert!(
            p.iter().any(|l| l.contains("is gone")) && p.iter().any(|l| l.contains("unexpected")),
            "{p:?}"
        );
        assert!(Expected::parse("t", "{").is_err());
    }
}
