//! The Service Catalog custom resource: answered in time, a reason cut to fit, fail closed.

use super::*;

/// A stack Service Catalog provisioned from the breakglass product for an allowed operator.
struct FromCatalog;

impl breakglass_core::ports::Provenance for FromCatalog {
    async fn provisioning(&self, _: &str) -> Result<Option<breakglass_core::ports::Provisioning>, PortError> {
        Ok(Some(breakglass_core::ports::Provisioning {
            product_arn: Some("arn:aws:catalog:eu-central-1:111122223333:product/prod-open".into()),
            provisioned_product_arn: None,
            principal_arn: Some("arn:aws:sts::111122223333:assumed-role/LogTeam/alice".into()),
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
        provenance: &FromCatalog,
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
        provenance: &FromCatalog,
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
    let dead = Catalog {
        config: &c,
        store: &store,
        bus: &DeadBus,
        responder: &Cfn,
        provenance: &FromCatalog,
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
        provenance: &FromCatalog,
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
