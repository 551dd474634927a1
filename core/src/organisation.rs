//! The organisation's own guards, rendered from the config: a service control policy (what nobody
//! in a logging account may do, whatever IAM allows) and a resource control policy (what nobody may
//! do to the protected buckets and investigator roles, whatever their own policies say).
//!
//! Both name the bucket prefix and role patterns with `*` for the account, never a bucket or an
//! account list, so their size grows with the distinct investigator roles and identities (and the
//! `[[service_reads]]` allow-list), not with the buckets. Each is rendered minified, exactly as it is to be uploaded, and refused when it is
//! over AWS's limit for its kind (5,120 characters for SCPs and RCPs, counted as uploaded).

use std::collections::BTreeSet;

use breakglass_config::Config;
use canonical_policies::{read_services, service_read_denies, Arn, OBJECT_READ_ACTIONS, SERVICE_NAME_KEY};
use serde_json::{json, Value};

use crate::guarded::{GuardedCall, Target};

/// AWS Organizations: the maximum size of a service control policy, in characters as uploaded.
pub const SCP_LIMIT: usize = 5120;
/// AWS Organizations: the maximum size of a resource control policy, in characters as uploaded.
pub const RCP_LIMIT: usize = 5120;

/// The role that deploys breakglass (stacks and StackSets); the only one that may change its parts.
pub const DEPLOYMENT_ROLE: &str = "breakglass-deployment";
/// The member stack's forwarding role and rule names (organisation/member.yaml).
pub const FORWARDER_ROLE: &str = "breakglass-forwarder";
pub const FORWARD_RULES: &str = "breakglass-forward-";

/// IAM calls that change a role: denied on breakglass's and the investigators' roles.
const ROLE_CHANGES: [&str; 12] = [
    "iam:AttachRolePolicy",
    "iam:DeleteRole",
    "iam:DeleteRolePermissionsBoundary",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
];

/// IAM calls by which someone else becomes an IAM user (password, MFA, permissions, groups): denied
/// on the users an investigator role trusts (`assumable_by`), as [`ROLE_CHANGES`] on its roles.
pub const USER_TAKEOVER: [&str; 8] = [
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:DeactivateMFADevice",
    "iam:PutUserPolicy",
    "iam:AttachUserPolicy",
    "iam:AddUserToGroup",
    "iam:PutUserPermissionsBoundary",
    "iam:DeleteUserPermissionsBoundary",
];

/// A user's own credentials: denied on a door user to everyone but the user (who rotates their own
/// keys) and the deployment.
pub const USER_CREDENTIALS: [&str; 4] = [
    "iam:CreateAccessKey",
    "iam:UpdateAccessKey",
    "iam:CreateServiceSpecificCredential",
    "iam:UploadSSHPublicKey",
];

/// KMS calls that destroy or open a log key: denied on the configured `kms_key`s (organisation
/// SCP) and on keys tagged `breakglass-logs=true` (single-account SCP).
pub const LOG_KEY_CHANGES: [&str; 8] = [
    "kms:ScheduleKeyDeletion",
    "kms:DisableKey",
    "kms:PutKeyPolicy",
    "kms:CreateGrant",
    "kms:DeleteImportedKeyMaterial",
    // Key material re-imported with an expiry, or a multi-Region key's primary moved away.
    "kms:ImportKeyMaterial",
    "kms:UpdatePrimaryRegion",
    "kms:ReplicateKey",
];

