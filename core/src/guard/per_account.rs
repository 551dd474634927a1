//! Work over buckets spread across accounts, a few at once in each. Where AWS throttles the
//! bucket-configuration calls it counts per account, so a sweep over an organisation works its
//! accounts side by side, as the organisation's sweep shards do, and one account's throttling slows
//! only that account. A single account is worked eight at a time, whatever its Regions, as before.

use std::collections::BTreeMap;
use std::future::Future;

use breakglass_config::BucketConfig;
use futures_util::stream::{self, StreamExt as _};

/// Buckets of one account worked at once: S3 answers a bucket-configuration read in tens of
/// milliseconds, so eight hide the round trips (about 8,000 buckets within a Lambda's 30 seconds),
/// far below where S3 throttles.
pub const PER_ACCOUNT: usize = 8;

/// Accounts worked at once: with [`PER_ACCOUNT`], at most 64 requests in flight.
pub const ACCOUNTS_AT_ONCE: usize = 8;

/// Runs `work` on every bucket, at most [`PER_ACCOUNT`] at once in any one account and at most
/// [`ACCOUNTS_AT_ONCE`] accounts at once; answers in the order of `buckets`. Futures are lazy:
/// nothing starts before its turn.
pub async fn by_account<'a, F, Fut, T>(buckets: Vec<&'a BucketConfig>, work: F) -> Vec<T>
where
    F: Fn(&'a BucketConfig) -> Fut,
    Fut: Future<Output = T>,
{
    let total = buckets.len();
    // Each bucket keeps its position, so that the answers can be put back in the order asked.
    let mut accounts: BTreeMap<&str, Vec<(usize, &'a BucketConfig)>> = BTreeMap::new();
    for (i, b) in buckets.into_iter().enumerate() {
        accounts.entry(b.account.as_str()).or_default().push((i, b));
    }
    let work = &work;
    let per_account = accounts.into_values().map(|members| async move {
        stream::iter(members.into_iter().map(|(i, b)| async move { (i, work(b).await) }))
            .buffered(PER_ACCOUNT)
            .collect::<Vec<_>>()
            .await
    });
    let mut done: Vec<(usize, T)> = Vec::with_capacity(total);
    for finished in stream::iter(per_account).buffer_unordered(ACCOUNTS_AT_ONCE).collect::<Vec<_>>().await {
        done.extend(finished);
    }
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, t)| t).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    fn bucket(template: &BucketConfig, name: &str, account: &str, region: Option<&str>) -> BucketConfig {
        let mut b = template.clone();
        (b.name, b.account, b.region) = (name.into(), account.into(), region.map(str::to_owned));
        b
    }

    /// Yields once, so that every future the runner has started gets to run before any ends.
    async fn yield_now() {
        let mut yielded = false;
        std::future::poll_fn(|cx| {
            if yielded {
                std::task::Poll::Ready(())
            } else {
                yielded = true;
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        })
        .await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn nothing_asked_nothing_answered() {
        let none: Vec<u8> = by_account(Vec::new(), |_| async { 0u8 }).await;
        assert!(none.is_empty());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn answers_in_order_and_bounds_each_account_and_the_accounts() {
        let example =
            breakglass_config::Config::from_toml(include_str!("../../../examples/breakglass.toml")).unwrap();
        let template = &example.buckets[0];
        // 12 accounts, each with buckets in two Regions and in the deployment's own (no Region),
        // 30 buckets each, interleaved: a Region is no account of its own.
        let mut buckets = Vec::new();
        for k in 0..10 {
            for a in 0..12u64 {
                for region in [Some("eu-west-1"), Some("eu-central-1"), None] {
                    let account = format!("{:012}", 100_000_000_000u64 + a);
                    let name = format!("logs-{a}-{}-{k:02}", region.unwrap_or("home"));
                    buckets.push(bucket(template, &name, &account, region));
                }
            }
        }
        let running: RefCell<BTreeMap<String, usize>> = RefCell::new(BTreeMap::new());
        let most: RefCell<(usize, usize)> = RefCell::new((0, 0));
        let names = by_account(buckets.iter().collect(), |b| {
            let (running, most) = (&running, &most);
            async move {
                {
                    let mut r = running.borrow_mut();
                    *r.entry(b.account.clone()).or_default() += 1;
                    let per = r.values().copied().max().unwrap_or(0);
                    let accounts = r.values().filter(|n| **n > 0).count();
                    let mut m = most.borrow_mut();
                    *m = (m.0.max(per), m.1.max(accounts));
                }
                yield_now().await;
                *running.borrow_mut().entry(b.account.clone()).or_default() -= 1;
                b.name.clone()
            }
        })
        .await;
        let expected: Vec<String> = buckets.iter().map(|b| b.name.clone()).collect();
        assert_eq!(names, expected, "in the order asked");
        assert_eq!(*most.borrow(), (PER_ACCOUNT, ACCOUNTS_AT_ONCE), "each bound reached, never passed");
    }
}
