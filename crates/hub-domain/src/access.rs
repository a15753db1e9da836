//! Who may do what. One function decides; every route asks it.
//!
//! The answer distinguishes "forbidden" (you can see this but may not do that: 403) from "not
//! found" (you cannot see this at all: 404), so that outsiders learn nothing, not even that a
//! project or bucket exists.

use serde::{Deserialize, Serialize};

use crate::catalogue::BucketKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Contributor,
    Manager,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Contributor, Role::Manager];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Contributor => "contributor",
            Role::Manager => "manager",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// A user's place in one project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    pub role: Role,
    /// The buckets this member works in; `None` means all of them.
    pub buckets: Option<Vec<BucketKind>>,
}

impl Membership {
    pub fn sees_bucket(&self, bucket: BucketKind) -> bool {
        self.buckets.as_ref().is_none_or(|b| b.contains(&bucket))
    }
}

/// Who is asking, and how they authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    pub user_id: i64,
    pub site_admin: bool,
    /// Authenticated by an API token (scripts, the CLI) rather than a browser session.
    pub via_token: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    ViewProject,
    /// Browse a bucket: its assets, requests, downloads, histories.
    ViewBucket(BucketKind),
    /// Create deliveries and upload into the bucket; edit metadata of its assets.
    Deliver(BucketKind),
    DeleteAsset(BucketKind),
    /// Create and edit requests, change their state (accept, redelivery, reject); revalidate assets.
    ManageBucket(BucketKind),
    ManageMembers,
}

impl Action {
    fn bucket(self) -> Option<BucketKind> {
        match self {
            Action::ViewBucket(b) | Action::Deliver(b) | Action::DeleteAsset(b) | Action::ManageBucket(b) => Some(b),
            Action::ViewProject | Action::ManageMembers => None,
        }
    }

    fn writes_assets(self) -> bool {
        matches!(self, Action::Deliver(_) | Action::DeleteAsset(_))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// 403, with the reason shown to the user.
    Forbidden(&'static str),
    /// 404: the caller may not know the thing exists.
    NotFound,
}

/// Decides whether `who`, with `membership` in the project (if any), may do `action` there.
///
/// Visibility is decided first: whoever cannot see the project or the bucket gets `NotFound`
/// whatever the action, so a write check alone never tells an outsider more than a read would.
pub fn decide(who: &Principal, membership: Option<&Membership>, action: Action) -> Decision {
    if !who.site_admin {
        let Some(member) = membership else { return Decision::NotFound };
        if let Some(bucket) = action.bucket()
            && !member.sees_bucket(bucket)
        {
            return Decision::NotFound;
        }
    }
    if let Some(bucket) = action.bucket()
        && bucket.api_only()
        && action.writes_assets()
        && !who.via_token
    {
        return Decision::Forbidden("the Footage bucket accepts writes through API tokens only");
    }
    if who.site_admin {
        return Decision::Allow;
    }
    let Some(member) = membership else { return Decision::NotFound };
    if action == Action::ManageMembers && member.buckets.is_some() {
        // Otherwise a manager of some buckets could widen their own scope to all of them.
        return Decision::Forbidden(
            "managers limited to some buckets cannot change members or project settings; ask a manager of the whole project",
        );
    }
    let needed = match action {
        Action::ViewProject | Action::ViewBucket(_) => Role::Viewer,
        Action::Deliver(_) => Role::Contributor,
        Action::DeleteAsset(_) | Action::ManageBucket(_) | Action::ManageMembers => Role::Manager,
    };
    if member.role >= needed {
        Decision::Allow
    } else if needed == Role::Contributor {
        Decision::Forbidden("viewers cannot deliver or edit; ask a project manager for the contributor role")
    } else {
        Decision::Forbidden("only the project's managers can do this")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> Principal {
        Principal { user_id: 7, site_admin: false, via_token: false }
    }

    fn member(role: Role) -> Membership {
        Membership { role, buckets: None }
    }

    fn all_actions() -> Vec<Action> {
        let mut actions = vec![Action::ViewProject, Action::ManageMembers];
        for b in BucketKind::ALL {
            actions.extend([
                Action::ViewBucket(b),
                Action::Deliver(b),
                Action::DeleteAsset(b),
                Action::ManageBucket(b),
            ]);
        }
        actions
    }

    #[test]
    fn outsiders_see_nothing() {
        // Not even that Footage takes API tokens only: an outsider learns nothing, however asking.
        for via_token in [false, true] {
            for action in all_actions() {
                let who = Principal { via_token, ..user() };
                assert_eq!(decide(&who, None, action), Decision::NotFound, "{action:?} via_token={via_token}");
            }
        }
    }

    #[test]
    fn managers_of_some_buckets_manage_those_but_not_members() {
        let m = Membership { role: Role::Manager, buckets: Some(vec![BucketKind::Vfx]) };
        assert_eq!(decide(&user(), Some(&m), Action::ManageBucket(BucketKind::Vfx)), Decision::Allow);
        assert_eq!(decide(&user(), Some(&m), Action::DeleteAsset(BucketKind::Vfx)), Decision::Allow);
        assert_eq!(decide(&user(), Some(&m), Action::ManageBucket(BucketKind::Music)), Decision::NotFound);
        assert!(matches!(decide(&user(), Some(&m), Action::ManageMembers), Decision::Forbidden(_)));
        assert_eq!(decide(&user(), Some(&member(Role::Manager)), Action::ManageMembers), Decision::Allow);
    }

    #[test]
    fn roles_are_ordered() {
        let b = BucketKind::Vfx;
        let table = [
            (Role::Viewer, [true, false, false, false]),
            (Role::Contributor, [true, true, false, false]),
            (Role::Manager, [true, true, true, true]),
        ];
        for (role, allowed) in table {
            let m = member(role);
            let got = [Action::ViewBucket(b), Action::Deliver(b), Action::DeleteAsset(b), Action::ManageMembers]
                .map(|a| decide(&user(), Some(&m), a) == Decision::Allow);
            assert_eq!(got, allowed, "{role:?}");
        }
        assert!(matches!(decide(&user(), Some(&member(Role::Viewer)), Action::Deliver(b)), Decision::Forbidden(_)));
    }

    #[test]
    fn bucket_scope_hides_other_buckets() {
        let m = Membership { role: Role::Contributor, buckets: Some(vec![BucketKind::FinalSound]) };
        assert_eq!(decide(&user(), Some(&m), Action::Deliver(BucketKind::FinalSound)), Decision::Allow);
        assert_eq!(decide(&user(), Some(&m), Action::ViewBucket(BucketKind::Vfx)), Decision::NotFound);
        assert_eq!(decide(&user(), Some(&m), Action::ViewProject), Decision::Allow);
    }

    #[test]
    fn footage_writes_need_a_token_even_for_admins() {
        let admin = Principal { site_admin: true, ..user() };
        let m = member(Role::Manager);
        assert!(matches!(decide(&admin, None, Action::Deliver(BucketKind::Footage)), Decision::Forbidden(_)));
        assert!(matches!(decide(&user(), Some(&m), Action::Deliver(BucketKind::Footage)), Decision::Forbidden(_)));
        let script = Principal { via_token: true, ..user() };
        assert_eq!(decide(&script, Some(&m), Action::Deliver(BucketKind::Footage)), Decision::Allow);
        assert_eq!(decide(&user(), Some(&m), Action::ViewBucket(BucketKind::Footage)), Decision::Allow);
        assert_eq!(decide(&admin, None, Action::ManageMembers), Decision::Allow);
    }
}
