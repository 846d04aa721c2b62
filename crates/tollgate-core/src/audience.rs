//! Audiences (RFC 8707 resource indicators): the URIs a token may be meant for.
//!
//! Every token is for the server's default audience unless its request names `resource`s. A company
//! lists the other resources its credentials may ask for (the operator sets them); a credential may
//! be limited to some of them. A resource is compared as the exact string given: an absolute URI
//! without a fragment (RFC 8707 §2), as the resource server that checks `aud` spells it.

use std::fmt;

/// Most resources one company (or credential) may list.
pub const MAX_RESOURCES: usize = 50;

/// Longest resource URI accepted.
pub const MAX_RESOURCE_LEN: usize = 512;

/// Why a resource (or a list of them) was refused; the message names the entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    /// Not an absolute URI, or it has a fragment, whitespace or control characters.
    #[error("{0:?} is not an absolute URI without a fragment (like https://api.example.com)")]
    NotAnAbsoluteUri(String),
    /// Longer than [`MAX_RESOURCE_LEN`].
    #[error("a resource URI is at most {MAX_RESOURCE_LEN} characters")]
    TooLong,
    /// More than [`MAX_RESOURCES`].
    #[error("at most {MAX_RESOURCES} resources may be listed")]
    TooMany,
}

/// One resource URI, checked.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Resource(Box<str>);

impl Resource {
    /// Parses an absolute URI without a fragment.
    pub fn parse(s: &str) -> Result<Self, ResourceError> {
        if s.len() > MAX_RESOURCE_LEN {
            return Err(ResourceError::TooLong);
        }
        let bad = || ResourceError::NotAnAbsoluteUri(s.to_owned());
        // Space-separated when stored; no control characters anywhere.
        if s.is_empty()
            || s.bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(bad());
        }
        let url = url::Url::parse(s).map_err(|_| bad())?;
        if url.fragment().is_some() {
            return Err(bad());
        }
        Ok(Self(s.into()))
    }

    /// The URI as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A set of resources, sorted and without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Resources(Vec<Resource>);

impl Resources {
    /// Parses a list of resource URIs.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, ResourceError> {
        if entries.len() > MAX_RESOURCES {
            return Err(ResourceError::TooMany);
        }
        let mut v = entries
            .iter()
            .map(|e| Resource::parse(e.as_ref().trim()))
            .collect::<Result<Vec<_>, _>>()?;
        v.sort_unstable();
        v.dedup();
        Ok(Self(v))
    }

    /// Parses the stored form: URIs separated by spaces.
    pub fn parse_stored(s: &str) -> Result<Self, ResourceError> {
        Self::parse(&s.split_whitespace().collect::<Vec<_>>())
    }

    /// Whether none is listed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The resources, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Resource> {
        self.0.iter()
    }

    /// Whether `uri` is one of them.
    pub fn contains(&self, uri: &str) -> bool {
        self.0.binary_search_by(|r| r.as_str().cmp(uri)).is_ok()
    }

    /// Those of `self` that `other` holds too.
    pub fn intersection(&self, other: &Self) -> Self {
        Self(
            self.0
                .iter()
                .filter(|r| other.contains(r.as_str()))
                .cloned()
                .collect(),
        )
    }

    /// Those of `self` not in `other`.
    pub fn difference(&self, other: &Self) -> Self {
        Self(
            self.0
                .iter()
                .filter(|r| !other.contains(r.as_str()))
                .cloned()
                .collect(),
        )
    }
}

impl fmt::Display for Resources {
    /// Space-separated (the stored form).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(r.as_str())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_uris_without_fragments_are_resources() {
        for ok in [
            "https://api.example.com",
            "https://api.example.com/v2/",
            "urn:example:billing",
            "http://127.0.0.1:9000/users?tenant=1",
        ] {
            assert_eq!(Resource::parse(ok).unwrap().as_str(), ok, "kept as given");
        }
        for bad in [
            "",
            "api.example.com",
            "/users",
            "https://api.example.com/#x",
            "https://a b",
            "https://api.example.com/\u{7f}",
            "https://api.example.com/\n",
        ] {
            assert!(Resource::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Resource::parse(&format!("https://x/{}", "a".repeat(600))),
            Err(ResourceError::TooLong)
        );
    }

    #[test]
    fn a_set_is_sorted_and_reads_back_from_its_stored_form() {
        let s = Resources::parse(&[
            "https://b.example",
            "https://a.example",
            "https://b.example",
        ])
        .unwrap();
        assert_eq!(s.to_string(), "https://a.example https://b.example");
        assert_eq!(Resources::parse_stored(&s.to_string()).unwrap(), s);
        assert!(s.contains("https://b.example") && !s.contains("https://c.example"));
        let a = Resources::parse(&["https://a.example"]).unwrap();
        assert_eq!(s.intersection(&a), a);
        assert_eq!(s.difference(&a).to_string(), "https://b.example");
        let many: Vec<String> = (0..=MAX_RESOURCES)
            .map(|i| format!("https://{i}.example"))
            .collect();
        assert_eq!(Resources::parse(&many), Err(ResourceError::TooMany));
    }
}
