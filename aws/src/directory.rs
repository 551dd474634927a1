//! The logging accounts' buckets, for discovery.

use breakglass_core::ports::{Directory, PortError};

use crate::errors::{classify_error, code_of};
use crate::{Accounts, Clients};

/// The logging accounts' buckets, for discovery: each account through its member role, each Region
/// with its own client (`ListBuckets` filtered by prefix and `BucketRegion`, every page).
#[derive(Debug, Clone)]
pub struct S3Directory {
    accounts: std::sync::Arc<Accounts>,
    /// With the function's own credentials, in the administrative account.
    organizations: aws_sdk_organizations::Client,
}

impl S3Directory {
    pub fn new(clients: &Clients, accounts: std::sync::Arc<Accounts>) -> Self {
        S3Directory { accounts, organizations: aws_sdk_organizations::Client::new(&clients.config) }
    }
}

impl Directory for S3Directory {
    async fn buckets(&self, account: &str, region: &str, prefix: &str) -> Result<Vec<String>, PortError> {
        let client = self.accounts.s3(account, Some(region)).await?;
        let buckets = client
            .list_buckets()
            .prefix(prefix)
            .bucket_region(region)
            .max_buckets(1000)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify_error("ListBuckets", e))?;
        Ok(buckets.into_iter().filter_map(|b| b.name).collect())
    }

    async fn tags(
        &self,
        account: &str,
        region: &str,
        bucket: &str,
    ) -> Result<Vec<(String, String)>, PortError> {
        let client = self.accounts.s3(account, Some(region)).await?;
        match client.get_bucket_tagging().bucket(bucket).expected_bucket_owner(account).send().await {
            Ok(out) => Ok(out.tag_set.into_iter().map(|t| (t.key, t.value)).collect()),
            Err(e) if code_of(&e) == Some("NoSuchTagSet") => Ok(Vec::new()),
            Err(e) => Err(classify_error("GetBucketTagging", e)),
        }
    }

    async fn ou_accounts(&self, ou: &str) -> Result<Vec<String>, PortError> {
        let all = crate::organizations::accounts_below(&self.organizations, ou).await?;
        Ok(all.into_iter().filter(|(_, active)| *active).map(|(id, _)| id).collect())
    }
}
