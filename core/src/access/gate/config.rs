//! Config changes through the gate (organisation mode): one person proposes a config, another
//! approves it, and only then does the gate write the object the functions read. Every step is the
//! gate's signed record in the audit trail (place [`PROPOSALS`]) before it acts, and a mail to the
//! security team with the change in words. Some floors no config may lower, however many approve.

use breakglass_config::Config;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use super::answer::{Answered, ConfigProposal, Gate};
use super::request::{Caller, GateError};
use crate::access::approval::same_person;
use crate::access::config_push::{line_diff, summary};
use crate::events::{ConfigChange, OwnEvent};
use crate::ports::{AuditLog, BucketRecords, ConfigStore, EventBus, PlaceRecords, PolicyStore};
use crate::trail::audit::{hex, Body, GATE};

/// Where the gate's config proposals and their decisions lie in the audit trail.
pub const PROPOSALS: &str = "_config";
/// A proposal nobody approved within this has expired.
pub const PROPOSAL_EXPIRY: Duration = Duration::hours(24);
/// No config may let logs expire sooner than this (`retention_days`), whoever approves it.
pub const RETENTION_FLOOR_DAYS: u32 = 30;

fn sha256(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

/// The floors of `next` against `now_in_force`: what no config may do, however many approve.
fn floors(now_in_force: &Config, next: &Config) -> Result<(), GateError> {
    let refuse = |why: String| Err(GateError::BadRequest(format!("refused: {why}")));
    let (Some(org), Some(next_org)) = (&now_in_force.organisation, &next.organisation) else {
        return refuse("the config must stay in organisation mode".into());
    };
    if org.id != next_org.id || org.admin_account != next_org.admin_account {
        return refuse(format!(
            "the config must name organisation `{}` and administrative account `{}`",
            org.id, org.admin_account
        ));
    }
    for b in &next.buckets {
        if b.retention_days.is_some_and(|d| d < RETENTION_FLOOR_DAYS) {
            return refuse(format!(
                "bucket `{}` keeps its logs less than the floor of {RETENTION_FLOOR_DAYS} days",
                b.name
            ));
        }
    }
    Ok(())
}

/// The config object, which only organisation mode has (a single-account config is a stack parameter).
fn organisation_mode<K>(store: Option<&K>) -> Result<&K, GateError> {
    store.ok_or_else(|| {
        GateError::Conflict(
            "config changes through the gate are for organisation mode; a single-account config is a stack parameter".into(),
        )
    })
}

fn aws(what: &str, e: &crate::ports::PortError) -> GateError {
    GateError::Aws(format!("{what}: {e}"))
}

impl<S, B, L, R> Gate<'_, S, B, L, R>
where
    S: PolicyStore,
    B: EventBus,
    L: AuditLog,
    R: BucketRecords + PlaceRecords,
{
    /// The gate's record of a config step (`proposed`, `approved`), written before it acts.
    async fn config_record(
        &self,
        action: &str,
        who: &Caller,
        p: &ConfigProposal,
        now: OffsetDateTime,
    ) -> Result<(), GateError> {
        let body = Body {
            schema: crate::trail::audit::SCHEMA.into(),
            time: crate::time::format_time(now),
            bucket: PROPOSALS.into(),
            kind: "config".into(),
            action: action.into(),
            who: Some(who.arn.clone()),
            why: Some(p.sha256.clone()),
            summary: format!("[breakglass] config {action}: {}", p.id),
            written: crate::trail::audit::Written::now(self.trail.config_sha256.clone()),
            writer: Some(GATE.to_owned()),
            detail: serde_json::to_value(p).unwrap_or_default(),
            ..Body::default()
        };
        let record = crate::trail::audit::seal_body(body)
            .ok_or_else(|| GateError::Aws("the record could not be made".into()))?;
        self.trail.write(&record, now).await.map_err(|e| aws("the audit trail", &e))?;
        Ok(())
    }

    async fn announce(&self, p: &ConfigProposal, approved_by: Option<&str>) -> Result<(), GateError> {
        let event = OwnEvent::Config(ConfigChange {
            schema: "breakglass.config/1".into(),
            location: p.location.clone(),
            by: p.by.clone(),
            before_sha256: p.base_sha256.clone(),
            after_sha256: p.sha256.clone(),
            diff: p.diff.clone(),
            time: p.time.clone(),
            state: Some(if approved_by.is_some() { "approved" } else { "proposed" }.into()),
            proposal: Some(p.id.clone()),
            approved_by: approved_by.map(str::to_owned),
            changes: p.changes.clone(),
        });
        self.bus.put(&event.to_bus()).await.map_err(|e| aws("recorded, but the event bus", &e))
    }

    /// One person proposes `text`: checked, recorded, mailed; nothing is written to the object.
    pub async fn propose<K: ConfigStore>(
        &self,
        store: Option<&K>,
        who: &Caller,
        text: &str,
        now: OffsetDateTime,
    ) -> Result<Answered, GateError> {
        let store = organisation_mode(store)?;
        let next =
            Config::from_toml(text).map_err(|e| GateError::BadRequest(format!("invalid config: {e}")))?;
        floors(self.config, &next)?;
        crate::organisation::render(&next)
            .map_err(|e| GateError::BadRequest(format!("invalid config: {e}")))?;
        let live = store.read().await.map_err(|e| aws("the config object", &e))?;
        let base_sha256 = live.as_ref().map(|(t, _)| sha256(t));
        let after = sha256(text);
        if base_sha256.as_deref() == Some(after.as_str()) {
            return Err(GateError::Conflict(format!(
                "unchanged: {} already holds this config",
                store.location()
            )));
        }
        let before = live.as_ref().and_then(|(t, _)| Config::from_toml(t).ok());
        keeps_discovered(self.config, before.as_ref(), &next)?;
        let mut changes = summary(before.as_ref(), &next);
        if changes.is_empty() {
            changes.push("only comments or layout changed".into());
        }
        let time = crate::time::format_time(now);
        let id = sha256(&format!("{}\n{time}\n{after}", who.arn));
        let proposal = ConfigProposal {
            id: id.get(..12).unwrap_or(&id).to_owned(),
            location: store.location(),
            by: who.arn.clone(),
            base_sha256,
            sha256: after,
            changes,
            diff: line_diff(live.as_ref().map_or("", |(t, _)| t.as_str()), text),
            text: text.to_owned(),
            time,
            expires_at: crate::time::format_time(now + PROPOSAL_EXPIRY),
        };
        self.config_record("proposed", who, &proposal, now).await?;
        self.announce(&proposal, None).await?;
        Ok(Answered::Proposed(Box::new(proposal)))
    }

    /// Another person approves proposal `id`: checked, recorded, then the object written (only if
    /// it is still what the proposal was made against), then mailed.
    pub async fn approve_config<K: ConfigStore>(
        &self,
        store: Option<&K>,
        who: &Caller,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Answered, GateError> {
        let store = organisation_mode(store)?;
        let since = now - PROPOSAL_EXPIRY - Duration::days(1);
        let records =
            self.records.place_records(PROPOSALS, since).await.map_err(|e| aws("the audit trail", &e))?;
        let mine: Vec<Body> = records
            .iter()
            .filter_map(|r| Body::deserialize(r).ok())
            .filter(|b| b.writer.as_deref() == Some(GATE) && b.kind == "config")
            .collect();
        let of = |b: &Body| ConfigProposal::deserialize(&b.detail).ok().filter(|p| p.id == id);
        let Some(p) = mine.iter().filter(|b| b.action == "proposed").find_map(of) else {
            return Err(GateError::NotFound(format!("no config proposal `{id}` in the audit trail")));
        };
        if let Some(done) = mine.iter().find(|b| b.action != "proposed" && of(b).is_some()) {
            return Err(GateError::Conflict(format!(
                "refused: the proposal was already {} by `{}`",
                done.action,
                done.who.as_deref().unwrap_or("?")
            )));
        }
        if crate::time::parse_time(&p.expires_at).is_none_or(|t| t <= now) {
            return Err(GateError::Conflict(format!("refused: the proposal expired at {}", p.expires_at)));
        }
        if let Some(why) = same_person(&who.arn, &p.by) {
            return Err(GateError::Forbidden(format!(
                "refused: `{}` proposed it: an approver must be another person ({why})",
                p.by
            )));
        }
        // Those who approve openings under the two-person rule approve what governs them.
        let rules: Vec<_> = self.config.buckets.iter().filter_map(|b| b.two_person.as_ref()).collect();
        if !rules.is_empty() && !rules.iter().any(|r| r.may_approve(&who.arn)) {
            return Err(GateError::Forbidden(format!(
                "refused: `{}` is not an approver of any bucket (`approvers` in the config)",
                who.arn
            )));
        }
        let live = store.read().await.map_err(|e| aws("the config object", &e))?;
        if live.as_ref().map(|(t, _)| sha256(t)) != p.base_sha256 {
            return Err(GateError::Conflict(
                "refused: the config object changed since the proposal; propose again".into(),
            ));
        }
        // And an approver of a bucket approves what governs that bucket only: a proposal that
        // changes or takes out a bucket under the two-person rule needs one of *its* approvers.
        let next = Config::from_toml(&p.text).map_err(|e| {
            GateError::BadRequest(format!("refused: the proposed config no longer parses: {e}"))
        })?;
        let before = live.as_ref().and_then(|(t, _)| Config::from_toml(t).ok());
        keeps_discovered(self.config, before.as_ref(), &next)?;
        if let Some(bucket) = unapproved_change(self.config, before.as_ref(), &next, &who.arn) {
            return Err(GateError::Forbidden(format!(
                "refused: the proposal changes bucket `{bucket}`, and `{}` is not one of its approvers",
                who.arn
            )));
        }
        self.config_record("approved", who, &p, now).await?;
        let etag = live.as_ref().and_then(|(_, e)| e.as_deref());
        store.write(&p.text, etag).await.map_err(|e| aws("recorded, but the config object", &e))?;
        self.announce(&p, Some(&who.arn)).await?;
        Ok(Answered::Proposed(Box::new(ConfigProposal { text: String::new(), ..p })))
    }
}

/// The buckets discovery found: those `in_force` (the functions' config, the registry's buckets
/// added) that the config object in force (`before`) does not list.
fn discovered(in_force: &Config, before: Option<&Config>) -> Vec<breakglass_config::Discovered> {
    in_force
        .buckets
        .iter()
        .filter(|b| before.is_none_or(|c| c.bucket(&b.name).is_none()))
        .map(|b| breakglass_config::Discovered {
            name: b.name.clone(),
            account: b.account.clone(),
            region: b.region.clone().unwrap_or_default(),
        })
        .collect()
}

/// Refuses a config under which a discovered bucket could no longer be configured (its account or
/// Region no longer listed, `[defaults]` that no longer build it): it would drop out of every sweep
/// unseen. Only `[discovery] exclude` takes a discovered bucket out (review of organisation mode).
fn keeps_discovered(in_force: &Config, before: Option<&Config>, next: &Config) -> Result<(), GateError> {
    let (_, refused) = next.with_discovered(&discovered(in_force, before));
    if refused.is_empty() {
        return Ok(());
    }
    let why: Vec<String> = refused.iter().take(5).map(ToString::to_string).collect();
    Err(GateError::BadRequest(format!(
        "refused: under this config {} discovered bucket(s) would no longer be protected ({}); exclude them in `[discovery] exclude` to take them out",
        refused.len(),
        why.join("; ")
    )))
}

/// The first bucket under the two-person rule (as `in_force` has it, discovered buckets included)
/// that the change from `before` (the config object in force; `None`: unreadable, every bucket
/// counts as changed) to `next` changes or takes out, and `approver` may not approve for. A bucket
/// changes with its own table, with `[defaults]` where it takes them (a discovered bucket always),
/// with `[discovery]` (an exclude takes it out), and with the `[[investigator]]` trust of any of
/// its readers.
fn unapproved_change(
    in_force: &Config,
    before: Option<&Config>,
    next: &Config,
    approver: &str,
) -> Option<String> {
    let discovered = discovered(in_force, before);
    let next = next.with_discovered(&discovered).0;
    let before = before.map(|c| c.with_discovered(&discovered).0);
    let trust_changed = |role: &str| {
        let of =
            |c: Option<&Config>| c.and_then(|c| c.investigators.iter().find(|i| i.role == role).cloned());
        of(before.as_ref()) != of(Some(&next))
    };
    in_force
        .buckets
        .iter()
        .filter(|b| b.two_person.as_ref().is_some_and(|r| !r.may_approve(approver)))
        .find(|b| {
            let was = before.as_ref().and_then(|c| c.bucket(&b.name));
            was.is_none()
                || next.bucket(&b.name) != was
                || b.investigator_roles.iter().any(|r| trust_changed(r))
        })
        .map(|b| b.name.clone())
}
