//! The OpenAPI 3.1 document of every route, composed of the route modules' own parts (each module's
//! `Doc`: its handlers' `#[utoipa::path]` annotations and its schemas; the error bodies' schemas come
//! from `error`), served at `/openapi.json` and rendered (Swagger UI, vendored:
//! no CDN) at `/docs`. An API mounted beside tollgate ([`crate::App::mount`]) brings its own part.

use crate::schemas;

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as OpenApiDoc, ServerBuilder};
use utoipa::{Modify, OpenApi};

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "client_basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
        // The admin API: a panel session (its cookie; state-changing calls also send the session's
        // CSRF token, from `GET /admin/api/v1/session`), or `bearer` with `credentials:manage`.
        components.add_security_scheme(
            "admin_session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::admin::auth::SESSION_COOKIE,
                "The panel's session cookie, set by logging in at /admin/login",
            ))),
        );
        components.add_security_scheme(
            "csrf",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-CSRF-Token",
                "The session's CSRF token (`csrf_token` of GET /admin/api/v1/session), on \
                 state-changing admin API calls made with the session cookie",
            ))),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tollgate",
        description = "OAuth 2.0 client-credentials authorization server, and the APIs it guards."
    ),
    components(schemas(
        schemas::OAuthErrorDoc,
        schemas::ApiErrorDoc,
        schemas::ApiErrorDetailDoc,
        schemas::TooManyRequestsDoc,
    )),
    modifiers(&Security),
    tags(
        (name = "oauth", description = "Tokens, introspection, revocation"),
        (name = "discovery", description = "Metadata and keys"),
        (name = "operations", description = "Health and metrics"),
        (name = "gateway", description = "Forward-auth for proxies in front of an API (nginx auth_request, Traefik forwardAuth, Envoy ext_authz), from the [[gateway.routes]] table"),
        (name = "admin", description = "The admin JSON API: the panel's operations on the caller's own company (credentials, users, webhooks, audit log), for scripts. Authenticated by the panel session cookie (with the X-CSRF-Token header on state-changing calls), or by a bearer token holding credentials:manage. Errors are `{\"error\": {\"code\", \"message\"}}`; another company's objects read as missing (404)."),
    )
)]
struct ApiDoc;

/// The document, with `issuer` as its server and the parts of the mounted APIs.
pub(crate) fn document(issuer: &str, mounted: &[OpenApiDoc]) -> OpenApiDoc {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::oauth::Doc::openapi());
    doc.merge(crate::revocations::Doc::openapi());
    doc.merge(crate::wellknown::Doc::openapi());
    doc.merge(crate::health::Doc::openapi());
    doc.merge(crate::gateway::verify::Doc::openapi());
    doc.merge(crate::admin::Doc::openapi());
    for part in mounted {
        doc.merge(part.clone());
    }
    doc.servers = Some(vec![ServerBuilder::new().url(issuer).build()]);
    doc
}