/// The two policies, each minified as it is to be uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgPolicies {
    pub scp: String,
    pub rcp: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OrgPolicyError {
    #[error("the config has no `[organisation]` table: SCP and RCP are rendered in organisation mode only")]
    NotOrganisation,
    #[error("no `[[investigator]]` says who may assume the investigator roles: the RCP would deny everyone")]
    NoInvestigatorIdentities,
    #[error("the `[[service_reads]]` statements are not valid json")]
    ServiceReads,
    #[error("the rendered {kind} is {size} characters as uploaded, over AWS's limit of {limit}: use fewer distinct investigator roles or identities (for example one role name in every account) or fewer `[[service_reads]]`")]
    TooLarge { kind: &'static str, size: usize, limit: usize },
}

/// `arn:aws:iam::111100000000:role/investigations/LogInvestigator` → the same with `*` as the
/// account: one pattern for the role of that name in every logging account.
fn any_account(arn: &str) -> String {
    match Arn::parse(arn) {
        Ok(a) => Arn { account: "*", ..a }.to_string(),
        Err(_) => arn.to_owned(),
    }
}

/// The principals a trust entry admits, as an `aws:PrincipalArn` pattern: an account's root stands
/// for every principal of that account.
fn principal_pattern(arn: &str) -> String {
    match arn.strip_suffix(":root") {
        Some(account) => format!("{account}:*"),
        None => arn.to_owned(),
    }
}

fn one_or_many(items: Vec<String>) -> Value {
    match items.as_slice() {
        [one] => json!(one),
        _ => json!(items),
    }
}

/// Renders the SCP and the RCP for `config`, refusing one over its size limit.
pub fn render(config: &Config) -> Result<OrgPolicies, OrgPolicyError> {
    let org = config.organisation.as_ref().ok_or(OrgPolicyError::NotOrganisation)?;
    let partition = config.buckets.first().map_or_else(|| "aws".to_owned(), |b| b.partition.to_string());
    let p = partition.as_str();
    let buckets = format!("arn:{p}:s3:::{}*", org.bucket_prefix);
    let objects = format!("{buckets}/*");
    let member = format!("arn:{p}:iam::*:role/{}", org.member_role);
    let deployment = format!("arn:{p}:iam::*:role/{DEPLOYMENT_ROLE}");
    // Service-managed StackSets act in member accounts through this role.
    let stacksets = format!("arn:{p}:iam::*:role/stacksets-exec-*");

    let bucket_actions: BTreeSet<&str> = GuardedCall::ALL
        .iter()
        .filter(|c| c.target() == Target::Bucket && !c.on_access_point())
        .flat_map(|c| c.actions().iter().copied())
        // S3 Control's tagging of buckets (ABAC): the same tags by another door.
        .chain(["s3:TagResource", "s3:UntagResource"])
        .collect();
    let access_point_actions: Vec<&str> = GuardedCall::ALL
        .iter()
        .filter(|c| c.on_access_point())
        .flat_map(|c| c.actions().iter().copied())
        .collect();
    let investigators: BTreeSet<String> =
        config.buckets.iter().flat_map(|b| b.investigator_roles.iter().map(|r| any_account(r))).collect();
    let identities: BTreeSet<String> = config
        .investigators
        .iter()
        .flat_map(|i| i.assumable_by.iter().map(|a| principal_pattern(a)))
        .collect();
    if identities.is_empty() {
        return Err(OrgPolicyError::NoInvestigatorIdentities);
    }
    let investigator_list: Vec<String> = investigators.into_iter().collect();

    let mut scp = json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "BreakglassBucketSettingsOnlyByBreakglass",
                "Effect": "Deny",
                "Action": bucket_actions.iter().collect::<Vec<_>>(),
                "Resource": buckets,
                // The member role restores; the deployers create new log buckets (Object Lock at
                // CreateBucket needs s3:PutBucketVersioning, tags at CreateBucket s3:TagResource).
                // Whatever they set is a guarded call: seen, and reverted where unlawful.
                "Condition": { "ArnNotLike": { "aws:PrincipalArn": [&member, &deployment, &stacksets] } }
            },
            {
                // IAM names the access point, not its bucket: no access points in a logging account.
                "Sid": "BreakglassNoAccessPoints",
                "Effect": "Deny",
                "Action": access_point_actions,
                "Resource": format!("arn:{p}:s3:*:*:accesspoint/*"),
                "Condition": { "ArnNotLike": { "aws:PrincipalArn": [&deployment, &stacksets] } }
            },
            {
                "Sid": "BreakglassMemberStackOnlyByDeployment",
                "Effect": "Deny",
                // PassRole: an insider's own rule or function must not borrow the forwarder.
                // CreateRole: the deployers' names are reserved, or an insider would mint a role
                // the conditions here exempt (`stacksets-exec-mine`) or take over AWS's one.
                "Action": ROLE_CHANGES.iter().copied().chain([
                    "iam:CreateRole", "iam:PassRole",
                    "events:DeleteRule", "events:DisableRule", "events:PutRule", "events:PutTargets", "events:RemoveTargets",
                    "cloudformation:DeleteStack", "cloudformation:UpdateStack",
                ]).collect::<Vec<_>>(),
                "Resource": [
                    &member,
                    format!("arn:{p}:iam::*:role/{}", org.reader_role()),
                    format!("arn:{p}:iam::*:role/{FORWARDER_ROLE}"),
                    &deployment,
                    &stacksets,
                    format!("arn:{p}:events:*:*:rule/{FORWARD_RULES}*"),
                    format!("arn:{p}:cloudformation:*:*:stack/StackSet-breakglass-*"),
                ],
                "Condition": { "ArnNotLike": { "aws:PrincipalArn": [&deployment, &stacksets] } }
            },
            {
                // Nobody destroys a log object, not even the roles exempted above: the member
                // role, the deployers and StackSets' execution roles, which an insider of the
                // administrative account may reach. Retention is the buckets' lifecycle rules
                // (S3 itself, which no SCP binds).
                "Sid": "BreakglassLogsAreNeverDestroyed",
                "Effect": "Deny",
                "Action": ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"],
                "Resource": &objects
            },
            {
                "Sid": "BreakglassInvestigatorRolesOnlyByBreakglass",
                "Effect": "Deny",
                "Action": ROLE_CHANGES.iter().copied().chain(["iam:CreateRole"]).collect::<Vec<_>>(),
                "Resource": one_or_many(investigator_list.clone()),
                "Condition": { "ArnNotLike": { "aws:PrincipalArn": [member, deployment] } }
            }
        ]
    });
    // The doors to the investigator roles (`assumable_by`): whoever becomes one of these roles or
    // users reads in the next lawful window. Only the administrative account's deployment changes
    // them (or they leave `assumable_by` first, a two-person config change); an account root
    // (`:root`) names every principal of its account and is the account's own to keep.
    let doors: Vec<String> = config
        .investigators
        .iter()
        .flat_map(|i| i.assumable_by.iter())
        .filter(|a| a.contains(":role/") || a.contains(":user/"))
        .cloned()
        .collect::<BTreeSet<String>>()
        .into_iter()
        .collect();
    // Only the administrative account's deployment role is exempt: a role of that name elsewhere
    // could be minted by StackSets' execution roles, which this SCP lets create it.
    let admin_deployment = format!("arn:{p}:iam::{}:role/{DEPLOYMENT_ROLE}", org.admin_account);
    let (door_roles, door_users): (Vec<String>, Vec<String>) =
        doors.into_iter().partition(|d| d.contains(":role/"));
    let mut door_statements = Vec::new();
    if !door_roles.is_empty() {
        door_statements.push(json!({
            "Sid": "BreakglassInvestigatorDoorsKept",
            "Effect": "Deny",
            "Action": ROLE_CHANGES.iter().copied().chain(["iam:CreateRole"]).collect::<Vec<_>>(),
            "Resource": one_or_many(door_roles),
            "Condition": { "ArnNotLike": { "aws:PrincipalArn": &admin_deployment } }
        }));
    }
    if !door_users.is_empty() {
        door_statements.push(json!({
            "Sid": "BreakglassInvestigatorUsersKept",
            "Effect": "Deny",
            "Action": USER_TAKEOVER,
            "Resource": one_or_many(door_users.clone()),
            "Condition": { "ArnNotLike": { "aws:PrincipalArn": &admin_deployment } }
        }));
        // Keys: the user's own to rotate, nobody else's to mint (one statement a user).
        for (n, user) in door_users.iter().enumerate() {
            door_statements.push(json!({
                "Sid": format!("BreakglassInvestigatorUserKeys{n}"),
                "Effect": "Deny",
                "Action": USER_CREDENTIALS,
                "Resource": user,
                "Condition": { "ArnNotLike": { "aws:PrincipalArn": [&admin_deployment, user] } }
            }));
        }
    }
    if let Some(statements) = scp.get_mut("Statement").and_then(Value::as_array_mut) {
        statements.extend(door_statements);
    }
    // The logs' own keys (`kms_key`): disabling one, scheduling its deletion, replacing its policy
    // or granting it away destroys or opens the logs it encrypts (crypto-shredding).
    let log_keys: BTreeSet<&str> = config.buckets.iter().filter_map(|b| b.kms_key.as_deref()).collect();
    if !log_keys.is_empty() {
        if let Some(statements) = scp.get_mut("Statement").and_then(Value::as_array_mut) {
            statements.push(json!({
                "Sid": "BreakglassLogKeysKept",
                "Effect": "Deny",
                "Action": LOG_KEY_CHANGES,
                "Resource": one_or_many(log_keys.iter().map(|k| (*k).to_owned()).collect()),
                "Condition": { "ArnNotLike": { "aws:PrincipalArn": &deployment } }
            }));
        }
    }
    // AWS services are denied the reads like everyone else (a bucket policy could grant one, with a
    // source anywhere), except those `[[service_reads]]` lists, each for its sources only: the same
    // statements as the templates'.
    let mut reads_condition = serde_json::Map::new();
    reads_condition
        .insert("ArnNotLike".into(), json!({ "aws:PrincipalArn": one_or_many(investigator_list.clone()) }));
    let services: Vec<String> = read_services(&config.service_reads).into_iter().collect();
    if !services.is_empty() {
        reads_condition
            .insert("StringNotEqualsIfExists".into(), json!({ SERVICE_NAME_KEY: one_or_many(services) }));
    }
    let service_denies = service_read_denies(&config.service_reads, &objects, "BreakglassServiceReads")
        .iter()
        .map(|s| serde_json::from_str::<Value>(&s.to_text()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| OrgPolicyError::ServiceReads)?;
    let rcp_statements: Vec<Value> = [
        json!({
            "Sid": "BreakglassObjectReadsOnlyByInvestigators",
            "Effect": "Deny",
            "Principal": "*",
            "Action": OBJECT_READ_ACTIONS,
            "Resource": objects,
            "Condition": reads_condition
        }),
        json!({
            "Sid": "BreakglassInvestigatorsOnlyByConfiguredIdentities",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"],
            "Resource": one_or_many(investigator_list),
            "Condition": {
                "ArnNotLike": { "aws:PrincipalArn": one_or_many(identities.into_iter().collect()) },
                "BoolIfExists": { "aws:PrincipalIsAWSService": "false" }
            }
        }),
    ]
    .into_iter()
    .chain(service_denies)
    .collect();
    let rcp = json!({ "Version": "2012-10-17", "Statement": rcp_statements });
    let (scp, rcp) = (scp.to_string(), rcp.to_string());
    for (kind, text, limit) in [("SCP", &scp, SCP_LIMIT), ("RCP", &rcp, RCP_LIMIT)] {
        let size = text.chars().count();
        if size > limit {
            return Err(OrgPolicyError::TooLarge { kind, size, limit });
        }
    }
    Ok(OrgPolicies { scp, rcp })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_patterns() {
        assert_eq!(
            any_account("arn:aws:iam::111100000000:role/investigations/LogInvestigator"),
            "arn:aws:iam::*:role/investigations/LogInvestigator"
        );
        assert_eq!(principal_pattern("arn:aws:iam::444455556666:root"), "arn:aws:iam::444455556666:*");
        assert_eq!(principal_pattern("arn:aws:iam::444455556666:role/A"), "arn:aws:iam::444455556666:role/A");
    }
}
