//! Config changes through the gate (issue 21, attack 3): one operator proposes, another approves,
//! and only then does the gate write the object; floors no config may lower; every step recorded.

use super::*;
use breakglass_core::access::approval::TrailRecords;
use breakglass_core::access::gate::{self, Answer, Gate};
use breakglass_core::testing::{ConfigObject, Log};
use breakglass_core::trail::audit::Trail;

const ALICE: &str = "arn:aws:sts::999900000000:assumed-role/breakglass-operator/alice";
const BOB: &str = "arn:aws:sts::999900000000:assumed-role/breakglass-operator/bob";

fn org_text() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/organisation.toml")).unwrap()
}

struct World {
    config: Config,
    store: Store,
    bus: Bus,
    trail: Trail<Log>,
    object: ConfigObject,
    roles: Vec<String>,
}

impl World {
    fn new() -> World {
        World::with(org_text())
    }

    /// The config `text` in force and in the object.
    fn with(text: String) -> World {
        let config = Config::from_toml(&text).unwrap();
        let trail = Trail { log: Log::default(), config: config.audit.clone().unwrap(), config_sha256: None };
        let object = ConfigObject::default();
        *object.0.lock().unwrap() = Some((text, 1));
        World {
            config,
            store: Store::default(),
            bus: Bus::default(),
            trail,
            object,
            roles: vec!["breakglass-operator".into()],
        }
    }

    async fn call(&self, arn: &str, body: Value) -> Answer {
        let records = TrailRecords {
            reader: &self.trail.log,
            prefix: self.trail.config.prefix.clone(),
            organisation: true,
        };
        let g = Gate {
            config: &self.config,
            store: &self.store,
            bus: &self.bus,
            trail: &self.trail,
            records: &records,
            roles: &self.roles,
        };
        let event = json!({
            "version": "2.0", "rawPath": "/", "headers": {},
            "requestContext": {"http": {"method": "POST"}, "authorizer": {"iam": {"userArn": arn}}},
            "body": body.to_string(), "isBase64Encoded": false
        });
        gate::handle(&g, Some(&self.object), &event, now()).await
    }

    /// The functions' config as discovery left it: `name` found in `account` and `region`.
    fn discover(&mut self, name: &str, account: &str, region: &str) {
        let found = breakglass_config::Discovered {
            name: name.into(),
            account: account.into(),
            region: region.into(),
        };
        let (with_found, refused) = self.config.with_discovered(&[found]);
        assert!(refused.is_empty(), "{refused:?}");
        self.config = with_found;
    }

    fn live(&self) -> String {
        self.object.0.lock().unwrap().clone().unwrap().0
    }

    fn config_records(&self) -> Vec<Value> {
        let log = self.trail.log.records.lock().unwrap();
        log.iter()
            .filter(|(k, _)| k.contains("/_config/"))
            .map(|(_, v)| serde_json::from_str(v).unwrap())
            .collect()
    }
}

