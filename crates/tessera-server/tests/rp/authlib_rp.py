#!/usr/bin/env python3
"""An OpenID Connect relying party written with Authlib, signing in at a running Tessera.

    authlib_rp.py BASE_URL CLIENT_ID USERNAME PASSWORD [--client-secret S] [--redirect-uri URI]

It does what a web application built on Authlib does, and plays the person's browser itself
with a second requests.Session (cookies kept, no redirect followed by itself):

1. discovery (BASE_URL/.well-known/openid-configuration), whose issuer must be BASE_URL;
2. the authorization request built by Authlib's OAuth2Session: PKCE (S256), state, nonce;
3. the browser: the authorization endpoint, the sign-in page (its form's hidden fields and the
   credentials), back to the authorization endpoint, and its redirect to the redirect URI, read
   from Location and never requested; the redirect's `iss` (RFC 9207) must be the issuer;
4. the code exchange by OAuth2Session.fetch_token, which checks the state; a public client
   (no secret) sends its client_id, a confidential one HTTP Basic;
5. the ID token: its signature against the JWKS (joserfc, the JOSE library Authlib itself uses
   since authlib.jose was deprecated), then Authlib's CodeIDToken claims validation: iss, aud,
   sub, exp, iat, nonce, azp and at_hash (required here);
6. UserInfo with the access token, whose sub must be the ID token's.

On success it prints one JSON line {"ok": true, "sub": ..., "preferred_username": ..., ...}
and exits 0; on any failure {"ok": false, "error": ...} and exits 1. A missing library is a
failure, never a skip.
"""

import argparse
import html.parser
import json
import sys
import urllib.parse

TIMEOUT = 30
DEFAULT_REDIRECT = "http://127.0.0.1:9/cb"


def finish(ok, **fields):
    print(json.dumps({"ok": ok, **fields}), flush=True)
    sys.exit(0 if ok else 1)


try:
    import requests
    from authlib.common.security import generate_token
    from authlib.integrations.requests_client import OAuth2Session
    from authlib.oidc.core import CodeIDToken
    from joserfc import jwt
    from joserfc.jwk import KeySet
except ImportError as missing:
    finish(
        False,
        error=f"{missing}: install the relying party's libraries "
        "(python3 -m pip install authlib joserfc requests)",
    )


class Refused(Exception):
    """The provider did not do what a relying party expects of it."""


class Forms(html.parser.HTMLParser):
    """The forms of a page: action, method, and the named inputs with their values (character
    references already replaced, as a browser submits them)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "", "fields": {}})
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value") or ""

    handle_startendtag = handle_starttag


def plain_session():
    s = requests.Session()
    # Straight to the server under test, whatever proxy the environment names.
    s.trust_env = False
    return s


def get_json(session, url):
    response = session.get(url, timeout=TIMEOUT, allow_redirects=False)
    if response.status_code != 200:
        raise Refused(f"GET {url}: {response.status_code} {response.text[:300]}")
    return response.json()


def same_endpoint(a, b):
    a, b = urllib.parse.urlsplit(a), urllib.parse.urlsplit(b)
    return (a.scheme, a.netloc, a.path) == (b.scheme, b.netloc, b.path)


def browse(browser, authorization_url, redirect_uri, username, password):
    """Plays the browser from the authorization request to the redirect to the application, and
    returns that redirect's URL (not requested)."""
    response = browser.get(authorization_url, allow_redirects=False, timeout=TIMEOUT)
    posted = False
    for _ in range(10):
        if response.is_redirect:
            location = urllib.parse.urljoin(response.url, response.headers["Location"])
            if same_endpoint(location, redirect_uri):
                return location
            response = browser.get(location, allow_redirects=False, timeout=TIMEOUT)
        elif response.status_code == 200 and not posted:
            forms = Forms()
            forms.feed(response.text)
            form = next((f for f in forms.forms if "password" in f["fields"]), None)
            if form is None:
                raise Refused(f"no sign-in form at {response.url}: {response.text[:300]}")
            fields = dict(form["fields"], username=username, password=password)
            response = browser.post(
                urllib.parse.urljoin(response.url, form["action"]),
                data=fields,
                allow_redirects=False,
                timeout=TIMEOUT,
            )
            posted = True
        else:
            raise Refused(
                f"{response.status_code} at {response.url}: {response.text[:300]}"
            )
    raise Refused("no redirect to the application after ten steps")


def sign_in(args):
    metadata = get_json(plain_session(), args.base_url + "/.well-known/openid-configuration")
    issuer = metadata["issuer"]
    if issuer != args.base_url:
        raise Refused(f"discovery names issuer {issuer!r}, not {args.base_url!r}")

    client = OAuth2Session(
        client_id=args.client_id,
        client_secret=args.client_secret,
        # Without a secret Authlib authenticates as a public client ("none": client_id in the
        # form); with one, with HTTP Basic (client_secret_basic).
        scope="openid profile email",
        redirect_uri=args.redirect_uri,
        code_challenge_method="S256",
    )
    client.trust_env = False
    code_verifier = generate_token(48)
    nonce = generate_token(24)
    authorization_url, state = client.create_authorization_url(
        metadata["authorization_endpoint"], code_verifier=code_verifier, nonce=nonce
    )

    callback = browse(
        plain_session(), authorization_url, args.redirect_uri, args.username, args.password
    )
    returned = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(callback).query))
    if "error" in returned:
        raise Refused(f"the authorization endpoint answered an error: {returned}")
    if returned.get("iss") != issuer:
        raise Refused(f"the redirect's iss is {returned.get('iss')!r}, not {issuer!r}")

    token = client.fetch_token(
        metadata["token_endpoint"],
        authorization_response=callback,
        state=state,
        code_verifier=code_verifier,
        timeout=TIMEOUT,
    )
    if "id_token" not in token:
        raise Refused(f"no id_token in the token response: {sorted(token)}")

    key_set = KeySet.import_key_set(get_json(plain_session(), metadata["jwks_uri"]))
    decoded = jwt.decode(
        token["id_token"],
        key_set,
        algorithms=metadata["id_token_signing_alg_values_supported"],
    )
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        {
            "iss": {"essential": True, "value": issuer},
            "aud": {"essential": True, "value": args.client_id},
            "sub": {"essential": True},
            "nonce": {"essential": True, "value": nonce},
            "at_hash": {"essential": True},
        },
        {"nonce": nonce, "client_id": args.client_id, "access_token": token["access_token"]},
    )
    claims.validate(leeway=5)

    response = client.get(metadata["userinfo_endpoint"], timeout=TIMEOUT)
    if response.status_code != 200:
        raise Refused(f"UserInfo: {response.status_code} {response.text[:300]}")
    userinfo = response.json()
    if userinfo.get("sub") != claims["sub"]:
        raise Refused(f"UserInfo is of {userinfo.get('sub')!r}, the ID token of {claims['sub']!r}")

    return {
        "client_id": args.client_id,
        "sub": claims["sub"],
        "preferred_username": claims.get("preferred_username"),
        "amr": claims.get("amr"),
        "scope": token.get("scope"),
        "userinfo": userinfo,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url", help="the server's address, which must be its issuer")
    parser.add_argument("client_id")
    parser.add_argument("username")
    parser.add_argument("password")
    parser.add_argument("--client-secret", help="a confidential client's secret")
    parser.add_argument("--redirect-uri", default=DEFAULT_REDIRECT)
    args = parser.parse_args()
    try:
        result = sign_in(args)
    except Exception as error:  # every failure is reported, as one JSON line
        finish(False, error=f"{type(error).__name__}: {error}")
    finish(True, **result)


if __name__ == "__main__":
    main()
