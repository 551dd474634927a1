//! Every call breakglass watches, in one list. The template's event rules, the SCP, the tests and
//! `docs/threat-model.md` are checked against [`GuardedCall::ALL`], so a call cannot be half-added:
//! a new variant does not compile until the enforcer and the notifier say what they do with it.

/// What a guarded call acts on, and so where breakglass finds the name to check in the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// A protected bucket (`requestParameters.bucketName`).
    Bucket,
    /// An IAM role (`requestParameters.roleName`): the investigator roles and breakglass's own.
    Role,
    /// A KMS key or alias (`keyId`, `aliasName`, `targetKeyId`): breakglass's key.
    Key,
    /// An SNS topic or subscription (`topicArn`, `subscriptionArn`, `resourceArn`): breakglass's topics.
    Topic,
    /// A Lambda function given an execution role (`role`): breakglass's roles must not be borrowed.
    FunctionRole,
    /// A CloudFormation stack given a service role (`roleARN`): the deployment role must not be borrowed.
    StackRole,
    /// A CloudTrail trail (`name`, `trailName`): the trail that records who read the logs.
    Trail,
}

/// What breakglass does when the call succeeded on something it guards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Response {
    /// Puts the bucket's lawful state back (policy, versioning, lifecycle, replication, ownership,
    /// public-access block, the discovery tag) and alerts.
    Revert,
    /// Puts an investigator role's configured trust policy back and alerts.
    RevertTrust,
    /// Cannot be undone by breakglass: alerts the security team at once.
    Alert,
}

macro_rules! guarded_calls {
    ($($variant:ident = $event:literal, $source:literal, $target:ident, $response:ident, [$($action:literal),+], $threat:literal;)+) => {
        /// A call breakglass guards: a CloudTrail `eventName` of one event source.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum GuardedCall { $($variant),+ }

        impl GuardedCall {
            pub const ALL: &'static [GuardedCall] = &[$(GuardedCall::$variant),+];

            /// CloudTrail's `eventName`.
            pub fn name(self) -> &'static str {
                match self { $(GuardedCall::$variant => $event),+ }
            }

            /// CloudTrail's `eventSource`.
            pub fn source(self) -> &'static str {
                match self { $(GuardedCall::$variant => $source),+ }
            }

            pub fn target(self) -> Target {
                match self { $(GuardedCall::$variant => Target::$target),+ }
            }

            pub fn response(self) -> Response {
                match self { $(GuardedCall::$variant => Response::$response),+ }
            }

            /// The IAM actions that make this call: what the SCP denies.
            pub fn actions(self) -> &'static [&'static str] {
                match self { $(GuardedCall::$variant => &[$($action),+]),+ }
            }

            /// What an insider gains by it, in words for a mail and the threat model.
            pub fn threat(self) -> &'static str {
                match self { $(GuardedCall::$variant => $threat),+ }
            }
        }
    };
}

