//! The authorization model over HTTP: CRUD, links, grants, effective permissions, who may do what.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tessera_domain::access::Kind;
use tessera_domain::ports::AccessRepository as _;
use tessera_testkit::{spawn_app, TestApp, USER_PASSWORD};

/// Ids of a small model: service `billing` offering `viewer` (invoices:read) and `editor`
/// (invoices:read, invoices:write); `refunds:create` is in no role.
struct Model {
    billing: i64,
    viewer: i64,
    editor: i64,
    read: i64,
    write: i64,
    refunds: i64,
}

async fn model(app: &TestApp, admin: &str) -> Model {
    let m = Model {
        billing: app.create_entry(admin, "/services", "billing").await,
        viewer: app.create_entry(admin, "/roles", "viewer").await,
        editor: app.create_entry(admin, "/roles", "editor").await,
        read: app
            .create_entry(admin, "/permissions", "invoices:read")
            .await,
        write: app
            .create_entry(admin, "/permissions", "invoices:write")
            .await,
        refunds: app
            .create_entry(admin, "/permissions", "refunds:create")
            .await,
    };
    for (role, permission) in [(m.viewer, m.read), (m.editor, m.read), (m.editor, m.write)] {
        let a = app
            .post(
                "/role-permissions",
                Some(admin),
                json!({"role_id": role, "permission_id": permission}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    }
    for role in [m.viewer, m.editor] {
        let a = app
            .post(
                "/service-roles",
                Some(admin),
                json!({"service_id": m.billing, "role_id": role}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    }
    m
}

async fn access_of(app: &TestApp, token: &str, person: i64, service: i64) -> Value {
    let a = app
        .get(&format!("/people/{person}/services/{service}"), token)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.body
}

#[tokio::test]
async fn services_roles_and_permissions_are_created_read_renamed_listed_and_deleted() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for kind in ["/services", "/roles", "/permissions"] {
        let a = app
            .post(
                kind,
                Some(&admin),
                json!({"name": "first", "description": "  the first one "}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{kind}: {:?}", a.body);
        let id = a.body["id"].as_i64().unwrap();
        assert_eq!(a.headers["location"], format!("{kind}/{id}").as_str());
        assert_eq!(a.body["description"], "the first one");
        assert_eq!(a.body.get("active").is_some(), kind == "/services");
        assert_eq!(app.get(&format!("{kind}/{id}"), &admin).await.body, a.body);

        let renamed = app
            .put(&format!("{kind}/{id}"), &admin, json!({"name": "renamed"}))
            .await;
        assert_eq!(renamed.status, StatusCode::OK, "{:?}", renamed.body);
        assert_eq!(renamed.body["name"], "renamed");
        assert_eq!(renamed.body["description"], Value::Null);

        app.create_entry(&admin, kind, "second").await;
        let list = app.get(&format!("{kind}?limit=1"), &admin).await;
        assert_eq!(list.body["items"][0]["name"], "renamed");
        let next = list.body["next_after"].as_i64().unwrap();
        let rest = app.get(&format!("{kind}?after={next}"), &admin).await;
        assert_eq!(rest.body["items"][0]["name"], "second");
        assert_eq!(rest.body["next_after"], Value::Null);

        let gone = app
            .delete(&format!("{kind}/{id}"), Some(&admin), None)
            .await;
        assert_eq!(gone.status, StatusCode::NO_CONTENT);
        let a = app.get(&format!("{kind}/{id}"), &admin).await;
        assert_eq!((a.status, a.error()), (StatusCode::NOT_FOUND, "not_found"));
    }
}

#[tokio::test]
async fn a_disabled_service_stays_disabled_when_renamed_without_active() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let id = app.create_entry(&admin, "/services", "crm").await;
    let a = app
        .put(
            &format!("/services/{id}"),
            &admin,
            json!({"name": "crm", "active": false}),
        )
        .await;
    assert_eq!(a.body["active"], false);
    let a = app
        .put(&format!("/services/{id}"), &admin, json!({"name": "crm2"}))
        .await;
    assert_eq!(
        (a.body["name"].clone(), a.body["active"].clone()),
        (json!("crm2"), json!(false))
    );
    let a = app
        .put(
            &format!("/roles/{}", app.create_entry(&admin, "/roles", "r").await),
            &admin,
            json!({"name": "r", "active": false}),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.body["fields"]["active"][0], "only_for_services");
}

#[tokio::test]
async fn effective_permissions_come_through_role_grants_and_direct_grants() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let m = model(&app, &admin).await;
    let alice = app.create_user(&admin, "alice").await;
    let bob = app.create_user(&admin, "bob").await;

    let a = app
        .post(
            "/person-service-roles",
            Some(&admin),
            json!({"person_id": alice, "service_id": m.billing, "role_id": m.viewer}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    let a = app
        .post(
            "/person-service-permissions",
            Some(&admin),
            json!({"person_id": alice, "service_id": m.billing, "permission_name": "refunds:create"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    // Granting the same permission again by id changes nothing.
    let a = app
        .post(
            "/person-service-permissions",
            Some(&admin),
            json!({"person_id": alice, "service_id": m.billing, "permission_id": m.refunds}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);

    let got = access_of(&app, &admin, alice, m.billing).await;
    assert_eq!(got["user"]["username"], "alice");
    assert_eq!(got["service"]["name"], "billing");
    assert_eq!(got["roles"], json!(["viewer"]));
    assert_eq!(
        got["permissions"],
        json!(["invoices:read", "refunds:create"])
    );

    // The hidden role of the direct grant shows in no list.
    let roles = app.get("/roles", &admin).await;
    assert_eq!(roles.body["items"].as_array().unwrap().len(), 2);
    let offered = app
        .get(&format!("/services/{}/roles", m.billing), &admin)
        .await;
    let names: Vec<&str> = offered.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["editor", "viewer"]);
    let perms = app
        .get(&format!("/roles/{}/permissions", m.editor), &admin)
        .await;
    assert_eq!(perms.body["items"][1]["name"], "invoices:write");

    let services = app.get(&format!("/people/{alice}/services"), &admin).await;
    assert_eq!(services.body["items"][0]["name"], "billing");
    let roles = app
        .get(
            &format!("/people/{alice}/services/{}/roles", m.billing),
            &admin,
        )
        .await;
    assert_eq!(roles.body["items"][0]["id"], m.viewer);
    let people = app
        .get(
            &format!("/services/{}/roles/{}/people", m.billing, m.viewer),
            &admin,
        )
        .await;
    assert_eq!(people.body["items"][0]["id"], alice);
    assert_eq!(people.body["items"].as_array().unwrap().len(), 1);

    // A user reads their own access, not someone else's; bob holds nothing and sees that.
    let (alice_token, _) = app.login("alice", USER_PASSWORD).await;
    let own = access_of(&app, &alice_token, alice, m.billing).await;
    assert_eq!(own["permissions"], got["permissions"]);
    let other = app
        .get(
            &format!("/people/{bob}/services/{}", m.billing),
            &alice_token,
        )
        .await;
    assert_eq!(
        (other.status, other.error()),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    let empty = access_of(&app, &admin, bob, m.billing).await;
    assert_eq!(
        (empty["roles"].clone(), empty["permissions"].clone()),
        (json!([]), json!([]))
    );

    // Taking the role away leaves the direct grant.
    let a = app
        .delete(
            "/person-service-roles",
            Some(&admin),
            Some(json!({"person_id": alice, "service_id": m.billing, "role_id": m.viewer})),
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let got = access_of(&app, &admin, alice, m.billing).await;
    assert_eq!(got["roles"], json!([]));
    assert_eq!(got["permissions"], json!(["refunds:create"]));
}

#[tokio::test]
async fn deleting_a_role_permission_or_service_removes_its_links_and_grants() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let m = model(&app, &admin).await;
    let alice = app.create_user(&admin, "alice").await;
    app.post(
        "/person-service-roles",
        Some(&admin),
        json!({"person_id": alice, "service_id": m.billing, "role_id": m.editor}),
    )
    .await;
    app.delete(&format!("/permissions/{}", m.write), Some(&admin), None)
        .await;
    let got = access_of(&app, &admin, alice, m.billing).await;
    assert_eq!(got["permissions"], json!(["invoices:read"]));
    app.delete(&format!("/roles/{}", m.editor), Some(&admin), None)
        .await;
    let got = access_of(&app, &admin, alice, m.billing).await;
    assert_eq!(
        (got["roles"].clone(), got["permissions"].clone()),
        (json!([]), json!([]))
    );

    app.post(
        "/person-service-permissions",
        Some(&admin),
        json!({"person_id": alice, "service_id": m.billing, "permission_id": m.read}),
    )
    .await;
    let a = app
        .delete(&format!("/services/{}", m.billing), Some(&admin), None)
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let services = app.get(&format!("/people/{alice}/services"), &admin).await;
    assert_eq!(services.body["items"], json!([]));
    let a = app
        .get(&format!("/people/{alice}/services/{}", m.billing), &admin)
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    // The service's hidden role went with it.
    let a = app
        .delete(
            "/service-roles",
            Some(&admin),
            Some(json!({"service_id": m.billing, "role_id": m.viewer})),
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_admin_endpoint_is_401_anonymous_403_for_a_user_and_open_to_an_admin() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let m = model(&app, &admin).await;
    let alice = app.create_user(&admin, "alice").await;
    let (user, _) = app.login("alice", USER_PASSWORD).await;
    let grant = json!({"person_id": alice, "service_id": m.billing, "role_id": m.viewer});
    let cases: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/services".into(), None),
        (
            Method::POST,
            "/services".into(),
            Some(json!({"name": "new-service"})),
        ),
        (Method::GET, format!("/services/{}", m.billing), None),
        (
            Method::PUT,
            format!("/services/{}", m.billing),
            Some(json!({"name": "billing"})),
        ),
        (Method::GET, format!("/services/{}/roles", m.billing), None),
        (
            Method::GET,
            format!("/services/{}/roles/{}/people", m.billing, m.viewer),
            None,
        ),
        (Method::POST, format!("/services/{}/token", m.billing), None),
        (Method::GET, "/roles".into(), None),
        (
            Method::POST,
            "/roles".into(),
            Some(json!({"name": "new-role"})),
        ),
        (Method::GET, format!("/roles/{}", m.viewer), None),
        (
            Method::PUT,
            format!("/roles/{}", m.viewer),
            Some(json!({"name": "viewer"})),
        ),
        (
            Method::GET,
            format!("/roles/{}/permissions", m.viewer),
            None,
        ),
        (Method::GET, "/permissions".into(), None),
        (
            Method::POST,
            "/permissions".into(),
            Some(json!({"name": "new:permission"})),
        ),
        (
            Method::PUT,
            format!("/permissions/{}", m.read),
            Some(json!({"name": "invoices:read"})),
        ),
        (
            Method::POST,
            "/role-permissions".into(),
            Some(json!({"role_id": m.viewer, "permission_id": m.write})),
        ),
        (
            Method::DELETE,
            "/role-permissions".into(),
            Some(json!({"role_id": m.viewer, "permission_id": m.write})),
        ),
        (
            Method::POST,
            "/service-roles".into(),
            Some(json!({"service_id": m.billing, "role_id": m.editor})),
        ),
        (
            Method::POST,
            "/person-service-roles".into(),
            Some(grant.clone()),
        ),
        (Method::DELETE, "/person-service-roles".into(), Some(grant)),
        (
            Method::POST,
            "/person-service-permissions".into(),
            Some(json!({"person_id": alice, "service_id": m.billing, "permission_id": m.write})),
        ),
        (
            Method::DELETE,
            "/service-roles".into(),
            Some(json!({"service_id": m.billing, "role_id": m.editor})),
        ),
        (
            Method::DELETE,
            format!("/services/{}/token", m.billing),
            None,
        ),
        (Method::DELETE, format!("/permissions/{}", m.refunds), None),
        (Method::DELETE, format!("/roles/{}", m.editor), None),
        (Method::DELETE, format!("/services/{}", m.billing), None),
    ];
    for (method, path, body) in cases {
        let a = app.call(method.clone(), &path, None, body.clone()).await;
        assert_eq!(
            (a.status, a.error()),
            (StatusCode::UNAUTHORIZED, "missing_token"),
            "anonymous {method} {path}"
        );
        let a = app
            .call(method.clone(), &path, Some(&user), body.clone())
            .await;
        assert_eq!(
            (a.status, a.error()),
            (StatusCode::FORBIDDEN, "forbidden"),
            "user {method} {path}"
        );
        let a = app.call(method.clone(), &path, Some(&admin), body).await;
        assert!(
            a.status.is_success(),
            "admin {method} {path}: {} {:?}",
            a.status,
            a.body
        );
    }
}

#[tokio::test]
async fn bad_input_gets_its_status_and_code_and_writes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let m = model(&app, &admin).await;
    let alice = app.create_user(&admin, "alice").await;
    let other = app.create_entry(&admin, "/roles", "unoffered").await;
    let missing = 9_999;
    let field = |f: &str, rule: &str| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            f.to_owned(),
            rule.to_owned(),
        )
    };
    let cases: Vec<(&str, Value, (StatusCode, String, String))> = vec![
        (
            "/roles",
            json!({"name": "viewer"}),
            (StatusCode::CONFLICT, "name".into(), "taken".into()),
        ),
        (
            "/roles",
            json!({"name": "two  words"}),
            field("name", "invalid_spaces"),
        ),
        (
            "/roles",
            json!({"name": "~hidden"}),
            field("name", "invalid_characters"),
        ),
        ("/permissions", json!({"name": ""}), field("name", "empty")),
        (
            "/services",
            json!({"name": "x", "description": "x".repeat(501)}),
            field("description", "too_long"),
        ),
        ("/services", json!({}), field("name", "required")),
        (
            "/services",
            json!({"name": 5}),
            field("name", "invalid_type"),
        ),
        (
            "/role-permissions",
            json!({"role_id": missing, "permission_id": m.read}),
            field("role_id", "not_found"),
        ),
        (
            "/role-permissions",
            json!({"role_id": m.viewer, "permission_id": missing}),
            field("permission_id", "not_found"),
        ),
        (
            "/role-permissions",
            json!({"role_id": "one", "permission_id": m.read}),
            field("role_id", "invalid_type"),
        ),
        (
            "/service-roles",
            json!({"service_id": missing, "role_id": m.viewer}),
            field("service_id", "not_found"),
        ),
        (
            "/person-service-roles",
            json!({"person_id": missing, "service_id": m.billing, "role_id": m.viewer}),
            field("person_id", "not_found"),
        ),
        (
            "/person-service-roles",
            json!({"person_id": alice, "service_id": missing, "role_id": m.viewer}),
            field("service_id", "not_found"),
        ),
        (
            "/person-service-roles",
            json!({"person_id": alice, "service_id": m.billing, "role_id": missing}),
            field("role_id", "not_found"),
        ),
        (
            "/person-service-roles",
            json!({"person_id": alice, "service_id": m.billing, "role_id": other}),
            field("role_id", "not_offered_by_service"),
        ),
        (
            "/person-service-permissions",
            json!({"person_id": alice, "service_id": m.billing, "permission_name": "nope"}),
            field("permission_name", "not_found"),
        ),
        (
            "/person-service-permissions",
            json!({"person_id": alice, "service_id": m.billing, "permission_id": missing}),
            field("permission_id", "not_found"),
        ),
        (
            "/person-service-permissions",
            json!({"person_id": missing, "service_id": m.billing, "permission_id": m.read}),
            field("person_id", "not_found"),
        ),
        (
            "/person-service-permissions",
            json!({"person_id": alice, "service_id": m.billing}),
            field(
                "permission_id",
                "exactly_one_of_permission_id_or_permission_name",
            ),
        ),
    ];
    let roles_before = app.store.list_entries(Kind::Role, None, 500).unwrap();
    for (path, body, (status, f, rule)) in cases {
        let a = app.post(path, Some(&admin), body.clone()).await;
        assert_eq!(a.status, status, "{path} {body}: {:?}", a.body);
        assert_eq!(
            a.body["fields"][&f][0],
            rule.as_str(),
            "{path} {body}: {:?}",
            a.body
        );
        assert!(!a.error().is_empty());
    }
    // Nothing was written: no role (hidden or not), no grant.
    assert_eq!(
        app.store.list_entries(Kind::Role, None, 500).unwrap(),
        roles_before
    );
    assert_eq!(
        app.store
            .effective_permissions(tessera_domain::user::UserId(alice), m.billing)
            .unwrap(),
        Vec::<String>::new()
    );
    assert!(app
        .store
        .person_services(tessera_domain::user::UserId(alice))
        .unwrap()
        .is_empty());

    let not_found = [
        (Method::GET, "/roles/abc".to_owned(), None),
        (Method::GET, format!("/roles/{missing}"), None),
        (
            Method::PUT,
            format!("/roles/{missing}"),
            Some(json!({"name": "zzz"})),
        ),
        (Method::DELETE, format!("/services/{missing}"), None),
        (Method::GET, format!("/roles/{missing}/permissions"), None),
        (Method::GET, format!("/people/{missing}/services"), None),
        (
            Method::GET,
            format!("/people/{alice}/services/{missing}"),
            None,
        ),
        (
            Method::GET,
            format!("/services/{}/roles/{missing}/people", m.billing),
            None,
        ),
        (Method::POST, format!("/services/{missing}/token"), None),
        (
            Method::DELETE,
            "/role-permissions".to_owned(),
            Some(json!({"role_id": m.viewer, "permission_id": m.write})),
        ),
        (
            Method::DELETE,
            "/person-service-roles".to_owned(),
            Some(json!({"person_id": alice, "service_id": m.billing, "role_id": m.viewer})),
        ),
    ];
    for (method, path, body) in not_found {
        let a = app.call(method.clone(), &path, Some(&admin), body).await;
        assert_eq!(
            (a.status, a.error()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{method} {path}"
        );
    }
    let a = app
        .put(
            &format!("/roles/{}", m.viewer),
            &admin,
            json!({"name": "editor"}),
        )
        .await;
    assert_eq!((a.status, a.error()), (StatusCode::CONFLICT, "duplicate"));
    assert_eq!(
        app.get(&format!("/roles/{}", m.viewer), &admin).await.body["name"],
        "viewer"
    );
    let a = app.get("/roles?limit=0", &admin).await;
    assert_eq!(a.body["fields"]["limit"][0], "out_of_range");
}
