//! What one event asks of the enforcer ([`Enforcer::handle`]): a schedule or a reconcile event
//! sweeps every bucket (or the one it names), a guarded call reconciles its bucket; and the
//! remediations of a sweep put on the bus, many at once as one digest.

use breakglass_config::BucketConfig;
use serde_json::Value;
use time::OffsetDateTime;

use crate::events::{DigestCause, DigestEntry, OwnEvent, Remediation, RemediationDigest};
use crate::guard::enforce::{tried_all, EnforceError, Enforcer, Report};
use crate::guard::per_account::by_account;
use crate::guarded::Target;
use crate::inbound::event::{ApiCall, Incoming};
use crate::ports::{BucketRecords, EventBus, PolicyStore, PortError};

/// All reports, or the first error after logging every one: nothing is skipped because of another.
fn every_one(
    results: impl IntoIterator<Item = Result<Report, EnforceError>>,
) -> Result<Vec<Report>, EnforceError> {
    let (reports, first) = tried_all(results, "bucket not reconciled");
    first.map_or(Ok(reports), Err)
}

/// One bucket of a sweep: what the enforcer did, or why it could not reconcile it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub bucket: String,
    pub result: Result<Report, EnforceError>,
}

/// What a sweep did: every bucket, in the order asked, and whether its remediations reached the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swept {
    pub buckets: Vec<Checked>,
    pub published: Result<(), PortError>,
}

impl Swept {
    /// The Lambda's answer: every report, or, once every bucket was handled, the first error (each
    /// one logged), so that Lambda retries and the error alarm fires.
    pub fn into_result(self) -> Result<Vec<Report>, EnforceError> {
        let reports = every_one(self.buckets.into_iter().map(|c| c.result))?;
        self.published.map(|()| reports).map_err(EnforceError::Bus)
    }
}

impl<S: PolicyStore, B: EventBus, T: BucketRecords> Enforcer<S, B, T> {
    /// Handles one incoming event. Buckets not in the config and calls that AWS refused (attempts) are
    /// skipped with a log line; a schedule reconciles every bucket.
    pub async fn handle(
        &self,
        incoming: &Incoming,
        now: OffsetDateTime,
    ) -> Result<Vec<Report>, EnforceError> {
        match incoming {
            Incoming::Schedule { .. } => self.sweep_all(self.config.buckets.iter().collect(), now).await,
            Incoming::Custom { detail_type, detail, .. } if detail_type == "breakglass reconcile" => {
                let only = detail.get("bucket").and_then(Value::as_str);
                self.sweep_all(
                    self.config.buckets.iter().filter(|b| only.is_none_or(|o| o == b.name)).collect(),
                    now,
                )
                .await
            }
            Incoming::Custom { detail_type, .. } => {
                // Our own remediation and request events: acting on them could loop.
                tracing::info!(detail_type = detail_type.as_str(), "ignoring breakglass event");
                Ok(Vec::new())
            }
            Incoming::ApiCalls(calls) => {
                // In order, one after the other: a batch of records may name the same bucket twice.
                let mut results = Vec::with_capacity(calls.len());
                for call in calls {
                    match self.on_call(call, now).await {
                        Ok(reports) => results.extend(reports.into_iter().map(Ok)),
                        Err(e) => results.push(Err(e)),
                    }
                }
                every_one(results)
            }
        }
    }

    /// Reconciles `buckets`, a few at a time, and answers for each in the order given. One bucket's
    /// failure (deleted, unreadable, a write S3 keeps throttling) must not leave the others unswept:
    /// each is tried, and the remediations are put on the bus after the whole run. `done` is called
    /// as each bucket is finished (the CLI's progress bar).
    pub async fn sweep(
        &self,
        buckets: Vec<&BucketConfig>,
        now: OffsetDateTime,
        done: &(dyn Fn() + Sync),
    ) -> Swept {
        // Eight at a time in one account (about 8,000 buckets within the Lambda's 30 seconds),
        // several accounts side by side; in the order given.
        let finished = by_account(buckets, |bucket| async move {
            let (result, event) = self.reconcile_quietly(bucket, None, now).await;
            done();
            (Checked { bucket: bucket.name.clone(), result }, event)
        })
        .await;
        let (buckets, events): (Vec<_>, Vec<_>) = finished.into_iter().unzip();
        let published = self.publish(events.into_iter().flatten().collect(), now).await;
        Swept { buckets, published }
    }

    /// [`Enforcer::sweep`] as the Lambda answers it ([`Swept::into_result`]).
    async fn sweep_all(
        &self,
        buckets: Vec<&BucketConfig>,
        now: OffsetDateTime,
    ) -> Result<Vec<Report>, EnforceError> {
        self.sweep(buckets, now, &|| {}).await.into_result()
    }