#[tokio::test]
async fn one_proposes_another_approves_and_only_then_the_gate_writes_the_config() {
    let w = World::new();
    let next = org_text().replace("max_open_duration = \"12h\"", "max_open_duration = \"6h\"");
    let a = w.call(ALICE, json!({"op": "propose", "config": next})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let id = a.body["id"].as_str().unwrap().to_owned();
    assert!(a.body["changes"].to_string().contains("6h"), "{}", a.body);
    // Proposed: recorded by the gate and mailed, the object untouched.
    assert_eq!(w.live(), org_text());
    let recs = w.config_records();
    assert_eq!(
        (recs.len(), recs[0]["action"].as_str(), recs[0]["writer"].as_str()),
        (1, Some("proposed"), Some("gate"))
    );
    let events = w.bus.events();
    assert!(
        matches!(&events[0], breakglass_core::events::OwnEvent::Config(c) if c.state.as_deref() == Some("proposed"))
    );

    // Alice approving her own proposal: refused, nothing written.
    let a = w.call(ALICE, json!({"op": "approve-config", "proposal": id})).await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(w.live(), org_text());

    // Bob approves: recorded, then written, then mailed.
    let a = w.call(BOB, json!({"op": "approve-config", "proposal": id})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(w.live(), next);
    assert_eq!(w.config_records().len(), 2);
    assert!(matches!(w.bus.events().last(), Some(breakglass_core::events::OwnEvent::Config(c))
        if c.approved_by.as_deref() == Some(BOB)));
    // Once only.
    let a = w.call(BOB, json!({"op": "approve-config", "proposal": id})).await;
    assert_eq!(a.status, 409, "{}", a.body);
}

#[tokio::test]
async fn floors_no_config_may_lower_and_a_stale_proposal_are_refused_with_nothing_written() {
    let w = World::new();
    let bad = [
        (org_text().replace("retention_days = 400", "retention_days = 1"), "floor"),
        (
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/breakglass.toml"))
                .unwrap(),
            "organisation mode",
        ),
        (org_text().replace("o-exampleorg1", "o-otherorg123"), "must name organisation"),
        ("not toml [".to_owned(), "invalid config"),
    ];
    for (text, why) in bad {
        let a = w.call(ALICE, json!({"op": "propose", "config": text})).await;
        assert!((400..500).contains(&a.status), "{why}: {} {}", a.status, a.body);
        let e = a.body["error"].as_str().unwrap();
        assert!(e.contains(why) && !e.contains('\n'), "{why}: {e}");
    }
    assert!(w.config_records().is_empty());
    // The same text again: nothing to propose.
    assert_eq!(w.call(ALICE, json!({"op": "propose", "config": org_text()})).await.status, 409);

    // Proposed against one object; the object changed meanwhile: the approval is refused.
    let next = org_text().replace("max_open_duration = \"12h\"", "max_open_duration = \"6h\"");
    let a = w.call(ALICE, json!({"op": "propose", "config": next})).await;
    let id = a.body["id"].as_str().unwrap().to_owned();
    *w.object.0.lock().unwrap() = Some((org_text() + "\n# changed\n", 7));
    let a = w.call(BOB, json!({"op": "approve-config", "proposal": id})).await;
    assert_eq!(a.status, 409, "{}", a.body);
    assert!(w.live().ends_with("# changed\n"));
    // An unknown proposal, and a config change in single-account mode (no object): 404, 409.
    assert_eq!(w.call(BOB, json!({"op": "approve-config", "proposal": "ffffffffffff"})).await.status, 404);
}

/// Regression (insider review): an approver of *any* bucket approved a config that changed every
/// bucket, including dropping the two-person rule of a bucket they do not approve for. A proposal
/// that changes or takes out a bucket under the rule needs one of that bucket's approvers.
#[tokio::test]
async fn regression_a_config_change_of_a_bucket_needs_one_of_its_approvers() {
    const CAROL: &str = "arn:aws:sts::999900000000:assumed-role/breakglass-operator/carol";
    let rule = |who: &str| {
        format!("two_person = true\napprovers = [\"arn:aws:sts::999900000000:assumed-role/breakglass-operator/{who}\"]\n")
    };
    let text = org_text()
        .replacen(
            "name = \"acme-prod-cloudtrail-logs\"\n",
            &format!("name = \"acme-prod-cloudtrail-logs\"\n{}", rule("carol")),
            1,
        )
        .replacen(
            "name = \"acme-dev-cloudtrail-logs\"\n",
            &format!("name = \"acme-dev-cloudtrail-logs\"\n{}", rule("bob")),
            1,
        );
    let w = World::with(text.clone());
    // Alice proposes to drop the rule of Carol's bucket; Bob approves for another bucket only.
    let next = text.replacen(&rule("carol"), "", 1);
    let id =
        w.call(ALICE, json!({"op": "propose", "config": next})).await.body["id"].as_str().unwrap().to_owned();
    let a = w.call(BOB, json!({"op": "approve-config", "proposal": id})).await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(
        a.body["error"].as_str().unwrap().contains("changes bucket `acme-prod-cloudtrail-logs`"),
        "{}",
        a.body
    );
    assert_eq!(w.live(), text);
    // Carol, one of its approvers, may.
    let a = w.call(CAROL, json!({"op": "approve-config", "proposal": id})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(w.live(), next);
}

/// Regression (review of the fix above): the functions' config holds the discovered buckets too,
/// which a proposal's text never lists, so every discovered bucket under the two-person rule
/// looked "taken out". A discovered bucket changes with `[defaults]` and `[discovery]` only.
#[tokio::test]
async fn regression_a_discovered_bucket_changes_only_with_the_defaults() {
    const CAROL: &str = "arn:aws:sts::999900000000:assumed-role/breakglass-operator/carol";
    let approvers = |who: &str| {
        format!("approvers = [\"arn:aws:sts::999900000000:assumed-role/breakglass-operator/{who}\"]\n")
    };
    let text = format!(
        "{}\n[discovery]\ntag = \"breakglass=protect\"\n",
        org_text()
            .replacen("[defaults]\n", &format!("[defaults]\ntwo_person = true\n{}", approvers("carol")), 1)
            .replacen(
                "name = \"acme-prod-cloudtrail-logs\"\n",
                &format!("name = \"acme-prod-cloudtrail-logs\"\n{}", approvers("bob")),
                1
            )
    );
    let mut w = World::with(text.clone());
    w.discover("acme-found-logs", "111100000000", "eu-central-1");
    assert!(w.config.bucket("acme-found-logs").is_some_and(|b| b.two_person.is_some()));
    // A change of Bob's bucket alone: Bob may approve (Alice proposes).
    let next =
        text.replacen(&approvers("bob"), &format!("{}max_open_duration = \"2h\"\n", approvers("bob")), 1);
    let id =
        w.call(ALICE, json!({"op": "propose", "config": next})).await.body["id"].as_str().unwrap().to_owned();
    let a = w.call(BOB, json!({"op": "approve-config", "proposal": id})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    // A change of the defaults changes the discovered bucket too: Carol's, not Bob's.
    let next2 = next.replacen("max_open_duration = \"12h\"", "max_open_duration = \"6h\"", 1);
    let id = w.call(ALICE, json!({"op": "propose", "config": next2})).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let a = w.call(BOB, json!({"op": "approve-config", "proposal": id})).await;
    assert_eq!(a.status, 403, "{}", a.body);
    let a = w.call(CAROL, json!({"op": "approve-config", "proposal": id})).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

/// Regression (organisation-mode review): a config that no longer lists a discovered bucket's
/// account (or Region) dropped that bucket from every sweep with only a log line. Such a proposal
/// is refused; `[discovery] exclude` is the way to take a discovered bucket out.
#[tokio::test]
async fn regression_a_config_cannot_drop_a_discovered_bucket_unseen() {
    let extra = "[[account]]\nid = \"444400000000\"\nalias = \"logging-new\"\nregions = [\"eu-central-1\"]\n";
    let text = format!("{}\n{extra}\n[discovery]\ntag = \"breakglass=protect\"\n", org_text());
    let mut w = World::with(text.clone());
    w.discover("acme-new-account-logs", "444400000000", "eu-central-1");
    let dropped = text.replacen(extra, "", 1);
    let a = w.call(ALICE, json!({"op": "propose", "config": dropped})).await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(
        a.body["error"].as_str().unwrap().contains("discovered bucket(s) would no longer be protected"),
        "{}",
        a.body
    );
    // Excluded, it may go.
    let excluded = dropped.replacen(
        "tag = \"breakglass=protect\"\n",
        "tag = \"breakglass=protect\"\nexclude = [\"acme-new-account-logs\"]\n",
        1,
    );
    let a = w.call(ALICE, json!({"op": "propose", "config": excluded})).await;
    assert_eq!(a.status, 200, "{}", a.body);
}
