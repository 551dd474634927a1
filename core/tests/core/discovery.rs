//! Discovery and its registry, with in-memory ports: by prefix and tag, in every account and Region
//! of the config; a registry that only grows; an unreadable registry never replaced.

use breakglass_core::guard::discovery::{run, Registry, RegistryError};
use std::sync::Mutex;

use breakglass_config::Config;
use breakglass_core::testing::{Bus, Estate, RegistryObject as Store};

fn config(extra: &str) -> Config {
    let text = format!(
        "{}\n[discovery]\ntag = \"breakglass=protect\"\n{extra}\n",
        include_str!("../../../examples/organisation.toml")
    );
    Config::from_toml(&text).unwrap()
}

fn now() -> time::OffsetDateTime {
    time::macros::datetime!(2026-12-02 17:00 UTC)
}

#[tokio::test(flavor = "current_thread")]
async fn buckets_are_found_by_prefix_and_tag_and_the_registry_only_grows() {
    let mut estate = Estate::default();
    estate.add("111100000000", "eu-west-1", "acme-new-flow-logs", &[("breakglass", "protect")]);
    estate.add("111100000000", "eu-west-1", "acme-untagged-logs", &[]);
    estate.add("111100000000", "eu-west-1", "other-tagged-logs", &[("breakglass", "protect")]);
    estate.add(
        "222200000000",
        "eu-central-1",
        "acme-dev-new-logs",
        &[("breakglass", "protect"), ("team", "x")],
    );
    // Configured by hand already: not the registry's.
    estate.add("111100000000", "eu-central-1", "acme-prod-cloudtrail-logs", &[("breakglass", "protect")]);
    let (cfg, store, bus) = (config(""), Store::default(), Bus::default());
    let found = run(&cfg, &estate, &store, &bus, now()).await.unwrap();
    let names: Vec<&str> = found.registry.buckets.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["acme-dev-new-logs", "acme-new-flow-logs"]);
    assert_eq!(bus.0.lock().unwrap().len(), 1, "one mail: what is now protected");

    // The tag is removed: the bucket stays in the registry, and so protected.
    estate.buckets.get_mut(&("111100000000".into(), "eu-west-1".into())).unwrap()[0].1.clear();
    let again = run(&cfg, &estate, &store, &bus, now()).await.unwrap();
    assert_eq!(again.registry.buckets.len(), 2);
    assert!(again.added.is_empty());
    let (merged, refused) = cfg.with_discovered(&again.registry.discovered());
    assert!(refused.is_empty(), "{refused:?}");
    assert!(merged.bucket("acme-new-flow-logs").is_some());
    assert_eq!(bus.0.lock().unwrap().len(), 1, "nothing new, nothing mailed");

    // Only the config takes it out.
    let excluding = config("exclude = [\"acme-new-flow-logs\"]");
    let (merged, _) = excluding.with_discovered(&again.registry.discovered());
    assert!(merged.bucket("acme-new-flow-logs").is_none());
    assert!(merged.bucket("acme-dev-new-logs").is_some());
}

#[tokio::test(flavor = "current_thread")]
async fn an_unreadable_registry_is_alerted_and_never_replaced() {
    let mut estate = Estate::default();
    estate.add("111100000000", "eu-west-1", "acme-new-flow-logs", &[("breakglass", "protect")]);
    let store = Store(Mutex::new(Some(("{ not json".into(), 7))));
    let bus = Bus::default();
    let err = run(&config(""), &estate, &store, &bus, now()).await.unwrap_err();
    assert!(matches!(err, RegistryError::Unreadable(_)), "{err}");
    assert!(err.to_string().contains("last good one stays in force"), "{err}");
    assert_eq!(store.0.lock().unwrap().as_ref().unwrap().0, "{ not json", "never replaced");
    let events = bus.0.lock().unwrap();
    assert_eq!(events[0].detail_type, "breakglass discovery");
    assert!(events[0].detail["error"].is_string());
    assert!(Registry::parse("{\"schema\":\"other/1\",\"buckets\":[]}").is_err());
}

