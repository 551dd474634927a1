//! Work over buckets spread across accounts and Regions, bounded per place. S3 counts its request
//! rates per account (and Region), so a sweep over an organisation works its places side by side,
//! as the organisation's sweep shards do, while asking no one place for more than a few requests at
//! once. In a single account every bucket is one place: the same eight at a time as before.

use std::future::Future;

use breakglass_config::BucketConfig;
use futures_util::stream::{self, StreamExt as _};

/// Buckets of one account and Region worked at once: S3 answers a bucket-configuration read in tens
/// of milliseconds, so eight hide the round trips, far below S3's rate limits.
pub const PER_PLACE: usize = 8;

/// Accounts and Regions worked at once: with [`PER_PLACE`], at most 64 requests in flight.
pub const PLACES: usize = 8;

/// Runs `work` on every bucket, at most [`PER_PLACE`] at once in any one account and Region and at
/// most [`PLACES`] places at once; answers in the order of `buckets`. Futures are lazy: nothing
/// starts before its turn.
pub async fn by_place<'a, F, Fut, T>(buckets: Vec<&'a BucketConfig>, work: F) -> Vec<T>
where
    F: Fn(&'a BucketConfig) -> Fut,
    Fut: Future<Output = T>,
{
    let total = buckets.len();
    // The buckets of each account and Region with their positions, places in the order first met.
    let mut places: Vec<Vec<(usize, &'a BucketConfig)>> = Vec::new();
    for (i, b) in buckets.into_iter().enumerate() {
        let same = |p: &Vec<(usize, &BucketConfig)>| {
            p.first().is_some_and(|(_, o)| o.account == b.account && o.region == b.region)
        };
        match places.iter_mut().find(|p| same(p)) {
            Some(members) => members.push((i, b)),
            None => places.push(vec![(i, b)]),
        }
    }
    let work = &work;
    let per_place = places.into_iter().map(|members| async move {
        stream::iter(members.into_iter().map(|(i, b)| async move { (i, work(b).await) }))
            .buffered(PER_PLACE)
            .collect::<Vec<_>>()
            .await
    });
    let mut done: Vec<(usize, T)> = Vec::with_capacity(total);
    for finished in stream::iter(per_place).buffer_unordered(PLACES).collect::<Vec<_>>().await {
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

    fn bucket(template: &BucketConfig, name: &str, account: &str, region: &str) -> BucketConfig {
        let mut b = template.clone();
        (b.name, b.account, b.region) = (name.into(), account.into(), Some(region.into()));
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
    async fn answers_in_order_and_bounds_each_place_and_the_places() {
        let example =
            breakglass_config::Config::from_toml(include_str!("../../../examples/breakglass.toml")).unwrap();
        let template = &example.buckets[0];
        // 12 places: 6 accounts x 2 Regions, 20 buckets each, interleaved.
        let mut buckets = Vec::new();
        for k in 0..20 {
            for a in 0..6u64 {
                for region in ["eu-west-1", "eu-central-1"] {
                    let account = format!("{:012}", 100_000_000_000u64 + a);
                    buckets.push(bucket(template, &format!("logs-{a}-{region}-{k:02}"), &account, region));
                }
            }
        }
        let running: RefCell<BTreeMap<String, usize>> = RefCell::new(BTreeMap::new());
        let most: RefCell<(usize, usize)> = RefCell::new((0, 0));
        let names = by_place(buckets.iter().collect(), |b| {
            let (running, most) = (&running, &most);
            async move {
                let place = format!("{}/{:?}", b.account, b.region);
                {
                    let mut r = running.borrow_mut();
                    *r.entry(place.clone()).or_default() += 1;
                    let per = r.values().copied().max().unwrap_or(0);
                    let places = r.values().filter(|n| **n > 0).count();
                    let mut m = most.borrow_mut();
                    *m = (m.0.max(per), m.1.max(places));
                }
                yield_now().await;
                *running.borrow_mut().entry(place).or_default() -= 1;
                b.name.clone()
            }
        })
        .await;
        let expected: Vec<String> = buckets.iter().map(|b| b.name.clone()).collect();
        assert_eq!(names, expected, "in the order asked");
        assert_eq!(*most.borrow(), (PER_PLACE, PLACES), "each bound reached, never passed");
    }
}
