//! The sign-in pages in words and colours: the language each page speaks (the application's
//! `ui_locales`, the browser's `Accept-Language`, the configured default), the brand of
//! `[branding]` (name, colours, logo), and refusals said in words, a lock with the time left.

use reqwest::header::{ACCEPT_LANGUAGE, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use reqwest::{Response, StatusCode};
use tessera_server::Settings;
use tessera_testkit::{spawn_app_with, TestApp, ADMIN_PASSWORD};

use crate::oidc::{authorize_url_for, browser, param, public_client_for};

/// A server whose cookies a plain-HTTP client sends back, with `adjust` applied.
async fn pages_app(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with(|s| {
        s.tokens.issuer = None;
        s.cookies.secure = false;
        adjust(s);
    })
    .await
}

/// The value of a hidden field of a page.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + marker.len();
    let end = start + page[start..].find('"').unwrap();
    page[start..end].to_owned()
}

/// The value of the first `attribute="…"` of a page that starts with `prefix`.
fn attribute_starting(page: &str, attribute: &str, prefix: &str) -> String {
    let marker = format!("{attribute}=\"{prefix}");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {marker} in {page}"))
        + attribute.len()
        + 2;
    let end = start + page[start..].find('"').unwrap();
    page[start..end].to_owned()
}

/// `GET path` as a browser that prefers `accept_language`, when given.
async fn get(
    app: &TestApp,
    b: &reqwest::Client,
    path: &str,
    accept_language: Option<&str>,
) -> Response {
    let mut req = b.get(app.url(path));
    if let Some(languages) = accept_language {
        req = req.header(ACCEPT_LANGUAGE, languages);
    }
    req.send().await.unwrap()
}

