//! The bodies of the groups endpoints, validated against the reference schema (`InputGroupDTO`,
//! `PatchGroupDTO`) here at the edge and turned into the rules' inputs; and `GroupDTO`, a group as
//! the reference returns it.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use tollgate_core::ids::ObjectId;
use tollgate_server::ApiError;
use utoipa::ToSchema;

use crate::model::{Group, GroupId, GroupPatch, NewGroup};

/// `PolicyDTO`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct Policy {
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    explicit_consent: Option<bool>,
}

/// `InputGroupDTO`: a group to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct InputGroup {
    name: String,
    public: bool,
    parent_id: String,
    custom: Option<String>,
    privacy_policy: Option<Policy>,
    moderation_charter: Option<Policy>,
    terms_of_use: Option<Policy>,
    imprint: Option<Policy>,
    banner_image_id: Option<String>,
    background_image_id: Option<String>,
    favicon_image_id: Option<String>,
    logo_image_id: Option<String>,
    subdomain: Option<String>,
    url: Option<String>,
}

/// Distinguishes an absent field (`None`) from `null` (`Some(None)`).
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `PatchGroupDTO`: fields to change; `null` clears a nullable field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct PatchGroupBody {
    name: Option<String>,
    public: Option<bool>,
    parent_id: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    custom: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    privacy_policy: Option<Option<Policy>>,
    #[serde(default, deserialize_with = "nullable")]
    moderation_charter: Option<Option<Policy>>,
    #[serde(default, deserialize_with = "nullable")]
    terms_of_use: Option<Option<Policy>>,
    #[serde(default, deserialize_with = "nullable")]
    imprint: Option<Option<Policy>>,
    #[serde(default, deserialize_with = "nullable")]
    banner_image_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    background_image_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    favicon_image_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    logo_image_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    subdomain: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    url: Option<Option<String>>,
}

fn min_len(field: &str, v: &str, min: usize) -> Result<(), ApiError> {
    if v.chars().count() < min {
        Err(ApiError::invalid_input(format!(
            "{field} must be at least {min} character(s)"
        )))
    } else {
        Ok(())
    }
}

fn object_id(field: &str, v: &str) -> Result<ObjectId, ApiError> {
    ObjectId::parse(v)
        .map_err(|_| ApiError::invalid_input(format!("{field} must be a 24-hex-digit ObjectId")))
}

fn check_subdomain(v: &str) -> Result<(), ApiError> {
    let ok = (3..=255).contains(&v.len())
        && v.bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_input(
            "subdomain must be 3 to 255 characters of a-z, 0-9 and -, not starting with -",
        ))
    }
}

fn check_policy(field: &str, p: &Policy) -> Result<(), ApiError> {
    min_len(&format!("{field}.url"), &p.url, 1)
}

/// Validates the optional schema fields and collects them (as given) into `extra`; `null` kept as
/// `null` so a patch can clear.
#[allow(clippy::too_many_arguments)]
fn collect_extra(
    extra: &mut Map<String, Value>,
    policies: [(&str, Option<Option<Policy>>); 4],
    images: [(&str, Option<Option<String>>); 4],
    subdomain: Option<Option<String>>,
    url: Option<Option<String>>,
) -> Result<(), ApiError> {
    for (field, p) in policies {
        match p {
            Some(Some(p)) => {
                check_policy(field, &p)?;
                let v = serde_json::to_value(&p).map_err(|_| ApiError::Internal)?;
                extra.insert(field.to_owned(), v);
            }
            Some(None) => {
                extra.insert(field.to_owned(), Value::Null);
            }
            None => {}
        }
    }
    for (field, id) in images {
        match id {
            Some(Some(id)) => {
                object_id(field, &id)?;
                extra.insert(field.to_owned(), Value::String(id));
            }
            Some(None) => {
                extra.insert(field.to_owned(), Value::Null);
            }
            None => {}
        }
    }
    match subdomain {
        Some(Some(s)) => {
            check_subdomain(&s)?;
            extra.insert("subdomain".into(), Value::String(s));
        }
        Some(None) => {
            extra.insert("subdomain".into(), Value::Null);
        }
        None => {}
    }
    match url {
        Some(Some(u)) => {
            extra.insert("url".into(), Value::String(u));
        }
        Some(None) => {
            extra.insert("url".into(), Value::Null);
        }
        None => {}
    }
    Ok(())
}

