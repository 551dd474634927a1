//! The sentinel: the enforcer's second half, for the paths *around* the bucket policy. On a guarded
//! call and on every sweep it puts back what can be put back (versioning, lifecycle rules that
//! destroy logs, replication, object ownership, an investigator role's trust policy) and reports what
//! cannot (a lost or silenced subscription goes out through the alarm topic, the second channel,
//! because the first one is what was attacked). Like the enforcer it is level-triggered: it reads the
//! live state, never trusts the event, and writes nothing when all is well.

use breakglass_config::{BucketConfig, Config, Investigator};
use canonical_policies::{Arn, Quoted};
use serde_json::json;
use time::OffsetDateTime;

use crate::events::{self, OwnEvent};
use crate::guard::enforce::{tried_all, EnforceError, READ_BACK_DELAYS};
use crate::guard::watch::{unlawful_rule, Expected};
use crate::guarded::{GuardedCall, Target};
use crate::inbound::event::{ApiCall, Incoming};
use crate::ports::{BucketSettings, ControlPlane, EventBus, LifecycleRule, Notification, PortError};

/// One thing the sentinel found wrong, and what it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    /// `bucket`, `role` or `topic`.
    pub kind: &'static str,
    /// The bucket name, role name or topic ARN.
    pub subject: String,
    /// What was wrong, in words.
    pub what: String,
    /// Put back (`true`), or only reported.
    pub repaired: bool,
    /// Why it could not be put back, when AWS refused.
    pub error: Option<String>,
}

/// One bucket's settings as read, each read's error kept for the check that needs it.
#[derive(Debug)]
struct Settings {
    versioning: Result<Option<String>, PortError>,
    lifecycle: Result<Vec<LifecycleRule>, PortError>,
    replication: Result<Vec<String>, PortError>,
}

/// Whether `read` shows the weakening `call` made (a read that failed shows all it can: its error
/// is the check's to report). Calls that weaken nothing show at once.
fn shows(bucket: &BucketConfig, guarded: GuardedCall, call: &ApiCall, read: &Settings) -> bool {
    match (guarded, read) {
        (GuardedCall::PutBucketVersioning, Settings { versioning: Ok(v), .. }) => {
            call.versioning.as_deref() != Some("Suspended") || v.as_deref() == Some("Suspended")
        }
        (GuardedCall::PutBucketLifecycle, Settings { lifecycle: Ok(rules), .. }) => {
            rules.iter().any(|r| unlawful_rule(bucket, r).is_some())
        }
        (GuardedCall::PutBucketReplication, Settings { replication: Ok(to), .. }) => !to.is_empty(),
        _ => true,
    }
}

/// The settings of the buckets an event names, read ahead by [`Sentinel::observe`].
#[derive(Debug, Default)]
pub struct Observations(Vec<(String, Settings)>);

impl Observations {
    /// The reading of `bucket`, once.
    fn take(&mut self, bucket: &str) -> Option<Settings> {
        let at = self.0.iter().position(|(name, _)| name == bucket)?;
        Some(self.0.swap_remove(at).1)
    }
}

/// The sentinel over bucket settings, the control plane and the bus.
#[derive(Debug)]
pub struct Sentinel<'a, S, B, C> {
    pub config: &'a Config,
    pub store: &'a S,
    pub bus: &'a B,
    pub control: &'a C,
    pub expected: &'a Expected,
    pub dry_run: bool,
}

