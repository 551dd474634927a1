//! The notifier's messages: one SNS message per relevant event. The `email` body is plain text for a
//! works-council member; the `default` body is a versioned JSON document for machines
//! (`docs/notification-schema.md`); message attributes route it (`kind`, `state`, `severity`, `bucket`).
//!
//! The document is one type, [`Document`] (`crate::notice`), from which the mail's subject and text
//! and the audit record are taken.
//!
//! One module per kind of event: `calls` (CloudTrail's records of guarded calls), `own`
//! (breakglass's requests, remediations, repairs, config changes), `reads` (what was read: alerts,
//! digests of refused reads, access reports), `attempts` (the digest of refused guarded calls), `approval` (the two-person rule). `mail` holds what
//! they share (subjects, sections, attributes, the document of a message); this one routes and adds
//! the account and Region of a bucket. The children import `mail`, never this one: no circle.

use breakglass_config::Config;
use serde::Deserialize;
use time::OffsetDateTime;

use crate::inbound::event::Incoming;
use crate::notice::{Account, Document, Place};
use crate::ports::Notification;

mod approval;
mod attempts;
mod calls;
mod mail;
mod own;
mod reads;

use calls::api_call;
use mail::MAX_SUBJECT;
pub use mail::{Rendered, Scope};
use own::custom;

/// Renders every message an incoming event calls for, watching the config's buckets and roles.
pub fn render(config: &Config, incoming: &Incoming, now: OffsetDateTime) -> Vec<Rendered> {
    render_in(config, &Scope::default(), incoming, now)
}

/// [`render`], also watching what `scope` names (breakglass's key).
pub fn render_in(config: &Config, scope: &Scope, incoming: &Incoming, now: OffsetDateTime) -> Vec<Rendered> {
    let rendered = match incoming {
        Incoming::Schedule { .. } => vec![Rendered::Ignored("scheduled sweeps are the enforcer's".into())],
        Incoming::Custom { detail_type, detail, id } => {
            vec![custom(config, detail_type, detail, id.as_deref())]
        }
        Incoming::ApiCalls(calls) => calls
            .iter()
            .map(|c| match crate::inbound::route::check(config, c, now) {
                // Not a change of that bucket: the enforcer's misrouted alert says what it is.
                Some(m) => Rendered::Ignored(format!(
                    "event from account(s) {} names bucket {} of account {}: not mailed as a change",
                    m.event_accounts.join(","),
                    m.bucket,
                    m.bucket_account
                )),
                None => api_call(config, scope, c, now),
            })
            .collect(),
    };
    if config.organisation.is_none() {
        return rendered;
    }
    rendered
        .into_iter()
        .map(|r| match r {
            Rendered::Send(mut n) => {
                place(config, &mut n);
                Rendered::Send(n)
            }
            ignored => ignored,
        })
        .collect()
}

/// Organisation mode: a message about a bucket names its account (and alias) and Region, in the
/// subject, the first line of the mail, the JSON document and an attribute for filter policies.
fn place(config: &Config, n: &mut Notification) {
    let Some(bucket) = n.attributes.iter().find(|(k, _)| k == "bucket").and_then(|(_, b)| config.bucket(b))
    else {
        return;
    };
    let account = config.account(&bucket.account);
    let alias = account.and_then(|a| a.alias.clone());
    let region = bucket.region.clone().unwrap_or_default();
    let short = alias.clone().unwrap_or_else(|| bucket.account.clone());
    // The place goes last and is never the part clipped to SNS's subject limit.
    let suffix =
        format!(" [{}]", format!("{short} {region}").chars().filter(|c| !c.is_control()).collect::<String>());
    let room = MAX_SUBJECT.saturating_sub(suffix.chars().count());
    let mut subject: String = n.subject.chars().take(room).collect();
    if n.subject.chars().count() > room {
        subject.pop();
        subject.push('…');
    }
    subject.push_str(&suffix);
    let email =
        format!("Account: {}, Region: {region}\n\n{}", config.account_label(&bucket.account), n.email);
    if let Ok(mut doc) = Document::deserialize(&n.default) {
        doc.account = Some(Account::Place(Place { id: bucket.account.clone(), alias, region }));
        doc.subject = subject.clone();
        doc.text = Some(email.clone());
        n.default = doc.to_value();
    }
    n.email = email;
    n.subject = subject;
    n.attributes.push(("account".into(), bucket.account.clone()));
}
