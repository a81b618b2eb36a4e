//! OAuth scopes: global (`USER_POSTS_GET`) or bound to a post (`CHAT_POST_CONVERSATIONS_READ.P`).

use std::fmt;

use super::ids::{InvalidId, PostToken};

/// Whether a scope name stands alone or must name a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    Global,
    Post,
}

macro_rules! scope_names {
    ($($variant:ident => $wire:literal, $binding:ident;)*) => {
        /// The scope names Kenar documents for the APIs this system serves or feeds.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ScopeName { $($variant),* }

        impl ScopeName {
            pub const ALL: &'static [ScopeName] = &[$(ScopeName::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $(ScopeName::$variant => $wire),* }
            }

            pub fn binding(self) -> Binding {
                match self { $(ScopeName::$variant => Binding::$binding),* }
            }
        }
    };
}

scope_names! {
    UserId => "USER_ID", Global;
    UserPhone => "USER_PHONE", Global;
    UserPostsGet => "USER_POSTS_GET", Global;
    UserAddonCreate => "USER_ADDON_CREATE", Global;
    UserPostsAddonCreate => "USER_POSTS_ADDON_CREATE", Global;
    ChatSupplierAllConversationsRead => "CHAT_SUPPLIER_ALL_CONVERSATIONS_READ", Global;
    ChatSupplierAllConversationsMessageSend => "CHAT_SUPPLIER_ALL_CONVERSATIONS_MESSAGE_SEND", Global;
    ChatBotUserMessageSend => "CHAT_BOT_USER_MESSAGE_SEND", Global;
    SendEvent => "SEND_EVENT", Global;
    NotificationAccessRevocation => "NOTIFICATION_ACCESS_REVOCATION", Global;
    OfflineAccess => "offline_access", Global;
    ChatPostConversationsRead => "CHAT_POST_CONVERSATIONS_READ", Post;
    ChatPostConversationsMessageSend => "CHAT_POST_CONVERSATIONS_MESSAGE_SEND", Post;
    PostAddonCreate => "POST_ADDON_CREATE", Post;
}

impl std::str::FromStr for ScopeName {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ScopeName::ALL
            .iter()
            .copied()
            .find(|n| n.as_str() == s)
            .ok_or_else(|| InvalidId(format!("unknown scope {s:?}")))
    }
}

impl fmt::Display for ScopeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One granted scope.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    name: ScopeName,
    resource: Option<PostToken>,
}

impl Scope {
    pub fn global(name: ScopeName) -> Scope {
        Scope {
            name,
            resource: None,
        }
    }

    pub fn on_post(name: ScopeName, post: PostToken) -> Scope {
        Scope {
            name,
            resource: Some(post),
        }
    }

    /// Parses `NAME` or `NAME.RESOURCE`, refusing unknown names and wrong bindings.
    pub fn parse(s: &str) -> Result<Scope, InvalidId> {
        let (name, resource) = match s.split_once('.') {
            Some((name, resource)) => (name, Some(resource)),
            None => (s, None),
        };
        let name: ScopeName = name.parse()?;
        match (name.binding(), resource) {
            (Binding::Global, None) => Ok(Scope::global(name)),
            (Binding::Global, Some(_)) => {
                Err(InvalidId(format!("scope {name} does not take a resource")))
            }
            (Binding::Post, Some(r)) => Ok(Scope::on_post(name, PostToken::parse(r)?)),
            (Binding::Post, None) => Err(InvalidId(format!(
                "scope {name} needs a post token: {name}.<post_token>"
            ))),
        }
    }

    pub fn name(&self) -> ScopeName {
        self.name
    }

    pub fn resource(&self) -> Option<&PostToken> {
        self.resource.as_ref()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.resource {
            Some(r) => write!(f, "{}.{}", self.name, r),
            None => write!(f, "{}", self.name),
        }
    }
}

/// The scopes of one token, in their canonical order and without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(Vec<Scope>);

impl ScopeSet {
    pub fn new(mut scopes: Vec<Scope>) -> ScopeSet {
        scopes.sort();
        scopes.dedup();
        ScopeSet(scopes)
    }

    /// Parses space-separated scopes (OAuth's `scope` parameter, and the stored form).
    pub fn parse(s: &str) -> Result<ScopeSet, InvalidId> {
        s.split_whitespace()
            .map(Scope::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(ScopeSet::new)
    }

    pub fn has_global(&self, name: ScopeName) -> bool {
        self.0
            .iter()
            .any(|s| s.name == name && s.resource.is_none())
    }

    pub fn has_on_post(&self, name: ScopeName, post: &PostToken) -> bool {
        self.0
            .iter()
            .any(|s| s.name == name && s.resource.as_ref() == Some(post))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_and_resource_bound_scopes_parse() {
        let set =
            ScopeSet::parse("USER_POSTS_GET CHAT_POST_CONVERSATIONS_READ.gZd7omnS").expect("ok");
        let post = PostToken::parse("gZd7omnS").expect("ok");
        assert!(set.has_global(ScopeName::UserPostsGet));
        assert!(set.has_on_post(ScopeName::ChatPostConversationsRead, &post));
        assert!(!set.has_global(ScopeName::ChatPostConversationsRead));
        assert_eq!(
            set.to_string(),
            "USER_POSTS_GET CHAT_POST_CONVERSATIONS_READ.gZd7omnS"
        );
    }

    #[test]
    fn wrong_bindings_and_unknown_names_are_refused() {
        assert!(Scope::parse("CHAT_POST_CONVERSATIONS_READ").is_err());
        assert!(Scope::parse("USER_POSTS_GET.gZd7omnS").is_err());
        assert!(Scope::parse("ROOT").is_err());
        assert!(Scope::parse("CHAT_POST_CONVERSATIONS_READ.bad/token").is_err());
        assert!(Scope::parse("offline_access").is_ok());
    }

    #[test]
    fn duplicates_collapse() {
        let set = ScopeSet::parse("SEND_EVENT SEND_EVENT").expect("ok");
        assert_eq!(set.iter().count(), 1);
    }
}
