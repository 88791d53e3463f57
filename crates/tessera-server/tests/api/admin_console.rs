//! The admin console (`/admin`) as a browser uses it, signed in through the sign-in page: who may
//! open it, a change made on its pages seen by the API (a grant check-token then reports), a
//! tenant admin kept to their tenant, a destructive action that needs its CSRF field and its
//! confirmation, refusals said in words beside their fields, a user renamed, a client's secret
//! shown once, and a signing key rotated now that signs the next token.

use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION};
use reqwest::{Response, StatusCode};
use serde_json::json;
use tessera_testkit::{TestApp, ADMIN_PASSWORD, USER_PASSWORD};

use crate::oidc::{browser, oidc_app};

/// The value of the first hidden field `name` of a page.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + marker.len();
    let end = start + page[start..].find('"').unwrap();
    page[start..end].to_owned()
}

fn location(res: &Response) -> String {
    res.headers()
        .get(LOCATION)
        .unwrap_or_else(|| panic!("no Location in a {} answer", res.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// The id a console page's path ends with, before its query: `/admin/users/7?done=created` → 7.
fn id_in(location: &str) -> i64 {
    let path = location.split('?').next().unwrap();
    path.rsplit('/').next().unwrap().parse().unwrap()
}

/// Signs the browser `b` in through the sign-in page, as `username` of `tenant`, on its way to
/// `/admin`, and checks that it is sent there.
async fn sign_in(
    app: &TestApp,
    b: &reqwest::Client,
    username: &str,
    password: &str,
    tenant: Option<&str>,
) {
    let mut form_url = "/login?return_to=%2Fadmin".to_owned();
    if let Some(tenant) = tenant {
        form_url.push_str(&format!("&tenant={tenant}"));
    }
    let res = b.get(app.url(&form_url)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("name=\"return_to\" value=\"/admin\""),
        "{page}"
    );
    let csrf = hidden(&page, "csrf");
    let mut fields = vec![
        ("username", username),
        ("password", password),
        ("csrf", csrf.as_str()),
        ("return_to", "/admin"),
    ];
    if let Some(tenant) = tenant {
        fields.push(("tenant", tenant));
    }
    let res = b
        .post(app.url("/login"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{}",
        res.text().await.unwrap()
    );
    assert_eq!(location(&res), "/admin");
}

/// `GET path` as the browser: the status and the page.
async fn open(app: &TestApp, b: &reqwest::Client, path: &str) -> (StatusCode, String) {
    let res = b.get(app.url(path)).send().await.unwrap();
    let status = res.status();
    if status.is_success() || status.is_client_error() {
        assert!(
            res.headers()[CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{path} answers HTML"
        );
        let csp = res.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("default-src 'none'"), "{csp}");
    }
    (status, res.text().await.unwrap())
}

/// The session's CSRF token, from any console page's forms.
async fn csrf_of(app: &TestApp, b: &reqwest::Client) -> String {
    let (status, page) = open(app, b, "/admin").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    hidden(&page, "csrf")
}

/// Posts `fields` to `path` as the browser.
async fn post(app: &TestApp, b: &reqwest::Client, path: &str, fields: &[(&str, &str)]) -> Response {
    b.post(app.url(path)).form(fields).send().await.unwrap()
}

/// Creates an entry (service, role, permission) on the console and returns its id.
async fn console_entry(
    app: &TestApp,
    b: &reqwest::Client,
    csrf: &str,
    kind: &str,
    name: &str,
) -> i64 {
    let res = post(
        app,
        b,
        &format!("/admin/access/{kind}"),
        &[("csrf", csrf), ("name", name)],
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{}",
        res.text().await.unwrap()
    );
    let to = location(&res);
    assert!(to.starts_with(&format!("/admin/access/{kind}/")), "{to}");
    assert!(to.ends_with("?done=created"), "{to}");
    id_in(&to)
}

#[tokio::test]
async fn only_admins_open_the_console_and_others_are_told_why() {
    let app = oidc_app().await;
    let b = browser();
    // Nobody signed in: to the sign-in page, which comes back here.
    let res = b.get(app.url("/admin/users?q=al")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/login?return_to=%2Fadmin%2Fusers%3Fq%3Dal");

    let admin = app.admin_token().await;
    app.create_user(&admin, "bob").await;
    sign_in(&app, &b, "bob", USER_PASSWORD, None).await;
    for path in ["/admin", "/admin/users", "/admin/audit", "/admin/users/1"] {
        let (status, page) = open(&app, &b, path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert!(page.contains("Administrators only"), "{page}");
    }
    // A form posted by someone who is not an admin changes nothing either.
    let res = post(
        &app,
        &b,
        "/admin/users",
        &[("username", "mallory"), ("password", USER_PASSWORD)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let a = app.get("/users?q=mallory", &admin).await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 0);

    // The same in Spanish for a browser that prefers it.
    let res = b
        .get(app.url("/admin"))
        .header("accept-language", "es")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Solo para administradores"));
}

#[tokio::test]
async fn a_user_made_and_granted_a_role_on_the_console_has_the_permission_check_token_reports() {
    let app = oidc_app().await;
    let b = browser();
    sign_in(&app, &b, "admin", ADMIN_PASSWORD, None).await;
    let (status, home) = open(&app, &b, "/admin").await;
    assert_eq!(status, StatusCode::OK);
    for section in [
        "/admin/users",
        "/admin/clients",
        "/admin/audit",
        "/admin/access",
        "/admin/keys",
        "/admin/node",
    ] {
        assert!(
            home.contains(&format!("href=\"{section}\"")),
            "{section} in {home}"
        );
    }
    let csrf = hidden(&home, "csrf");

    // A new user, refused first with the problem beside its field.
    let (status, form) = open(&app, &b, "/admin/users/new").await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains("<label for=\"username\">"), "{form}");
    let res = post(
        &app,
        &b,
        "/admin/users",
        &[
            ("csrf", csrf.as_str()),
            ("username", "c"),
            ("password", USER_PASSWORD),
            ("roles", "user"),
            ("active", "yes"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("aria-describedby=\"username-error\""),
        "{page}"
    );
    assert!(page.contains("At least 3 characters."), "{page}");
    let res = post(
        &app,
        &b,
        "/admin/users",
        &[
            ("csrf", csrf.as_str()),
            ("username", "carol"),
            ("password", USER_PASSWORD),
            ("email", "carol@example.com"),
            ("roles", "user"),
            ("active", "yes"),
        ],
    )
    .await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{}",
        res.text().await.unwrap()
    );
    let to = location(&res);
    let carol = id_in(&to);
    let (status, page) = open(&app, &b, &to).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("carol@example.com"), "{page}");
    assert!(page.contains("role=\"status\""), "{page}");

    // The model, made on the console: billing offers accountant, which holds invoices:read.
    let service = console_entry(&app, &b, &csrf, "services", "billing").await;
    let role = console_entry(&app, &b, &csrf, "roles", "accountant").await;
    let permission = console_entry(&app, &b, &csrf, "permissions", "invoices:read").await;
    let (p, r, s) = (
        permission.to_string(),
        role.to_string(),
        service.to_string(),
    );
    let res = post(
        &app,
        &b,
        &format!("/admin/access/roles/{role}/link"),
        &[("csrf", csrf.as_str()), ("permission", p.as_str())],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // A role the service does not offer yet cannot be granted in it: said beside the field.
    let access = format!("/admin/users/{carol}/access");
    let grant = [
        ("csrf", csrf.as_str()),
        ("service_id", s.as_str()),
        ("grant", "role"),
        ("role", r.as_str()),
    ];
    let res = post(&app, &b, &access, &grant).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("id=\"role-error\""), "{page}");
    assert!(page.contains("does not offer this role"), "{page}");
    let res = post(
        &app,
        &b,
        &format!("/admin/access/services/{service}/link"),
        &[("csrf", csrf.as_str()), ("role", r.as_str())],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = post(&app, &b, &access, &grant).await;
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{}",
        res.text().await.unwrap()
    );
    let to = location(&res);
    assert_eq!(to, format!("{access}?service_id={service}&done=granted"));
    let (status, page) = open(&app, &b, &to).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<code>invoices:read</code>"), "{page}");
    assert!(
        page.contains("&#34;valid&#34;: true") || page.contains("\"valid\": true"),
        "{page}"
    );

    // What the page said, check-token says for carol's own token.
    let (token, _) = app.login("carol", USER_PASSWORD).await;
    let a = app
        .post("/check-token", Some(&token), json!({"service_id": service}))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["permissions"], json!(["invoices:read"]));

    // Audited as the API's changes are, with the admin as the actor.
    let admin = app.admin_token().await;
    let a = app
        .get(&format!("/audit?event=grant_added&user_id={carol}"), &admin)
        .await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 1, "{:?}", a.body);
    let me = app.get("/users?q=admin", &admin).await;
    assert_eq!(a.body["items"][0]["actor_id"], me.body["items"][0]["id"]);
    let (status, page) = open(&app, &b, "/admin/audit?event=user_created").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<code>user_created</code>"), "{page}");
    assert!(!page.contains("<code>grant_added</code>"), "{page}");
    let (status, page) = open(&app, &b, "/admin/audit?since=yesterday").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("id=\"since-error\""), "{page}");
}

#[tokio::test]
async fn a_tenant_admin_sees_their_tenant_only_and_another_tenant_s_user_is_not_there() {
    let app = oidc_app().await;
    let admin = app.admin_token().await;
    let acme = app.create_entry(&admin, "/tenants", "acme").await;
    for (username, roles) in [("boss", json!(["admin", "user"])), ("eve", json!(["user"]))] {
        let a = app
            .post(
                "/users",
                Some(&admin),
                json!({"username": username, "password": USER_PASSWORD, "roles": roles, "tenant_id": acme}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    }
    let dave = app.create_user(&admin, "dave").await;

    let b = browser();
    sign_in(&app, &b, "boss", USER_PASSWORD, Some("acme")).await;
    let (status, page) = open(&app, &b, "/admin/users").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(">eve</a>"), "{page}");
    assert!(!page.contains(">dave</a>"), "{page}");
    assert!(!page.contains(">admin</a>"), "{page}");
    assert!(!page.contains("href=\"/admin/audit\""), "{page}");

    // Another tenant's user (here a global one) is not there, whatever the page.
    for path in [
        format!("/admin/users/{dave}"),
        format!("/admin/users/{dave}/disable"),
    ] {
        let (status, page) = open(&app, &b, &path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(page.contains("Not found"), "{page}");
    }
    let csrf = csrf_of(&app, &b).await;
    let res = post(
        &app,
        &b,
        &format!("/admin/users/{dave}/disable"),
        &[("csrf", csrf.as_str()), ("confirm", "yes")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let a = app.get(&format!("/users/{dave}"), &admin).await;
    assert_eq!(a.body["active"], true, "{:?}", a.body);

    // What only global admins may read, the use case refuses them.
    let (status, _) = open(&app, &b, "/admin/audit").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = open(&app, &b, "/admin/tenants").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn attributes_are_shown_and_edited_as_name_value_lines() {
    let app = oidc_app().await;
    let admin = app.admin_token().await;
    let gina = app.create_user(&admin, "gina").await;
    let api = format!("/users/{gina}");
    app.call(
        reqwest::Method::PATCH,
        &api,
        Some(&admin),
        Some(json!({"attributes": {"person_type": "natural", "document_type": "dni"}})),
    )
    .await;
    let b = browser();
    sign_in(&app, &b, "admin", ADMIN_PASSWORD, None).await;
    let page_path = format!("/admin/users/{gina}");
    let (status, page) = open(&app, &b, &page_path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("<dt><code>person_type</code></dt><dd>natural</dd>"),
        "{page}"
    );
    assert!(
        page.contains(">document_type=dni\nperson_type=natural</textarea>"),
        "{page}"
    );
    let csrf = hidden(&page, "csrf");
    let profile = |attributes: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("display_name", String::new()),
            ("email", "gina@example.com".to_owned()),
            ("roles", "user".to_owned()),
            ("attributes", attributes.to_owned()),
        ]
    };
    let save = |attributes: &'static str| {
        b.post(app.url(&page_path))
            .form(&profile(attributes))
            .send()
    };

    // A line without `=`, and a name the rules refuse: said beside the field, nothing changed.
    let res = save("person_type=legal\r\nno equals sign\r\n")
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("id=\"attributes-error\">Line 2:"), "{page}");
    let res = save("Person Type=legal").await.unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(page.contains("id=\"attributes-error\""), "{page}");
    assert_eq!(
        app.get(&api, &admin).await.body["attributes"],
        json!({"document_type": "dni", "person_type": "natural"})
    );

    // The lines are the whole set: one changed, one added, the one left out removed.
    let res = save("person_type=legal\r\n\r\ndocument_number = 12=34\r\n")
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get(&api, &admin).await.body["attributes"],
        json!({"document_number": "12=34", "person_type": "legal"})
    );
    // Empty: none left.
    let res = save("").await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get(&api, &admin).await.body["attributes"], json!({}));
    let (_, page) = open(&app, &b, &page_path).await;
    assert!(page.contains("No attribute."), "{page}");

    // The page says which names it showed: one another admin set after it was shown stays.
    let res = save("person_type=natural").await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, page) = open(&app, &b, &page_path).await;
    assert_eq!(hidden(&page, "attributes_shown"), "person_type");
    let mut form = profile("");
    form.push(("attributes_shown", hidden(&page, "attributes_shown")));
    app.call(
        reqwest::Method::PATCH,
        &api,
        Some(&admin),
        Some(json!({"attributes": {"badge": "B-7"}})),
    )
    .await;
    let res = b
        .post(app.url(&page_path))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.get(&api, &admin).await.body["attributes"],
        json!({"badge": "B-7"}),
        "the shown name went, the one set since stayed"
    );
}

