//! The Content Hub's domain: no I/O, no async, no database. Everything here is data and pure
//! functions, tested exhaustively, so that the service layers only orchestrate.

pub mod access;
pub mod catalogue;
pub mod history;
pub mod metadata;
/// The delivery naming rule, shared with npack: one rule for the packager and the hub.
pub use delivery_names as names;
pub mod state;

/// The longest file name a delivery takes, in bytes: what filesystems allow, and what keeps a
/// stored key within bounds.
pub const MAX_NAME_BYTES: usize = 255;

pub use access::{Action, Decision, Membership, Principal, Role, TokenScope};
pub use catalogue::{BucketKind, FieldDef, FieldKind};
pub use history::{Check, HistoryAction};
pub use metadata::{FieldError, Metadata};
pub use state::{AssetEvent, AssetState, DeliveryState, RequestEvent, RequestState, TransitionError};
