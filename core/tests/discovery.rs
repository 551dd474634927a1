//! Discovery and its registry, with in-memory ports: by prefix and tag, in every account and Region
//! of the config; a registry that only grows; an unreadable registry never replaced.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::sync::Mutex;

use breakglass_core::discovery::{run, Registry, RegistryError};
use breakglass_core::ports::{BusEvent, Directory, EventBus, PortError, RegistryStore};
use canonical_policies::Config;

type Tags = Vec<(String, String)>;

#[derive(Default)]
struct Estate {
    /// (account, region) → buckets with their tags.
    buckets: HashMap<(String, String), Vec<(String, Tags)>>,
    unreachable: Option<String>,
}

impl Estate {
    fn add(&mut self, account: &str, region: &str, name: &str, tags: &[(&str, &str)]) {
        self.buckets
            .entry((account.into(), region.into()))
            .or_default()
            .push((name.into(), tags.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()));
    }
}

impl Directory for Estate {
    async fn buckets(&self, account: &str, region: &str, prefix: &str) -> Result<Vec<String>, PortError> {
        if self.unreachable.as_deref() == Some(account) {
            return Err(PortError::Refused("AccessDenied: member role".into()));
        }
        Ok(self
            .buckets
            .get(&(account.into(), region.into()))
            .map(|b| b.iter().map(|(n, _)| n.clone()).filter(|n| n.starts_with(prefix)).collect())
            .unwrap_or_default())
    }
    async fn tags(
        &self,
        account: &str,
        region: &str,
        bucket: &str,
    ) -> Result<Vec<(String, String)>, PortError> {
        Ok(self.buckets[&(account.into(), region.into())]
            .iter()
            .find(|(n, _)| n == bucket)
            .unwrap()
            .1
            .clone())
    }
}

#[derive(Default)]
struct Store(Mutex<Option<(String, u32)>>);
impl RegistryStore for Store {
    async fn load(&self) -> Result<Option<(String, String)>, PortError> {
        Ok(self.0.lock().unwrap().clone().map(|(t, v)| (t, v.to_string())))
    }
    async fn save(&self, text: &str, expected: Option<&str>) -> Result<bool, PortError> {
        let mut s = self.0.lock().unwrap();
        if s.as_ref().map(|(_, v)| v.to_string()).as_deref() != expected {
            return Ok(false);
        }
        let next = s.as_ref().map_or(1, |(_, v)| v + 1);
        *s = Some((text.to_owned(), next));
        Ok(true)
    }
}

#[derive(Default)]
struct Bus(Mutex<Vec<BusEvent>>);
impl EventBus for Bus {
    async fn put(&self, e: &BusEvent) -> Result<(), PortError> {
        self.0.lock().unwrap().push(e.clone());
        Ok(())
    }
}

fn config(extra: &str) -> Config {
    let text = format!(
        "{}\n[discovery]\ntag = \"breakglass=protect\"\n{extra}\n",
        include_str!("../../examples/organisation.toml")
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
