//! The route table's vocabulary: a [`Route`] is one path with its methods, who
//! may call them ([`Access`], and [`Need`] per method of the API) and, for the
//! API, its OpenAPI operation. `routes::table` lists every route once; the
//! router, the gate, the OpenAPI document and the tests all read that list, so
//! none of them can forget a route or disagree about one.

use std::collections::HashMap;
use std::path::Path;

use actix_web::body::BoxBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::{Next, from_fn};
use actix_web::{FromRequest as _, Handler, HttpMessage as _, HttpRequest, Responder, guard, web};
use utoipa::openapi::RefOr;
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::schema::Schema;

use crate::auth::bearer::Bearer;
use crate::domain::scopes::Scope;
use crate::state::AppState;

/// Who may reach a route. The gate decides by it before any handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone; the page reads the web session (sign-in, setup, a password link).
    Public,
    /// Anyone, and the answer never depends on the web session: probes and
    /// static files (no session is loaded, nothing is marked `no-store`).
    Sessionless,
    /// A signed-in user.
    SignedIn,
    /// An administrator.
    Admin,
    /// The JSON API: no session and no cookie, so no CSRF or Origin check
    /// either; what the caller needs is said per method ([`Need`]).
    Api,
}

impl Access {
    /// Whether the gate turns away anyone who is not signed in.
    pub fn is_private(self) -> bool {
        matches!(self, Access::SignedIn | Access::Admin)
    }

    /// Whether the answer may depend on the web session.
    pub fn uses_session(self) -> bool {
        !matches!(self, Access::Sessionless | Access::Api)
    }

    /// Whether the route can be reached with a browser's ambient credentials
    /// (the session cookie), and so needs the CSRF and Origin checks. The API
    /// takes bearer tokens only.
    pub fn takes_cookies(self) -> bool {
        self != Access::Api
    }
}

/// What an API method needs from its caller, checked before its handler runs
/// (so a handler cannot forget it): a 401 without a valid token, a 403
/// `insufficient_scope` (audited) without the scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Nothing: sign-in, revocation by value, the OpenAPI document.
    Nothing,
    /// A valid bearer token, whatever its scopes.
    Token,
    /// A valid bearer token that may use this scope now.
    Scope(Scope),
}

/// One method of a route.
#[derive(Clone)]
pub struct Endpoint {
    pub method: Method,
    /// [`Need::Nothing`] outside the API, where [`Access`] says it all.
    pub need: Need,
    /// The OpenAPI operation (API routes only).
    pub doc: Option<Doc>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("method", &self.method)
            .field("need", &self.need)
            .field("documented", &self.doc.is_some())
            .finish()
    }
}

/// What a `#[utoipa::path]` annotation generates beside a handler (the unit
/// struct `__path_<handler>`): the operation, its tags and the schemas it uses.
pub trait Documented:
    utoipa::Path + utoipa::__dev::SchemaReferences + utoipa::__dev::Tags<'static>
{
}

impl<T> Documented for T where
    T: utoipa::Path + utoipa::__dev::SchemaReferences + utoipa::__dev::Tags<'static>
{
}

/// The OpenAPI operation a `#[utoipa::path]` annotation generates for a handler.
#[derive(Clone, Copy)]
pub struct Doc {
    path: fn() -> String,
    methods: fn() -> Vec<HttpMethod>,
    operation: fn() -> Operation,
    tags: fn() -> Vec<&'static str>,
    schemas: fn(&mut Vec<(String, RefOr<Schema>)>),
}

impl Doc {
    /// The annotation's operation, from the unit struct utoipa generates beside
    /// the handler (`__path_<handler>`).
    pub fn of<P: Documented>(_: P) -> Self {
        Doc {
            path: P::path,
            methods: P::methods,
            operation: P::operation,
            tags: P::tags,
            schemas: P::schemas,
        }
    }

    /// The path the annotation names (it must be the route's: see the tests).
    pub fn path(&self) -> String {
        (self.path)()
    }

    pub fn methods(&self) -> Vec<HttpMethod> {
        (self.methods)()
    }