/// Posts the sign-in form with these fields and `csrf`, as a browser that prefers English: what
/// the form carries (`lang`) decides.
async fn post_login(
    app: &TestApp,
    b: &reqwest::Client,
    csrf: &str,
    fields: &[(&str, &str)],
) -> Response {
    let mut form = vec![("csrf", csrf)];
    form.extend_from_slice(fields);
    b.post(app.url("/login"))
        .header(ACCEPT_LANGUAGE, "en")
        .form(&form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_browser_that_prefers_spanish_gets_the_pages_in_spanish() {
    let app = pages_app(|_| {}).await;
    let b = browser();

    let res = get(&app, &b, "/login", Some("es-ES,es;q=0.9,en;q=0.8")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains("<html lang=\"es\">"), "{page}");
    assert!(
        page.contains("<title>Iniciar sesión · Tessera</title>"),
        "{page}"
    );
    assert!(page.contains("<label for=\"password\">Contraseña</label>"));
    assert_eq!(hidden(&page, "lang"), "es");

    // A higher q-value for English wins; a language the pages do not speak is passed over.
    for (languages, lang) in [
        ("es;q=0.5, en;q=0.9", "en"),
        ("fr-CA, fr;q=0.9, es;q=0.8", "es"),
        ("de", "en"),
    ] {
        let page = get(&app, &b, "/login", Some(languages))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            page.contains(&format!("<html lang=\"{lang}\">")),
            "{languages}: {page}"
        );
    }
    let page = get(&app, &b, "/login", None).await.text().await.unwrap();
    assert!(page.contains("<html lang=\"en\">"));
    assert!(page.contains("<title>Sign in · Tessera</title>"));

    // The form carries the language: a wrong password is said in Spanish, whatever the browser
    // sends with the post.
    let csrf = hidden(
        &get(&app, &b, "/login", Some("es"))
            .await
            .text()
            .await
            .unwrap(),
        "csrf",
    );
    let res = post_login(
        &app,
        &b,
        &csrf,
        &[
            ("username", "admin"),
            ("password", "not the password"),
            ("lang", "es"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let page = res.text().await.unwrap();
    assert!(page.contains("<html lang=\"es\">"), "{page}");
    assert!(
        page.contains("El usuario o la contraseña no son correctos."),
        "{page}"
    );
    // In English it is one sentence that never says which of the two was wrong.
    let res = post_login(
        &app,
        &b,
        &csrf,
        &[("username", "nobody"), ("password", "not the password")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("<p class=\"error\" role=\"alert\">Wrong username or password.</p>"));
}

#[tokio::test]
async fn the_application_s_ui_locales_beat_the_browser_s_languages() {
    let app = pages_app(|_| {}).await;
    let redirect = "http://127.0.0.1:9/cb";
    let client_id = public_client_for(&app, redirect).await;
    let b = browser();
    let request = authorize_url_for(&app, &client_id, redirect, &[("ui_locales", "fr-CA es-MX")]);
    let res = b
        .get(request)
        .header(ACCEPT_LANGUAGE, "en")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to_login = res.headers()["location"].to_str().unwrap().to_owned();
    let login = reqwest::Url::parse(&app.address)
        .unwrap()
        .join(&to_login)
        .unwrap();
    let return_to = param(&login, "return_to").unwrap();
    assert!(return_to.contains("ui_locales=fr-CA"), "{return_to}");
    let page = b
        .get(login)
        .header(ACCEPT_LANGUAGE, "en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<html lang=\"es\">"), "{page}");
    assert!(page.contains("Iniciar sesión"), "{page}");
}

#[tokio::test]
async fn the_default_language_is_configured() {
    let app = pages_app(|s| s.pages.default_language = "es".into()).await;
    let b = browser();
    let page = get(&app, &b, "/login", None).await.text().await.unwrap();
    assert!(page.contains("<html lang=\"es\">"), "{page}");
    let page = get(&app, &b, "/login", Some("en-GB"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("<html lang=\"en\">"), "{page}");
}

#[tokio::test]
async fn the_product_name_and_colours_are_configured() {
    let app = pages_app(|s| {
        s.branding.product_name = "Acme ID".into();
        s.branding.accent_color = "#c05".into();
        s.branding.background_color = "#fafafa".into();
    })
    .await;
    let b = browser();
    let res = get(&app, &b, "/login", None).await;
    let csp = res.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("style-src 'self'"), "{csp}");
    let page = res.text().await.unwrap();
    assert!(page.contains("<title>Sign in · Acme ID</title>"), "{page}");
    assert!(page.contains("<p class=\"brand\">Acme ID</p>"), "{page}");
    assert!(!page.contains("Tessera"), "{page}");
    assert!(!page.contains("<img"), "no logo configured: {page}");
    assert!(!page.contains("style="), "no inline style: {page}");
    let theme = attribute_starting(&page, "href", "/assets/theme.css");
    assert!(theme.starts_with("/assets/theme.css?v="), "{theme}");
    // The theme comes after the stylesheet it sets the colours of.
    assert!(page.find("/assets/tessera.css").unwrap() < page.find(&theme).unwrap());

    let res = get(&app, &b, &theme, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    assert!(res.headers()[CACHE_CONTROL]
        .to_str()
        .unwrap()
        .contains("max-age="));
    let css = res.text().await.unwrap();
    assert!(
        css.contains(":root { --accent: #c05; --background: #fafafa; }"),
        "{css}"
    );
    let css = get(&app, &b, "/assets/tessera.css", None)
        .await
        .text()
        .await
        .unwrap();
    assert!(css.contains("var(--accent"), "{css}");
    assert!(css.contains("var(--background"), "{css}");
    // Without a logo there is none to serve.
    let res = get(&app, &b, "/assets/logo", None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
}

#[tokio::test]
async fn a_configured_logo_is_shown_above_the_name_and_served_with_its_type() {
    let files = tempfile::tempdir().unwrap();
    let png = files.path().join("acme.png");
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend_from_slice(b"\0\0\0\rIHDR and the rest of a small image");
    std::fs::write(&png, &bytes).unwrap();
    let app = pages_app(|s| {
        s.branding.product_name = "Acme".into();
        s.branding.logo_file = Some(png.clone());
    })
    .await;
    let b = browser();
    let page = get(&app, &b, "/login", None).await.text().await.unwrap();
    let src = attribute_starting(&page, "src", "/assets/logo");
    assert!(src.starts_with("/assets/logo?v="), "{src}");
    assert!(
        page.contains(&format!("<img class=\"logo\" src=\"{src}\" alt=\"Acme\">")),
        "{page}"
    );
    assert!(page.find("<img").unwrap() < page.find("<p class=\"brand\">Acme</p>").unwrap());

    let res = get(&app, &b, &src, None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[CONTENT_TYPE], "image/png");
    assert!(res.headers()[CACHE_CONTROL]
        .to_str()
        .unwrap()
        .contains("max-age="));
    assert!(res.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("sandbox"));
    assert_eq!(res.bytes().await.unwrap(), bytes);
}

#[tokio::test]
async fn an_svg_logo_is_served_as_svg() {
    let files = tempfile::tempdir().unwrap();
    let svg = files.path().join("logo.svg");
    std::fs::write(
        &svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"/>",
    )
    .unwrap();
    let app = pages_app(|s| s.branding.logo_file = Some(svg.clone())).await;
    let res = app
        .client
        .get(app.url("/assets/logo"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[CONTENT_TYPE], "image/svg+xml");
}

#[tokio::test]
async fn a_locked_account_s_sign_in_page_says_so_with_the_minutes_left() {
    let app = pages_app(|s| {
        s.lockout.max_failures = 2;
        s.lockout.duration_seconds = 240;
    })
    .await;
    let b = browser();
    let csrf = hidden(
        &get(&app, &b, "/login", None).await.text().await.unwrap(),
        "csrf",
    );
    let wrong = [("username", "admin"), ("password", "not the password")];
    let res = post_login(&app, &b, &csrf, &wrong).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = post_login(&app, &b, &csrf, &wrong).await;
    assert_eq!(res.status(), StatusCode::LOCKED);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((230..=240).contains(&retry), "{retry}");
    let page = res.text().await.unwrap();
    assert!(
        page.contains(
            "This account is locked after too many failed attempts. Try again in 4 minutes."
        ),
        "{page}"
    );
    // The form again, not a bare error page, with the name typed in.
    assert!(page.contains("<label for=\"password\">"), "{page}");
    assert!(page.contains("value=\"admin\""), "{page}");

    // Even the right password, and in Spanish when the form says so.
    let res = post_login(
        &app,
        &b,
        &csrf,
        &[
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
            ("lang", "es"),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::LOCKED);
    assert!(res.headers().get("retry-after").is_some());
    let page = res.text().await.unwrap();
    assert!(
        page.contains("Esta cuenta está bloqueada tras demasiados intentos fallidos. Vuelve a intentarlo dentro de 4 minutos."),
        "{page}"
    );
}

#[tokio::test]
async fn too_many_attempts_are_said_with_the_seconds_left() {
    let app = pages_app(|s| {
        s.rate_limit.enabled = true;
        s.rate_limit.per_username_per_minute = 2;
        s.rate_limit.per_ip_per_minute = 100;
    })
    .await;
    let b = browser();
    let csrf = hidden(
        &get(&app, &b, "/login", None).await.text().await.unwrap(),
        "csrf",
    );
    let wrong = [("username", "carol"), ("password", "not the password")];
    for _ in 0..2 {
        let res = post_login(&app, &b, &csrf, &wrong).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = post_login(&app, &b, &csrf, &wrong).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    let page = res.text().await.unwrap();
    assert!(
        page.contains("Too many attempts for this username. Try again in "),
        "{page}"
    );
    assert!(page.contains(" second"), "{page}");
    assert!(
        page.contains("<label for=\"password\">"),
        "the form again: {page}"
    );
}

#[tokio::test]
async fn too_many_attempts_from_one_address_are_said_in_the_browser_s_language() {
    let app = pages_app(|s| {
        s.rate_limit.enabled = true;
        s.rate_limit.per_username_per_minute = 100;
        s.rate_limit.per_ip_per_minute = 1;
    })
    .await;
    let b = browser();
    let csrf = hidden(
        &get(&app, &b, "/login", None).await.text().await.unwrap(),
        "csrf",
    );
    let wrong = [("username", "carol"), ("password", "not the password")];
    let res = post_login(&app, &b, &csrf, &wrong).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // Refused before the form is read: the browser's language decides.
    let res = b
        .post(app.url("/login"))
        .header(ACCEPT_LANGUAGE, "es")
        .form(&[
            ("csrf", csrf.as_str()),
            ("username", "carol"),
            ("password", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().get("retry-after").is_some());
    let page = res.text().await.unwrap();
    assert!(page.contains("<html lang=\"es\">"), "{page}");
    assert!(
        page.contains("Demasiados intentos desde aquí. Vuelve a intentarlo dentro de "),
        "{page}"
    );
}

#[tokio::test]
async fn a_logo_that_cannot_be_served_stops_start_up_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let too_big = dir.path().join("big.png");
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.resize(256 * 1024 + 1, 0);
    std::fs::write(&too_big, bytes).unwrap();
    for (file, says) in [
        (dir.path().join("missing.svg"), "cannot be read"),
        (too_big, "larger than 256 KiB"),
    ] {
        let mut settings = tessera_testkit::test_settings(dir.path());
        settings.branding.logo_file = Some(file);
        let Err(err) = tessera_server::Application::build(settings) else {
            panic!("a server started with a bad logo");
        };
        let err = format!("{err:#}");
        assert!(err.contains("branding.logo_file"), "{err}");
        assert!(err.contains(says), "{err}");
    }
}
