//! The OpenAPI 3.1 document of every route, composed of the route modules' own parts (each module's
//! `Doc`: its handlers' `#[utoipa::path]` annotations and its schemas; the error bodies' schemas come
//! from `error`), served at `/openapi.json` and rendered (Swagger UI, vendored:
//! no CDN) at `/docs`. An API mounted beside tollgate ([`crate::App::mount`]) brings its own part.

use crate::schemas;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
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
    for part in mounted {
        doc.merge(part.clone());
    }
    doc.servers = Some(vec![ServerBuilder::new().url(issuer).build()]);
    doc
}
