//! Asset and request states. Each has one transition function; nothing else decides a state, and
//! every (state, event) pair is tested.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssetState {
    /// The transfer is under way.
    InProgress,
    /// Every byte is stored and the transfer checksum matched; waiting for validation.
    Delivered,
    Validating,
    Valid,
    /// Validation found problems; the reasons are stored with the asset.
    Invalid,
    /// The transfer was aborted, expired or failed its checksum.
    FailedDelivery,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssetEvent {
    TransferCompleted,
    /// Aborted by the user, expired, or the transfer checksum did not match.
    TransferFailed,
    ValidationStarted,
    ValidationPassed,
    ValidationFailed,
    /// The worker validating it died; the job is queued again.
    ValidationAbandoned,
    /// A manager asks for validation to run again (an explicit action, never automatic).
    Revalidate,
}

/// A delivery's life: its files upload while it is Open; DELIVER makes it Delivered, once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    Open,
    Delivered,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Open => "open",
            DeliveryState::Delivered => "delivered",
        }
    }

    pub fn parse(text: &str) -> Option<DeliveryState> {
        [DeliveryState::Open, DeliveryState::Delivered].into_iter().find(|s| s.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    Open,
    /// Files have been delivered against it.
    Submitted,
    /// All of its assets are Valid.
    Processed,
    Accepted,
    /// A manager asked for the files again, with a reason.
    Redelivery,
    Rejected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestEvent {
    FilesDelivered,
    AllAssetsValid,
    /// One of its assets turned out Invalid (or was revalidated as such).
    AssetInvalid,
    Accept,
    AskRedelivery,
    Reject,
    Reopen,
}

/// An event that does not apply in the current state. Maps to 409 Conflict.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {event} when the {what} is {state}")]
pub struct TransitionError {
    pub what: &'static str,
    pub state: String,
    pub event: String,
}

fn refuse(what: &'static str, state: impl fmt::Display, event: impl fmt::Display) -> TransitionError {
    TransitionError { what, state: state.to_string(), event: event.to_string() }
}

impl AssetState {
    pub const ALL: [AssetState; 6] = [
        AssetState::InProgress,
        AssetState::Delivered,
        AssetState::Validating,
        AssetState::Valid,
        AssetState::Invalid,
        AssetState::FailedDelivery,
    ];

    /// The one transition function for assets.
    pub fn next(self, event: AssetEvent) -> Result<AssetState, TransitionError> {
        use AssetEvent as E;
        use AssetState as S;
        Ok(match (self, event) {
            (S::InProgress, E::TransferCompleted) => S::Delivered,
            (S::InProgress, E::TransferFailed) => S::FailedDelivery,
            (S::Delivered, E::ValidationStarted) => S::Validating,
            (S::Validating, E::ValidationPassed) => S::Valid,
            (S::Validating, E::ValidationFailed) => S::Invalid,
            (S::Validating, E::ValidationAbandoned) => S::Delivered,
            // Delivered: validation gave up (storage unreachable) and is asked for again.
            (S::Valid | S::Invalid | S::Delivered, E::Revalidate) => S::Delivered,
            (state, event) => return Err(refuse("asset", state, event)),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AssetState::InProgress => "in_progress",
            AssetState::Delivered => "delivered",
            AssetState::Validating => "validating",
            AssetState::Valid => "valid",
            AssetState::Invalid => "invalid",
            AssetState::FailedDelivery => "failed_delivery",
        }
    }

    pub fn parse(text: &str) -> Option<AssetState> {
        AssetState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn label(self) -> &'static str {
        match self {
            AssetState::InProgress => "In Progress",
            AssetState::Delivered => "Delivered",
            AssetState::Validating => "Validating",
            AssetState::Valid => "Valid",
            AssetState::Invalid => "Invalid",
            AssetState::FailedDelivery => "Failed Delivery",
        }
    }
}

impl fmt::Display for AssetState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

impl fmt::Display for AssetEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            AssetEvent::TransferCompleted => "complete the transfer",
            AssetEvent::TransferFailed => "fail the transfer",
            AssetEvent::ValidationStarted => "start validation",
            AssetEvent::ValidationPassed => "pass validation",
            AssetEvent::ValidationFailed => "fail validation",
            AssetEvent::ValidationAbandoned => "abandon validation",
            AssetEvent::Revalidate => "revalidate",
        };
        f.write_str(text)
    }
}

