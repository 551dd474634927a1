//! Bucket policies and bucket settings through S3 (the policy store and the sentinel's settings).

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::types::PublicAccessBlockConfiguration;
use breakglass_core::ports::{BucketSettings, Canary, LifecycleRule, PolicyStore, PortError};

use crate::errors::{classify_error, code_of, Sent};
use crate::{Accounts, Clients};

/// Bucket policies and settings through S3, each call in the bucket's own account and Region with
/// `ExpectedBucketOwner` set ([`S3Store::routed`]), so that a bucket deleted and re-created under
/// the same name by another account is never read or written.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    routing: Option<Routing>,
}

#[derive(Debug, Clone)]
struct Routing {
    accounts: std::sync::Arc<Accounts>,
    /// bucket → (owning account, Region).
    buckets: std::sync::Arc<std::collections::HashMap<String, (String, Option<String>)>>,
    /// Organisation mode: a bucket that is not in the config has no account to act in.
    strict: bool,
}

impl S3Store {
    /// One client for every bucket, no owner check (tests and tools).
    pub fn new(client: aws_sdk_s3::Client) -> Self {
        S3Store { client, routing: None }
    }

    /// Every configured bucket in its own account and Region, through `accounts`.
    pub fn routed(
        clients: &Clients,
        accounts: std::sync::Arc<Accounts>,
        config: &breakglass_config::Config,
    ) -> Self {
        let buckets =
            config.buckets.iter().map(|b| (b.name.clone(), (b.account.clone(), b.region.clone()))).collect();
        S3Store {
            client: clients.s3.clone(),
            routing: Some(Routing {
                accounts,
                buckets: std::sync::Arc::new(buckets),
                strict: config.organisation.is_some(),
            }),
        }
    }

    /// The client that acts on `bucket`, and the owner to expect.
    async fn at(&self, bucket: &str) -> Result<(aws_sdk_s3::Client, Option<String>), PortError> {
        let Some(routing) = &self.routing else { return Ok((self.client.clone(), None)) };
        match routing.buckets.get(bucket) {
            Some((account, region)) => {
                let client = routing.accounts.s3(account, region.as_deref()).await?;
                Ok((client, Some(account.clone())))
            }
            None if routing.strict => Err(PortError::Refused(format!(
                "bucket `{bucket}` is not in the config: no account to act in"
            ))),
            None => Ok((self.client.clone(), None)),
        }
    }
}

/// The request `call` on `bucket`, sent by the client [`S3Store::at`] chooses and naming the owner
/// it expects: every call of this adapter goes through here, so none can leave the owner out.
macro_rules! on_bucket {
    ($store:expr, $bucket:expr, $call:ident) => {{
        let (client, owner) = $store.at($bucket).await?;
        client.$call().bucket($bucket).set_expected_bucket_owner(owner)
    }};
}

impl PolicyStore for S3Store {
    async fn get_policy(&self, bucket: &str) -> Result<Option<String>, PortError> {
        match on_bucket!(self, bucket, get_bucket_policy).send().await {
            Ok(out) => Ok(out.policy),
            Err(e) if code_of(&e) == Some("NoSuchBucketPolicy") => Ok(None),
            Err(e) => Err(classify_error("GetBucketPolicy", e)),
        }
    }

    async fn put_policy(&self, bucket: &str, policy: &str) -> Result<(), PortError> {
        on_bucket!(self, bucket, put_bucket_policy).policy(policy).send().await.done("PutBucketPolicy")
    }

    async fn block_public_access(&self, bucket: &str) -> Result<(), PortError> {
        let all_on = PublicAccessBlockConfiguration::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        on_bucket!(self, bucket, put_public_access_block)
            .public_access_block_configuration(all_on)
            .send()
            .await
            .done("PutPublicAccessBlock")
    }
}

/// The heartbeat's client settings: its application name in the user agent, which CloudTrail
/// records, so that the heartbeat's calls are told from the enforcer's own.
fn heartbeat_agent() -> Result<aws_sdk_s3::config::Builder, PortError> {
    let name = aws_sdk_s3::config::AppName::new(breakglass_core::trail::heartbeat::AGENT)
        .map_err(|e| PortError::Refused(format!("heartbeat app name: {e}")))?;
    Ok(aws_sdk_s3::config::Builder::default().app_name(name))
}