    /// The operation, under the annotation's `tag`.
    pub fn operation(&self) -> Operation {
        let mut operation = (self.operation)();
        let tags = (self.tags)();
        if !tags.is_empty() {
            operation.tags = Some(tags.into_iter().map(str::to_owned).collect());
        }
        operation
    }

    /// The schemas the operation refers to, for the document's components.
    pub fn schemas(&self, into: &mut Vec<(String, RefOr<Schema>)>) {
        (self.schemas)(into);
    }
}

/// `Route::get` and the like: `self.to(Method::GET, handler)`, with the bounds
/// actix's own `Resource::get` puts on a handler.
macro_rules! page_methods {
    ($($name:ident => $method:ident),*) => {$(
        pub fn $name<F, Args>(self, handler: F) -> Self
        where
            F: Handler<Args>,
            Args: actix_web::FromRequest + 'static,
            F::Output: Responder + 'static,
        {
            self.to(Method::$method, handler)
        }
    )*};
}

/// `ApiRoute::get` and the like: `self.to(Method::GET, need, handler, doc)`,
/// with `doc` the `__path_<handler>` struct of the handler's annotation.
macro_rules! api_methods {
    ($($name:ident => $method:ident),*) => {$(
        pub fn $name<F, Args, P>(self, need: Need, handler: F, doc: P) -> Self
        where
            F: Handler<Args>,
            Args: actix_web::FromRequest + 'static,
            F::Output: Responder + 'static,
            P: Documented,
        {
            self.to(Method::$method, need, handler, Some(Doc::of(doc)))
        }
    )*};
}

/// How a route is served.
enum Service {
    Resource(actix_web::Resource),
    /// A directory on disk, mounted at the route's prefix.
    Files(actix_files::Files),
}

/// Where a route that needs a step-up (SPEC §9) sends the user back to after
/// `/sudo`: a GET returns to itself; a POST to the page that offers it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepUp {
    /// The route's own path, whose GET is the form (`/admin/settings`,
    /// `/profile/tokens/{id}/regenerate`).
    Here,
    /// This page: the form lives elsewhere (`/profile` for `/profile/password`).
    Page(&'static str),
}

/// One path of the table.
pub struct Route {
    pub path: &'static str,
    pub access: Access,
    pub endpoints: Vec<Endpoint>,
    /// Whether every method needs a session stepped up within the last ten
    /// minutes (the gate sends anyone else through `/sudo` first).
    pub step_up: Option<StepUp>,
    service: Service,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("path", &self.path)
            .field("access", &self.access)
            .field("endpoints", &self.endpoints)
            .field("step_up", &self.step_up)
            .finish_non_exhaustive()
    }
}

/// A page route (anything but the API): `page("/login", Access::Public).get(…)`.
pub fn page(path: &'static str, access: Access) -> Route {
    assert!(
        access != Access::Api,
        "{path}: API routes are built with `api`"
    );
    Route::new(path, access)
}

/// An API route: each method says what it [`Need`]s and gives its OpenAPI
/// operation, `api("/api/v1/me").get(Need::Token, me::show_me, me::__path_show_me)`.
pub fn api(path: &'static str) -> ApiRoute {
    ApiRoute(Route::new(path, Access::Api))
}

impl Route {
    fn new(path: &'static str, access: Access) -> Self {
        Route {
            path,
            access,
            endpoints: Vec::new(),
            step_up: None,
            service: Service::Resource(web::resource(path)),
        }
    }

    /// Changes the actix resource being built.
    fn with_resource(
        mut self,
        change: impl FnOnce(actix_web::Resource) -> actix_web::Resource,
    ) -> Self {
        let Service::Resource(resource) = &mut self.service else {
            unreachable!("a mounted directory has no handlers")
        };
        *resource = change(std::mem::replace(resource, web::resource("")));
        self
    }

    fn add(mut self, endpoint: Endpoint, route: actix_web::Route) -> Self {
        assert!(
            self.endpoints.iter().all(|e| e.method != endpoint.method),
            "{} {}: registered twice",
            endpoint.method,
            self.path
        );
        self.endpoints.push(endpoint);
        self.with_resource(|resource| resource.route(route))
    }

    fn to<F, Args>(self, method: Method, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let endpoint = Endpoint {
            method: method.clone(),
            need: Need::Nothing,
            doc: None,
        };
        self.add(endpoint, web::method(method).to(handler))
    }

