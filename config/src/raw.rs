//! The TOML as written: every table with its optional fields, before validation.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub defaults: RawBucket,
    #[serde(default)]
    pub bucket: Vec<RawBucket>,
    pub audit: Option<RawAudit>,
    #[serde(default)]
    pub investigator: Vec<RawInvestigator>,
    pub organisation: Option<RawOrganisation>,
    pub discovery: Option<RawDiscovery>,
    #[serde(default)]
    pub account: Vec<RawAccount>,
    #[serde(default)]
    pub ou: Vec<RawOu>,
    #[serde(default)]
    pub service_reads: Vec<RawServiceRead>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServiceRead {
    pub service: String,
    pub source_arn: Option<String>,
    pub source_account: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDiscovery {
    pub tag: Option<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOu {
    pub id: String,
    pub regions: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawOrganisation {
    pub id: String,
    pub admin_account: String,
    pub home_region: String,
    pub member_role: Option<String>,
    pub bucket_prefix: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAccount {
    pub id: String,
    pub alias: Option<String>,
    pub regions: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawInvestigator {
    pub role: String,
    pub assumable_by: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAudit {
    pub bucket: String,
    pub prefix: Option<String>,
    pub retain_days: Option<u32>,
    pub mac_key: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBucket {
    pub name: Option<String>,
    pub partition: Option<String>,
    pub account: Option<String>,
    pub investigator_roles: Option<Vec<String>>,
    pub automation_principals: Option<Vec<String>>,
    pub max_open_duration: Option<String>,
    pub base_statements: Option<String>,
    pub repair_public_access_block: Option<bool>,
    pub retention_days: Option<u32>,
    pub region: Option<String>,
    pub two_person: Option<bool>,
    pub approvers: Option<Vec<String>>,
    pub request_expiry: Option<String>,
    pub kms_key: Option<String>,
}