impl Canary for S3Store {
    async fn beat_policy(&self, bucket: &str, policy: &str) -> Result<(), PortError> {
        on_bucket!(self, bucket, put_bucket_policy)
            .policy(policy)
            .customize()
            .config_override(heartbeat_agent()?)
            .send()
            .await
            .done("PutBucketPolicy")
    }

    async fn refused_read(&self, bucket: &str, key: &str) -> Result<bool, PortError> {
        let answer = on_bucket!(self, bucket, get_object)
            .key(key)
            .customize()
            .config_override(heartbeat_agent()?)
            .send()
            .await;
        // Only the policy's refusal is a refusal: another 403 (a bad signature, a skewed clock) or a
        // failure to reach the bucket proves nothing either way, and is an error, not a verdict.
        let status = |e: &SdkError<aws_sdk_s3::operation::get_object::GetObjectError, HttpResponse>| {
            e.raw_response().map(|r| r.status().as_u16())
        };
        match answer {
            Ok(_) => Ok(false),
            Err(e) => match (code_of(&e), status(&e)) {
                (Some("AccessDenied"), _) | (None, Some(403)) => Ok(true),
                // Answered, and let through: no such key behind a policy that did not refuse it.
                (Some("NoSuchKey"), _) | (None, Some(404)) => Ok(false),
                _ => Err(classify_error("GetObject", e)),
            },
        }
    }
}

/// The body of a response the SDK could not deserialize. moto (the local AWS of the tests) names the
/// root element of some S3 answers after the operation (`GetBucketVersioningResponse`) where S3 says
/// `VersioningConfiguration`; the SDK rejects the root, the elements inside are the same. For the
/// three settings the sentinel reads, the adapter then reads those elements itself.
fn unparsed_body<E>(e: &SdkError<E, HttpResponse>) -> Option<String> {
    let raw = e.raw_response().filter(|r| r.status().is_success())?;
    raw.body().bytes().map(|b| String::from_utf8_lossy(b).into_owned())
}

/// The text of every `<tag>…</tag>` in `xml`, in order (no nesting of the same tag in the answers
/// read this way).
fn xml_all<'x>(xml: &'x str, tag: &str) -> Vec<&'x str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some((_, after)) = rest.split_once(open.as_str()) {
        let Some((inner, tail)) = after.split_once(close.as_str()) else { break };
        out.push(inner);
        rest = tail;
    }
    out
}

fn xml_first<'x>(xml: &'x str, tag: &str) -> Option<&'x str> {
    xml_all(xml, tag).into_iter().next()
}

fn lifecycle_from_xml(xml: &str) -> Vec<LifecycleRule> {
    xml_all(xml, "Rule")
        .into_iter()
        .map(|r| LifecycleRule {
            id: xml_first(r, "ID").map(str::to_owned),
            enabled: xml_first(r, "Status") == Some("Enabled"),
            expiration_days: xml_first(r, "Expiration")
                .and_then(|x| xml_first(x, "Days"))
                .and_then(|d| d.parse().ok()),
            expiration_date: xml_first(r, "Expiration").and_then(|x| xml_first(x, "Date")).map(str::to_owned),
            noncurrent_days: xml_first(r, "NoncurrentVersionExpiration")
                .and_then(|x| xml_first(x, "NoncurrentDays"))
                .and_then(|d| d.parse().ok()),
        })
        .collect()
}

impl BucketSettings for S3Store {
    async fn get_versioning(&self, bucket: &str) -> Result<Option<String>, PortError> {
        match on_bucket!(self, bucket, get_bucket_versioning).send().await {
            Ok(out) => Ok(out.status.map(|s| s.as_str().to_owned())),
            Err(e) => match unparsed_body(&e) {
                Some(xml) => Ok(xml_first(&xml, "Status").map(str::to_owned)),
                None => Err(classify_error("GetBucketVersioning", e)),
            },
        }
    }

    async fn enable_versioning(&self, bucket: &str) -> Result<(), PortError> {
        use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
        let on = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
        on_bucket!(self, bucket, put_bucket_versioning)
            .versioning_configuration(on)
            .send()
            .await
            .done("PutBucketVersioning")
    }