impl RequestState {
    pub const ALL: [RequestState; 6] = [
        RequestState::Open,
        RequestState::Submitted,
        RequestState::Processed,
        RequestState::Accepted,
        RequestState::Redelivery,
        RequestState::Rejected,
    ];

    /// What the states of a request's assets, once one of them was validated, mean for it: all
    /// Valid makes a Submitted request Processed; one that is not sends a Processed one back to
    /// Submitted. `None`: nothing changes.
    pub fn event_after_validation(self, assets: &[AssetState]) -> Option<RequestEvent> {
        let all_valid = !assets.is_empty() && assets.iter().all(|s| *s == AssetState::Valid);
        match (self, all_valid) {
            (RequestState::Submitted, true) => Some(RequestEvent::AllAssetsValid),
            (RequestState::Processed, false) => Some(RequestEvent::AssetInvalid),
            _ => None,
        }
    }

    /// The one transition function for requests.
    pub fn next(self, event: RequestEvent) -> Result<RequestState, TransitionError> {
        use RequestEvent as E;
        use RequestState as S;
        Ok(match (self, event) {
            (S::Open | S::Redelivery | S::Submitted, E::FilesDelivered) => S::Submitted,
            (S::Submitted, E::AllAssetsValid) => S::Processed,
            (S::Processed, E::AssetInvalid) | (S::Submitted, E::AssetInvalid) => S::Submitted,
            (S::Processed, E::Accept) => S::Accepted,
            (S::Submitted | S::Processed | S::Accepted, E::AskRedelivery) => S::Redelivery,
            (S::Open | S::Submitted | S::Processed | S::Redelivery, E::Reject) => S::Rejected,
            (S::Rejected, E::Reopen) => S::Open,
            (state, event) => return Err(refuse("request", state, event)),
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Open => "open",
            RequestState::Submitted => "submitted",
            RequestState::Processed => "processed",
            RequestState::Accepted => "accepted",
            RequestState::Redelivery => "redelivery",
            RequestState::Rejected => "rejected",
        }
    }

    pub fn parse(text: &str) -> Option<RequestState> {
        RequestState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether vendors can still deliver against it.
    pub fn accepts_deliveries(self) -> bool {
        matches!(self, RequestState::Open | RequestState::Submitted | RequestState::Redelivery)
    }
}

impl fmt::Display for RequestState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            RequestState::Open => "Open",
            RequestState::Submitted => "Submitted",
            RequestState::Processed => "Processed",
            RequestState::Accepted => "Accepted",
            RequestState::Redelivery => "Redelivery",
            RequestState::Rejected => "Rejected",
        };
        f.write_str(text)
    }
}