impl<S: BucketSettings, B: EventBus, C: ControlPlane> Sentinel<'_, S, B, C> {
    /// What one incoming event calls for: every bucket, role and topic on a schedule; the one a
    /// guarded call names otherwise. Every repair is put on the bus (mail and audit trail).
    pub async fn handle(
        &self,
        incoming: &Incoming,
        now: OffsetDateTime,
    ) -> Result<Vec<Repair>, EnforceError> {
        self.handle_observed(incoming, Observations::default(), now).await
    }

    /// The settings of every protected bucket that the calls of `incoming` name, read at once, for
    /// [`Sentinel::handle_observed`]: the enforcer's Lambda reads them while it reconciles the
    /// policies, which they do not depend on.
    pub async fn observe(&self, incoming: &Incoming) -> Observations {
        let Incoming::ApiCalls(calls) = incoming else { return Observations::default() };
        let mut names: Vec<&str> = Vec::new();
        for call in calls.iter().filter(|c| !c.is_attempt()) {
            let named = call.guarded().filter(|g| g.target() == Target::Bucket).and(call.bucket.as_deref());
            if let Some(name) = named.filter(|n| self.config.bucket(n).is_some() && !names.contains(n)) {
                names.push(name);
            }
        }
        let read = futures_util::future::join_all(names.iter().map(|b| self.settings(b))).await;
        Observations(names.into_iter().map(str::to_owned).zip(read).collect())
    }

    /// [`Sentinel::handle`] with the settings already read by [`Sentinel::observe`]. Each reading
    /// serves the first check of its bucket only: a later call on the same bucket in the batch
    /// reads again, after what the first check put back.
    pub async fn handle_observed(
        &self,
        incoming: &Incoming,
        mut observed: Observations,
        now: OffsetDateTime,
    ) -> Result<Vec<Repair>, EnforceError> {
        let mut found = Vec::new();
        let mut keep = |r: Result<Vec<Repair>, EnforceError>| found.push(r);
        match incoming {
            Incoming::Schedule { .. } => {
                for bucket in &self.config.buckets {
                    keep(self.bucket(bucket, None).await);
                }
                for investigator in &self.config.investigators {
                    keep(self.trust(investigator, None).await);
                }
                keep(self.subscriptions(None).await);
            }
            Incoming::Custom { .. } => {}
            Incoming::ApiCalls(calls) => {
                for call in calls.iter().filter(|c| !c.is_attempt()) {
                    let Some(guarded) = call.guarded() else { continue };
                    match guarded.target() {
                        Target::Bucket => match call.bucket.as_deref() {
                            Some(name) => {
                                if let Some(bucket) = self.config.bucket(name) {
                                    let read = observed.take(name);
                                    keep(self.bucket_read(bucket, Some((guarded, call)), read).await);
                                }
                            }
                            // Names no bucket: it may have touched any of them (of its account).
                            None => {
                                for bucket in crate::inbound::route::buckets_of(self.config, call) {
                                    keep(self.bucket(bucket, None).await);
                                }
                            }
                        },
                        Target::Role => {
                            let Some(name) = call.target.as_deref() else { continue };
                            for i in self.config.investigators.iter().filter(|i| i.is(name)) {
                                // Organisation mode: a role of that name may exist in every logging
                                // account; an event acts only in the account it came from.
                                let account = Arn::parse(&i.role).map(|a| a.account).unwrap_or_default();
                                if self.config.organisation.is_none()
                                    || call.accounts.iter().any(|a| a == account)
                                {
                                    keep(self.trust(i, Some(call)).await);
                                }
                            }
                        }
                        Target::Topic => keep(self.subscriptions(Some(call)).await),
                        Target::Key | Target::FunctionRole | Target::StackRole | Target::Trail => {}
                    }
                }
            }
        }
        self.report_all(found, now).await
    }

    /// Every repair found is reported on the bus, also when another check failed; then the first
    /// error is returned.
    async fn report_all(
        &self,
        found: Vec<Result<Vec<Repair>, EnforceError>>,
        now: OffsetDateTime,
    ) -> Result<Vec<Repair>, EnforceError> {
        let (found, first_error) = tried_all(found, "not checked");
        let repairs: Vec<Repair> = found.into_iter().flatten().collect();
        for r in &repairs {
            self.report(r, now).await?;
        }
        first_error.map_or(Ok(repairs), Err)
    }

    /// What the sweep checks besides the buckets: the investigator roles' trust and the topic's
    /// subscriptions (the fanned-out sweep runs these once, in the planning invocation). Every repair
    /// is reported on the bus, also when another check failed; then the first error is returned.
    pub async fn control_checks(&self, now: OffsetDateTime) -> Result<Vec<Repair>, EnforceError> {
        let mut found = Vec::new();
        for investigator in &self.config.investigators {
            found.push(self.trust(investigator, None).await);
        }
        found.push(self.subscriptions(None).await);
        self.report_all(found, now).await
    }

    /// The settings of one bucket on a sweep, and the repairs reported on the bus.
    pub async fn sweep_bucket(
        &self,
        bucket: &BucketConfig,
        now: OffsetDateTime,
    ) -> Result<Vec<Repair>, EnforceError> {
        let repairs = self.bucket(bucket, None).await?;
        for r in &repairs {
            self.report(r, now).await?;
        }
        Ok(repairs)
    }

    /// Versioning, lifecycle and replication of one bucket (and object ownership after a call that
    /// changed it).
    async fn bucket(
        &self,
        bucket: &BucketConfig,
        call: Option<(GuardedCall, &ApiCall)>,
    ) -> Result<Vec<Repair>, EnforceError> {
        self.bucket_read(bucket, call, None).await
    }

    /// Versioning, lifecycle and replication, read at once: independent reads. Their errors are
    /// kept, and looked at in the order the checks run.
    async fn settings(&self, b: &str) -> Settings {
        let (versioning, lifecycle, replication) = futures_util::future::join3(
            self.store.get_versioning(b),
            self.store.get_lifecycle(b),
            self.store.get_replication(b),
        )
        .await;
        Settings { versioning, lifecycle, replication }
    }

    /// [`Sentinel::bucket`] with its settings already read (`None`: read them now). The repairs
    /// are written in the same order as the checks, after all reads.
    async fn bucket_read(
        &self,
        bucket: &BucketConfig,
        call: Option<(GuardedCall, &ApiCall)>,
        read: Option<Settings>,
    ) -> Result<Vec<Repair>, EnforceError> {
        let b = bucket.name.as_str();
        let read = match read {
            Some(read) => read,
            None => self.settings(b).await,
        };
        let read = match call {
            Some((guarded, c)) => self.settled(bucket, guarded, c, read).await,
            None => read,
        };
        let aws = |source| EnforceError::Aws { bucket: b.to_owned(), source };
        let mut out = Vec::new();
        let found = |what: String| Repair {
            kind: "bucket",
            subject: b.to_owned(),
            what,
            repaired: false,
            error: None,
        };

        // Never-enabled versioning is left alone (turning it on changes what the bucket costs);
        // *suspended* versioning is someone preparing to overwrite or delete logs for good.
        if read.versioning.map_err(aws)?.as_deref() == Some("Suspended") {
            let r = found("versioning was suspended, so overwrites and deletes would destroy logs".into());
            out.push(self.fix(r, self.store.enable_versioning(b)).await.map_err(aws)?);
        }
        let rules = read.lifecycle.map_err(aws)?;
        let unlawful: Vec<String> = rules.iter().filter_map(|r| unlawful_rule(bucket, r)).collect();
        if !unlawful.is_empty() {
            let r = found(format!(
                "{}; the whole lifecycle configuration was removed, so nothing expires until a lawful one is put back",
                unlawful.join("; ")
            ));
            out.push(self.fix(r, self.store.delete_lifecycle(b)).await.map_err(aws)?);
        }
        let destinations = read.replication.map_err(aws)?;
        if !destinations.is_empty() {
            let r = found(format!(
                "the bucket replicated its logs to {}; replication was removed",
                destinations.join(", ")
            ));
            out.push(self.fix(r, self.store.delete_replication(b)).await.map_err(aws)?);
        }
        if let Some((guarded, c)) = call {
            let ownership_off = match guarded {
                GuardedCall::DeleteBucketOwnershipControls => true,
                GuardedCall::PutBucketOwnershipControls => {
                    // A record that does not show the setting: put it back (fail closed).
                    c.object_ownership.as_deref() != Some("BucketOwnerEnforced")
                }
                _ => false,
            };
            if ownership_off {
                let r = found("object ownership no longer enforced, so ACLs could grant reading; BucketOwnerEnforced was put back".into());
                out.push(self.fix(r, self.store.enforce_ownership(b)).await.map_err(aws)?);
            }
            if matches!(guarded, GuardedCall::PutBucketTagging | GuardedCall::DeleteBucketTagging) {
                out.extend(self.discovery_tag(b, c).await.map_err(aws)?);
            }
        }
        Ok(out)
    }

    /// `read` taken again, with backoff, while it does not yet show what `call` did. S3's bucket
    /// configuration is eventually consistent: a read soon after a call that suspends versioning,
    /// or puts lifecycle rules or replication, may still show the setting as it was, and would hide
    /// the call until the next scheduled pass. A lawful put pays the waits (about 3 s); the
    /// sentinel's own repairs enable or delete, which never wait.
    async fn settled(
        &self,
        bucket: &BucketConfig,
        guarded: GuardedCall,
        call: &ApiCall,
        mut read: Settings,
    ) -> Settings {
        let b = bucket.name.as_str();
        for delay in READ_BACK_DELAYS {
            if shows(bucket, guarded, call, &read) {
                break;
            }
            tokio::time::sleep(delay).await;
            match guarded {
                GuardedCall::PutBucketVersioning => read.versioning = self.store.get_versioning(b).await,
                GuardedCall::PutBucketLifecycle => read.lifecycle = self.store.get_lifecycle(b).await,
                _ => read.replication = self.store.get_replication(b).await,
            }
        }
        read
    }

    /// After a tagging call: the discovery tag (`[discovery] tag`) put back on a protected bucket
    /// that no longer carries it. The bucket stays protected without it (the registry only grows);
    /// the tag is put back so that the estate keeps telling the truth about what is protected, and
    /// the other tags are kept as they are. Without a discovery tag there is nothing to put back.
    async fn discovery_tag(&self, b: &str, call: &ApiCall) -> Result<Option<Repair>, PortError> {
        let Some(discovery) = &self.config.discovery else { return Ok(None) };
        let Some((key, value)) = &discovery.tag else { return Ok(None) };
        let mut tags = self.store.get_tags(b).await?;
        if discovery.tagged(&tags) {
            return Ok(None);
        }
        let value = value.clone().unwrap_or_default();
        let shown = if value.is_empty() { key.clone() } else { format!("{key}={value}") };
        tags.retain(|(k, _)| k != key);
        tags.push((key.clone(), value));
        let r = Repair {
            kind: "bucket",
            subject: b.to_owned(),
            what: format!(
                "the tag `{shown}` that marks protected log buckets was removed ({} by {}); it was put back, the other tags kept. The bucket stayed protected",
                call.event.name,
                call.actor.describe()
            ),
            repaired: false,
            error: None,
        };
        self.fix(r, self.store.put_tags(b, &tags)).await.map(Some)
    }

    /// An investigator role's trust policy against its `[[investigator]]` entry.
    async fn trust(
        &self,
        investigator: &Investigator,
        call: Option<&ApiCall>,
    ) -> Result<Vec<Repair>, EnforceError> {
        let name = investigator.role_name();
        let aws = |source| EnforceError::Aws { bucket: format!("role {name}"), source };
        let found = |what: String| Repair {
            kind: "role",
            subject: name.to_owned(),
            what,
            repaired: false,
            error: None,
        };
        let partition = self
            .config
            .buckets
            .iter()
            .find(|b| b.investigator_roles.contains(&investigator.role))
            .map(|b| b.partition.clone())
            .unwrap_or_default();
        let why = call.map(|c| format!(" ({} by {})", c.event.name, c.actor.describe())).unwrap_or_default();
        match self.control.get_trust(&investigator.role).await.map_err(aws)? {
            None => Ok(vec![found(format!(
                "investigator role {} does not exist{why}; an OpenAccess naming it lets whoever recreates it read",
                Quoted(&investigator.role)
            ))]),
            Some(live) if investigator.is_lawful_trust(&live, &partition) => Ok(Vec::new()),
            Some(_) => {
                let r = found(format!(
                    "the trust policy of investigator role {} was changed{why}; the configured one was put back",
                    Quoted(&investigator.role)
                ));
                let doc = investigator.trust_policy_json();
                Ok(vec![self.fix(r, self.control.put_trust(&investigator.role, &doc)).await.map_err(aws)?])
            }
        }
    }

    /// The notification topic's subscriptions against the deployed ones. Not repairable (an email
    /// subscription needs its owner's confirmation): alarmed through the second channel.
    async fn subscriptions(&self, call: Option<&ApiCall>) -> Result<Vec<Repair>, EnforceError> {
        // Each topic on its own: an alarm topic that cannot be listed must not hide a lost mail.
        let alarm = self.alarm_subscriptions(call).await;
        let mut found = self.notification_subscriptions(call).await?;
        found.extend(alarm?);
        Ok(found)
    }

    /// The alarm topic's subscriptions against the deployed ones: an alarm nobody receives is no
    /// alarm. Reported as a repair on the bus, so the notifier mails it through the first channel.
    async fn alarm_subscriptions(&self, call: Option<&ApiCall>) -> Result<Vec<Repair>, EnforceError> {
        let Some(expected) = self.expected.alarm.as_deref() else { return Ok(Vec::new()) };
        let Some(topic) = expected.topic_arn.as_deref() else { return Ok(Vec::new()) };
        let live = self
            .control
            .subscriptions(topic)
            .await
            .map_err(|source| EnforceError::Aws { bucket: format!("topic {topic}"), source })?;
        let problems = expected.problems(&live);
        if problems.is_empty() {
            return Ok(Vec::new());
        }
        let why = call
            .map(|c| format!("; triggered by {} by {}", c.event.name, c.actor.describe()))
            .unwrap_or_default();
        Ok(vec![Repair {
            kind: "alarm-topic",
            subject: topic.to_owned(),
            what: format!("{}{why}", problems.join("; ")),
            repaired: false,
            error: None,
        }])
    }

    async fn notification_subscriptions(&self, call: Option<&ApiCall>) -> Result<Vec<Repair>, EnforceError> {
        let Some(topic) = self.expected.topic_arn.as_deref() else { return Ok(Vec::new()) };
        let live = self
            .control
            .subscriptions(topic)
            .await
            .map_err(|source| EnforceError::Aws { bucket: format!("topic {topic}"), source })?;
        let problems = self.expected.problems(&live);
        if problems.is_empty() {
            return Ok(Vec::new());
        }
        let why = call
            .map(|c| format!("\nTriggered by {} by {}.", c.event.name, c.actor.describe()))
            .unwrap_or_default();
        let text = format!("{}{why}", problems.join("\n"));
        let alarm = Notification {
            subject: "[breakglass] ALERT: the notification topic lost or changed a subscription".into(),
            default: json!({ "schema": "breakglass.alarm/1", "topic": topic, "problems": problems }),
            email: format!("Stakeholders may no longer hear of break-glass changes.\n\n{text}\n\nRestore the subscriptions (docs/runbook.md, \"Subscriptions\").\n"),
            attributes: vec![("kind".into(), "alarm".into()), ("severity".into(), "critical".into())],
            second_channel: true,
        };
        if let Err(e) = self.control.alarm(&alarm).await {
            tracing::error!(error = %e, "alarm topic unreachable");
            return Err(EnforceError::Aws { bucket: format!("topic {topic}"), source: e });
        }
        Ok(vec![Repair {
            kind: "topic",
            subject: topic.to_owned(),
            what: text,
            repaired: false,
            error: None,
        }])
    }

    /// Runs `repair` unless this is a dry run; a refusal is reported, not retried.
    async fn fix(
        &self,
        mut r: Repair,
        repair: impl std::future::Future<Output = Result<(), PortError>>,
    ) -> Result<Repair, PortError> {
        if self.dry_run {
            r.what.push_str(" (dry run: nothing changed)");
            return Ok(r);
        }
        match repair.await {
            Ok(()) => r.repaired = true,
            Err(PortError::Refused(msg)) => r.error = Some(msg),
            Err(e) => return Err(e),
        }
        tracing::warn!(kind = r.kind, subject = r.subject.as_str(), repaired = r.repaired, "repair");
        Ok(r)
    }

    async fn report(&self, r: &Repair, now: OffsetDateTime) -> Result<(), EnforceError> {
        self.bus.put(&OwnEvent::Repair(repair_event(r, now)).to_bus()).await.map_err(EnforceError::Bus)
    }
}

/// The event of one finding.
pub fn repair_event(r: &Repair, now: OffsetDateTime) -> events::Repair {
    events::Repair {
        schema: "breakglass.repair/1".into(),
        kind: r.kind.to_owned(),
        subject: r.subject.clone(),
        bucket: (r.kind == "bucket").then(|| r.subject.clone()),
        what: r.what.clone(),
        outcome: match (r.repaired, &r.error) {
            (true, _) => "repaired",
            (false, Some(_)) => "refused",
            (false, None) => "reported",
        }
        .to_owned(),
        repaired: r.repaired,
        error: r.error.clone(),
        time: canonical_policies::format_expiry(now),
    }
}
