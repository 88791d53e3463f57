//! The account pages in a browser that keeps its cookies: signing in through the sign-in page
//! and coming back, and what each page changes, through the same use cases as the API (so the
//! API sees each change). Every form is posted as a browser posts it; one without its CSRF
//! field is refused and changes nothing.

use reqwest::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION};
use reqwest::{Response, StatusCode};
use tessera_testkit::{TestApp, USER_PASSWORD};

use crate::oidc::{browser, oidc_app};

/// `location` of a redirect.
fn location(res: &Response) -> String {
    res.headers()
        .get(LOCATION)
        .unwrap_or_else(|| panic!("no Location in a {} answer", res.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// The value of the first field `name` of a page (hidden or read-only).
fn field_value(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + marker.len();
    let end = start + page[start..].find('"').unwrap();
    page[start..end].to_owned()
}

/// Signs `user` in as a browser that asked for `/account` signed out: the sign-in page, and back
/// to `/account` once signed in.
async fn sign_in(app: &TestApp, b: &reqwest::Client, user: &str, password: &str) {
    let res = b.get(app.url("/account")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to_login = location(&res);
    assert_eq!(to_login, "/login?return_to=%2Faccount");
    let page = b
        .get(app.url(&to_login))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(field_value(&page, "return_to"), "/account");
    let csrf = field_value(&page, "csrf");
    let res = b
        .post(app.url("/login"))
        .form(&[
            ("username", user),
            ("password", password),
            ("csrf", csrf.as_str()),
            ("return_to", "/account"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/account");
}

/// A page of the account, as HTML with the pages' headers; its text.
async fn page(app: &TestApp, b: &reqwest::Client, path: &str) -> String {
    let res = b.get(app.url(path)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    html(res).await
}

/// The text of an HTML page of the account, checking the pages' headers.
async fn html(res: Response) -> String {
    assert!(res.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let csp = res.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    res.text().await.unwrap()
}

/// Posts `fields` to `path` with the CSRF field of the page at `from`.
async fn post(
    app: &TestApp,
    b: &reqwest::Client,
    from: &str,
    path: &str,
    fields: &[(&str, &str)],
) -> Response {
    let csrf = field_value(&page(app, b, from).await, "csrf");
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    b.post(app.url(path)).form(&form).send().await.unwrap()
}

/// A server with alice, a user who is not an admin.
async fn app_with_alice() -> TestApp {
    let app = oidc_app().await;
    let admin = app.admin_token().await;
    app.create_user(&admin, "alice").await;
    app
}

#[tokio::test]
async fn a_signed_out_browser_signs_in_and_comes_back_to_its_account() {
    let app = app_with_alice().await;
    let b = browser();
    // Any account page sends a signed-out browser to sign in, and the sign-in back to it.
    let res = b
        .get(app.url("/account/sessions?after=3"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&res),
        "/login?return_to=%2Faccount%2Fsessions%3Fafter%3D3"
    );
    sign_in(&app, &b, "alice", USER_PASSWORD).await;
    let overview = page(&app, &b, "/account").await;
    for words in [
        "<title>Your account · Tessera</title>",
        "Signed in as <strong>alice</strong>",
        "href=\"/account/profile\"",
        "href=\"/account/password\"",
        "href=\"/account/mfa\"",
        "href=\"/account/sessions\"",
        "href=\"/account/api-keys\"",
        "href=\"/account/applications\"",
        "href=\"/account/activity\"",
        "action=\"/oauth/logout\"",
    ] {
        assert!(overview.contains(words), "{words} in {overview}");
    }
    // The signed-in page links here.
    assert!(page(&app, &b, "/").await.contains("href=\"/account\""));
    // The same pages speak Spanish to a browser that prefers it.
    let res = b
        .get(app.url("/account"))
        .header(reqwest::header::ACCEPT_LANGUAGE, "es")
        .send()
        .await
        .unwrap();
    let spanish = html(res).await;
    assert!(spanish.contains("<html lang=\"es\">"), "{spanish}");
    assert!(spanish.contains("Tu cuenta"), "{spanish}");

    // Signing out from the account pages ends the session: the next visit is sent to sign in.
    let res = post(&app, &b, "/account", "/oauth/logout", &[("confirm", "yes")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = b.get(app.url("/account")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

/// alice as the API sees her.
async fn alice_by_api(app: &TestApp) -> serde_json::Value {
    let admin = app.admin_token().await;
    let a = app.get("/users?q=alice", &admin).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    a.body["items"][0].clone()
}

#[tokio::test]
async fn the_profile_is_saved_and_a_bad_e_mail_is_said_beside_its_field() {
    let app = app_with_alice().await;
    let b = browser();
    sign_in(&app, &b, "alice", USER_PASSWORD).await;
    let form = page(&app, &b, "/account/profile").await;
    assert!(form.contains("value=\"alice@example.com\""), "{form}");
    assert!(form.contains("autocomplete=\"email\""), "{form}");
    assert!(form.contains("autocomplete=\"name\""), "{form}");

    let res = post(
        &app,
        &b,
        "/account/profile",
        "/account/profile",
        &[
            ("display_name", "Alice Liddell"),
            ("email", "alice@wonderland.example"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let saved = html(res).await;
    assert!(saved.contains("Your profile is saved."), "{saved}");
    let alice = alice_by_api(&app).await;
    assert_eq!(alice["display_name"], "Alice Liddell");
    assert_eq!(alice["email"], "alice@wonderland.example");

    // A bad address is said beside its field, which keeps what was typed; nothing changes.
    let res = post(
        &app,
        &b,
        "/account/profile",
        "/account/profile",
        &[
            ("display_name", "Someone Else"),
            ("email", "not an address"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let refused = html(res).await;
    assert!(
        refused.contains("aria-describedby=\"email-error\""),
        "{refused}"
    );
    assert!(
        refused.contains(
            "<p class=\"field-error\" id=\"email-error\">This is not an e-mail address.</p>"
        ),
        "{refused}"
    );
    assert!(refused.contains("value=\"not an address\""), "{refused}");
    assert!(!refused.contains("display_name-error"), "{refused}");
    let alice = alice_by_api(&app).await;
    assert_eq!(alice["display_name"], "Alice Liddell");
    assert_eq!(alice["email"], "alice@wonderland.example");

    // An empty field clears its value, as PUT /users/{id} does.
    let res = post(
        &app,
        &b,
        "/account/profile",
        "/account/profile",
        &[("display_name", ""), ("email", "alice@wonderland.example")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(alice_by_api(&app).await["display_name"].is_null());
    // The change is audited like its API twin's.
    let admin = app.admin_token().await;
    let a = app.get("/audit?event=user_updated", &admin).await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 2, "{:?}", a.body);
}

#[tokio::test]
async fn a_post_without_its_csrf_field_is_refused_and_changes_nothing() {
    let app = app_with_alice().await;
    let b = browser();
    sign_in(&app, &b, "alice", USER_PASSWORD).await;
    let csrf = field_value(&page(&app, &b, "/account/profile").await, "csrf");
    let last = if csrf.ends_with('A') { "B" } else { "A" };
    let forged = format!("{}{last}", &csrf[..csrf.len() - 1]);
    for presented in [None, Some(""), Some(forged.as_str())] {
        let mut form = vec![
            ("display_name", "Mallory"),
            ("email", "mallory@evil.example"),
        ];
        if let Some(csrf) = presented {
            form.push(("csrf", csrf));
        }
        let res = b
            .post(app.url("/account/profile"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{presented:?}");
        assert!(html(res).await.contains("Nothing was changed"));
    }
    let alice = alice_by_api(&app).await;
    assert!(alice["display_name"].is_null(), "{alice}");
    assert_eq!(alice["email"], "alice@example.com");
}

#[tokio::test]
async fn a_password_change_needs_the_current_password_and_ends_the_other_sessions() {
    let app = app_with_alice().await;
    let b = browser();
    sign_in(&app, &b, "alice", USER_PASSWORD).await;
    let (elsewhere, _) = app.login("alice", USER_PASSWORD).await;
    // The rules are shown before anything is typed.
    let form = page(&app, &b, "/account/password").await;
    for words in [
        "At least 12 characters",
        "Not to be one of the most common passwords",
        "autocomplete=\"current-password\"",
        "autocomplete=\"new-password\"",
        "other sessions end",
    ] {
        assert!(form.contains(words), "{words} in {form}");
    }

    let new = "a brand new passphrase here";
    let res = post(
        &app,
        &b,
        "/account/password",
        "/account/password",
        &[
            ("current_password", "not my password at all"),
            ("new_password", new),
            ("confirm_password", new),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let refused = html(res).await;
    assert!(
        refused.contains(
            "<p class=\"field-error\" id=\"current_password-error\">This is not your current password.</p>"
        ),
        "{refused}"
    );
    // A new password that breaks a rule, and two that differ, are said beside their fields.
    let res = post(
        &app,
        &b,
        "/account/password",
        "/account/password",
        &[
            ("current_password", USER_PASSWORD),
            ("new_password", "Zq8-vw"),
            ("confirm_password", "Zq8-vw"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html(res)
        .await
        .contains("id=\"new_password-error\">Use at least 12 characters.</p>"));
    let res = post(
        &app,
        &b,
        "/account/password",
        "/account/password",
        &[
            ("current_password", USER_PASSWORD),
            ("new_password", new),
            ("confirm_password", "something else entirely"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html(res).await.contains("id=\"confirm_password-error\""));
    // Nothing changed so far.
    assert_eq!(
        app.post_login("alice", USER_PASSWORD).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/auth/userinfo", &elsewhere).await.status,
        StatusCode::OK
    );

    let res = post(
        &app,
        &b,
        "/account/password",
        "/account/password",
        &[
            ("current_password", USER_PASSWORD),
            ("new_password", new),
            ("confirm_password", new),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(html(res).await.contains("Your password is changed"));
    assert_eq!(app.post_login("alice", new).await.status, StatusCode::OK);
    assert_eq!(
        app.post_login("alice", USER_PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    // The other session ended; this browser's goes on.
    assert_eq!(
        app.get("/auth/userinfo", &elsewhere).await.status,
        StatusCode::UNAUTHORIZED
    );
    page(&app, &b, "/account").await;
}

/// The backup codes a page shows.
fn backup_codes(page: &str) -> Vec<String> {
    let list = &page[page.find("<ol class=\"codes\">").expect("a list of codes")..];
    let list = &list[..list.find("</ol>").unwrap()];
    list.split("<li>")
        .skip(1)
        .map(|item| item[..item.find("</li>").unwrap()].to_owned())
        .collect()
}

#[tokio::test]
async fn two_step_sign_in_is_set_up_with_a_code_and_its_backup_codes_are_shown_once() {
    let app = app_with_alice().await;
    let b = browser();
    sign_in(&app, &b, "alice", USER_PASSWORD).await;
    let off = page(&app, &b, "/account/mfa").await;
    assert!(off.contains("Two-step sign-in is off."), "{off}");
    assert!(off.contains("action=\"/account/mfa/setup\""), "{off}");

    // The enrolment: the QR code inline (the pages load no image from elsewhere), the secret
    // in text, and nothing on yet.
    let res = post(&app, &b, "/account/mfa", "/account/mfa/setup", &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let enrol = html(res).await;
    assert!(enrol.contains("<div class=\"qr\" role=\"img\""), "{enrol}");
    assert!(enrol.contains("<svg"), "{enrol}");
    assert!(!enrol.contains("<?xml"), "{enrol}");
    assert!(
        enrol.contains("href=\"otpauth://totp/Tessera:alice?"),
        "{enrol}"
    );
    assert!(enrol.contains("autocomplete=\"one-time-code\""), "{enrol}");
    let secret = field_value(&enrol, "secret");
    assert!(enrol.contains(&format!("<p class=\"secret\">{secret}</p>")));
    assert_eq!(
        app.post_login("alice", USER_PASSWORD).await.status,
        StatusCode::OK
    );

    // A wrong code is said beside its field, with the same secret shown again.
    let res = b
        .post(app.url("/account/mfa/verify"))
        .form(&[
            ("csrf", field_value(&enrol, "csrf").as_str()),
            ("secret", secret.as_str()),
            ("code", "000000"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let again = html(res).await;
    assert!(again.contains("id=\"code-error\""), "{again}");
    assert_eq!(field_value(&again, "secret"), secret);
    assert!(again.contains("<svg"), "{again}");

    // The right code turns it on and shows ten backup codes, this once.
    let code = crate::mfa::totp(&secret, crate::mfa::now());
    let res = b
        .post(app.url("/account/mfa/verify"))
        .form(&[
            ("csrf", field_value(&again, "csrf").as_str()),
            ("secret", secret.as_str()),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let shown = html(res).await;
    assert!(shown.contains("Two-step sign-in is on."), "{shown}");
    let codes = backup_codes(&shown);
    assert_eq!(codes.len(), 10, "{shown}");
    let a = app.post_login("alice", USER_PASSWORD).await;
    assert_eq!(a.error(), "mfa_required");
    let status = page(&app, &b, "/account/mfa").await;
    assert!(
        status.contains("You have 10 unused backup codes."),
        "{status}"
    );
    assert!(!status.contains(&codes[0]), "{status}");

    // New backup codes, after a confirmation: the old ones stop working.
    let confirm = page(&app, &b, "/account/mfa/backup-codes").await;
    assert!(confirm.contains("Make new backup codes?"), "{confirm}");
    let res = post(
        &app,
        &b,
        "/account/mfa/backup-codes",
        "/account/mfa/backup-codes",
        &[],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let fresh = backup_codes(&html(res).await);
    assert_eq!(fresh.len(), 10);
    assert!(fresh.iter().all(|c| !codes.contains(c)));
    let pending = crate::mfa::mfa_token(&app).await;
    assert_eq!(
        crate::mfa::second_step(&app, &pending, &codes[0])
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );

    // Turning it off needs the password: a wrong one is said beside its field.
    let res = post(
        &app,
        &b,
        "/account/mfa",
        "/account/mfa/disable",
        &[("password", "not my password"), ("code", fresh[0].as_str())],
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let refused = html(res).await;
    assert!(
        refused.contains("id=\"password-error\">This is not your current password.</p>"),
        "{refused}"
    );
    let res = post(
        &app,
        &b,
        "/account/mfa",
        "/account/mfa/disable",
        &[("password", USER_PASSWORD), ("code", fresh[1].as_str())],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/account/mfa?done=mfa-off");
    assert!(page(&app, &b, "/account/mfa?done=mfa-off")
        .await
        .contains("Two-step sign-in is off."));
    assert_eq!(
        app.post_login("alice", USER_PASSWORD).await.status,
        StatusCode::OK
    );
}

/// The ids in the links `/account/{list}/{id}/{action}` of a page.
fn linked_ids(page: &str, list: &str, action: &str) -> Vec<String> {
    let marker = format!("href=\"/account/{list}/");
    page.split(&marker)
        .skip(1)
        .filter_map(|rest| {
            let (id, tail) = rest.split_once('/')?;
            tail.starts_with(&format!("{action}\""))
                .then(|| id.to_owned())
        })
        .collect()
}

#[tokio::test]
async fn a_session_ended_from_the_list_is_refused_at_once_and_so_are_all_the_others() {
    let app = app_with_alice().await;
    let b = browser();
    sign_in(&app, &b, "alice", USER_PASSWORD).await;
    let (elsewhere, _) = app.login("alice", USER_PASSWORD).await;
    assert_eq!(
        app.get("/auth/userinfo", &elsewhere).await.status,
        StatusCode::OK
    );

    let list = page(&app, &b, "/account/sessions").await;
    assert_eq!(list.matches("<li class=\"item\">").count(), 2, "{list}");
    assert_eq!(
        list.matches("<span class=\"badge\">This browser</span>")
            .count(),
        1,
        "{list}"
    );
    assert!(
        list.contains("<dt>IP address</dt><dd>127.0.0.1</dd>"),
        "{list}"
    );
    assert!(list.contains("<h2>Tessera"), "{list}");
    // Only the other session can be ended from its line: this browser signs out instead.
    let ids = linked_ids(&list, "sessions", "end");
    assert_eq!(ids.len(), 1, "{list}");
    let end = format!("/account/sessions/{}/end", ids[0]);

    // Asked first; the question names the session.
    let confirm = page(&app, &b, &end).await;
    assert!(confirm.contains("End this session?"), "{confirm}");
    assert!(confirm.contains(&format!("action=\"{end}\"")), "{confirm}");
    assert!(confirm.contains("href=\"/account/sessions\""), "{confirm}");
    assert_eq!(
        app.get("/auth/userinfo", &elsewhere).await.status,
        StatusCode::OK
    );
    let res = post(&app, &b, &end, &end, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/account/sessions?done=session-ended");
    assert_eq!(
        app.get("/auth/userinfo", &elsewhere).await.status,
        StatusCode::UNAUTHORIZED
    );
    let after = page(&app, &b, "/account/sessions?done=session-ended").await;
    assert!(after.contains("The session has ended."), "{after}");
    assert_eq!(after.matches("<li class=\"item\">").count(), 1, "{after}");
    // Ended already: not there any more.
    let res = post(&app, &b, "/account/sessions", &end, &[]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Someone else's session is not there either.
    let (admin_token, _) = app.login("admin", tessera_testkit::ADMIN_PASSWORD).await;
    let admin_sessions = app.get("/sessions", &admin_token).await;
    let admins = admin_sessions.body["items"][0]["id"].as_i64().unwrap();
    let res = b
        .get(app.url(&format!("/account/sessions/{admins}/end")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.get("/auth/userinfo", &admin_token).await.status,
        StatusCode::OK
    );

    // All the others, after a confirmation; this browser stays signed in.
    let (one, _) = app.login("alice", USER_PASSWORD).await;
    let (two, _) = app.login("alice", USER_PASSWORD).await;
    let confirm = page(&app, &b, "/account/sessions/end-others").await;
    assert!(
        confirm.contains("End all your other sessions?"),
        "{confirm}"
    );
    let res = post(
        &app,
        &b,
        "/account/sessions/end-others",
        "/account/sessions/end-others",
        &[],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    for token in [one, two] {
        assert_eq!(
            app.get("/auth/userinfo", &token).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let left = page(&app, &b, "/account/sessions?done=others-ended").await;
    assert!(left.contains("Your other sessions have ended."), "{left}");
    assert_eq!(left.matches("<li class=\"item\">").count(), 1, "{left}");
    assert!(
        !left.contains("href=\"/account/sessions/end-others\""),
        "{left}"
    );
}

#[tokio::test]
async fn an_api_key_is_shown_once_listed_without_its_secret_and_refused_once_revoked() {
    let app = app_with_alice().await;
    let b = browser();
    sign_in(&app, &b, "alice", USER_PASSWORD).await;
    let empty = page(&app, &b, "/account/api-keys").await;
    assert!(empty.contains("You have no API keys."), "{empty}");
    // alice may give a key her own roles only.
    assert!(empty.contains("name=\"scopes\" value=\"user\""), "{empty}");
    assert!(!empty.contains("value=\"admin\""), "{empty}");

    // Refusals are said beside their fields, and create nothing.
    for (fields, error) in [
        (
            vec![("name", ""), ("expires_on", "")],
            "id=\"name-error\">Fill this in.",
        ),
        (
            vec![("name", "ci"), ("expires_on", "2001-01-01")],
            "id=\"expires_on-error\">Choose a day after today.",
        ),
        (
            vec![("name", "ci"), ("expires_on", "next week")],
            "id=\"expires_on-error\">Write the date as year-month-day",
        ),
        (
            vec![("name", "ci"), ("scopes", "admin")],
            "id=\"scopes-error\">A key can only have roles you have.",
        ),
    ] {
        let res = post(&app, &b, "/account/api-keys", "/account/api-keys", &fields).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{fields:?}");
        let refused = html(res).await;
        assert!(refused.contains(error), "{error} in {refused}");
    }
    assert!(page(&app, &b, "/account/api-keys")
        .await
        .contains("You have no API keys."));

    let res = post(
        &app,
        &b,
        "/account/api-keys",
        "/account/api-keys",
        &[
            ("name", "ci"),
            ("scopes", "user"),
            ("expires_on", "2099-12-31"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let shown = html(res).await;
    let key = field_value(&shown, "key");
    assert!(key.starts_with("tsk_"), "{shown}");
    assert!(shown.contains("readonly"), "{shown}");
    assert!(shown.contains("autocomplete=\"off\""), "{shown}");
    let a = app.get("/auth/profile", &key).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["user"]["username"], "alice");

    // Listed with its first characters only: never the key again.
    let list = page(&app, &b, "/account/api-keys").await;
    assert!(!list.contains(&key), "{list}");
    assert!(
        list.contains(&format!("<code>{}</code>", &key[..12])),
        "{list}"
    );
    assert!(list.contains("<h2>ci</h2>"), "{list}");
    assert!(list.contains("2099-12-31 00:00 UTC"), "{list}");
    let ids = linked_ids(&list, "api-keys", "revoke");
    assert_eq!(ids.len(), 1, "{list}");
    let revoke = format!("/account/api-keys/{}/revoke", ids[0]);
    let confirm = page(&app, &b, &revoke).await;
    assert!(confirm.contains("Revoke the API key ci?"), "{confirm}");
    assert_eq!(app.get("/auth/profile", &key).await.status, StatusCode::OK);
    let res = post(&app, &b, &revoke, &revoke, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/account/api-keys?done=key-revoked");
    assert_eq!(
        app.get("/auth/profile", &key).await.status,
        StatusCode::UNAUTHORIZED
    );
    let after = page(&app, &b, "/account/api-keys?done=key-revoked").await;
    assert!(after.contains("The API key is revoked."), "{after}");
    assert!(after.contains("You have no API keys."), "{after}");
    let admin = app.admin_token().await;
    let a = app.get("/audit?event=api_key_deleted", &admin).await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 1, "{:?}", a.body);
}

#[tokio::test]
async fn a_consent_withdrawn_from_the_account_signs_the_application_out() {
    let app = app_with_alice().await;
    let client_id = crate::oidc::third_party_client(&app).await;
    let b = browser();
    sign_in(&app, &b, "alice", USER_PASSWORD).await;
    let none = page(&app, &b, "/account/applications").await;
    assert!(
        none.contains("You have not allowed any application yet."),
        "{none}"
    );

    // alice allows Calendar, which gets its tokens.
    let redirect = "http://127.0.0.1:9/cb";
    let request = crate::oidc::authorize_url_for(&app, &client_id, redirect, &[]);
    let res = b.get(request).send().await.unwrap();
    let (_, fields) = crate::oidc::consent_page(res).await;
    let res = crate::oidc::post_consent(&app, &b, &fields, "allow").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = reqwest::Url::parse(&location(&res)).unwrap();
    let code = crate::oidc::param(&back, "code").unwrap();
    let tokens = crate::oidc::exchange_for(&app, &client_id, &code, redirect).await;
    assert_eq!(tokens.status, StatusCode::OK, "{:?}", tokens.body);
    let access = tokens.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get("/auth/userinfo", &access).await.status,
        StatusCode::OK
    );

    // Listed with what it may have, in words.
    let list = page(&app, &b, "/account/applications").await;
    let link = format!("href=\"/account/applications/{client_id}/withdraw\"");
    for words in [
        "<h2>Calendar</h2>",
        "Know who you are",
        "Your e-mail address",
        link.as_str(),
    ] {
        assert!(list.contains(words), "{words} in {list}");
    }
    // Its session shows among alice's, by the application's name.
    let sessions = page(&app, &b, "/account/sessions").await;
    assert!(sessions.contains("<h2>Calendar</h2>"), "{sessions}");

    let withdraw = format!("/account/applications/{client_id}/withdraw");
    let confirm = page(&app, &b, &withdraw).await;
    assert!(
        confirm.contains("Withdraw your consent to Calendar?"),
        "{confirm}"
    );
    assert_eq!(
        app.get("/auth/userinfo", &access).await.status,
        StatusCode::OK
    );
    let res = post(&app, &b, &withdraw, &withdraw, &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&res),
        "/account/applications?done=consent-withdrawn"
    );
    assert_eq!(
        app.get("/auth/userinfo", &access).await.status,
        StatusCode::UNAUTHORIZED
    );
    let after = page(&app, &b, "/account/applications?done=consent-withdrawn").await;
    assert!(after.contains("Your consent is withdrawn."), "{after}");
    assert!(
        after.contains("You have not allowed any application yet."),
        "{after}"
    );
    // Withdrawn already: nothing to withdraw.
    let res = post(&app, &b, "/account/applications", &withdraw, &[]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_activity_page_shows_the_user_s_own_sign_ins_newest_first() {
    let app = app_with_alice().await;
    let admin = app.admin_token().await;
    app.create_user(&admin, "bob").await;
    assert_eq!(
        app.post_login("alice", "not her password").await.status,
        StatusCode::UNAUTHORIZED
    );
    app.login("bob", USER_PASSWORD).await;
    let b = browser();
    sign_in(&app, &b, "alice", USER_PASSWORD).await;
    let activity = page(&app, &b, "/account/activity").await;
    let signed_in = activity
        .find("<h2>Sign-in</h2>")
        .unwrap_or_else(|| panic!("{activity}"));
    let failed = activity
        .find("<h2>Failed sign-in</h2>")
        .unwrap_or_else(|| panic!("{activity}"));
    assert!(signed_in < failed, "newest first: {activity}");
    assert!(activity.contains("<dd>127.0.0.1</dd>"), "{activity}");
    // Only what is about alice: bob's sign-in and the admin's are not hers.
    assert_eq!(
        activity.matches("<h2>Sign-in</h2>").count(),
        1,
        "{activity}"
    );
    assert!(!activity.contains("Next page"), "{activity}");
    let spanish = b
        .get(app.url("/account/activity"))
        .header(reqwest::header::ACCEPT_LANGUAGE, "es")
        .send()
        .await
        .unwrap();
    let spanish = html(spanish).await;
    assert!(
        spanish.contains("<h2>Inicio de sesión fallido</h2>"),
        "{spanish}"
    );
}
