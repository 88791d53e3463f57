//! Tenants: usernames unique within a tenant, tenant logins and claims, tenant admins kept to their tenant.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tessera_testkit::{spawn_app, TestApp, USER_PASSWORD};

async fn create_in(
    app: &TestApp,
    token: &str,
    username: &str,
    tenant: Option<i64>,
    roles: &[&str],
) -> i64 {
    let mut body = json!({"username": username, "password": USER_PASSWORD, "roles": roles});
    if let Some(t) = tenant {
        body["tenant_id"] = t.into();
    }
    let a = app.post("/users", Some(token), body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    a.body["id"].as_i64().unwrap()
}

async fn tenant_login(app: &TestApp, username: &str, tenant: Option<&str>) -> (StatusCode, Value) {
    let mut body = json!({"username": username, "password": USER_PASSWORD});
    if let Some(t) = tenant {
        body["tenant"] = t.into();
    }
    let a = app.post("/auth/login", None, body).await;
    (a.status, a.body)
}

#[tokio::test]
async fn usernames_are_unique_within_a_tenant_and_logins_name_their_tenant() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let acme = app.create_entry(&admin, "/tenants", "acme").await;
    let globex = app.create_entry(&admin, "/tenants", "globex").await;
    let sam_acme = create_in(&app, &admin, "sam", Some(acme), &["user"]).await;
    let sam_globex = create_in(&app, &admin, "sam", Some(globex), &["user"]).await;
    let sam_global = create_in(&app, &admin, "sam", None, &["user"]).await;
    let a = app
        .post(
            "/users",
            Some(&admin),
            json!({"username": "SAM", "password": USER_PASSWORD, "tenant_id": acme}),
        )
        .await;
    assert_eq!((a.status, a.error()), (StatusCode::CONFLICT, "duplicate"));

    for (tenant, id, tid) in [
        (Some("acme"), sam_acme, Some(acme)),
        (Some("globex"), sam_globex, Some(globex)),
        (None, sam_global, None),
    ] {
        let (status, body) = tenant_login(&app, "sam", tenant).await;
        assert_eq!(status, StatusCode::OK, "{tenant:?}: {body}");
        let claims = crate::claims_of(body["access_token"].as_str().unwrap());
        assert_eq!(claims["sub"], id.to_string());
        assert_eq!(
            claims.get("tenant_id").cloned(),
            tid.map(|t| Value::from(t.to_string()))
        );
        let me = app
            .get(
                &format!("/users/{id}"),
                body["access_token"].as_str().unwrap(),
            )
            .await;
        assert_eq!(me.body["tenant_id"], tid.map_or(Value::Null, Value::from));
    }
    // The token endpoint's password grant takes the tenant too.
    let a = app
        .post_form(
            "/oauth/token",
            None,
            &[
                ("grant_type", "password"),
                ("username", "sam"),
                ("password", USER_PASSWORD),
                ("tenant", "globex"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let claims = crate::claims_of(a.body["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], sam_globex.to_string());
    let (status, body) = tenant_login(&app, "sam", Some("initech")).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::UNAUTHORIZED, json!("invalid_credentials"))
    );

    // A tenant with users cannot be deleted; an empty one can.
    let a = app
        .delete(&format!("/tenants/{acme}"), Some(&admin), None)
        .await;
    assert_eq!((a.status, a.error()), (StatusCode::CONFLICT, "in_use"));
    let empty = app.create_entry(&admin, "/tenants", "empty").await;
    let a = app
        .delete(&format!("/tenants/{empty}"), Some(&admin), None)
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let a = app
        .post(
            "/users",
            Some(&admin),
            json!({"username": "xavier", "password": USER_PASSWORD, "tenant_id": empty}),
        )
        .await;
    assert_eq!(a.body["fields"]["tenant_id"][0], "not_found");
    let list = app.get("/tenants", &admin).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_tenant_admin_sees_and_manages_only_their_own_tenant() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let acme = app.create_entry(&admin, "/tenants", "acme").await;
    let globex = app.create_entry(&admin, "/tenants", "globex").await;
    create_in(&app, &admin, "boss", Some(acme), &["admin", "user"]).await;
    let alice = create_in(&app, &admin, "alice", Some(acme), &["user"]).await;
    let bob = create_in(&app, &admin, "bob", Some(globex), &["user"]).await;
    let carol = create_in(&app, &admin, "carol", None, &["user"]).await;
    let (status, body) = tenant_login(&app, "boss", Some("acme")).await;
    assert_eq!(status, StatusCode::OK);
    let boss = body["access_token"].as_str().unwrap().to_owned();

    // Their own tenant: listed, read, changed, given keys and grants.
    let list = app.get("/users", &boss).await;
    assert_eq!(list.status, StatusCode::OK, "{:?}", list.body);
    let names: Vec<&str> = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["boss", "alice"]);
    assert_eq!(
        app.get(&format!("/users/{alice}"), &boss).await.status,
        StatusCode::OK
    );
    let a = app
        .call(
            Method::PATCH,
            &format!("/users/{alice}"),
            Some(&boss),
            Some(json!({"display_name": "Alice"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    let made = app
        .post(
            "/users",
            Some(&boss),
            json!({"username": "dave", "password": USER_PASSWORD}),
        )
        .await;
    assert_eq!(
        (made.status, made.body["tenant_id"].clone()),
        (StatusCode::CREATED, json!(acme))
    );
    let a = app
        .post(
            &format!("/users/{alice}/api-keys"),
            Some(&boss),
            json!({"name": "k"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);

    let service = app.create_entry(&admin, "/services", "billing").await;
    let role = app.create_entry(&admin, "/roles", "viewer").await;
    app.post(
        "/service-roles",
        Some(&admin),
        json!({"service_id": service, "role_id": role}),
    )
    .await;
    let grant = |person: i64| json!({"person_id": person, "service_id": service, "role_id": role});
    assert_eq!(
        app.post("/person-service-roles", Some(&boss), grant(alice))
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(app.get("/roles", &boss).await.status, StatusCode::OK);
    let people = app
        .get(&format!("/services/{service}/roles/{role}/people"), &boss)
        .await;
    assert_eq!(people.body["items"].as_array().unwrap().len(), 1);

    // Anyone else's user is not there at all: 404, never 403.
    for other in [bob, carol, 1] {
        let cases: Vec<(Method, String, Option<Value>)> = vec![
            (Method::GET, format!("/users/{other}"), None),
            (
                Method::PATCH,
                format!("/users/{other}"),
                Some(json!({"display_name": "x"})),
            ),
            (Method::DELETE, format!("/users/{other}"), None),
            (
                Method::POST,
                format!("/users/{other}/password"),
                Some(json!({"new_password": "another fine passphrase"})),
            ),
            (Method::GET, format!("/users/{other}/api-keys"), None),
            (
                Method::POST,
                format!("/users/{other}/api-keys"),
                Some(json!({"name": "k"})),
            ),
            (Method::GET, format!("/people/{other}/services"), None),
            (
                Method::GET,
                format!("/people/{other}/services/{service}"),
                None,
            ),
        ];
        for (method, path, body) in cases {
            let a = app.call(method.clone(), &path, Some(&boss), body).await;
            assert_eq!(
                (a.status, a.error()),
                (StatusCode::NOT_FOUND, "not_found"),
                "{method} {path}"
            );
        }
        let a = app
            .post("/person-service-roles", Some(&boss), grant(other))
            .await;
        assert_eq!(a.body["fields"]["person_id"][0], "not_found");
        let a = app
            .delete("/person-service-roles", Some(&boss), Some(grant(other)))
            .await;
        assert_eq!(a.status, StatusCode::NOT_FOUND);
    }
    let a = app
        .post(
            "/users",
            Some(&boss),
            json!({"username": "eve", "password": USER_PASSWORD, "tenant_id": globex}),
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);

    // The model and the tenants are the global admins' alone.
    for (method, path, body) in [
        (Method::GET, "/tenants".to_owned(), None),
        (
            Method::POST,
            "/tenants".to_owned(),
            Some(json!({"name": "mine"})),
        ),
        (
            Method::POST,
            "/services".to_owned(),
            Some(json!({"name": "mine"})),
        ),
        (Method::DELETE, format!("/roles/{role}"), None),
    ] {
        let a = app.call(method.clone(), &path, Some(&boss), body).await;
        assert_eq!(
            (a.status, a.error()),
            (StatusCode::FORBIDDEN, "forbidden"),
            "{method} {path}"
        );
    }
    // A plain user of the tenant is no admin there.
    let (_, body) = tenant_login(&app, "alice", Some("acme")).await;
    let alice_token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get("/users", &alice_token).await.status,
        StatusCode::FORBIDDEN
    );
    let a = app
        .get(&format!("/users/{}", made.body["id"]), &alice_token)
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    let a = app.get(&format!("/users/{bob}"), &alice_token).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}
