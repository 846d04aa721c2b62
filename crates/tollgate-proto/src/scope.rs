use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A scope of the form `resource:action`, e.g. `groups:read`.
///
/// Both parts are non-empty ASCII letters, digits, `_` or `-`; the resource starts with a letter.
/// Whether a scope exists in the catalog is a separate question (see `tollgate-core`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope(Box<str>);

/// Why a string is not a [`Scope`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScopeError {
    /// The string is not `resource:action`.
    #[error("`{0}` is not a scope of the form resource:action")]
    Malformed(String),
}

impl Scope {
    /// Parses `resource:action`.
    pub fn parse(s: &str) -> Result<Self, ScopeError> {
        let ok = match s.split_once(':') {
            Some((resource, action)) => {
                valid_part(resource)
                    && valid_part(action)
                    && resource.starts_with(|c: char| c.is_ascii_alphabetic())
            }
            None => false,
        };
        if ok && s.len() <= 128 {
            Ok(Self(s.into()))
        } else {
            Err(ScopeError::Malformed(s.chars().take(64).collect()))
        }
    }

    /// The scope as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn valid_part(p: &str) -> bool {
    !p.is_empty()
        && p.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scope({})", self.0)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Scope {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Scope::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A set of scopes, kept sorted. Displays as the RFC 6749 space-delimited list.
///
/// Parses from a list separated by spaces or commas (the CLI accepts `a:read,b:write`).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(BTreeSet<Scope>);

impl ScopeSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses a list separated by spaces and/or commas. Empty items are skipped.
    pub fn parse_list(s: &str) -> Result<Self, ScopeError> {
        s.split([' ', ','])
            .filter(|p| !p.is_empty())
            .map(Scope::parse)
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Self)
    }

    /// Whether the set holds `scope`.
    pub fn contains(&self, scope: &Scope) -> bool {
        self.0.contains(scope)
    }

    /// Whether the set holds a scope spelled `scope`.
    pub fn contains_str(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s.as_str() == scope)
    }

    /// Whether every scope of `self` is in `other`.
    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    /// The scopes in both sets.
    pub fn intersection(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.intersection(&other.0).cloned().collect())
    }

    /// The scopes of `self` that are not in `other`.
    pub fn difference(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.difference(&other.0).cloned().collect())
    }

    /// The scopes in either set.
    pub fn union(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.union(&other.0).cloned().collect())
    }

    /// Adds a scope.
    pub fn insert(&mut self, scope: Scope) {
        self.0.insert(scope);
    }

    /// Number of scopes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates in sorted order.
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl FromStr for ScopeSet {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_list(s)
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
            f.write_str(s.as_str())?;
        }
        Ok(())
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ScopeSet({self})")
    }
}

/// Serialized as a JSON array of strings (the admin and CLI outputs); see [`ScopeSet::to_string`] for
/// the space-delimited OAuth form.
impl Serialize for ScopeSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter())
    }
}

impl<'de> Deserialize<'de> for ScopeSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Vec::<Scope>::deserialize(d)?;
        Ok(v.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_scopes() {
        for s in ["groups:read", "skillsJobs:bulk", "a_b-c:x1"] {
            assert_eq!(Scope::parse(s).map(|x| x.to_string()), Ok(s.to_string()));
        }
    }

    #[test]
    fn rejects_malformed_scopes() {
        for s in [
            "",
            "groups",
            ":read",
            "groups:",
            "a:b:c",
            "gr oups:read",
            "1a:read",
            "é:read",
        ] {
            assert!(Scope::parse(s).is_err(), "{s:?} should be rejected");
        }
    }

    #[test]
    fn set_parses_spaces_and_commas_and_sorts() {
        let s = ScopeSet::parse_list("groups:write, groups:read users:read").unwrap();
        assert_eq!(s.to_string(), "groups:read groups:write users:read");
        assert_eq!(s.len(), 3);
    }

    #[test]
    fn set_algebra() {
        let a: ScopeSet = "a:read b:read".parse().unwrap();
        let b: ScopeSet = "b:read c:read".parse().unwrap();
        assert_eq!(a.intersection(&b).to_string(), "b:read");
        assert_eq!(a.difference(&b).to_string(), "a:read");
        assert!("b:read".parse::<ScopeSet>().unwrap().is_subset(&a));
        assert!(!b.is_subset(&a));
    }

    #[test]
    fn set_json_roundtrip() {
        let a: ScopeSet = "a:read b:read".parse().unwrap();
        let j = serde_json::to_string(&a).unwrap();
        assert_eq!(j, r#"["a:read","b:read"]"#);
        assert_eq!(serde_json::from_str::<ScopeSet>(&j).unwrap(), a);
        assert!(serde_json::from_str::<ScopeSet>(r#"["nope"]"#).is_err());
    }
}

#[cfg(test)]
mod properties {
    //! The fuzz target's properties (`fuzz/fuzz_targets/scope.rs`) as proptest cases.

    use proptest::prelude::*;

    use super::*;

    /// Text near the grammar: scope characters, separators, and a few that are not allowed.
    const NEAR: &str = "[a-zA-Z0-9_:, \\-é\t.]{0,60}";

    fn scope() -> impl Strategy<Value = String> {
        "[a-zA-Z][a-zA-Z0-9_-]{0,10}:[a-zA-Z0-9_-]{1,10}"
    }

    /// What the scope target checks of any text.
    fn check(text: &str) -> Result<(), TestCaseError> {
        match Scope::parse(text) {
            Ok(s) => {
                prop_assert_eq!(s.as_str(), text);
                prop_assert!(text.len() <= 128 && text.is_ascii());
                prop_assert_eq!(Scope::parse(&s.to_string()), Ok(s));
            }
            Err(ScopeError::Malformed(shown)) => prop_assert!(shown.chars().count() <= 64),
        }
        match ScopeSet::parse_list(text) {
            Ok(set) => {
                let again = ScopeSet::parse_list(&set.to_string());
                prop_assert_eq!(again.as_ref(), Ok(&set));
                let items: Vec<&str> = text.split([' ', ',']).filter(|p| !p.is_empty()).collect();
                prop_assert!(set.len() <= items.len());
                for item in items {
                    prop_assert!(set.contains_str(item));
                }
                let json = serde_json::to_string(&set).unwrap();
                prop_assert_eq!(serde_json::from_str::<ScopeSet>(&json).ok(), Some(set));
            }
            Err(_) => prop_assert!(
                text.split([' ', ','])
                    .filter(|p| !p.is_empty())
                    .any(|p| Scope::parse(p).is_err())
            ),
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn any_text_parses_or_is_refused_consistently(text in any::<String>()) {
            check(&text)?;
        }

        #[test]
        fn text_near_the_grammar_parses_or_is_refused_consistently(text in NEAR) {
            check(&text)?;
        }

        #[test]
        fn a_list_of_scopes_parses_and_round_trips(
            scopes in proptest::collection::vec(scope(), 0..8),
            commas in any::<bool>(),
        ) {
            let text = scopes.join(if commas { ", " } else { " " });
            let set = ScopeSet::parse_list(&text).unwrap();
            for s in &scopes {
                prop_assert!(set.contains_str(s));
            }
            prop_assert_eq!(ScopeSet::parse_list(&set.to_string()).unwrap(), set);
            check(&text)?;
        }
    }
}
