//! The authorization model: services, roles, permissions, links, grants, and the queries about people.
//!
//! Services, roles and permissions share their handlers; a marker type names the kind.

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use tessera_domain::access::{Entry, Kind, Link, PermissionRef};
use tessera_domain::error::UserError;
use tessera_domain::principal::Principal;
use tessera_domain::usecases::UseCases;
use tessera_domain::user::UserId;

use crate::dto::{
    all_items, EntryBody, EntryResponse, GrantBody, PageQuery, PageResponse, PermissionGrantBody,
    PersonAccessResponse, RolePermissionBody, ServiceRoleBody, UserResponse,
};
use crate::error::ApiError;
use crate::extract::{Caller, JsonBody};
use crate::routes::no_content;
use crate::AppState;

/// Names the kind a generic handler serves, and the path its entries live under.
pub trait KindPath {
    const KIND: Kind;
    const PATH: &'static str;
}

#[derive(Debug)]
pub struct Services;
#[derive(Debug)]
pub struct Roles;
#[derive(Debug)]
pub struct Permissions;
#[derive(Debug)]
pub struct Tenants;

impl KindPath for Services {
    const KIND: Kind = Kind::Service;
    const PATH: &'static str = "/services";
}
impl KindPath for Roles {
    const KIND: Kind = Kind::Role;
    const PATH: &'static str = "/roles";
}
impl KindPath for Permissions {
    const KIND: Kind = Kind::Permission;
    const PATH: &'static str = "/permissions";
}
impl KindPath for Tenants {
    const KIND: Kind = Kind::Tenant;
    const PATH: &'static str = "/tenants";
}

/// `GET /services`, `/roles`, `/permissions`.
pub async fn list<K: KindPath>(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let PageQuery { limit, after } = query.into_inner();
    let page = state
        .run(move |c| c.access.list_entries(&caller, K::KIND, limit, after))
        .await?;
    Ok(HttpResponse::Ok().json(PageResponse {
        items: page.items.iter().map(EntryResponse::from).collect(),
        next_after: page.next_after,
    }))
}

/// `POST /services`, `/roles`, `/permissions`.
pub async fn create<K: KindPath>(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<EntryBody>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into();
    let e = state
        .run(move |c| c.access.create_entry(&caller, K::KIND, &req))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("{}/{}", K::PATH, e.id)))
        .json(EntryResponse::from(&e)))
}

/// `GET /services/{id}`, …
pub async fn get<K: KindPath>(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    one_entry(&state, move |c| c.access.get_entry(&caller, K::KIND, id)).await
}

/// Runs a use case that answers one entry, and answers it: 200.
async fn one_entry(
    state: &AppState,
    f: impl FnOnce(&UseCases) -> Result<Entry, UserError> + Send + 'static,
) -> Result<HttpResponse, ApiError> {
    let e = state.run(f).await?;
    Ok(HttpResponse::Ok().json(EntryResponse::from(&e)))
}

/// `PUT /services/{id}`, …: name and description are replaced.
pub async fn put<K: KindPath>(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<i64>,
    JsonBody(body): JsonBody<EntryBody>,
) -> Result<HttpResponse, ApiError> {
    let (id, req) = (id.into_inner(), body.into());
    one_entry(&state, move |c| {
        c.access.update_entry(&caller, K::KIND, id, &req)
    })
    .await
}

/// `DELETE /services/{id}`, …: links and grants go with it.
pub async fn delete<K: KindPath>(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    no_content(&state, caller, id, |c, p, id| {
        c.access.delete_entry(p, K::KIND, id)
    })
    .await
}

async fn linked(
    state: web::Data<AppState>,
    caller: Principal,
    link: Link,
    left: i64,
) -> Result<HttpResponse, ApiError> {
    let items = state
        .run(move |c| c.access.linked(&caller, link, left))
        .await?;
    Ok(HttpResponse::Ok().json(all_items(items.iter().map(EntryResponse::from).collect())))
}

/// `GET /roles/{id}/permissions`.
pub async fn role_permissions(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    linked(state, caller, Link::RolePermission, id.into_inner()).await
}

/// `GET /services/{id}/roles`.
pub async fn service_roles(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    linked(state, caller, Link::ServiceRole, id.into_inner()).await
}

/// A link's request body: which link it is and its two ends.
pub trait LinkBody: serde::de::DeserializeOwned + serde::Serialize + 'static {
    const LINK: Link;
    fn ends(&self) -> (i64, i64);
}

