//! The vocabulary of an asset's or a request's history and of its validation: what happened
//! (`HistoryAction`) and which check said so (`Check`). Stored as their snake_case names.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! named {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)*
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

named! {
    /// What a history entry records.
    HistoryAction {
        ProjectCreated = "project_created",
        ProjectSettings = "project_settings",
        MemberAdded = "member_added",
        MemberChanged = "member_changed",
        MemberRemoved = "member_removed",
        RequestCreated = "request_created",
        RequestEdited = "request_edited",
        /// A request moved to another state (the detail says which and why).
        RequestState = "request_state",
        MetadataEdited = "metadata_edited",
        AssetDeleted = "asset_deleted",
        Revalidate = "revalidate",
        DeliveryCreated = "delivery_created",
        /// DELIVER: the asset's bytes are all stored.
        Delivered = "delivered",
        TransferComplete = "transfer_complete",
        TransferInterrupted = "transfer_interrupted",
        TransferError = "transfer_error",
        /// The upload expired unfinished: Failed Delivery.
        TransferFailed = "transfer_failed",
        ValidationAbandoned = "validation_abandoned",
        /// Validation decided: every check passed.
        Valid = "valid",
        /// Validation decided: a check failed (the detail lists which).
        Invalid = "invalid",
    }
}

named! {
    /// A validation check.
    Check {
        /// The bytes against the md5 the vendor declared (or the one the hub computed).
        Md5 = "md5",
        /// A frame-sequence package (a ZIP, or a zipless folder) against its checksum.txt.
        Package = "package",
        /// A proxy: H.264 video with fast start, playable in a browser.
        Proxy = "proxy",
        /// Any other movie: what it is (container, codecs, size, rate, length, timecode,
        /// sound), read from its boxes; fails only when the file is damaged.
        Media = "media",
        /// The validator itself got through the file (it did not die on it, again and again).
        Validator = "validator",
    }
}

impl HistoryAction {
    /// The verdict of a validation that ended in `state` (Valid or Invalid).
    pub fn verdict(passed: bool) -> HistoryAction {
        if passed { HistoryAction::Valid } else { HistoryAction::Invalid }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for action in HistoryAction::ALL {
            assert_eq!(HistoryAction::parse(action.as_str()), Some(*action));
            assert_eq!(serde_json::to_value(action).unwrap(), serde_json::json!(action.as_str()));
        }
        for check in Check::ALL {
            assert_eq!(Check::parse(check.as_str()), Some(*check));
            assert_eq!(serde_json::to_value(check).unwrap(), serde_json::json!(check.as_str()));
        }
        assert_eq!(HistoryAction::parse("nope"), None);
        assert!(HistoryAction::TransferComplete == "transfer_complete");
        assert_eq!(HistoryAction::verdict(true).as_str(), crate::AssetState::Valid.as_str());
        assert_eq!(HistoryAction::verdict(false).as_str(), crate::AssetState::Invalid.as_str());
    }
}