impl fmt::Display for RequestEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            RequestEvent::FilesDelivered => "deliver files",
            RequestEvent::AllAssetsValid => "mark processed",
            RequestEvent::AssetInvalid => "record an invalid asset",
            RequestEvent::Accept => "accept",
            RequestEvent::AskRedelivery => "ask for redelivery",
            RequestEvent::Reject => "reject",
            RequestEvent::Reopen => "reopen",
        };
        f.write_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ASSET_EVENTS: [AssetEvent; 7] = [
        AssetEvent::TransferCompleted,
        AssetEvent::TransferFailed,
        AssetEvent::ValidationStarted,
        AssetEvent::ValidationPassed,
        AssetEvent::ValidationFailed,
        AssetEvent::ValidationAbandoned,
        AssetEvent::Revalidate,
    ];
    const REQUEST_EVENTS: [RequestEvent; 7] = [
        RequestEvent::FilesDelivered,
        RequestEvent::AllAssetsValid,
        RequestEvent::AssetInvalid,
        RequestEvent::Accept,
        RequestEvent::AskRedelivery,
        RequestEvent::Reject,
        RequestEvent::Reopen,
    ];

    /// Every (state, event) pair, against a table written out by hand.
    #[test]
    fn asset_transitions_exhaustively() {
        use AssetEvent as E;
        use AssetState as S;
        let allowed = [
            (S::InProgress, E::TransferCompleted, S::Delivered),
            (S::InProgress, E::TransferFailed, S::FailedDelivery),
            (S::Delivered, E::ValidationStarted, S::Validating),
            (S::Validating, E::ValidationPassed, S::Valid),
            (S::Validating, E::ValidationFailed, S::Invalid),
            (S::Validating, E::ValidationAbandoned, S::Delivered),
            (S::Valid, E::Revalidate, S::Delivered),
            (S::Invalid, E::Revalidate, S::Delivered),
            (S::Delivered, E::Revalidate, S::Delivered),
        ];
        for state in AssetState::ALL {
            for event in ASSET_EVENTS {
                let expected = allowed.iter().find(|(s, e, _)| *s == state && *e == event).map(|t| t.2);
                match (state.next(event), expected) {
                    (Ok(got), Some(want)) => assert_eq!(got, want, "{state:?} + {event:?}"),
                    (Err(err), None) => assert!(err.to_string().starts_with("cannot "), "{err}"),
                    (got, want) => panic!("{state:?} + {event:?}: got {got:?}, expected {want:?}"),
                }
            }
        }
        // Failed Delivery is final: a redelivery is a new version, not a transition.
        for event in ASSET_EVENTS {
            let err = S::FailedDelivery.next(event).unwrap_err();
            assert!(err.to_string().starts_with("cannot "), "{event:?}: {err}");
        }
    }

    #[test]
    fn request_transitions_exhaustively() {
        use RequestEvent as E;
        use RequestState as S;
        let allowed = [
            (S::Open, E::FilesDelivered, S::Submitted),
            (S::Submitted, E::FilesDelivered, S::Submitted),
            (S::Redelivery, E::FilesDelivered, S::Submitted),
            (S::Submitted, E::AllAssetsValid, S::Processed),
            (S::Submitted, E::AssetInvalid, S::Submitted),
            (S::Processed, E::AssetInvalid, S::Submitted),
            (S::Processed, E::Accept, S::Accepted),
            (S::Submitted, E::AskRedelivery, S::Redelivery),
            (S::Processed, E::AskRedelivery, S::Redelivery),
            (S::Accepted, E::AskRedelivery, S::Redelivery),
            (S::Open, E::Reject, S::Rejected),
            (S::Submitted, E::Reject, S::Rejected),
            (S::Processed, E::Reject, S::Rejected),
            (S::Redelivery, E::Reject, S::Rejected),
            (S::Rejected, E::Reopen, S::Open),
        ];
        for state in RequestState::ALL {
            for event in REQUEST_EVENTS {
                let expected = allowed.iter().find(|(s, e, _)| *s == state && *e == event).map(|t| t.2);
                match (state.next(event), expected) {
                    (Ok(got), Some(want)) => assert_eq!(got, want, "{state:?} + {event:?}"),
                    (Err(_), None) => {}
                    (got, want) => panic!("{state:?} + {event:?}: got {got:?}, expected {want:?}"),
                }
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for state in AssetState::ALL {
            assert_eq!(AssetState::parse(state.as_str()), Some(state));
            assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
        }
        for state in RequestState::ALL {
            assert_eq!(RequestState::parse(state.as_str()), Some(state));
            assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
        }
        assert_eq!(
            AssetState::Valid.next(AssetEvent::TransferCompleted).unwrap_err().to_string(),
            "cannot complete the transfer when the asset is Valid"
        );
    }

    #[test]
    fn requests_follow_their_validated_assets() {
        use AssetState::{Invalid, Valid, Validating};
        assert_eq!(RequestState::Submitted.event_after_validation(&[Valid, Valid]), Some(RequestEvent::AllAssetsValid));
        assert_eq!(RequestState::Submitted.event_after_validation(&[Valid, Validating]), None);
        assert_eq!(RequestState::Submitted.event_after_validation(&[]), None);
        assert_eq!(RequestState::Processed.event_after_validation(&[Valid, Invalid]), Some(RequestEvent::AssetInvalid));
        assert_eq!(RequestState::Processed.event_after_validation(&[Valid]), None);
        assert_eq!(RequestState::Accepted.event_after_validation(&[Invalid]), None);
    }
}
