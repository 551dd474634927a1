//! The sweep's plan: its name, which settings are due, the shards (the configured buckets by
//! account and Region), and their sending to the sweep queue with the delayed close.

use std::collections::BTreeMap;

use breakglass_config::Config;

use super::message::{Close, Shard, SweepMessage, MESSAGE_BUCKETS, SHARD_BUCKETS};
use crate::events::Place;
use crate::ports::{PortError, SweepQueue};
use time::OffsetDateTime;

/// The sweep's name: the schedule time (so that keys sort by time) and the event's id (so that a
/// retried planning invocation names the same sweep). Only characters safe in an S3 key.
pub fn sweep_id(event_id: Option<&str>, time: OffsetDateTime) -> String {
    // The expiry's one spelling without `-` and `:`: `20261124T180000Z`.
    let stamp = canonical_policies::format_expiry(time).replace(['-', ':'], "");
    let id: String = event_id
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(36)
        .collect();
    if id.is_empty() {
        stamp
    } else {
        format!("{stamp}-{id}")
    }
}

/// The bucket settings are checked by the sweep of the first quarter of each hour; the policy by
/// every sweep. A change of settings triggers its own check at once; the sweep is the net under it.
pub fn settings_due(time: OffsetDateTime) -> bool {
    time.checked_to_offset(time::UtcOffset::UTC).unwrap_or(time).minute() < 15
}

/// The shards of a sweep: the configured buckets grouped by account and Region (in that order),
/// each group cut into pieces of at most [`SHARD_BUCKETS`].
pub fn plan(config: &Config, sweep: &str, settings: bool) -> Vec<Shard> {
    let mut groups: BTreeMap<Place, Vec<String>> = BTreeMap::new();
    for b in &config.buckets {
        let place = Place { account: b.account.clone(), region: b.region.clone() };
        groups.entry(place).or_default().push(b.name.clone());
    }
    let pieces: Vec<(Place, Vec<String>)> = groups
        .into_iter()
        .flat_map(|(place, names)| {
            names.chunks(SHARD_BUCKETS).map(|c| (place.clone(), c.to_vec())).collect::<Vec<_>>()
        })
        .collect();
    let of = pieces.len();
    pieces
        .into_iter()
        .enumerate()
        .map(|(index, (place, buckets))| Shard {
            sweep: sweep.to_owned(),
            index,
            of,
            place,
            buckets,
            settings,
        })
        .collect()
}

/// Sends the shards of `sweep`, then the delayed close. Returns how many shards were sent, and how
/// many buckets they hold.
pub async fn send_plan<Q: SweepQueue>(
    config: &Config,
    queue: &Q,
    sweep: &str,
    settings: bool,
    close_delay: u32,
) -> Result<(usize, usize), PortError> {
    let shards = plan(config, sweep, settings);
    let buckets = shards.iter().map(|s| s.buckets.len()).sum();
    let mut messages: Vec<Vec<Shard>> = Vec::new();
    for shard in &shards {
        match messages.last_mut() {
            Some(m)
                if m.first().is_some_and(|f| f.place.account == shard.place.account)
                    && m.iter().map(|s| s.buckets.len()).sum::<usize>() + shard.buckets.len()
                        <= MESSAGE_BUCKETS =>
            {
                m.push(shard.clone());
            }
            _ => messages.push(vec![shard.clone()]),
        }
    }
    let bodies: Vec<String> =
        messages.into_iter().map(|m| SweepMessage::Shards { shards: m }.body()).collect();
    queue.send(&bodies, 0).await?;
    let close = SweepMessage::Close(Close { sweep: sweep.to_owned(), shards: shards.len() });
    queue.send(&[close.body()], close_delay).await?;
    Ok((shards.len(), buckets))
}