    /// Puts the remediations of one sweep on the bus. Many unlawful policies at once (a base
    /// statement changed, a script gone wrong): one digest mail instead of a storm; every remediation
    /// still gets its own event, record and message for machines, marked as part of the digest so
    /// that email subscriptions skip it. Planned closes after expiry are not part of it: stakeholders
    /// expect those one by one. Every event is tried; the first failure is returned.
    pub(crate) async fn publish(
        &self,
        mut events: Vec<Remediation>,
        now: OffsetDateTime,
    ) -> Result<(), PortError> {
        let digested: Vec<usize> =
            events.iter().enumerate().filter(|(_, e)| e.before.state != "expired").map(|(i, _)| i).collect();
        let digest = (digested.len() > DIGEST_THRESHOLD).then(|| digest_of(&events, &digested, now));
        if let Some(d) = &digest {
            for i in &digested {
                if let Some(e) = events.get_mut(*i) {
                    e.digest = Some(d.id.clone());
                }
            }
        }
        // Several at once: a sweep that reverted thousands of buckets (a base statement changed)
        // must put them all within the invocation's time, not one round trip after another.
        use futures_util::stream::{self, StreamExt as _};
        let bus = &self.bus;
        let puts = stream::iter(
            events.into_iter().map(|e| async move { bus.put(&OwnEvent::Remediation(e).to_bus()).await }),
        )
        .buffered(PUTS_AT_ONCE)
        .collect::<Vec<_>>()
        .await;
        let mut first_bus_error = puts.into_iter().find_map(Result::err);
        if let Some(d) = digest {
            if let Err(err) = self.bus.put(&OwnEvent::RemediationDigest(d).to_bus()).await {
                first_bus_error.get_or_insert(err);
            }
        }
        first_bus_error.map_or(Ok(()), Err)
    }

    /// What one call calls for: its bucket reconciled, or every bucket when it names none.
    async fn on_call(&self, call: &ApiCall, now: OffsetDateTime) -> Result<Vec<Report>, EnforceError> {
        let Some(guarded) = call.guarded() else {
            tracing::info!(event = call.event.name.as_str(), "not a guarded call; ignored");
            return Ok(Vec::new());
        };
        if guarded.target() != Target::Bucket {
            // Roles, keys, topics: the sentinel and the notifier's.
            return Ok(Vec::new());
        }
        let Some(name) = call.bucket.as_deref() else {
            // A guarded bucket call that names no bucket may have touched any of them: check all (in
            // organisation mode, all of the account it came from).
            tracing::warn!(
                event = call.event.name.as_str(),
                "guarded call names no bucket; sweeping every bucket it may have touched"
            );
            let reports = self.sweep_all(crate::inbound::route::buckets_of(&self.config, call), now).await?;
            return Ok(reports);
        };
        let Some(bucket) = self.config.bucket(name) else {
            tracing::info!(bucket = name, "bucket not protected; ignored");
            return Ok(Vec::new());
        };
        if let Some(code) = &call.error.code {
            // AWS refused the call: nothing changed. The notifier reports the attempt.
            tracing::info!(bucket = bucket.name.as_str(), error = code.as_str(), "attempt; not remediated");
            return Ok(Vec::new());
        }
        if !guarded.touches_policy() {
            self.report_exposure(bucket, guarded, call).await?;
        }
        // Level-triggered: every guarded call on a protected bucket is a reason to look at the policy.
        self.reconcile(bucket, Some(call), now).await.map(|r| vec![r])
    }
}

/// More remediations than this in one sweep are mailed as one digest.
pub const DIGEST_THRESHOLD: usize = 5;

/// Remediation events put on the bus at once by a sweep.
const PUTS_AT_ONCE: usize = 8;

/// The digest of the remediations at `digested` (indices into `events`).
fn digest_of(events: &[Remediation], digested: &[usize], now: OffsetDateTime) -> RemediationDigest {
    use sha2::Digest as _;
    let members: Vec<&Remediation> = digested.iter().filter_map(|i| events.get(*i)).collect();
    let mut causes: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for e in &members {
        *causes.entry(e.reason.clone().unwrap_or_else(|| "not given".into())).or_default() += 1;
    }
    let mut causes: Vec<(String, usize)> = causes.into_iter().collect();
    causes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let common = match causes.as_slice() {
        [(cause, n)] if *n == members.len() => Some(cause.clone()),
        _ => None,
    };
    // The mail names the first buckets and the commonest causes and counts all: one event and one
    // mail must stay under EventBridge's and SNS's 256 KB whatever the sweep reverted.
    causes.truncate(crate::events::MOST_CAUSES);
    let seed: String = members.iter().map(|e| format!("{}\n", e.bucket)).collect();
    let id = crate::trail::audit::hex(&sha2::Sha256::digest(format!("{seed}{now}").as_bytes()));
    RemediationDigest {
        schema: "breakglass.remediation-digest/1".into(),
        id: id.get(..16).unwrap_or(&id).to_owned(),
        count: members.len(),
        common_cause: common,
        causes: causes.into_iter().map(|(cause, count)| DigestCause { cause, count }).collect(),
        buckets: members
            .iter()
            .take(crate::events::MOST_BUCKETS)
            .map(|e| DigestEntry {
                bucket: e.bucket.clone(),
                outcome: e.outcome.clone(),
                before: e.before.state.clone(),
            })
            .collect(),
        not_closed: members.iter().filter(|e| matches!(e.outcome.as_str(), "refused" | "unverified")).count(),
        dry_run: members.iter().filter(|e| e.outcome == "dry-run").count(),
        time: canonical_policies::format_expiry(now),
    }
}