impl LinkBody for RolePermissionBody {
    const LINK: Link = Link::RolePermission;
    fn ends(&self) -> (i64, i64) {
        (self.role_id, self.permission_id)
    }
}

impl LinkBody for ServiceRoleBody {
    const LINK: Link = Link::ServiceRole;
    fn ends(&self) -> (i64, i64) {
        (self.service_id, self.role_id)
    }
}

/// `POST /role-permissions`, `POST /service-roles`: 201 with the link; `DELETE`: 204, or 404
/// when there was no such link.
pub async fn link<B: LinkBody>(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    JsonBody(body): JsonBody<B>,
) -> Result<HttpResponse, ApiError> {
    let (left, right) = body.ends();
    if req.method() == Method::DELETE {
        state
            .run(move |c| c.access.unlink(&caller, B::LINK, left, right))
            .await?;
        return Ok(HttpResponse::NoContent().finish());
    }
    state
        .run(move |c| c.access.link(&caller, B::LINK, left, right))
        .await?;
    Ok(HttpResponse::Created().json(body))
}

/// `POST /person-service-roles` grants a person a role in a service; `DELETE` takes it back.
pub async fn role_grant(
    req: HttpRequest,
    state: web::Data<AppState>,
    Caller(caller): Caller,
    JsonBody(b): JsonBody<GrantBody>,
) -> Result<HttpResponse, ApiError> {
    let (person, service, role) = (UserId(b.person_id), b.service_id, b.role_id);
    if req.method() == Method::DELETE {
        state
            .run(move |c| c.access.revoke_role(&caller, person, service, role))
            .await?;
        return Ok(HttpResponse::NoContent().finish());
    }
    state
        .run(move |c| c.access.grant_role(&caller, person, service, role))
        .await?;
    Ok(HttpResponse::Created().json(b))
}

/// `POST /person-service-permissions`: by `permission_id` or `permission_name`, exactly one.
pub async fn grant_permission(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    JsonBody(b): JsonBody<PermissionGrantBody>,
) -> Result<HttpResponse, ApiError> {
    let permission = match (b.permission_id, b.permission_name.clone()) {
        (Some(id), None) => PermissionRef::Id(id),
        (None, Some(name)) => PermissionRef::Name(name),
        _ => {
            return Err(ApiError::field(
                "permission_id",
                "exactly_one_of_permission_id_or_permission_name",
                "name the permission by permission_id or permission_name, not both".into(),
            ))
        }
    };
    let by_name = matches!(permission, PermissionRef::Name(_));
    let (person, service) = (UserId(b.person_id), b.service_id);
    state
        .run(move |c| {
            c.access
                .grant_permission(&caller, person, service, permission)
        })
        .await
        .map_err(|e| {
            if by_name {
                e.with_field_renamed("permission_id", "permission_name")
            } else {
                e
            }
        })?;
    Ok(HttpResponse::Created().json(b))
}

/// `GET /people/{person_id}/services`.
pub async fn person_services(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    person: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let person = UserId(person.into_inner());
    let items = state
        .run(move |c| c.access.person_services(&caller, person))
        .await?;
    Ok(HttpResponse::Ok().json(all_items(items.iter().map(EntryResponse::from).collect())))
}

async fn access_of(
    state: web::Data<AppState>,
    caller: Principal,
    path: web::Path<(i64, i64)>,
) -> Result<tessera_domain::access::PersonAccess, ApiError> {
    let (person, service) = path.into_inner();
    state
        .run(move |c| c.access.person_access(&caller, UserId(person), service))
        .await
}

/// `GET /people/{person_id}/services/{service_id}`: the user, their roles and effective permissions.
pub async fn person_access(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let access = access_of(state, caller, path).await?;
    Ok(HttpResponse::Ok().json(PersonAccessResponse::from(&access)))
}

/// `GET /people/{person_id}/services/{service_id}/roles`.
pub async fn person_roles(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let access = access_of(state, caller, path).await?;
    Ok(HttpResponse::Ok().json(all_items(
        access.roles.iter().map(EntryResponse::from).collect(),
    )))
}

/// `GET /services/{service_id}/roles/{role_id}/people`.
pub async fn role_people(
    state: web::Data<AppState>,
    Caller(caller): Caller,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (service, role) = path.into_inner();
    let people = state
        .run(move |c| c.access.role_people(&caller, service, role))
        .await?;
    Ok(HttpResponse::Ok().json(all_items(people.iter().map(UserResponse::from).collect())))
}