#[tokio::test]
async fn an_admin_renames_a_user_on_their_page() {
    let app = oidc_app().await;
    let admin = app.admin_token().await;
    let hugo = app.create_user(&admin, "hugo").await;
    app.create_user(&admin, "ines").await;
    let (token, _) = app.login("hugo", USER_PASSWORD).await;
    let b = browser();
    sign_in(&app, &b, "admin", ADMIN_PASSWORD, None).await;
    let page_path = format!("/admin/users/{hugo}");
    let api = format!("/users/{hugo}");
    let (status, page) = open(&app, &b, &page_path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("value=\"hugo\""), "{page}");
    let csrf = hidden(&page, "csrf");
    let profile = |username: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("username", username.to_owned()),
            ("display_name", String::new()),
            ("email", "hugo@example.com".to_owned()),
            ("roles", "user".to_owned()),
            ("attributes", String::new()),
        ]
    };

    // Another user's name, ignoring case: said beside the field, nothing changed.
    let res = b
        .post(app.url(&page_path))
        .form(&profile("INES"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("id=\"username-error\">This is already taken."),
        "{page}"
    );
    assert_eq!(app.get(&api, &admin).await.body["username"], "hugo");

    // A new one renames the user, who signs in with it and keeps the session they had.
    let res = b
        .post(app.url(&page_path))
        .form(&profile("Hugo.B"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get(&api, &admin).await.body["username"], "Hugo.B");
    app.login("hugo.b", USER_PASSWORD).await;
    assert_eq!(app.get(&api, &token).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_destructive_action_needs_its_csrf_field_and_a_confirmation() {
    let app = oidc_app().await;
    let admin = app.admin_token().await;
    let frank = app.create_user(&admin, "frank").await;
    let b = browser();
    sign_in(&app, &b, "admin", ADMIN_PASSWORD, None).await;
    let delete = format!("/admin/users/{frank}/delete");

    // Without the CSRF field, or with another: refused in words, and frank stays.
    for fields in [
        vec![("confirm", "yes")],
        vec![("confirm", "yes"), ("csrf", "forged")],
    ] {
        let res = post(&app, &b, &delete, &fields).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert!(res.text().await.unwrap().contains("Nothing was changed"));
        let a = app.get(&format!("/users/{frank}"), &admin).await;
        assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    }

    // With it but unconfirmed: the confirmation page, and still nothing done.
    let csrf = csrf_of(&app, &b).await;
    let res = post(&app, &b, &delete, &[("csrf", csrf.as_str())]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains("Delete frank?"), "{page}");
    assert!(page.contains("name=\"confirm\" value=\"yes\""), "{page}");
    assert!(page.contains(&format!("action=\"{delete}\"")), "{page}");
    assert_eq!(
        app.get(&format!("/users/{frank}"), &admin).await.status,
        StatusCode::OK
    );

    // Confirmed: done, and said so.
    let res = post(
        &app,
        &b,
        &delete,
        &[("csrf", csrf.as_str()), ("confirm", "yes")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/admin/users?done=deleted");
    assert_eq!(
        app.get(&format!("/users/{frank}"), &admin).await.status,
        StatusCode::NOT_FOUND
    );
    let a = app
        .get(
            &format!("/audit?event=user_deleted&user_id={frank}"),
            &admin,
        )
        .await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 1, "{:?}", a.body);
}

#[tokio::test]
async fn a_client_registered_on_the_console_shows_its_secret_once() {
    let app = oidc_app().await;
    let b = browser();
    sign_in(&app, &b, "admin", ADMIN_PASSWORD, None).await;
    let csrf = csrf_of(&app, &b).await;

    // A redirect URI the rules refuse is said beside the field, with its line.
    let res = post(
        &app,
        &b,
        "/admin/clients",
        &[
            ("csrf", csrf.as_str()),
            ("client_name", "Wiki"),
            (
                "redirect_uris",
                "https://wiki.example.com/cb\nhttp://wiki.example.com/cb",
            ),
            ("auth_method", "client_secret_basic"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("id=\"redirect_uris-error\">Line 2:"),
        "{page}"
    );

    let res = post(
        &app,
        &b,
        "/admin/clients",
        &[
            ("csrf", csrf.as_str()),
            ("client_name", "Wiki"),
            ("redirect_uris", "https://wiki.example.com/cb\n"),
            ("auth_method", "client_secret_basic"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    let page = res.text().await.unwrap();
    let value = |prefix: &str| {
        let start = page
            .find(prefix)
            .unwrap_or_else(|| panic!("no {prefix} in {page}"))
            + prefix.len();
        let end = start + page[start..].find('"').unwrap();
        page[start..end].to_owned()
    };
    let secret = format!("tsc_{}", value("value=\"tsc_"));
    let client_id = format!("tc_{}", value("href=\"/admin/clients/tc_"));

    // Its page, and the list, show the client and never the secret again.
    let (status, page) = open(&app, &b, &format!("/admin/clients/{client_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("https://wiki.example.com/cb"), "{page}");
    assert!(!page.contains(&secret) && !page.contains("tsc_"), "{page}");
    let (_, list) = open(&app, &b, "/admin/clients").await;
    assert!(
        list.contains(&client_id) && !list.contains("tsc_"),
        "{list}"
    );

    // The API sees the same client.
    let admin = app.admin_token().await;
    let a = app
        .get(&format!("/oauth/clients/{client_id}"), &admin)
        .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["client_name"], "Wiki");
    assert_eq!(
        a.body["redirect_uris"],
        json!(["https://wiki.example.com/cb"])
    );
}

/// How many signing keys the API lists.
async fn key_count(app: &TestApp, admin_token: &str) -> usize {
    let a = app.get("/keys", admin_token).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.body["items"].as_array().unwrap().len()
}

#[tokio::test]
async fn rotate_now_asks_first_needs_its_csrf_field_and_the_new_key_signs_at_once() {
    let app = oidc_app().await;
    let admin = app.admin_token().await;
    let old_kid = jsonwebtoken::decode_header(&admin).unwrap().kid.unwrap();
    let b = browser();
    sign_in(&app, &b, "admin", ADMIN_PASSWORD, None).await;
    let rotate = "/admin/keys/rotate";

    // The keys page: the key that signs, and the button.
    let (status, page) = open(&app, &b, "/admin/keys").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!("<code>{old_kid}</code>")), "{page}");
    assert!(page.contains(&format!("action=\"{rotate}\"")), "{page}");
    assert!(page.contains("Rotate now"), "{page}");

    // Without the CSRF field, or with another: refused in words, and no new key.
    for fields in [
        vec![("confirm", "yes")],
        vec![("confirm", "yes"), ("csrf", "forged")],
    ] {
        let res = post(&app, &b, rotate, &fields).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert!(res.text().await.unwrap().contains("Nothing was changed"));
    }
    assert_eq!(key_count(&app, &admin).await, 1);

    // The button posts without `confirm`: the confirmation page, and still nothing done.
    let csrf = csrf_of(&app, &b).await;
    let res = post(&app, &b, rotate, &[("csrf", csrf.as_str())]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains("Make a new signing key?"), "{page}");
    assert!(page.contains("name=\"confirm\" value=\"yes\""), "{page}");
    assert!(page.contains(&format!("action=\"{rotate}\"")), "{page}");
    let (status, page) = open(&app, &b, rotate).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Make a new signing key?"), "{page}");
    assert_eq!(key_count(&app, &admin).await, 1);

    // Confirmed: back to the keys, which say that the new key signs from now on.
    let res = post(
        &app,
        &b,
        rotate,
        &[("csrf", csrf.as_str()), ("confirm", "yes")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = location(&res);
    assert_eq!(to, "/admin/keys?done=key_rotated");
    let (status, page) = open(&app, &b, &to).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("A new signing key signs from now on"),
        "{page}"
    );

    let a = app.get("/keys", &admin).await;
    let items = a.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{:?}", a.body);
    let new_kid = items[0]["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    assert_eq!(items[0]["signs"], true);
    assert_eq!(items[1]["published"], true);
    // The key that signs is listed first, and the next token is signed with it.
    let signs = page.find(&format!("<code>{new_kid}</code>")).unwrap();
    let verifies = page.find(&format!("<code>{old_kid}</code>")).unwrap();
    assert!(signs < verifies, "{page}");
    let (token, _) = app.login("admin", ADMIN_PASSWORD).await;
    assert_eq!(
        jsonwebtoken::decode_header(&token).unwrap().kid.unwrap(),
        new_kid
    );

    // Audited as the API's rotation is, once.
    let a = app.get("/audit?event=keys_rotated", &admin).await;
    let entries = a.body["items"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{:?}", a.body);
    assert_eq!(entries[0]["details"]["kid"], new_kid.as_str());
}