guarded_calls! {
    PutBucketPolicy = "PutBucketPolicy", "s3.amazonaws.com", Bucket, Revert, ["s3:PutBucketPolicy"],
        "open the logs to anyone by replacing the bucket policy";
    DeleteBucketPolicy = "DeleteBucketPolicy", "s3.amazonaws.com", Bucket, Revert, ["s3:DeleteBucketPolicy"],
        "remove ClosedAccess, so that identity policies alone decide who reads the logs";
    PutBucketAcl = "PutBucketAcl", "s3.amazonaws.com", Bucket, Alert, ["s3:PutBucketAcl"],
        "open the bucket to listing and writing through its ACL (ClosedAccess's deny still outranks an ACL's grant of reading objects)";
    PutBucketPublicAccessBlock = "PutBucketPublicAccessBlock", "s3.amazonaws.com", Bucket, Revert, ["s3:PutBucketPublicAccessBlock"],
        "allow public policies and ACLs";
    DeleteBucketPublicAccessBlock = "DeleteBucketPublicAccessBlock", "s3.amazonaws.com", Bucket, Revert, ["s3:PutBucketPublicAccessBlock"],
        "allow public policies and ACLs";
    PutBucketOwnershipControls = "PutBucketOwnershipControls", "s3.amazonaws.com", Bucket, Revert, ["s3:PutBucketOwnershipControls"],
        "turn ACLs back on";
    DeleteBucketOwnershipControls = "DeleteBucketOwnershipControls", "s3.amazonaws.com", Bucket, Revert, ["s3:PutBucketOwnershipControls"],
        "turn ACLs back on";
    PutBucketLifecycle = "PutBucketLifecycle", "s3.amazonaws.com", Bucket, Revert, ["s3:PutLifecycleConfiguration"],
        "destroy the logs by a lifecycle rule that expires objects or their versions";
    DeleteBucketLifecycle = "DeleteBucketLifecycle", "s3.amazonaws.com", Bucket, Alert, ["s3:PutLifecycleConfiguration"],
        "remove the lifecycle rules (retention transitions no longer apply)";
    PutBucketVersioning = "PutBucketVersioning", "s3.amazonaws.com", Bucket, Revert, ["s3:PutBucketVersioning"],
        "suspend versioning, so that overwrites and deletes destroy the logs";
    PutBucketEncryption = "PutBucketEncryption", "s3.amazonaws.com", Bucket, Alert, ["s3:PutEncryptionConfiguration"],
        "re-point default encryption to a key someone else controls";
    DeleteBucketEncryption = "DeleteBucketEncryption", "s3.amazonaws.com", Bucket, Alert, ["s3:PutEncryptionConfiguration"],
        "drop the logs' own KMS key from default encryption";
    PutBucketReplication = "PutBucketReplication", "s3.amazonaws.com", Bucket, Revert, ["s3:PutReplicationConfiguration"],
        "copy every log object to a bucket someone else can read";
    PutBucketNotification = "PutBucketNotification", "s3.amazonaws.com", Bucket, Alert, ["s3:PutBucketNotification"],
        "learn every new object's key, or trigger code on it";
    PutBucketInventoryConfiguration = "PutBucketInventoryConfiguration", "s3.amazonaws.com", Bucket, Alert, ["s3:PutInventoryConfiguration"],
        "export the list of log objects to another bucket";
    DeleteBucket = "DeleteBucket", "s3.amazonaws.com", Bucket, Alert, ["s3:DeleteBucket"],
        "delete the bucket once it is empty";
    PutBucketTagging = "PutBucketTagging", "s3.amazonaws.com", Bucket, Revert, ["s3:PutBucketTagging"],
        "remove the tag that marks a log bucket for discovery, or change tags that decide access under ABAC";
    DeleteBucketTagging = "DeleteBucketTagging", "s3.amazonaws.com", Bucket, Revert, ["s3:PutBucketTagging"],
        "remove the tag that marks a log bucket for discovery, or tags that decide access under ABAC";
    PutObjectLockConfiguration = "PutObjectLockConfiguration", "s3.amazonaws.com", Bucket, Alert, ["s3:PutBucketObjectLockConfiguration"],
        "shorten or remove the default retention that keeps new logs from being deleted";
    PutBucketLogging = "PutBucketLogging", "s3.amazonaws.com", Bucket, Alert, ["s3:PutBucketLogging"],
        "switch off or redirect the bucket's server access log, a second record of who read the logs";
    PutBucketIntelligentTieringConfiguration = "PutBucketIntelligentTieringConfiguration", "s3.amazonaws.com", Bucket, Alert, ["s3:PutIntelligentTieringConfiguration"],
        "move the logs into archive tiers that must be restored before anyone can read them";
    DeleteBucketIntelligentTieringConfiguration = "DeleteBucketIntelligentTieringConfiguration", "s3.amazonaws.com", Bucket, Alert, ["s3:PutIntelligentTieringConfiguration"],
        "change which logs are archived, with a view to archiving them elsewhere";
    // S3 Control: the bucket is in `CreateAccessPointRequest.Bucket`; the IAM resource is the access point.
    CreateAccessPoint = "CreateAccessPoint", "s3.amazonaws.com", Bucket, Alert, ["s3:CreateAccessPoint"],
        "open a second door into the bucket, under an alias and with a policy of its own";

    UpdateAssumeRolePolicy = "UpdateAssumeRolePolicy", "iam.amazonaws.com", Role, RevertTrust, ["iam:UpdateAssumeRolePolicy"],
        "take over an investigator role, then read during a lawful window";
    CreateRole = "CreateRole", "iam.amazonaws.com", Role, RevertTrust, ["iam:CreateRole"],
        "recreate a deleted investigator role with a trust policy of the insider's";
    DeleteRole = "DeleteRole", "iam.amazonaws.com", Role, Alert, ["iam:DeleteRole"],
        "delete an investigator or breakglass role to recreate it";
    PutRolePolicy = "PutRolePolicy", "iam.amazonaws.com", Role, Alert, ["iam:PutRolePolicy"],
        "give an investigator or breakglass role more permissions";
    AttachRolePolicy = "AttachRolePolicy", "iam.amazonaws.com", Role, Alert, ["iam:AttachRolePolicy"],
        "give an investigator or breakglass role more permissions";
    PutRolePermissionsBoundary = "PutRolePermissionsBoundary", "iam.amazonaws.com", Role, Alert, ["iam:PutRolePermissionsBoundary"],
        "change what an investigator or breakglass role may do";
    DeleteRolePermissionsBoundary = "DeleteRolePermissionsBoundary", "iam.amazonaws.com", Role, Alert, ["iam:DeleteRolePermissionsBoundary"],
        "change what an investigator or breakglass role may do";

    DisableKey = "DisableKey", "kms.amazonaws.com", Key, Alert, ["kms:DisableKey"],
        "stop the functions, the audit trail and the mails by disabling their key";
    ScheduleKeyDeletion = "ScheduleKeyDeletion", "kms.amazonaws.com", Key, Alert, ["kms:ScheduleKeyDeletion"],
        "destroy the key of the audit trail and the mails";
    PutKeyPolicy = "PutKeyPolicy", "kms.amazonaws.com", Key, Alert, ["kms:PutKeyPolicy"],
        "lock breakglass out of its own key";
    DeleteAlias = "DeleteAlias", "kms.amazonaws.com", Key, Alert, ["kms:DeleteAlias"],
        "detach the key from controls written against its alias";
    UpdateAlias = "UpdateAlias", "kms.amazonaws.com", Key, Alert, ["kms:UpdateAlias"],
        "point breakglass's alias at another key";

    Unsubscribe = "Unsubscribe", "sns.amazonaws.com", Topic, Alert, ["sns:Unsubscribe"],
        "cut stakeholders or the security team off the mails";
    SetSubscriptionAttributes = "SetSubscriptionAttributes", "sns.amazonaws.com", Topic, Alert, ["sns:SetSubscriptionAttributes"],
        "silence a subscription with a filter policy that never matches";
    Subscribe = "Subscribe", "sns.amazonaws.com", Topic, Alert, ["sns:Subscribe"],
        "read every notification through an extra subscription";
    PutDataProtectionPolicy = "PutDataProtectionPolicy", "sns.amazonaws.com", Topic, Alert, ["sns:PutDataProtectionPolicy"],
        "block or mask the mails with a data-protection policy";

    CreateFunction = "CreateFunction20150331", "lambda.amazonaws.com", FunctionRole, Alert, ["lambda:CreateFunction", "iam:PassRole"],
        "run the insider's own code as a breakglass role, exempt from the guards";
    UpdateFunctionConfiguration = "UpdateFunctionConfiguration20150331v2", "lambda.amazonaws.com", FunctionRole, Alert, ["lambda:UpdateFunctionConfiguration", "iam:PassRole"],
        "give the insider's own function a breakglass role";
    CreateStack = "CreateStack", "cloudformation.amazonaws.com", StackRole, Alert, ["cloudformation:CreateStack", "iam:PassRole"],
        "let CloudFormation act as the deployment role on the insider's template";

    StopLogging = "StopLogging", "cloudtrail.amazonaws.com", Trail, Alert, ["cloudtrail:StopLogging"],
        "stop the trail of object reads, then read during a lawful window unrecorded";
    DeleteTrail = "DeleteTrail", "cloudtrail.amazonaws.com", Trail, Alert, ["cloudtrail:DeleteTrail"],
        "delete the trail of object reads, then read during a lawful window unrecorded";
    UpdateTrail = "UpdateTrail", "cloudtrail.amazonaws.com", Trail, Alert, ["cloudtrail:UpdateTrail"],
        "redirect the trail of object reads";
    PutEventSelectors = "PutEventSelectors", "cloudtrail.amazonaws.com", Trail, Alert, ["cloudtrail:PutEventSelectors"],
        "narrow the trail's selectors so that reads of the log buckets are no longer recorded";
}

