//! breakglass-core's tests, one test binary: the enforcer, notifier, operate, audit trail, catalog
//! and two-person rule over the in-memory ports of `breakglass_core::testing` (feature
//! `test-util`), and the sentinel, recorder, discovery and organisation suites. The same behaviours
//! run against moto in `tests/` at the workspace root.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod audit_trail;
mod catalog;
mod copy_reads;
mod csv;
mod discovery;
mod enforce;
mod gate;
mod gate_config;
mod heartbeat;
mod layers;
mod notification_document;
mod operate;
mod organisation;
mod recorder;
mod sentinel;
mod two_person;

use std::collections::BTreeSet;
use std::sync::Mutex;

use breakglass_config::Config;
use breakglass_core::access::approval::NoRecords;
use breakglass_core::events::BusEvent;
use breakglass_core::guard::enforce::{Enforcer, Outcome};
use breakglass_core::inbound::event::{self, Incoming};
use breakglass_core::notify::{render, Rendered};
use breakglass_core::ports::{EventBus, PolicyStore, PortError};
use breakglass_core::testing::{now, single_operator_config as config, Bus, Store};
use canonical_policies::OpenGrant;
use serde_json::{json, Value};
use time::OffsetDateTime;

const BUCKET: &str = "acme-cloudtrail-logs";
const OPERATOR: &str = "arn:aws:iam::111122223333:role/breakglass-operator";
const READER: &str = "arn:aws:iam::111122223333:role/investigations/LogInvestigator";
/// A file of examples/policies/.
fn example(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../examples/policies/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn enforcer() -> Enforcer<Store, Bus> {
    Enforcer {
        config: config(),
        store: Store::default(),
        bus: Bus::default(),
        records: NoRecords,
        dry_run: false,
    }
}

fn put_event(policy: &str, actor_role: &str) -> Incoming {
    let policy: Value = serde_json::from_str(policy).unwrap();
    event::parse(&json!({
        "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3", "id": "ev-1",
        "detail": {
            "eventID": "ct-1", "eventSource": "s3.amazonaws.com", "eventName": "PutBucketPolicy", "eventTime": "2026-11-24T11:59:58Z",
            "sourceIPAddress": "203.0.113.7", "userAgent": "aws-cli/2.15.0",
            "userIdentity": {"type": "AssumedRole", "arn": format!("arn:aws:sts::111122223333:assumed-role/{}/alice", actor_role.rsplit('/').next().unwrap()),
                "sessionContext": {"sessionIssuer": {"arn": actor_role}, "attributes": {"mfaAuthenticated": "true"}}},
            "requestParameters": {"bucketName": BUCKET, "Host": format!("{BUCKET}.s3.eu-central-1.amazonaws.com"), "policy": "", "bucketPolicy": policy}
        }
    }))
    .unwrap()
}

fn open_policy() -> String {
    let c = config();
    let b = c.bucket(BUCKET).unwrap();
    let grant =
        OpenGrant { readers: BTreeSet::from([READER.to_owned()]), expiry: now() + time::Duration::hours(4) };
    b.render_open(&grant, now()).unwrap().to_pretty_json()
}

fn schedule() -> Incoming {
    event::parse(&json!({"detail-type": "Scheduled Event", "source": "aws.events", "id": "s"})).unwrap()
}
