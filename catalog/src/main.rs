//! The Service Catalog custom-resource Lambda: opens and closes for the stacks Service Catalog
//! provisions, and always answers CloudFormation. What it does and which settings it reads:
//! [`breakglass_aws::wiring::CatalogFunction`].

use breakglass_aws::wiring::{serve, BoxError, CatalogFunction};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    serve::<CatalogFunction>().await
}
