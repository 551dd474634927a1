//! The audit trail: what is written ([`audit`]), read back as a bucket's history ([`history`]),
//! the recorder's records of object reads ([`recorder`], their shape in [`records`]), the access
//! report of a window ([`report`]), the tamper evidence of a listing of record versions
//! ([`tamper`]), the CSV auditors open ([`csv`]), the heartbeat's arrivals ([`heartbeat`]), and the
//! digests' bounded reading of their slots ([`slots`]).

pub mod audit;
pub mod csv;
pub mod heartbeat;
pub mod history;
pub mod recorder;
pub mod records;
pub mod refused;
pub mod report;
pub mod slots;
pub mod tamper;