    page_methods! {
        get => GET,
        post => POST
    }

    /// Every method of this route needs a step-up first (SPEC §9): without
    /// one the gate leads to `/sudo`, which comes back to `back`.
    pub fn step_up(mut self, back: StepUp) -> Self {
        assert!(
            self.access.is_private(),
            "{}: step-up needs a user",
            self.path
        );
        self.step_up = Some(back);
        self
    }

    /// Guards the resource on GET, its only method: any other method finds no
    /// route here (404), rather than 405.
    pub fn get_only(self) -> Self {
        assert!(
            self.endpoints.iter().all(|e| e.method == Method::GET),
            "{}",
            self.path
        );
        self.with_resource(|resource| resource.guard(guard::Get()))
    }

    /// A directory served as this route (whose path must end in `{path:.*}`)
    /// instead of its handlers.
    pub fn or_directory(mut self, dir: Option<&Path>) -> Self {
        if let Some(dir) = dir {
            self.service = Service::Files(actix_files::Files::new(self.mount(), dir));
        }
        self
    }

    /// Where a directory is mounted: the path up to its `/{path:.*}` tail.
    fn mount(&self) -> &'static str {
        self.path
            .strip_suffix("/{path:.*}")
            .unwrap_or_else(|| panic!("{}: not a directory route", self.path))
    }

    /// The patterns actix reports for requests this route answers
    /// (`HttpRequest::match_pattern`): its path, or a directory's mount point.
    fn patterns(&self) -> &'static str {
        match self.service {
            Service::Resource(_) => self.path,
            Service::Files(_) => self.mount(),
        }
    }

    /// Registers the route with actix.
    pub fn register(self, cfg: &mut web::ServiceConfig) {
        match self.service {
            Service::Resource(resource) => cfg.service(resource),
            Service::Files(files) => cfg.service(files),
        };
    }
}

/// An API route being built; see [`api`].
pub struct ApiRoute(Route);

impl ApiRoute {
    /// Data for this route's extractors (body limits and their JSON errors).
    pub fn app_data<U: 'static>(self, data: U) -> Self {
        ApiRoute(self.0.with_resource(|resource| resource.app_data(data)))
    }

    /// `method` answered by `handler`, for callers who have what `need` says,
    /// documented by `doc` (none only for the document itself).
    pub fn to<F, Args>(self, method: Method, need: Need, handler: F, doc: Option<Doc>) -> Self
    where
        F: Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let mut route = web::method(method.clone()).to(handler);
        if need != Need::Nothing {
            route = route.wrap(from_fn(move |req, next| require_bearer(need, req, next)));
        }
        let endpoint = Endpoint { method, need, doc };
        ApiRoute(self.0.add(endpoint, route))
    }

    api_methods! {
        get => GET,
        post => POST,
        patch => PATCH,
        delete => DELETE
    }

    pub fn done(self) -> Route {
        self.0
    }
}

/// Authenticates the bearer token (and checks `need`'s scope) before the
/// handler runs; the handler's [`Bearer`] extractor then takes it from the
/// request instead of looking the token up again.
async fn require_bearer(
    need: Need,
    req: ServiceRequest,
    next: Next<BoxBody>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let bearer = match Bearer::from_request(req.request(), &mut Payload::None).await {
        Ok(bearer) => bearer,
        Err(err) => return Ok(req.error_response(err)),
    };
    if let Need::Scope(scope) = need {
        let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
            return Ok(
                req.error_response(crate::error::AppError::Internal(anyhow::anyhow!(
                    "AppState is not registered"
                ))),
            );
        };
        if let Err(err) = bearer.require(&state, scope).await {
            return Ok(req.error_response(err));
        }
    }
    req.extensions_mut().insert(bearer);
    next.call(req).await
}

/// The access rule of the route a request is for (see [`Rules::rule`]).
pub fn access_of(req: &HttpRequest) -> Access {
    rule_of(req).0
}

