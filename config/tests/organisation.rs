//! Organisation mode in the config: accounts, Regions, placeholders, and the bad inputs that must be
//! refused with one line naming the culprit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use breakglass_config::{Config, ConfigError};

fn example() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/organisation.toml")).unwrap()
}

fn error_of(text: &str) -> String {
    Config::from_toml(text).unwrap_err().to_string()
}

#[test]
fn example_org_config_loads_with_placeholders_filled_per_account() {
    let config = Config::from_toml(&example()).unwrap();
    let org = config.organisation.as_ref().unwrap();
    assert_eq!((org.admin_account.as_str(), org.member_role.as_str()), ("999900000000", "breakglass-member"));
    assert_eq!(config.accounts.len(), 3);
    let dev = config.bucket("acme-dev-cloudtrail-logs").unwrap();
    assert_eq!(dev.region.as_deref(), Some("eu-central-1"));
    assert!(dev.automation_principals.contains("arn:aws:iam::222200000000:role/breakglass-member"));
    assert!(dev.investigator_roles.contains("arn:aws:iam::222200000000:role/investigations/LogInvestigator"));
    let prod = config.bucket("acme-prod-cloudtrail-logs").unwrap();
    assert!(prod.automation_principals.contains("arn:aws:iam::111100000000:role/breakglass-member"));
    // The rendered ClosedAccess names the bucket's own member role, nobody else's.
    let closed = prod.closed_policy().to_pretty_json();
    assert!(closed.contains("111100000000:role/breakglass-member"), "{closed}");
    assert!(!closed.contains("222200000000"), "{closed}");
    assert_eq!(config.account_label("111100000000"), "logging-prod (111100000000)");
}

#[test]
fn an_account_listed_twice_is_refused() {
    let text = example().replacen("id = \"222200000000\"", "id = \"111100000000\"", 1);
    assert_eq!(error_of(&text), "account `111100000000` is listed twice in `[[account]]`");
}

#[test]
fn a_bucket_in_two_accounts_is_refused() {
    let text = format!(
        "{}\n[[bucket]]\nname = \"acme-dev-cloudtrail-logs\"\naccount = \"333300000000\"\nregion = \"eu-west-1\"\n",
        example()
    );
    assert_eq!(
        error_of(&text),
        "bucket `acme-dev-cloudtrail-logs` is configured in account `222200000000` and in account `333300000000`"
    );
}

#[test]
fn an_unknown_placeholder_is_refused_not_left_as_text() {
    let text =
        example().replace("role/investigations/LogInvestigator\"]", "role/{{acount}}/LogInvestigator\"]");
    let e = error_of(&text);
    assert!(e.starts_with("bucket `acme-prod-cloudtrail-logs`: `investigator_roles`"), "{e}");
    assert!(e.contains("unknown placeholder `{{acount}}`"), "{e}");
    assert_eq!(e.lines().count(), 1);
}

#[test]
fn a_bucket_in_an_unlisted_account_or_region_is_refused() {
    let text = example().replace("account = \"333300000000\"\nregion", "account = \"444400000000\"\nregion");
    assert_eq!(
        error_of(&text),
        "bucket `acme-ireland-alb-logs`: invalid `account` `444400000000`: not an `[[account]]` of the organisation"
    );
    let text = example().replace(
        "account = \"222200000000\"\nregion = \"eu-central-1\"",
        "account = \"222200000000\"\nregion = \"eu-west-1\"",
    );
    assert_eq!(
        error_of(&text),
        "bucket `acme-dev-cloudtrail-logs`: invalid `region` `eu-west-1`: not a region of the bucket's `[[account]]`"
    );
    let text = example()
        .replace("account = \"222200000000\"\nregion = \"eu-central-1\"\n", "account = \"222200000000\"\n");
    assert!(matches!(Config::from_toml(&text), Err(ConfigError::Missing { field: "region", .. })));
}

#[test]
fn organisation_fields_are_checked() {
    let text = example().replace("id = \"o-exampleorg1\"", "id = \"org-1\"");
    assert!(error_of(&text).starts_with("[organisation]: invalid `id` `org-1`"));
    let text = example().replace("home_region = \"eu-central-1\"", "home_region = \"Frankfurt\"");
    assert!(error_of(&text).starts_with("[organisation]: invalid `home_region` `Frankfurt`"));
    let text = example().replace("regions = [\"eu-central-1\"]", "regions = []");
    assert!(error_of(&text).starts_with("[[account]]: invalid `regions`"));
    let text = example().replace("bucket_prefix = \"acme-\"", "bucket_prefix = \"a\"");
    assert!(error_of(&text).starts_with("[organisation]: invalid `bucket_prefix` `a`"));
}

/// The member role, the SCP and the RCP cover buckets by prefix: a bucket outside it is refused.
#[test]
fn a_bucket_outside_the_prefix_is_refused() {
    let text = example().replace("name = \"acme-dev-cloudtrail-logs\"", "name = \"dev-cloudtrail-logs\"");
    assert_eq!(
        error_of(&text),
        "bucket `dev-cloudtrail-logs`: invalid `name` `dev-cloudtrail-logs`: does not start with `[organisation] bucket_prefix`: the member role, SCP and RCP would not cover it"
    );
}

#[test]
fn accounts_without_organisation_are_refused() {
    let single =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/breakglass.toml")).unwrap();
    let text = format!("{single}\n[[account]]\nid = \"111122223333\"\nregions = [\"eu-central-1\"]\n");
    assert!(error_of(&text).contains("accounts are listed only in organisation mode"));
    // Single-account mode needs no Region and no account list.
    let config = Config::from_toml(&single).unwrap();
    assert!(config.organisation.is_none() && config.accounts.is_empty());
}

/// Accounts selected by OU: a bucket of an account not listed by ID is accepted when an `[[ou]]`
/// has its Region (config push checks the membership with AWS Organizations).
#[test]
fn accounts_may_be_selected_by_ou() {
    let with_ou = |ou: &str| {
        example().replace(
            "[[account]]\nid = \"333300000000\"\nalias = \"logging-ireland\"\nregions = [\"eu-west-1\"]\n",
            ou,
        )
    };
    let text = with_ou("[[ou]]\nid = \"ou-ab12-cd34ef56\"\nregions = [\"eu-west-1\"]\n");
    let config = Config::from_toml(&text).unwrap();
    assert_eq!(config.ous.len(), 1);
    assert!(config.account("333300000000").is_none());
    // An OU without the bucket's Region does not cover it.
    let text = with_ou("[[ou]]\nid = \"ou-ab12-cd34ef56\"\nregions = [\"us-east-1\"]\n");
    assert_eq!(
        error_of(&text),
        "bucket `acme-ireland-alb-logs`: invalid `account` `333300000000`: not an `[[account]]`, and no `[[ou]]` has the bucket's region"
    );
    let text = with_ou("[[ou]]\nid = \"r-ab12\"\nregions = [\"eu-west-1\"]\n");
    assert!(error_of(&text).starts_with("[[ou]]: invalid `id` `r-ab12`"), "{}", error_of(&text));
    let single =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/breakglass.toml")).unwrap();
    let text = format!("{single}\n[[ou]]\nid = \"ou-ab12-cd34ef56\"\nregions = [\"eu-central-1\"]\n");
    assert!(error_of(&text).contains("organizational units are listed only in organisation mode"));
}
