//! The recorder Lambda: object reads on the protected buckets into the audit trail, and the digest of
//! refused reads. What it does and which settings it reads: [`breakglass_aws::wiring::RecorderFunction`].

use breakglass_aws::wiring::{serve, BoxError, RecorderFunction};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    serve::<RecorderFunction>().await
}