/// `GroupDTO`: a group as the reference returns it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct GroupDto {
    /// The group's id (24 hex digits).
    #[serde(rename = "_id")]
    id: String,
    /// Name.
    name: String,
    /// Public or private.
    public: bool,
    /// Free text.
    #[serde(skip_serializing_if = "Option::is_none")]
    custom: Option<String>,
    /// Parent; absent on the root group.
    #[serde(rename = "parentId", skip_serializing_if = "Option::is_none")]
    parent_id: Option<String>,
    /// The schema's other optional fields, as stored (`privacyPolicy`, `subdomain`, `logoImageId`, …).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    extra: Map<String, Value>,
}

pub(crate) fn group_dto(g: &Group) -> GroupDto {
    GroupDto {
        id: g.id.to_string(),
        name: g.name.clone(),
        public: g.public,
        custom: g.custom.clone(),
        parent_id: g.parent_id.map(|p| p.to_string()),
        extra: g
            .extra
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

impl InputGroup {
    /// The group to create, once every field is checked.
    pub(crate) fn into_new(self) -> Result<NewGroup, ApiError> {
        let b = self;
        min_len("name", &b.name, 1)?;
        if let Some(c) = &b.custom {
            min_len("custom", c, 1)?;
        }
        let parent = GroupId(object_id("parentId", &b.parent_id)?);
        let mut extra = Map::new();
        collect_extra(
            &mut extra,
            [
                ("privacyPolicy", b.privacy_policy.map(Some)),
                ("moderationCharter", b.moderation_charter.map(Some)),
                ("termsOfUse", b.terms_of_use.map(Some)),
                ("imprint", b.imprint.map(Some)),
            ],
            [
                ("bannerImageId", b.banner_image_id.map(Some)),
                ("backgroundImageId", b.background_image_id.map(Some)),
                ("faviconImageId", b.favicon_image_id.map(Some)),
                ("logoImageId", b.logo_image_id.map(Some)),
            ],
            b.subdomain.map(Some),
            b.url.map(Some),
        )?;
        Ok(NewGroup {
            name: b.name,
            public: b.public,
            custom: b.custom,
            parent_id: parent,
            extra,
        })
    }
}

impl PatchGroupBody {
    /// The changes, once every field is checked.
    pub(crate) fn into_patch(self) -> Result<GroupPatch, ApiError> {
        let b = self;
        if let Some(n) = &b.name {
            min_len("name", n, 1)?;
        }
        if let Some(Some(c)) = &b.custom {
            min_len("custom", c, 1)?;
        }
        let parent_id = match &b.parent_id {
            Some(p) => Some(GroupId(object_id("parentId", p)?)),
            None => None,
        };
        let mut extra = Map::new();
        collect_extra(
            &mut extra,
            [
                ("privacyPolicy", b.privacy_policy),
                ("moderationCharter", b.moderation_charter),
                ("termsOfUse", b.terms_of_use),
                ("imprint", b.imprint),
            ],
            [
                ("bannerImageId", b.banner_image_id),
                ("backgroundImageId", b.background_image_id),
                ("faviconImageId", b.favicon_image_id),
                ("logoImageId", b.logo_image_id),
            ],
            b.subdomain,
            b.url,
        )?;
        Ok(GroupPatch {
            name: b.name,
            public: b.public,
            custom: b.custom,
            parent_id,
            extra,
        })
    }
}
