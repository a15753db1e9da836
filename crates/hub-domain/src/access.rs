//! Who may do what. One function decides; every route asks it.
//!
//! The answer distinguishes "forbidden" (you can see this but may not do that: 403) from "not
//! found" (you cannot see this at all: 404), so that outsiders learn nothing, not even that a
//! project or bucket exists.

use serde::{Deserialize, Serialize};

use crate::catalogue::BucketKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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

/// What an API token may be used for; each scope includes the ones before it. A browser
/// session has no scope: it may do whatever its user may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenScope {
    /// Browse and download what the user may see.
    Read,
    /// Also deliver: declare, upload, DELIVER, edit metadata (the CLI's and pipelines' scope).
    Deliver,
    /// Also manage: requests, deletions, revalidation, members, project settings, more tokens.
    Manage,
}

impl TokenScope {
    pub const ALL: [TokenScope; 3] = [TokenScope::Read, TokenScope::Deliver, TokenScope::Manage];

    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Read => "read",
            TokenScope::Deliver => "deliver",
            TokenScope::Manage => "manage",
        }
    }

    pub fn parse(text: &str) -> Option<TokenScope> {
        TokenScope::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// What the scope allows, in words (for the page where tokens are made).
    pub fn describe(self) -> &'static str {
        match self {
            TokenScope::Read => "browse and download",
            TokenScope::Deliver => "browse, download and deliver (the CLI, pipelines, Footage)",
            TokenScope::Manage => "everything the user may do, including requests, members and more tokens",
        }
    }
}

/// Who is asking, and how they authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    pub user_id: i64,
    pub site_admin: bool,
    /// Authenticated by an API token (scripts, the CLI) of this scope; `None`: a browser session.
    pub token: Option<TokenScope>,
}

impl Principal {
    pub fn via_token(&self) -> bool {
        self.token.is_some()
    }
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

    /// The token scope the action needs.
    pub fn scope(self) -> TokenScope {
        match self {
            Action::ViewProject | Action::ViewBucket(_) => TokenScope::Read,
            Action::Deliver(_) => TokenScope::Deliver,
            Action::DeleteAsset(_) | Action::ManageBucket(_) | Action::ManageMembers => TokenScope::Manage,
        }
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
        && !who.via_token()
    {
        return Decision::Forbidden(
            "the Footage bucket accepts writes through API tokens only (a token with the deliver scope, made on the API tokens page)",
        );
    }
    if let Some(scope) = who.token
        && scope < action.scope()
    {
        return Decision::Forbidden(match action.scope() {
            TokenScope::Deliver => "this API token may only read; delivering needs a token with the deliver scope",
            _ => "this API token may not manage; that needs a token with the manage scope",
        });
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
        Principal { user_id: 7, site_admin: false, token: None }
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
        for token in [None, Some(TokenScope::Manage)] {
            for action in all_actions() {
                let who = Principal { token, ..user() };
                assert_eq!(decide(&who, None, action), Decision::NotFound, "{action:?} token={token:?}");
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
        let script = Principal { token: Some(TokenScope::Deliver), ..user() };
        assert_eq!(decide(&script, Some(&m), Action::Deliver(BucketKind::Footage)), Decision::Allow);
        let reader = Principal { token: Some(TokenScope::Read), ..user() };
        assert!(matches!(decide(&reader, Some(&m), Action::Deliver(BucketKind::Footage)), Decision::Forbidden(_)));
        assert_eq!(decide(&user(), Some(&m), Action::ViewBucket(BucketKind::Footage)), Decision::Allow);
        assert_eq!(decide(&admin, None, Action::ManageMembers), Decision::Allow);
    }

    #[test]
    fn a_token_does_only_what_its_scope_allows_even_for_admins() {
        let b = BucketKind::Vfx;
        let actions = [Action::ViewBucket(b), Action::Deliver(b), Action::ManageBucket(b), Action::ManageMembers];
        let table = [
            (TokenScope::Read, [true, false, false, false]),
            (TokenScope::Deliver, [true, true, false, false]),
            (TokenScope::Manage, [true, true, true, true]),
        ];
        for (scope, allowed) in table {
            for (who, m) in [
                (Principal { token: Some(scope), ..user() }, Some(member(Role::Manager))),
                (Principal { token: Some(scope), site_admin: true, ..user() }, None),
            ] {
                let got = actions.map(|a| decide(&who, m.as_ref(), a) == Decision::Allow);
                assert_eq!(got, allowed, "{scope:?} admin={}", who.site_admin);
            }
        }
        // The scope never widens a role: a viewer's manage token still only reads.
        let viewer = member(Role::Viewer);
        let token = Principal { token: Some(TokenScope::Manage), ..user() };
        assert!(matches!(decide(&token, Some(&viewer), Action::Deliver(b)), Decision::Forbidden(_)));
    }
}