#[tokio::test(flavor = "current_thread")]
async fn an_account_that_cannot_be_listed_is_reported_and_the_others_are_still_listed() {
    let mut estate = Estate::default();
    estate.add("222200000000", "eu-central-1", "acme-dev-new-logs", &[("breakglass", "protect")]);
    estate.unreachable = Some("111100000000".into());
    let (store, bus) = (Store::default(), Bus::default());
    let found = run(&config(""), &estate, &store, &bus, now()).await.unwrap();
    assert_eq!(found.added.len(), 1);
    assert_eq!(found.failed.len(), 2, "both Regions of the unreachable account: {:?}", found.failed);
    let events = bus.0.lock().unwrap();
    assert_eq!(events[0].detail["failed"].as_array().unwrap().len(), 2);
}

/// A CloudTrail record of `name` on `bucket`, as EventBridge delivers it from `account` in `region`.
fn call(name: &str, bucket: &str, account: &str, region: &str) -> breakglass_core::inbound::event::ApiCall {
    let raw = serde_json::json!({
        "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3", "account": account,
        "detail": {"eventName": name, "eventSource": "s3.amazonaws.com", "awsRegion": region,
            "recipientAccountId": account, "eventID": "e-1",
            "requestParameters": {"bucketName": bucket}}});
    match breakglass_core::inbound::event::parse(&raw).unwrap() {
        breakglass_core::inbound::event::Incoming::ApiCalls(mut calls) => calls.remove(0),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_created_or_tagged_bucket_is_adopted_at_once_after_it_is_looked_up_where_the_event_says() {
    use breakglass_core::guard::discovery::{adopt, candidate};
    let mut estate = Estate::default();
    estate.add("111100000000", "eu-west-1", "acme-fresh-logs", &[("breakglass", "protect")]);
    estate.add("111100000000", "eu-west-1", "acme-plain-logs", &[]);
    let (cfg, store, bus) = (config("exclude = [\"acme-scratch-logs\"]"), Store::default(), Bus::default());

    let created = call("CreateBucket", "acme-fresh-logs", "111100000000", "eu-west-1");
    let entry = adopt(&cfg, &estate, &store, &bus, &created, now()).await.unwrap().unwrap();
    assert_eq!((entry.account.as_str(), entry.region.as_str()), ("111100000000", "eu-west-1"));
    let text = store.0.lock().unwrap().clone().unwrap().0;
    assert_eq!(Registry::parse(&text).unwrap().buckets, vec![entry]);
    assert_eq!(bus.0.lock().unwrap()[0].detail_type, "breakglass discovery");
    // Twice: already there, nothing added or mailed.
    assert!(adopt(&cfg, &estate, &store, &bus, &created, now()).await.unwrap().is_none());
    assert_eq!(bus.0.lock().unwrap().len(), 1);

    // Untagged (the tag is asked for), or not where the event says: nothing.
    let plain = call("CreateBucket", "acme-plain-logs", "111100000000", "eu-west-1");
    assert!(adopt(&cfg, &estate, &store, &bus, &plain, now()).await.unwrap().is_none());
    let forged = call("PutBucketTagging", "acme-ghost-logs", "111100000000", "eu-west-1");
    assert!(adopt(&cfg, &estate, &store, &bus, &forged, now()).await.unwrap().is_none());

    // Not even looked up: another account or Region than the config's, a refused call, another
    // prefix, an excluded or already protected bucket, a call that brings no bucket.
    assert!(candidate(&cfg, &call("CreateBucket", "acme-x-logs", "444400000000", "eu-west-1")).is_none());
    assert!(candidate(&cfg, &call("CreateBucket", "acme-x-logs", "222200000000", "eu-west-1")).is_none());
    let mut refused = call("CreateBucket", "acme-x-logs", "111100000000", "eu-west-1");
    refused.error.code = Some("AccessDenied".into());
    assert!(candidate(&cfg, &refused).is_none());
    assert!(candidate(&cfg, &call("CreateBucket", "other-logs", "111100000000", "eu-west-1")).is_none());
    assert!(
        candidate(&cfg, &call("CreateBucket", "acme-scratch-logs", "111100000000", "eu-west-1")).is_none()
    );
    assert!(candidate(
        &cfg,
        &call("PutBucketTagging", "acme-prod-cloudtrail-logs", "111100000000", "eu-central-1")
    )
    .is_none());
    assert!(candidate(&cfg, &call("PutBucketPolicy", "acme-x-logs", "111100000000", "eu-west-1")).is_none());
    let mut two = call("CreateBucket", "acme-x-logs", "111100000000", "eu-west-1");
    two.accounts.push("222200000000".into());
    assert!(candidate(&cfg, &two).is_none(), "an event that names two accounts is not routed");
    assert!(candidate(&cfg, &call("CreateBucket", "acme-x-logs", "111100000000", "eu-west-1")).is_some());

    // An unreadable registry: alerted, not replaced, nothing adopted.
    *store.0.lock().unwrap() = Some(("{ broken".into(), 9));
    let tagged = call("PutBucketTagging", "acme-fresh-logs", "111100000000", "eu-west-1");
    let other = Config::from_toml(&format!(
        "{}\n[discovery]\ntag = \"breakglass=protect\"\n",
        include_str!("../../../examples/organisation.toml")
    ))
    .unwrap();
    assert!(matches!(
        adopt(&other, &estate, &store, &bus, &tagged, now()).await,
        Err(RegistryError::Unreadable(_))
    ));
    assert_eq!(store.0.lock().unwrap().as_ref().unwrap().0, "{ broken");
}

/// `[[ou]]`: the OU's accounts (not listed as `[[account]]`) are listed in the OU's Regions, and a
/// bucket found there is protected; an OU that cannot be listed is reported, the rest still listed.
#[tokio::test(flavor = "current_thread")]
async fn the_accounts_of_an_ou_are_listed_in_its_regions() {
    use breakglass_core::guard::discovery::adopt;
    let ou = "ou-ab12-34cd56ef";
    let extra = format!("\n[[ou]]\nid = \"{ou}\"\nregions = [\"eu-west-1\"]\n\n[[ou]]\nid = \"ou-ab12-gone0000\"\nregions = [\"eu-west-1\"]\n");
    let cfg = config(&extra);
    let mut estate = Estate::default();
    estate.ous.insert(ou.into(), vec!["555500000000".into(), "111100000000".into()]);
    estate.add("555500000000", "eu-west-1", "acme-team-logs", &[("breakglass", "protect")]);
    estate.add("555500000000", "eu-central-1", "acme-elsewhere-logs", &[("breakglass", "protect")]);
    let (store, bus) = (Store::default(), Bus::default());
    let found = run(&cfg, &estate, &store, &bus, now()).await.unwrap();
    let names: Vec<&str> = found.added.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["acme-team-logs"], "only in the OU's Regions");
    assert_eq!(found.failed.len(), 1, "{:?}", found.failed);
    assert_eq!(found.failed[0].0, "ou-ab12-gone0000");
    let (merged, refused) = cfg.with_discovered(&found.registry.discovered());
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(merged.bucket("acme-team-logs").unwrap().account, "555500000000");

    // From an event: an account of the OU is asked about, one outside it is not adopted.
    estate.add("555500000000", "eu-west-1", "acme-team-new-logs", &[("breakglass", "protect")]);
    estate.add("666600000000", "eu-west-1", "acme-stray-logs", &[("breakglass", "protect")]);
    let made = call("CreateBucket", "acme-team-new-logs", "555500000000", "eu-west-1");
    assert!(adopt(&cfg, &estate, &store, &bus, &made, now()).await.unwrap().is_some());
    let stray = call("CreateBucket", "acme-stray-logs", "666600000000", "eu-west-1");
    // One OU could not be listed: not a "no" but an error (the schedule's discovery retries).
    assert!(matches!(adopt(&cfg, &estate, &store, &bus, &stray, now()).await, Err(RegistryError::Port(_))));
    let listed = config(&format!("\n[[ou]]\nid = \"{ou}\"\nregions = [\"eu-west-1\"]\n"));
    assert!(adopt(&listed, &estate, &store, &bus, &stray, now()).await.unwrap().is_none());
}
