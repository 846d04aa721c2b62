//! What the example API stores: groups, shaped as the reference's `GroupDTO`, and the inputs of its
//! operations.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use tollgate_core::clock::UnixTime;
use tollgate_core::ids::{CompanyId, InvalidId, ObjectId};
use tollgate_core::random::RandomError;

/// A group's id: an [`ObjectId`] (24 hex digits, as the reference's `_id`s).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupId(pub ObjectId);

impl GroupId {
    /// A new id for a group created at `now`.
    pub fn generate(now: UnixTime) -> Result<Self, RandomError> {
        ObjectId::generate(now).map(Self)
    }

    /// Parses 24 hex digits.
    pub fn parse(s: &str) -> Result<Self, InvalidId> {
        ObjectId::parse(s).map(Self)
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GroupId({})", self.0)
    }
}

impl FromStr for GroupId {
    type Err = InvalidId;
    fn from_str(s: &str) -> Result<Self, InvalidId> {
        Self::parse(s)
    }
}

impl Serialize for GroupId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// Id (`_id` on the wire).
    pub id: GroupId,
    /// Owning company (never on the wire).
    pub company_id: CompanyId,
    /// Name.
    pub name: String,
    /// Public or private.
    pub public: bool,
    /// Free text.
    pub custom: Option<String>,
    /// Parent; `None` only for the company's root group.
    pub parent_id: Option<GroupId>,
    /// The reference schema's other optional fields, validated at the edge and stored as given.
    pub extra: Map<String, Value>,
}

/// A group to create (already validated against the schema at the edge).
#[derive(Debug, Clone)]
pub struct NewGroup {
    /// Name.
    pub name: String,
    /// Public.
    pub public: bool,
    /// Free text.
    pub custom: Option<String>,
    /// Parent.
    pub parent_id: GroupId,
    /// Other optional fields.
    pub extra: Map<String, Value>,
}

/// Changes to a group. `custom: Some(None)` and `extra` values of `null` clear a field.
#[derive(Debug, Clone, Default)]
pub struct GroupPatch {
    /// New name.
    pub name: Option<String>,
    /// New visibility.
    pub public: Option<bool>,
    /// New custom text, or clear it.
    pub custom: Option<Option<String>>,
    /// New parent.
    pub parent_id: Option<GroupId>,
    /// Other fields to set (`null` clears).
    pub extra: Map<String, Value>,
}

/// A page of groups.
#[derive(Debug)]
pub struct GroupPage {
    /// The groups.
    pub groups: Vec<Group>,
    /// The id to continue after, if there is a next page.
    pub next_after: Option<GroupId>,
}