/// A sweep of the one bucket that discovery just added from a call ([`crate::guard::discovery::adopt`]),
/// sent `delay` seconds ahead: by then every function has read the grown registry, so the shard
/// finds the bucket in its config. Policy and settings are checked; its close follows.
pub async fn send_adopted<Q: SweepQueue>(
    queue: &Q,
    sweep: &str,
    entry: &crate::events::Entry,
    delay: u32,
    close_delay: u32,
) -> Result<(), PortError> {
    let shard = Shard {
        sweep: sweep.to_owned(),
        index: 0,
        of: 1,
        place: Place { account: entry.account.clone(), region: Some(entry.region.clone()) },
        buckets: vec![entry.name.clone()],
        settings: true,
    };
    queue.send(&[SweepMessage::Shards { shards: vec![shard] }.body()], delay).await?;
    let close = SweepMessage::Close(Close { sweep: sweep.to_owned(), shards: 1 });
    // SQS delays at most 15 minutes.
    queue.send(&[close.body()], delay.saturating_add(close_delay).min(900)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_one_account_and_region_each_and_never_over_the_limit() {
        let mut text = include_str!("../../../../examples/breakglass.toml").to_owned();
        for n in 0..250 {
            text.push_str(&format!("\n[[bucket]]\nname = \"acme-many-logs-{n:03}\"\n"));
        }
        let config = Config::from_toml(&text).unwrap();
        let shards = plan(&config, "s", false);
        let sizes: Vec<usize> = shards.iter().map(|s| s.buckets.len()).collect();
        assert_eq!(sizes.iter().sum::<usize>(), config.buckets.len());
        assert!(sizes.iter().all(|n| *n <= SHARD_BUCKETS), "{sizes:?}");
        assert_eq!(shards.len(), config.buckets.len().div_ceil(SHARD_BUCKETS));
        assert!(shards.iter().enumerate().all(|(i, s)| s.index == i && s.of == shards.len()));
    }

    #[test]
    fn a_recheck_carries_its_event() {
        let event = serde_json::json!({"detail-type": "AWS API Call via CloudTrail", "detail": {"eventName": "PutBucketPolicy"}});
        let body = SweepMessage::Recheck { event: event.clone() }.body();
        assert!(body.contains(r#""kind":"recheck""#), "{body}");
        assert_eq!(SweepMessage::parse(&body).ok(), Some(SweepMessage::Recheck { event }));
    }

    struct Sent(std::sync::Mutex<Vec<(String, u32)>>);
    impl SweepQueue for Sent {
        async fn send(&self, bodies: &[String], delay: u32) -> Result<(), PortError> {
            let mut s = self.0.lock().map_err(|_| PortError::Retryable("lock".into()))?;
            s.extend(bodies.iter().map(|b| (b.clone(), delay)));
            Ok(())
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_accounts_regions_travel_in_one_message_so_its_role_is_assumed_once() {
        let config = Config::from_toml(include_str!("../../../../examples/organisation.toml")).unwrap();
        let queue = Sent(std::sync::Mutex::new(Vec::new()));
        let (shards, buckets) = send_plan(&config, &queue, "s", false, 300).await.unwrap();
        assert_eq!(buckets, config.buckets.len());
        assert_eq!(shards, 4, "one per account and Region");
        let sent = queue.0.into_inner().unwrap();
        let messages: Vec<SweepMessage> = sent.iter().map(|(b, _)| SweepMessage::parse(b).unwrap()).collect();
        assert_eq!(messages.len(), 4, "three accounts, then the close: {messages:?}");
        let SweepMessage::Shards { shards: first } = &messages[0] else { panic!("{messages:?}") };
        assert_eq!(first.len(), 2, "logging-prod's two Regions together");
        assert!(first.iter().all(|s| s.place.account == "111100000000"));
        assert_eq!(sent.last().map(|(_, d)| *d), Some(300), "the close waits");
        assert!(matches!(messages.last(), Some(SweepMessage::Close(Close { shards: 4, .. }))));
    }
}
