//! Reading what arrives: CloudTrail events and queue messages leniently ([`event`]), object reads
//! out of data events ([`reads`]), and the check that a record's account and region match the
//! bucket it names ([`route`]); the gate's calls through its function URL ([`function_url`]);
//! percent-decoding ([`url`]).

pub mod event;
pub mod function_url;
pub mod reads;
pub mod route;
pub mod url;