/// The access rule of the route a request is for, and whether it needs a
/// step-up. Without the route table's rules (never, once configured), every
/// request is taken as an administrator's page: deny by default.
pub fn rule_of(req: &HttpRequest) -> (Access, Option<StepUp>) {
    match req.app_data::<Rules>() {
        Some(rules) => rules.rule(req.match_pattern().as_deref(), req.path()),
        None => (Access::Admin, None),
    }
}

/// The access rule (and step-up) of every pattern the router knows, for the gate.
#[derive(Debug, Clone, Default)]
pub struct Rules(HashMap<&'static str, (Access, Option<StepUp>)>);

impl Rules {
    pub fn of(routes: &[Route]) -> Self {
        Rules(
            routes
                .iter()
                .map(|route| (route.patterns(), (route.access, route.step_up)))
                .collect(),
        )
    }

    /// The rule for a request: its route's (`pattern` is what actix matched),
    /// or for an address no route answers, the rule of the area it lies in.
    pub fn access(&self, pattern: Option<&str>, path: &str) -> Access {
        self.rule(pattern, path).0
    }

    /// The access rule and step-up of a request's route (see [`Self::access`]).
    pub fn rule(&self, pattern: Option<&str>, path: &str) -> (Access, Option<StepUp>) {
        match pattern.and_then(|pattern| self.0.get(pattern)) {
            Some(rule) => *rule,
            None => (unrouted(path), None),
        }
    }
}

/// What an address that no route answers falls under: nothing is found there
/// (404), but the API's answer is JSON without a session, the admin area shows
/// nothing (not even that) to anyone but administrators, and a missing static
/// file needs no session. Anything else is a
/// 404 for everyone, with the usual checks of a page.
fn unrouted(path: &str) -> Access {
    if path.starts_with("/api/") {
        Access::Api
    } else if path == "/admin" || path.starts_with("/admin/") {
        Access::Admin
    } else if path.starts_with("/static/") {
        Access::Sessionless
    } else {
        Access::Public
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_pattern_is_registered_once_and_the_api_is_its_own_area() {
        let routes = crate::routes::table(None);
        let mut seen = HashSet::new();
        for route in &routes {
            assert!(seen.insert(route.path), "{} twice", route.path);
            assert!(!route.endpoints.is_empty(), "{}", route.path);
            assert_eq!(
                route.access == Access::Api,
                route.path.starts_with("/api/"),
                "{}",
                route.path
            );
            assert_eq!(
                route.access == Access::Admin,
                route.path == "/admin" || route.path.starts_with("/admin/"),
                "{}",
                route.path
            );
        }
    }

    /// An API route anyone may call is a decision: it is listed here.
    #[test]
    fn only_these_api_routes_need_no_token() {
        let open: Vec<_> = crate::routes::table(None)
            .iter()
            .flat_map(|route| {
                route
                    .endpoints
                    .iter()
                    .filter(|e| route.access == Access::Api && e.need == Need::Nothing)
                    .map(|e| format!("{} {}", e.method, route.path))
            })
            .collect();
        assert_eq!(
            open,
            [
                "GET /api/openapi.json",
                "POST /api/v1/sessions",
                "POST /api/v1/revoke"
            ]
        );
    }

    #[test]
    fn an_address_no_route_answers_keeps_its_area_rule() {
        let rules = Rules::of(&crate::routes::table(None));
        for (path, access) in [
            ("/api/v2/nothing", Access::Api),
            ("/admin/nothing", Access::Admin),
            ("/admin", Access::Admin),
            ("/administrator", Access::Public),
            ("/static/nothing.css", Access::Sessionless),
            ("/profile/nothing", Access::Public),
        ] {
            assert_eq!(rules.access(None, path), access, "{path}");
        }
        assert_eq!(
            rules.access(Some("/api/v1/tokens/{id}"), "/api/v1/tokens/1"),
            Access::Api
        );
        assert_eq!(rules.access(Some("/profile"), "/profile"), Access::SignedIn);
    }

    #[test]
    fn a_static_directory_is_mounted_where_the_builtin_files_are() {
        let dir = Path::new("/nonexistent");
        let routes = crate::routes::table(Some(dir));
        let rules = Rules::of(&routes);
        assert_eq!(
            rules.access(Some("/static"), "/static/app.css"),
            Access::Sessionless
        );
    }
}
