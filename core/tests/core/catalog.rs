//! The Service Catalog custom resource: answered in time, a reason cut to fit, fail closed.

use super::*;

/// A stack Service Catalog provisioned from the breakglass product for an allowed operator, with
/// the stack parameters it has.
struct FromCatalog(std::collections::BTreeMap<String, String>);

impl FromCatalog {
    /// The stack the product gives when provisioned with these custom-resource `properties`.
    fn of(properties: &Value) -> FromCatalog {
        let action = properties["Action"].as_str().unwrap_or_default();
        let pairs = breakglass_core::access::catalog::product_parameters(action).unwrap_or_default();
        FromCatalog(
            pairs
                .iter()
                .map(|(property, parameter)| {
                    ((*parameter).to_owned(), properties[*property].as_str().unwrap_or_default().to_owned())
                })
                .collect(),
        )
    }
}

impl breakglass_core::ports::Provenance for FromCatalog {
    async fn provisioning(&self, _: &str) -> Result<Option<breakglass_core::ports::Provisioning>, PortError> {
        Ok(Some(breakglass_core::ports::Provisioning {
            product_arn: Some("arn:aws:catalog:eu-central-1:111122223333:product/prod-open".into()),
            provisioned_product_arn: None,
            principal_arn: Some("arn:aws:sts::111122223333:assumed-role/LogTeam/alice".into()),
            parameters: self.0.clone(),
        }))
    }
}

fn origin() -> breakglass_core::access::catalog::Origin {
    breakglass_core::access::catalog::Origin::from_lists(
        "prod-open,prod-close",
        "arn:aws:iam::111122223333:role/LogTeam",
    )
}

use breakglass_core::access::catalog::{handle, Catalog};
use breakglass_core::ports::Responder;

#[derive(Default)]
struct Cfn(Mutex<Vec<Value>>);

impl Responder for Cfn {
    async fn respond(&self, _url: &str, body: &str) -> Result<(), PortError> {
        self.0.lock().unwrap().push(serde_json::from_str(body).unwrap());
        Ok(())
    }
}

/// S3 that never answers.
struct Hanging;

impl PolicyStore for Hanging {
    async fn get_policy(&self, _: &str) -> Result<Option<String>, PortError> {
        std::future::pending().await
    }
    async fn put_policy(&self, _: &str, _: &str) -> Result<(), PortError> {
        std::future::pending().await
    }
    async fn block_public_access(&self, _: &str) -> Result<(), PortError> {
        std::future::pending().await
    }
}

/// The catalog over these ports, without an audit trail (its requests are refused).
fn catalog<'a, P>(
    c: &'a Config,
    store: &'a Store,
    bus: &'a Bus,
    cfn: &'a Cfn,
    provenance: &'a P,
    o: &'a breakglass_core::access::catalog::Origin,
) -> Catalog<'a, Store, Bus, Cfn, P, breakglass_core::testing::Log> {
    Catalog { config: c, store, bus, responder: cfn, provenance, origin: o, trail: None }
}

/// The custom resource's Create request with the product's `properties`.
fn create_event(properties: Value) -> Value {
    json!({
        "RequestType": "Create", "ResponseURL": "https://example.invalid/r", "StackId": "s",
        "RequestId": "r", "LogicalResourceId": "L", "ResourceProperties": properties
    })
}