impl GuardedCall {
    /// The call named `name` by CloudTrail, when `source` (if the record has one) is its source.
    pub fn from_event(source: Option<&str>, name: &str) -> Option<GuardedCall> {
        GuardedCall::ALL.iter().copied().find(|c| c.name() == name && source.is_none_or(|s| s == c.source()))
    }

    /// Whether the IAM resource of its actions is an access point (`arn:…:accesspoint/…`), not the
    /// bucket the call names: an SCP cannot deny it per bucket, only per account.
    pub fn on_access_point(self) -> bool {
        matches!(self, GuardedCall::CreateAccessPoint)
    }

    /// Whether the call changes the bucket policy (as opposed to other bucket settings).
    pub fn touches_policy(self) -> bool {
        matches!(self, GuardedCall::PutBucketPolicy | GuardedCall::DeleteBucketPolicy)
    }

    /// Whether a sweep reads back what the call changes, whatever bucket it was: the policy (the
    /// enforcer), versioning, lifecycle rules and replication (the sentinel's settings). What the
    /// others change is checked only on their event, which must name the bucket.
    pub fn swept(self) -> bool {
        matches!(
            self,
            GuardedCall::PutBucketPolicy
                | GuardedCall::DeleteBucketPolicy
                | GuardedCall::PutBucketVersioning
                | GuardedCall::PutBucketLifecycle
                | GuardedCall::DeleteBucketLifecycle
                | GuardedCall::PutBucketReplication
        )
    }

    /// The event sources, each once, in the order of [`GuardedCall::ALL`].
    pub fn sources() -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for c in GuardedCall::ALL {
            if !out.contains(&c.source()) {
                out.push(c.source());
            }
        }
        out
    }

    /// The event names of one source, in the order of [`GuardedCall::ALL`].
    pub fn names_of(source: &str) -> Vec<&'static str> {
        GuardedCall::ALL.iter().filter(|c| c.source() == source).map(|c| c.name()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_sources_are_cloudtrail_sources() {
        for (i, a) in GuardedCall::ALL.iter().enumerate() {
            assert!(a.source().ends_with(".amazonaws.com") && !a.source().contains(':'), "{a:?}");
            assert!(GuardedCall::ALL.iter().skip(i + 1).all(|b| a.name() != b.name()), "{a:?}");
            assert_eq!(GuardedCall::from_event(Some(a.source()), a.name()), Some(*a));
            assert!(a.actions().iter().all(|x| x.contains(':')), "{a:?}");
        }
        assert_eq!(GuardedCall::from_event(Some("s3.amazonaws.com"), "CreateRole"), None);
    }
}
