//! Discovery's page loop on moto: `ListBuckets` answers cut into pages with a continuation token,
//! as AWS pages them. Its own test binary because it sets the process environment (credentials for
//! the adapter's SDK configuration), which the other tests must not share.

use e2e::{root, Moto};

const PROD: &str = "111100000000";

async fn bucket(endpoint: &str, region: &str, name: &str, tagged: bool) {
    let tags: &[(&str, &str)] = if tagged { &[("breakglass", "protect")] } else { &[] };
    e2e::account_bucket(endpoint, PROD, region, name, tags).await;
}

/// Discovery by prefix and tag through the real adapter (`S3Directory`: member role, `ListBuckets`
/// with prefix and `BucketRegion`, `GetBucketTagging`), over HTTP, with the answers paged as AWS
/// pages them: moto returns every bucket in one answer and no continuation token, so a proxy cuts
/// its answer into pages of two with a token.
#[tokio::test(flavor = "current_thread")]
async fn discovery_follows_list_buckets_pages() {
    let Some(moto) = Moto::start() else { return };
    let proxy = e2e::FaultProxy::paging_list_buckets(&moto.endpoint);
    for (i, tagged) in [true, false, true, true, false].into_iter().enumerate() {
        bucket(&moto.endpoint, "eu-west-1", &format!("acme-page{i}-logs"), tagged).await;
    }
    bucket(&moto.endpoint, "eu-west-1", "other-tagged-logs", true).await;
    bucket(&moto.endpoint, "eu-central-1", "acme-frankfurt-logs", true).await;

    for (k, v) in e2e::aws_env(&proxy.endpoint) {
        std::env::set_var(k, v);
    }
    let text = format!(
        "{}\n[discovery]\ntag = \"breakglass=protect\"\n",
        std::fs::read_to_string(root().join("examples/organisation.toml")).unwrap()
    );
    let config = breakglass_config::Config::from_toml(&text).unwrap();
    let clients = breakglass_aws::Clients::load(Some(&proxy.endpoint)).await.unwrap();
    let accounts = breakglass_aws::Accounts::for_config(&clients, &config, "breakglass-enforcer");
    let directory = breakglass_aws::S3Directory::new(&clients, accounts);
    let known = breakglass_core::guard::discovery::Registry::default();
    let found = breakglass_core::guard::discovery::discover(
        &config,
        &directory,
        &known,
        time::OffsetDateTime::now_utc(),
    )
    .await;
    assert!(found.failed.is_empty(), "{:?}", found.failed);
    let names: Vec<(&str, &str)> = found.added.iter().map(|e| (e.name.as_str(), e.region.as_str())).collect();
    assert_eq!(
        names,
        [
            ("acme-frankfurt-logs", "eu-central-1"),
            ("acme-page0-logs", "eu-west-1"),
            ("acme-page2-logs", "eu-west-1"),
            ("acme-page3-logs", "eu-west-1"),
        ],
        "every page, by prefix, Region and tag"
    );
    // Five prefixed buckets in Ireland: three pages of two, the second and third asked for by token.
    let pages = proxy.with("x-id=ListBuckets");
    let tokens: Vec<&String> = pages.iter().filter(|r| r.contains("continuation-token=")).collect();
    assert!(tokens.len() >= 2, "{pages:#?}");
    assert!(pages.iter().all(|r| r.contains("prefix=acme-")), "{pages:#?}");
}
