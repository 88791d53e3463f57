use reqwest::{Method, StatusCode};
use serde_json::json;
use tessera_domain::ports::UserRepository as _;
use tessera_testkit::{spawn_app, USER_PASSWORD};

#[tokio::test]
async fn admins_create_users_and_no_hash_is_ever_returned() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let a = app
        .post(
            "/users",
            Some(&admin),
            json!({"username": "Alice", "password": USER_PASSWORD, "email": "alice@example.com", "display_name": "Alice A."}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(a.body["username"], "Alice");
    assert_eq!(a.body["roles"], json!(["user"]));
    assert_eq!(a.body["active"], true);
    assert!(a.body["created_at"].as_str().unwrap().ends_with('Z'));
    let text = a.body.to_string();
    assert!(!text.contains("argon2") && !text.contains("password"));
    let id = a.body["id"].as_i64().unwrap();
    let got = app.get(&format!("/users/{id}"), &admin).await;
    assert_eq!(got.body, a.body);
}

#[tokio::test]
async fn duplicates_are_409_ignoring_case_and_write_nothing() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.create_user(&admin, "bob").await;
    let a = app
        .post(
            "/users",
            Some(&admin),
            json!({"username": "BOB", "password": USER_PASSWORD}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert_eq!(a.error(), "duplicate");
    assert_eq!(a.body["fields"]["username"][0], "taken");
    let a = app
        .post(
            "/users",
            Some(&admin),
            json!({"username": "robert", "password": USER_PASSWORD, "email": "BOB@example.com"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert_eq!(a.body["fields"]["email"][0], "taken");
    assert_eq!(app.store.count_users().unwrap(), 2);
}

#[tokio::test]
async fn every_broken_rule_is_named_and_nothing_is_written() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let cases = [
        (
            json!({"username": "ab", "password": USER_PASSWORD}),
            "username",
            "too_short",
        ),
        (
            json!({"username": "a".repeat(65), "password": USER_PASSWORD}),
            "username",
            "too_long",
        ),
        (
            json!({"username": "bad name", "password": USER_PASSWORD}),
            "username",
            "invalid_characters",
        ),
        (
            json!({"username": "erin", "password": "short"}),
            "password",
            "min_length",
        ),
        (
            json!({"username": "erin", "password": "x".repeat(1025)}),
            "password",
            "max_bytes",
        ),
        (
            json!({"username": "erin", "password": "qwertyuiop123"}),
            "password",
            "common_password",
        ),
        (
            json!({"username": "erin", "password": "my name is erin!!"}),
            "password",
            "contains_username",
        ),
        (
            json!({"username": "erin", "password": USER_PASSWORD, "email": "nope"}),
            "email",
            "invalid_email",
        ),
        (
            json!({"username": "erin", "password": USER_PASSWORD, "display_name": "  "}),
            "display_name",
            "empty",
        ),
        (
            json!({"username": "erin", "password": USER_PASSWORD, "roles": ["Admin!"]}),
            "roles",
            "invalid_characters",
        ),
        (
            json!({"username": "erin", "password": USER_PASSWORD, "email": format!("{}@x.io", "a".repeat(300))}),
            "email",
            "too_long",
        ),
    ];
    for (body, field, rule) in cases {
        let a = app.post("/users", Some(&admin), body).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{field} {rule}");
        assert_eq!(a.error(), "validation_failed");
        let rules: Vec<&str> = a.body["fields"][field]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(rules.contains(&rule), "{field}: {rules:?} lacks {rule}");
    }
    let a = app
        .post(
            "/users",
            Some(&admin),
            json!({"username": 5, "password": USER_PASSWORD}),
        )
        .await;
    assert_eq!(a.body["fields"]["username"][0], "invalid_type");
    assert_eq!(app.store.count_users().unwrap(), 1);
}

#[tokio::test]
async fn plain_users_are_403_for_admin_endpoints_and_anonymous_callers_401() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let alice = app.create_user(&admin, "alice").await;
    let (token, _) = app.login("alice", USER_PASSWORD).await;
    let forbidden = [
        (Method::GET, "/users".to_owned(), None),
        (
            Method::POST,
            "/users".to_owned(),
            Some(json!({"username": "x1x", "password": USER_PASSWORD})),
        ),
        (Method::GET, "/users/1".to_owned(), None),
        (
            Method::PATCH,
            "/users/1".to_owned(),
            Some(json!({"display_name": "pwned"})),
        ),
        (Method::DELETE, "/users/1".to_owned(), None),
        (
            Method::PATCH,
            format!("/users/{alice}"),
            Some(json!({"roles": ["admin"]})),
        ),
        (
            Method::PATCH,
            format!("/users/{alice}"),
            Some(json!({"active": false})),
        ),
        (
            Method::POST,
            "/users/1/password".to_owned(),
            Some(json!({"new_password": "new long password!"})),
        ),
    ];
    for (method, path, body) in forbidden {
        let a = app
            .call(method.clone(), &path, Some(&token), body.clone())
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{method} {path}");
        assert_eq!(a.error(), "forbidden");
        let anonymous = app.call(method.clone(), &path, None, body).await;
        assert_eq!(
            anonymous.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
    }
    assert_eq!(
        app.get(&format!("/users/{alice}"), &token).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn users_update_their_own_profile_and_put_replaces_it() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let id = app.create_user(&admin, "fred").await;
    let (token, _) = app.login("fred", USER_PASSWORD).await;
    let path = format!("/users/{id}");
    let a = app
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            Some(json!({"display_name": "Fred F."})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["display_name"], "Fred F.");
    assert_eq!(
        a.body["email"], "fred@example.com",
        "PATCH leaves absent fields alone"
    );
    let a = app
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            Some(json!({"email": null})),
        )
        .await;
    assert_eq!(a.body["email"], json!(null), "null clears");
    let a = app
        .call(
            Method::PUT,
            &path,
            Some(&token),
            Some(json!({"email": "f@example.com"})),
        )
        .await;
    assert_eq!(a.body["email"], "f@example.com");
    assert_eq!(
        a.body["display_name"],
        json!(null),
        "PUT replaces the profile"
    );
    let a = app
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            Some(json!({"email": "not-an-email"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    let a = app
        .call(
            Method::PATCH,
            "/users/999",
            Some(&admin),
            Some(json!({"display_name": "x"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn removing_a_role_or_disabling_ends_the_users_sessions() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let id = app.create_user(&admin, "gwen").await;
    let (token, _) = app.login("gwen", USER_PASSWORD).await;
    let a = app
        .call(
            Method::PATCH,
            &format!("/users/{id}"),
            Some(&admin),
            Some(json!({"roles": ["user", "auditor"]})),
        )
        .await;
    assert_eq!(a.body["roles"], json!(["auditor", "user"]));
    assert_eq!(
        app.get("/auth/userinfo", &token).await.status,
        StatusCode::OK,
        "adding a role keeps sessions"
    );
    app.call(
        Method::PATCH,
        &format!("/users/{id}"),
        Some(&admin),
        Some(json!({"roles": ["user"]})),
    )
    .await;
    assert_eq!(
        app.get("/auth/userinfo", &token).await.error(),
        "token_revoked"
    );
}

#[tokio::test]
async fn deleting_a_user_revokes_their_tokens_and_unknown_ids_are_404() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let id = app.create_user(&admin, "hank").await;
    let (token, refresh) = app.login("hank", USER_PASSWORD).await;
    let a = app
        .call(Method::DELETE, &format!("/users/{id}"), Some(&admin), None)
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/auth/userinfo", &token).await.error(),
        "token_revoked"
    );
    assert_eq!(
        app.post("/auth/refresh", None, json!({"refresh_token": refresh}))
            .await
            .error(),
        "invalid_grant"
    );
    for path in [
        format!("/users/{id}"),
        "/users/abc".to_owned(),
        "/users/99999999999999999999".to_owned(),
    ] {
        let a = app.get(&path, &admin).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(a.error(), "not_found");
    }
    let again = app.create_user(&admin, "hank").await;
    assert!(again > id, "ids are never reused");
}

#[tokio::test]
async fn the_last_admin_cannot_be_deleted_or_demoted() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let a = app
        .call(Method::DELETE, "/users/1", Some(&admin), None)
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert_eq!(a.error(), "last_admin");
    let a = app
        .call(
            Method::PATCH,
            "/users/1",
            Some(&admin),
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(a.error(), "last_admin");
}

#[tokio::test]
async fn listing_pages_with_a_cursor_and_filters_by_prefix() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for n in ["ann", "andy", "bert", "bill", "carl"] {
        app.create_user(&admin, n).await;
    }
    let page = app.get("/users?limit=2", &admin).await;
    assert_eq!(page.body["items"].as_array().unwrap().len(), 2);
    let after = page.body["next_after"].as_i64().unwrap();
    let rest = app
        .get(&format!("/users?limit=10&after={after}"), &admin)
        .await;
    assert_eq!(rest.body["items"].as_array().unwrap().len(), 4);
    assert_eq!(rest.body["next_after"], json!(null));
    let b = app.get("/users?q=B", &admin).await;
    let names: Vec<&str> = b.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bert", "bill"]);
    let by_mail = app.get("/users?q=carl%40", &admin).await;
    assert_eq!(by_mail.body["items"].as_array().unwrap().len(), 1);
    for bad in [
        "/users?limit=0",
        "/users?limit=501",
        "/users?limit=abc",
        "/users?after=x",
        // A NUL byte or another control character matches no name (and is no PostgreSQL text).
        "/users?q=b%00",
        "/users?q=%01",
    ] {
        let a = app.get(bad, &admin).await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
}

#[tokio::test]
async fn changing_a_password_needs_the_current_one_and_ends_other_sessions() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let id = app.create_user(&admin, "ivy").await;
    let (here, _) = app.login("ivy", USER_PASSWORD).await;
    let (elsewhere, elsewhere_refresh) = app.login("ivy", USER_PASSWORD).await;
    let path = format!("/users/{id}/password");
    let a = app
        .post(
            &path,
            Some(&here),
            json!({"new_password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(a.body["fields"]["current_password"][0], "required");
    let a = app
        .post(&path, Some(&here), json!({"current_password": "wrong wrong wrong", "new_password": "a brand new passphrase"}))
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.error(), "invalid_current_password");
    let a = app
        .post(
            &path,
            Some(&here),
            json!({"current_password": USER_PASSWORD, "new_password": "short"}),
        )
        .await;
    assert_eq!(a.body["fields"]["new_password"][0], "min_length");
    let a = app
        .post(
            &path,
            Some(&here),
            json!({"current_password": USER_PASSWORD, "new_password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/auth/userinfo", &here).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/auth/userinfo", &elsewhere).await.error(),
        "token_revoked"
    );
    assert_eq!(
        app.post(
            "/auth/refresh",
            None,
            json!({"refresh_token": elsewhere_refresh})
        )
        .await
        .error(),
        "invalid_grant"
    );
    assert_eq!(
        app.post_login("ivy", USER_PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    app.login("ivy", "a brand new passphrase").await;

    // An admin resets it without the current one, and every session of the user ends.
    let a = app
        .post(
            &path,
            Some(&admin),
            json!({"new_password": "set by the admin today"}),
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/auth/userinfo", &here).await.error(),
        "token_revoked"
    );
    app.login("ivy", "set by the admin today").await;
}

#[tokio::test]
async fn admins_keep_attributes_on_users_and_change_them_with_a_merge_patch() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let a = app
        .post(
            "/users",
            Some(&admin),
            json!({"username": "jane", "password": USER_PASSWORD, "attributes": {"person_type": "natural", "document_type": "dni"}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    assert_eq!(
        a.body["attributes"],
        json!({"document_type": "dni", "person_type": "natural"})
    );
    let id = a.body["id"].as_i64().unwrap();
    let path = format!("/users/{id}");
    assert_eq!(
        app.get(&path, &admin).await.body["attributes"],
        a.body["attributes"]
    );
    // A user made without any has an empty object, never null.
    let other = app.create_user(&admin, "kurt").await;
    assert_eq!(
        app.get(&format!("/users/{other}"), &admin).await.body["attributes"],
        json!({})
    );

    // A merge patch: a string sets, null removes, the others stay.
    let a = app
        .call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({"attributes": {"document_number": "12.345.678", "document_type": null}})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let merged = json!({"document_number": "12.345.678", "person_type": "natural"});
    assert_eq!(a.body["attributes"], merged);
    assert_eq!(app.get(&path, &admin).await.body["attributes"], merged);
    // A patch without attributes, or with null, leaves them alone.
    for body in [json!({"display_name": "Jane"}), json!({"attributes": null})] {
        let a = app
            .call(Method::PATCH, &path, Some(&admin), Some(body))
            .await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
        assert_eq!(a.body["attributes"], merged);
    }

    // The user reads their own, in their profile too.
    let (token, _) = app.login("jane", USER_PASSWORD).await;
    assert_eq!(app.get(&path, &token).await.body["attributes"], merged);
    let profile = app.get("/auth/profile", &token).await;
    assert_eq!(profile.body["user"]["attributes"], merged);
    // The list shows them.
    let list = app.get("/users?q=jane", &admin).await;
    assert_eq!(list.body["items"][0]["attributes"], merged);
}

#[tokio::test]
async fn attributes_that_break_a_rule_are_422_naming_attributes_and_nothing_is_written() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let many: serde_json::Map<String, serde_json::Value> =
        (0..33).map(|i| (format!("a{i}"), json!("v"))).collect();
    let cases = [
        (json!({"Bad Name": "x"}), "invalid_name"),
        (json!({"1st": "x"}), "invalid_name"),
        (json!({"": "x"}), "invalid_name"),
        (
            serde_json::Value::Object([("n".repeat(65), json!("x"))].into_iter().collect()),
            "invalid_name",
        ),
        (serde_json::Value::Object(many.clone()), "too_many"),
        (json!({"note": "a\u{7}b"}), "invalid_characters"),
        (json!({"note": "line\nbreak"}), "invalid_characters"),
        (json!({"note": "x".repeat(1025)}), "value_too_long"),
    ];
    for (attributes, rule) in &cases {
        let a = app
            .post(
                "/users",
                Some(&admin),
                json!({"username": "lena", "password": USER_PASSWORD, "attributes": attributes}),
            )
            .await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{rule}");
        assert_eq!(a.error(), "validation_failed");
        let rules: Vec<&str> = a.body["fields"]["attributes"]
            .as_array()
            .unwrap_or_else(|| panic!("{rule}: {:?}", a.body))
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(rules.contains(rule), "{rules:?} lacks {rule}");
    }
    // A value that is not a string is the wrong type.
    let a = app
        .post(
            "/users",
            Some(&admin),
            json!({"username": "lena", "password": USER_PASSWORD, "attributes": {"age": 30}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.store.count_users().unwrap(), 1, "nobody was created");

    // A patch is checked the same way, and against the attributes it is merged into.
    let id = app.create_user(&admin, "lena").await;
    let path = format!("/users/{id}");
    for (attributes, rule) in &cases {
        let a = app
            .call(
                Method::PATCH,
                &path,
                Some(&admin),
                Some(json!({"attributes": attributes})),
            )
            .await;
        assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{rule}");
        assert!(
            a.body["fields"]["attributes"]
                .as_array()
                .is_some_and(|r| r.contains(&json!(rule))),
            "{rule}: {:?}",
            a.body
        );
    }
    let thirty_two: serde_json::Map<String, serde_json::Value> =
        many.into_iter().take(32).collect();
    let a = app
        .call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({"attributes": thirty_two})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    let a = app
        .call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({"attributes": {"one_more": "v"}, "display_name": "Lena"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.body["fields"]["attributes"], json!(["too_many"]));
    let now = app.get(&path, &admin).await;
    assert_eq!(now.body["attributes"].as_object().unwrap().len(), 32);
    assert_eq!(now.body["display_name"], json!(null), "nothing was written");
    // Room made in the same patch: one removed, one added.
    let a = app
        .call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({"attributes": {"a0": null, "one_more": "v"}})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["attributes"]["one_more"], "v");
    assert_eq!(a.body["attributes"]["a0"], json!(null));
}

#[tokio::test]
async fn users_cannot_set_their_own_attributes() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let id = app.create_user(&admin, "mona").await;
    let path = format!("/users/{id}");
    app.call(
        Method::PATCH,
        &path,
        Some(&admin),
        Some(json!({"attributes": {"person_type": "natural"}})),
    )
    .await;
    let (token, _) = app.login("mona", USER_PASSWORD).await;
    for (method, body) in [
        (
            Method::PATCH,
            json!({"attributes": {"person_type": "legal"}}),
        ),
        (Method::PATCH, json!({"attributes": {"person_type": null}})),
        (
            Method::PATCH,
            json!({"display_name": "Mona", "attributes": {"vip": "yes"}}),
        ),
        (Method::PUT, json!({"attributes": {"vip": "yes"}})),
    ] {
        let a = app
            .call(method.clone(), &path, Some(&token), Some(body.clone()))
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{method} {body}");
        assert_eq!(a.error(), "forbidden");
    }
    let now = app.get(&path, &admin).await;
    assert_eq!(now.body["attributes"], json!({"person_type": "natural"}));
    assert_eq!(now.body["display_name"], json!(null));
    // Their own profile they still change, and that keeps the attributes.
    let a = app
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            Some(json!({"display_name": "Mona"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body["attributes"], json!({"person_type": "natural"}));
}

#[tokio::test]
async fn admins_rename_users_who_keep_their_sessions_and_users_do_not_rename_themselves() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let id = app.create_user(&admin, "nina").await;
    app.create_user(&admin, "oscar").await;
    let (token, _) = app.login("nina", USER_PASSWORD).await;
    let path = format!("/users/{id}");

    // Not by themselves: 403, and nothing changes.
    let a = app
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            Some(json!({"username": "nina.r"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{:?}", a.body);
    assert_eq!(a.error(), "forbidden");
    assert_eq!(app.get(&path, &admin).await.body["username"], "nina");

    // By an admin: the new name logs in and the old one no longer does; the session stays.
    let a = app
        .call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({"username": "Nina.R"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["username"], "Nina.R");
    assert_eq!(a.body["email"], "nina@example.com");
    assert_eq!(
        app.post_login("nina", USER_PASSWORD).await.error(),
        "invalid_credentials"
    );
    app.login("nina.r", USER_PASSWORD).await;
    let mine = app.get(&path, &token).await;
    assert_eq!(mine.status, StatusCode::OK, "{:?}", mine.body);
    assert_eq!(mine.body["username"], "Nina.R");
    let info = app.get("/auth/userinfo", &token).await;
    assert_eq!(
        info.body["preferred_username"], "Nina.R",
        "read from the user"
    );

    // A name another user has, ignoring case: 409, and nothing of the change is written.
    let a = app
        .call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({"username": "OSCAR", "display_name": "Nina"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{:?}", a.body);
    assert_eq!(a.error(), "duplicate");
    assert_eq!(a.body["fields"]["username"][0], "taken");
    let now = app.get(&path, &admin).await;
    assert_eq!(now.body["username"], "Nina.R");
    assert_eq!(now.body["display_name"], json!(null));

    // Their own name in another case is no clash; a name the rules refuse is 422.
    let a = app
        .call(
            Method::PUT,
            &path,
            Some(&admin),
            Some(json!({"username": "nina.r", "email": "nina@example.com"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["username"], "nina.r");
    let a = app
        .call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({"username": "n"})),
        )
        .await;
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(a.body["fields"]["username"], json!(["too_short"]));
}