#[tokio::test(flavor = "current_thread")]
async fn running_out_of_time_is_answered_failed_before_lambda_stops() {
    let cfn = Cfn::default();
    let event = create_event(json!({"Action": "close", "Bucket": BUCKET, "Reason": "done"}));
    let budget = std::time::Duration::from_millis(50);
    let (c, o) = (config(), origin());
    let catalog = Catalog {
        config: &c,
        store: &Hanging,
        bus: &Bus::default(),
        responder: &cfn,
        provenance: &FromCatalog::of(&event["ResourceProperties"]),
        origin: &o,
        trail: None::<&breakglass_core::trail::audit::Trail<breakglass_core::testing::Log>>,
    };
    let body = handle(&catalog, &event, now(), budget).await.unwrap();
    assert_eq!(body["Status"], "FAILED");
    assert!(body["Reason"].as_str().unwrap().contains("timed out"), "{body}");
    assert_eq!(cfn.0.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_long_reason_is_cut_to_fit_the_response_limit() {
    let cfn = Cfn::default();
    let event = create_event(json!({"Action": "open".repeat(1000), "Bucket": "🪣".repeat(5000),
        "Reason": "x", "Ticket": "T", "Duration": "1h"}));
    let (c, o) = (config(), origin());
    let catalog = Catalog {
        config: &c,
        store: &Store::default(),
        bus: &Bus::default(),
        responder: &cfn,
        provenance: &FromCatalog::of(&event["ResourceProperties"]),
        origin: &o,
        trail: None::<&breakglass_core::trail::audit::Trail<breakglass_core::testing::Log>>,
    };
    let body = handle(&catalog, &event, now(), std::time::Duration::from_secs(5)).await.unwrap();
    assert_eq!(body["Status"], "FAILED");
    assert!(body.to_string().len() < 4096, "{}", body.to_string().len());
}

/// Fail closed: a create that may have opened the bucket (here the policy was written but the request
/// event could not be published) keeps its real physical id, so the stack's rollback closes it.
#[tokio::test(flavor = "current_thread")]
async fn a_failed_open_that_may_have_written_is_closed_by_the_rollback() {
    use breakglass_core::access::catalog::{handle, Catalog};
    use breakglass_core::ports::Responder;

    struct Cfn;
    impl Responder for Cfn {
        async fn respond(&self, _: &str, _: &str) -> Result<(), PortError> {
            Ok(())
        }
    }
    struct DeadBus;
    impl EventBus for DeadBus {
        async fn put(&self, _: &BusEvent) -> Result<(), PortError> {
            Err(PortError::Retryable("PutEvents: 503".into()))
        }
    }
    let c = config();
    let store = Store::default();
    store
        .policies
        .lock()
        .unwrap()
        .insert(BUCKET.into(), c.bucket(BUCKET).unwrap().closed_policy().to_pretty_json());
    let props = json!({"Action": "open", "Bucket": BUCKET, "Reason": "r", "Ticket": "T", "Duration": "1h"});
    let event = |kind: &str, physical: Option<&str>| {
        json!({"RequestType": kind, "ResponseURL": "https://example.invalid/r", "StackId": "s", "RequestId": "q",
            "LogicalResourceId": "L", "ResourceProperties": props, "PhysicalResourceId": physical})
    };
    let budget = std::time::Duration::from_secs(5);
    let o = origin();
    let provenance = FromCatalog::of(&props);
    let dead = Catalog {
        config: &c,
        store: &store,
        bus: &DeadBus,
        responder: &Cfn,
        provenance: &provenance,
        origin: &o,
        trail: None::<&breakglass_core::trail::audit::Trail<breakglass_core::testing::Log>>,
    };
    let created = handle(&dead, &event("Create", None), now(), budget).await.unwrap();
    assert_eq!(created["Status"], "FAILED");
    let id = created["PhysicalResourceId"].as_str().unwrap().to_owned();
    assert_eq!(id, format!("breakglass-open-{BUCKET}"));
    assert!(matches!(
        canonical_policies::classify(
            c.bucket(BUCKET).unwrap(),
            Some(store.policies.lock().unwrap()[BUCKET].as_bytes()),
            now()
        )
        .state,
        canonical_policies::State::Open(_)
    ));
    // The rollback: Delete with that id closes (the bus is back).
    let bus = Bus::default();
    let alive = Catalog {
        config: &c,
        store: &store,
        bus: &bus,
        responder: &Cfn,
        provenance: &provenance,
        origin: &o,
        trail: None::<&breakglass_core::trail::audit::Trail<breakglass_core::testing::Log>>,
    };
    let deleted = handle(&alive, &event("Delete", Some(&id)), now(), budget).await.unwrap();
    assert_eq!(deleted["Status"], "SUCCESS");
    assert_eq!(
        store.policies.lock().unwrap()[BUCKET],
        c.bucket(BUCKET).unwrap().closed_policy().to_pretty_json()
    );
}

/// Attack 5 of issue 21: a real product stack's id sent again with other properties. The catalog
/// acts on the stack's parameters; a request that says otherwise, or a stack without the product's
/// parameters, is refused, reported, and writes nothing.
#[tokio::test(flavor = "current_thread")]
async fn issue_21_attack_5_a_reused_stack_id_with_other_properties_is_refused() {
    let c = config();
    let o = origin();
    let provisioned = json!({"Action": "open", "Bucket": BUCKET, "Reason": "incident 42", "Ticket": "INC-42",
        "Duration": "1h", "Readers": READER});
    let with = |k: &str, v: Value| {
        let mut p = provisioned.clone();
        p[k] = v;
        p
    };
    let other = "arn:aws:iam::111122223333:role/investigations/ExternalAuditor";
    let cases = [
        (FromCatalog::of(&provisioned), with("Duration", json!("12h")), "`Duration`"),
        (FromCatalog::of(&provisioned), with("Readers", json!(other)), "`Readers`"),
        (FromCatalog::of(&provisioned), with("Readers", json!([READER, other])), "`Readers`"),
        (FromCatalog::of(&provisioned), with("Readers", json!("")), "`Readers`"),
        (FromCatalog::of(&provisioned), with("Bucket", json!("acme-other-logs")), "`Bucket`"),
        (FromCatalog::of(&provisioned), with("Ticket", Value::Null), "`Ticket`"),
        (FromCatalog(Default::default()), provisioned.clone(), "has no parameter `Bucket`"),
    ];
    for (provenance, props, why) in cases {
        let (store, bus, cfn) = (Store::default(), Bus::default(), Cfn::default());
        let catalog = catalog(&c, &store, &bus, &cfn, &provenance, &o);
        let body = handle(&catalog, &create_event(props.clone()), now(), std::time::Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(body["Status"], "FAILED", "{props}: {body}");
        let reason = body["Reason"].as_str().unwrap();
        assert!(reason.contains("not what the stack provisioned") && reason.contains(why), "{body}");
        assert!(body["PhysicalResourceId"].as_str().unwrap().starts_with("breakglass-failed-"), "{body}");
        assert_eq!(*store.writes.lock().unwrap(), 0, "nothing written for {props}");
        let events = bus.0.lock().unwrap();
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].detail["outcome"], "refused", "{events:?}");
    }

    // The same properties as provisioned (readers as a list, as a client may send them) open the bucket
    // as the stack's parameters say.
    let (store, bus, cfn) = (Store::default(), Bus::default(), Cfn::default());
    store
        .policies
        .lock()
        .unwrap()
        .insert(BUCKET.into(), c.bucket(BUCKET).unwrap().closed_policy().to_pretty_json());
    let provenance = FromCatalog::of(&provisioned);
    let catalog = catalog(&c, &store, &bus, &cfn, &provenance, &o);
    let body = handle(
        &catalog,
        &create_event(with("Readers", json!([READER]))),
        now(),
        std::time::Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let policy = store.policies.lock().unwrap()[BUCKET].clone();
    let canonical_policies::State::Open(grant) =
        canonical_policies::classify(c.bucket(BUCKET).unwrap(), Some(policy.as_bytes()), now()).state
    else {
        panic!("not open: {policy}")
    };
    assert_eq!(grant.readers.len(), 1);
}

/// One source of truth: each product template passes exactly the parameters the catalog reads, as the
/// properties it compares them with (`Property: !Ref Parameter`), and declares each of them.
#[test]
fn the_product_templates_pass_the_parameters_the_catalog_reads() {
    let dir = format!("{}/../catalog/products", env!("CARGO_MANIFEST_DIR"));
    let mut actions = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let action = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Action: "))
            .unwrap_or_else(|| panic!("{}: no `Action`", path.display()));
        let passed: Vec<(String, String)> = text
            .lines()
            .filter_map(|l| l.trim().split_once(": !Ref "))
            .map(|(property, parameter)| (property.to_owned(), parameter.trim().to_owned()))
            .collect();
        let read: Vec<(String, String)> = breakglass_core::access::catalog::product_parameters(action)
            .unwrap_or_else(|| panic!("{}: the catalog does not know `{action}`", path.display()))
            .iter()
            .map(|(property, parameter)| ((*property).to_owned(), (*parameter).to_owned()))
            .collect();
        assert_eq!(passed, read, "{}", path.display());
        let declared =
            text.split("\nParameters:\n").nth(1).and_then(|t| t.split("\n\n").next()).unwrap_or_default();
        for (_, parameter) in &read {
            assert!(
                declared.contains(&format!("\n  {parameter}:\n"))
                    || declared.starts_with(&format!("  {parameter}:\n")),
                "{}: parameter `{parameter}` is not declared",
                path.display()
            );
        }
        actions.push(action.to_owned());
    }
    actions.sort();
    let mut known: Vec<String> =
        breakglass_core::access::catalog::PRODUCT_PARAMETERS.iter().map(|(a, _)| (*a).to_owned()).collect();
    known.sort();
    assert_eq!(actions, known, "one product per action the catalog reads");
}

/// Regression: an Update of a provisioned "Request log access" filed a new request in the name of
/// whoever provisioned the product first (Service Catalog keeps that tag), so another person could
/// change someone's request and then approve it. A request cannot be changed: refused, nothing
/// recorded or mailed as a request.
#[tokio::test(flavor = "current_thread")]
async fn updating_a_provisioned_request_is_refused() {
    let cfn = Cfn::default();
    let properties =
        json!({"Action": "request", "Bucket": BUCKET, "Reason": "r", "Ticket": "T", "Duration": "1h"});
    let mut event = create_event(properties);
    event["RequestType"] = json!("Update");
    event["PhysicalResourceId"] = json!("breakglass-request-0123456789ab");
    let (c, o) = (config(), origin());
    let bus = Bus::default();
    let catalog = Catalog {
        config: &c,
        store: &Store::default(),
        bus: &bus,
        responder: &cfn,
        provenance: &FromCatalog::of(&event["ResourceProperties"]),
        origin: &o,
        trail: None::<&breakglass_core::trail::audit::Trail<breakglass_core::testing::Log>>,
    };
    let body = handle(&catalog, &event, now(), std::time::Duration::from_secs(5)).await.unwrap();
    assert_eq!(body["Status"], "FAILED", "{body}");
    assert!(body["Reason"].as_str().unwrap().contains("a request cannot be changed"), "{body}");
    assert!(bus.events().iter().all(|e| !matches!(e, breakglass_core::events::OwnEvent::AccessRequest(_))));
}

/// One person through two doors: an operator's IAM user (the catalog's provisioning principal)
/// and the operator role's session under that user's name (the gate) are the same person.
/// Regression: a request filed as `user/alice` could be approved by
/// `assumed-role/breakglass-operator/alice`.
#[test]
fn an_iam_user_and_a_session_under_its_name_are_one_person() {
    use breakglass_core::access::approval::same_person;
    let user = "arn:aws:iam::111122223333:user/alice";
    let session = "arn:aws:sts::111122223333:assumed-role/breakglass-operator/Alice";
    assert!(same_person(user, session).is_some());
    assert!(same_person("arn:aws:iam::111122223333:user/ops/alice", session).is_some());
    assert!(same_person(user, "arn:aws:sts::111122223333:assumed-role/breakglass-operator/bob").is_none());
}

/// Regression (catalog review): an update of "Open log access" to another bucket replaces the
/// resource, and CloudFormation deletes the old one with its *old* properties, while the stack's
/// parameters already name the new bucket. The delete was refused as "not what the stack
/// provisioned", and the old bucket stayed open. A delete closes what it names.
#[tokio::test]
async fn regression_a_replaced_open_closes_the_old_bucket() {
    let c = config();
    let o = origin();
    let old = json!({"Action": "open", "Bucket": BUCKET, "Reason": "incident 42", "Ticket": "INC-42",
        "Duration": "1h", "Readers": READER});
    let other = c.buckets.iter().find(|b| b.name != BUCKET).unwrap().name.clone();
    let mut new = old.clone();
    new["Bucket"] = json!(other);
    let (store, bus, cfn) = (Store::default(), Bus::default(), Cfn::default());
    let grant = canonical_policies::OpenGrant {
        readers: [READER.to_owned()].into(),
        expiry: now() + time::Duration::hours(1),
    };
    let open = c.bucket(BUCKET).unwrap().render_open(&grant, now()).unwrap().to_pretty_json();
    store.policies.lock().unwrap().insert(BUCKET.into(), open);
    // The stack's parameters are the new ones; the delete carries the old properties.
    let provenance = FromCatalog::of(&new);
    let catalog = catalog(&c, &store, &bus, &cfn, &provenance, &o);
    let mut delete = create_event(old);
    delete["RequestType"] = json!("Delete");
    delete["PhysicalResourceId"] = json!(format!("breakglass-open-{BUCKET}"));
    let body = handle(&catalog, &delete, now(), std::time::Duration::from_secs(5)).await.unwrap();
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let policy = store.policies.lock().unwrap()[BUCKET].clone();
    let state = canonical_policies::classify(c.bucket(BUCKET).unwrap(), Some(policy.as_bytes()), now()).state;
    assert_eq!(state, canonical_policies::State::Closed);
}