    async fn get_lifecycle(&self, bucket: &str) -> Result<Vec<LifecycleRule>, PortError> {
        let out = match on_bucket!(self, bucket, get_bucket_lifecycle_configuration).send().await {
            Ok(out) => out,
            Err(e) if code_of(&e) == Some("NoSuchLifecycleConfiguration") => return Ok(Vec::new()),
            Err(e) => match unparsed_body(&e) {
                Some(xml) => return Ok(lifecycle_from_xml(&xml)),
                None => return Err(classify_error("GetBucketLifecycleConfiguration", e)),
            },
        };
        Ok(out
            .rules
            .unwrap_or_default()
            .into_iter()
            .map(|r| LifecycleRule {
                id: r.id,
                enabled: r.status.as_str() == "Enabled",
                expiration_days: r.expiration.as_ref().and_then(|x| x.days),
                expiration_date: r.expiration.as_ref().and_then(|x| x.date).map(|d| d.to_string()),
                noncurrent_days: r.noncurrent_version_expiration.and_then(|n| n.noncurrent_days),
            })
            .collect())
    }

    async fn delete_lifecycle(&self, bucket: &str) -> Result<(), PortError> {
        on_bucket!(self, bucket, delete_bucket_lifecycle).send().await.done("DeleteBucketLifecycle")
    }

    async fn get_replication(&self, bucket: &str) -> Result<Vec<String>, PortError> {
        match on_bucket!(self, bucket, get_bucket_replication).send().await {
            Ok(out) => Ok(out
                .replication_configuration
                .map(|c| c.rules.into_iter().filter_map(|r| r.destination.map(|d| d.bucket)).collect())
                .unwrap_or_default()),
            Err(e) if code_of(&e) == Some("ReplicationConfigurationNotFoundError") => Ok(Vec::new()),
            Err(e) => match unparsed_body(&e) {
                Some(xml) => Ok(xml_all(&xml, "Destination")
                    .into_iter()
                    .filter_map(|d| xml_first(d, "Bucket"))
                    .map(str::to_owned)
                    .collect()),
                None => Err(classify_error("GetBucketReplication", e)),
            },
        }
    }

    async fn delete_replication(&self, bucket: &str) -> Result<(), PortError> {
        on_bucket!(self, bucket, delete_bucket_replication).send().await.done("DeleteBucketReplication")
    }

    async fn enforce_ownership(&self, bucket: &str) -> Result<(), PortError> {
        use aws_sdk_s3::types::{ObjectOwnership, OwnershipControls, OwnershipControlsRule};
        let invalid =
            |e: aws_sdk_s3::error::BuildError| PortError::Refused(format!("PutBucketOwnershipControls: {e}"));
        let rule = OwnershipControlsRule::builder()
            .object_ownership(ObjectOwnership::BucketOwnerEnforced)
            .build()
            .map_err(invalid)?;
        let controls = OwnershipControls::builder().rules(rule).build().map_err(invalid)?;
        on_bucket!(self, bucket, put_bucket_ownership_controls)
            .ownership_controls(controls)
            .send()
            .await
            .done("PutBucketOwnershipControls")
    }

    async fn get_tags(&self, bucket: &str) -> Result<Vec<(String, String)>, PortError> {
        match on_bucket!(self, bucket, get_bucket_tagging).send().await {
            Ok(out) => Ok(out.tag_set.into_iter().map(|t| (t.key, t.value)).collect()),
            Err(e) if code_of(&e) == Some("NoSuchTagSet") => Ok(Vec::new()),
            Err(e) => Err(classify_error("GetBucketTagging", e)),
        }
    }

    async fn put_tags(&self, bucket: &str, tags: &[(String, String)]) -> Result<(), PortError> {
        use aws_sdk_s3::types::{Tag, Tagging};
        let invalid = |e: aws_sdk_s3::error::BuildError| PortError::Refused(format!("PutBucketTagging: {e}"));
        let set = tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(invalid))
            .collect::<Result<Vec<_>, _>>()?;
        let tagging = Tagging::builder().set_tag_set(Some(set)).build().map_err(invalid)?;
        on_bucket!(self, bucket, put_bucket_tagging).tagging(tagging).send().await.done("PutBucketTagging")
    }
}
