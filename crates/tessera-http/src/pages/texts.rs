//! Every word the pages show, one `Texts` per language, and how a page's language is chosen.
//!
//! A language is one `static` of `Texts`: the type makes each language give every text, so a
//! language that misses one does not compile. A text with something to put in (a wait, a name)
//! is a function of the language, which says it in its own word order and plural forms.
//!
//! Adding a language: write its `static` (copy `EN` and translate every field, and its
//! `time_left` wording), add it to `Language` (a variant, `ALL` and `texts`), and add its code
//! to `PAGE_LANGUAGES` in the `tessera` crate's settings, which checks `[pages] default_language`.
//! A test of the server checks that the two lists agree.

use tessera_domain::audit::Event;

/// A language the pages speak. The default is English, as `[pages] default_language` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    #[default]
    English,
    Spanish,
}

impl Language {
    /// Every language the pages speak.
    pub const ALL: [Language; 2] = [Language::English, Language::Spanish];

    /// The texts of this language.
    pub fn texts(self) -> &'static Texts {
        match self {
            Language::English => &EN,
            Language::Spanish => &ES,
        }
    }

    /// The code of this language (`en`, `es`), as `<html lang>` and the settings name it.
    pub fn code(self) -> &'static str {
        self.texts().lang
    }

    /// The language of a code such as `es` (in any case); `None` for one the pages do not speak.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|l| l.code().eq_ignore_ascii_case(code.trim()))
    }

    /// The language a BCP 47 tag such as `es-MX` asks for, by its primary subtag (`es`); `None`
    /// for a language the pages do not speak, and for `*`.
    pub fn from_tag(tag: &str) -> Option<Self> {
        tag.trim()
            .split(['-', '_'])
            .next()
            .and_then(Self::from_code)
    }
}

/// The most items of an `Accept-Language` header looked at: a browser sends a handful.
const MAX_LANGUAGE_RANGES: usize = 64;

/// The language of a page: the one a form of these pages carried (`lang`, which the pages
/// chose before), else the first of the application's `ui_locales` (OIDC Core §3.1.2.1: tags
/// separated by spaces, best first) the pages speak, else the browser's best
/// `Accept-Language`, else `default` (`[pages] default_language`).
pub fn choose(
    chosen: Option<&str>,
    ui_locales: Option<&str>,
    accept_language: Option<&str>,
    default: Language,
) -> Language {
    chosen
        .and_then(Language::from_code)
        .or_else(|| ui_locales.and_then(from_ui_locales))
        .or_else(|| accept_language.and_then(from_accept_language))
        .unwrap_or(default)
}

/// The first language of `ui_locales` (tags separated by spaces, best first) the pages speak.
pub fn from_ui_locales(ui_locales: &str) -> Option<Language> {
    ui_locales.split_whitespace().find_map(Language::from_tag)
}

/// The language the pages speak that an `Accept-Language` header (RFC 9110 §12.5.4) prefers:
/// the one with the highest q-value, the first named on a tie; a language given `q=0` is not
/// acceptable. Items that cannot be read, `*` and languages the pages do not speak are skipped;
/// `None` when nothing is left.
pub fn from_accept_language(header: &str) -> Option<Language> {
    let mut best: Option<(Language, u16)> = None;
    for item in header.split(',').take(MAX_LANGUAGE_RANGES) {
        let mut parts = item.split(';');
        let range = parts.next().unwrap_or_default();
        let weight = parts.find_map(|p| {
            let p = p.trim();
            p.strip_prefix("q=").or_else(|| p.strip_prefix("Q="))
        });
        let q_value = match weight {
            None => Some(1000),
            Some(q) => parse_quality(q),
        };
        let (Some(language), Some(q)) = (Language::from_tag(range), q_value) else {
            continue;
        };
        if q > 0 && best.is_none_or(|(_, b)| q > b) {
            best = Some((language, q));
        }
    }
    best.map(|(language, _)| language)
}

/// A q-value (`0`, `0.8`, `1.000`: RFC 9110 §12.4.2) in thousandths; `None` for a malformed one.
fn parse_quality(value: &str) -> Option<u16> {
    let value = value.trim();
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match whole {
        "0" => format!("{fraction:0<3}").parse().ok(),
        "1" if fraction.bytes().all(|b| b == b'0') => Some(1000),
        _ => None,
    }
}

/// A wait as the pages say it: rounded up, in seconds under a minute, in minutes up to two hours,
/// in hours beyond (locks last up to a day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeLeft {
    Seconds(u64),
    Minutes(u64),
    Hours(u64),
}

impl TimeLeft {
    /// `seconds` (at least one) rounded up to the unit it is said in.
    pub fn of(seconds: u64) -> Self {
        match seconds {
            0..=59 => Self::Seconds(seconds.max(1)),
            60..=7199 => Self::Minutes(seconds.div_ceil(60)),
            _ => Self::Hours(seconds.div_ceil(3600)),
        }
    }
}

/// Every text of the pages in one language. Sentences end with their full stop; titles do not.
pub struct Texts {
    /// The language's code, for `<html lang>` and the forms' `lang` field.
    pub lang: &'static str,

    /// The sign-in page's title and heading.
    pub sign_in: &'static str,
    /// Before the name of the tenant the user signs in to ("to" acme).
    pub to_tenant: &'static str,
    pub username_label: &'static str,
    pub password_label: &'static str,
    /// The sign-in form's button.
    pub sign_in_button: &'static str,

    /// The second step's title.
    pub mfa_title: &'static str,
    /// The second step's heading.
    pub mfa_heading: &'static str,
    /// What the second step asks for.
    pub mfa_intro: &'static str,
    pub code_label: &'static str,
    pub continue_button: &'static str,

    /// The signed-in page's title and heading.
    pub signed_in: &'static str,
    /// Before the name of the user signed in.
    pub signed_in_lead: &'static str,
    /// After the name of the user signed in, from its punctuation on.
    pub signed_in_tail: &'static str,
    /// The signed-in page's button that signs the browser out; also the sign-out confirmation's
    /// title and button.
    pub sign_out: &'static str,

    /// The consent page's title and heading, with the application's name ("Allow Calendar?").
    pub allow_client: fn(&str) -> String,
    /// Before the name of the user signed in (in bold), on the consent page.
    pub signed_in_as: &'static str,
    /// After the application's name (in bold), from its space on: the list of what it would get
    /// follows.
    pub client_asks: &'static str,
    /// What each scope lets an application have, one line of the list: `openid`.
    pub scope_openid: &'static str,
    /// `profile`.
    pub scope_profile: &'static str,
    /// `email`.
    pub scope_email: &'static str,
    /// `offline_access`.
    pub scope_offline_access: &'static str,
    /// Any other scope (an API scope of `tokens.scope`), whose name follows in code type.
    pub scope_api: &'static str,
    /// Below the list: the user can change their mind.
    pub consent_hint: &'static str,
    /// The consent page's buttons.
    pub allow: &'static str,
    pub deny: &'static str,
    /// The title of a consent form that did not come from these pages, or came too late.
    pub consent_refused_title: &'static str,
    pub consent_refused: &'static str,

    /// The sign-out confirmation's heading.
    pub sign_out_question: &'static str,
    /// The application that asks for the sign-out, with its name.
    pub client_asks_sign_out: fn(&str) -> String,
    /// What signing out ends.
    pub sign_out_explained: &'static str,
    /// The confirmation's link that leaves the user signed in.
    pub stay_signed_in: &'static str,
    /// The signed-out page's title.
    pub signed_out_title: &'static str,
    /// The signed-out page's heading.
    pub signed_out_heading: &'static str,
    /// Before the link to the sign-in page, on the signed-out page.
    pub signed_out_lead: &'static str,
    /// The link to the sign-in page, on the signed-out page.
    pub signed_out_link: &'static str,
    /// After the link, from its punctuation on.
    pub signed_out_tail: &'static str,
    /// The title of a sign-out confirmation that did not come from these pages.
    pub sign_out_refused_title: &'static str,
    pub sign_out_refused: &'static str,
    /// The title of a sign-out link an application got wrong (said with `app_mistake`).
    pub bad_sign_out_link_title: &'static str,

    /// The button of an error page that starts the sign-in again.
    pub sign_in_again: &'static str,

    /// A wrong password, or a name that is no one's: one answer, which never says which.
    pub wrong_password: &'static str,
    pub account_disabled: &'static str,
    /// A second-step code that is wrong or was already used.
    pub wrong_code: &'static str,
    /// The account is locked after failed sign-ins; said with the time left.
    pub locked: fn(TimeLeft) -> String,
    /// Too many attempts from this client address; said with the time left.
    pub too_many_from_here: fn(TimeLeft) -> String,
    /// Too many attempts for this username, from anywhere; said with the time left.
    pub too_many_for_username: fn(TimeLeft) -> String,

    pub locked_title: &'static str,
    pub too_many_title: &'static str,
    /// The title of a pending second step that expired or was finished.
    pub sign_in_expired_title: &'static str,
    pub sign_in_expired: &'static str,
    /// The title of a form that did not come from these pages, or came too late.
    pub form_refused_title: &'static str,
    pub form_refused: &'static str,
    /// The title of a sign-in link that does not lead back to an application of this server.
    pub bad_link_title: &'static str,
    pub bad_link: &'static str,
    /// An application's mistake in its authorization request, with the OAuth error's
    /// description and code (which stay in English: they are for the application's developers).
    pub app_mistake: fn(&str, &str) -> String,
    /// A fault of the server.
    pub failed_title: &'static str,
    pub failed: &'static str,
    /// The server is too busy to answer now.
    pub busy_title: &'static str,
    pub busy: &'static str,
    /// Any other refusal.
    pub refused_title: &'static str,
    pub refused: &'static str,
    /// A page used with another method, or an asset that is not there.
    pub not_here_title: &'static str,
    pub not_here: &'static str,

    /// The signed-in page's link to the account pages.
    pub manage_account: &'static str,
    /// The account pages' title, and the overview's heading.
    pub account_title: &'static str,
    /// What the account pages' navigation is called (for screen readers).
    pub account_nav: &'static str,
    /// The links of the account pages' navigation.
    pub nav_overview: &'static str,
    pub nav_profile: &'static str,
    pub nav_password: &'static str,
    pub nav_mfa: &'static str,
    pub nav_sessions: &'static str,
    pub nav_api_keys: &'static str,
    pub nav_applications: &'static str,
    pub nav_activity: &'static str,
    /// What the account pages are for, on the overview.
    pub account_intro: &'static str,
    /// What each account page is for, beside its link on the overview.
    pub profile_hint: &'static str,
    pub password_hint: &'static str,
    pub mfa_hint: &'static str,
    pub sessions_hint: &'static str,
    pub api_keys_hint: &'static str,
    pub applications_hint: &'static str,
    pub activity_hint: &'static str,

    /// The profile page's labels; its hint says what an empty field does and what the user
    /// cannot change.
    pub username_shown: &'static str,
    pub display_name_label: &'static str,
    pub email_label: &'static str,
    pub profile_fields_hint: &'static str,
    pub profile_saved: &'static str,
    /// The button that saves a form.
    pub save: &'static str,

    /// A field's problem, said beside it: left empty.
    pub field_required: &'static str,
    pub field_too_long: &'static str,
    pub field_invalid_email: &'static str,
    /// Another account has it (a unique e-mail address).
    pub field_taken: &'static str,
    pub field_invalid_characters: &'static str,
    /// A day that has passed (an API key's expiry).
    pub field_in_the_past: &'static str,
    /// A date that cannot be read.
    pub field_invalid_date: &'static str,
    /// A role the user does not hold (an API key's).
    pub field_not_held: &'static str,
    /// Any other problem.
    pub field_invalid: &'static str,
    /// A new password shorter than the policy's minimum, in characters.
    pub password_too_short: fn(usize) -> String,
    /// A new password longer than the policy's maximum, in bytes.
    pub password_too_long: fn(usize) -> String,
    pub password_common: &'static str,
    pub password_has_username: &'static str,
    pub password_needs_lowercase: &'static str,
    pub password_needs_uppercase: &'static str,
    pub password_needs_digit: &'static str,
    pub password_needs_symbol: &'static str,

    /// The password page's title and heading.
    pub password_title: &'static str,
    pub current_password_label: &'static str,
    pub new_password_label: &'static str,
    pub confirm_password_label: &'static str,
    /// Before the list of rules a new password must meet.
    pub password_rules_intro: &'static str,
    /// The rules, one line each: with the policy's minimum (characters) and maximum (bytes).
    pub rule_min_length: fn(usize) -> String,
    pub rule_max_bytes: fn(usize) -> String,
    pub rule_not_common: &'static str,
    pub rule_no_username: &'static str,
    pub rule_lowercase: &'static str,
    pub rule_uppercase: &'static str,
    pub rule_digit: &'static str,
    pub rule_symbol: &'static str,
    /// The checkbox that deletes the user's API keys with the change.
    pub end_api_keys_label: &'static str,
    /// What a change ends, said before the form.
    pub password_ends_sessions: &'static str,
    pub change_password_button: &'static str,
    pub password_changed: &'static str,
    /// The new password and its confirmation differ.
    pub passwords_differ: &'static str,
    pub wrong_current_password: &'static str,

    /// The button that leaves a confirmation or a form without doing anything.
    pub cancel: &'static str,
    /// Two-step sign-in is off, and what turning it on does.
    pub mfa_off: &'static str,
    /// Two-step sign-in is on, with the number of unused backup codes.
    pub mfa_on: fn(u32) -> String,
    /// The button that starts the enrolment, and the enrolment's title.
    pub mfa_set_up: &'static str,
    pub mfa_scan: &'static str,
    /// What the QR code is, for screen readers.
    pub mfa_qr_label: &'static str,
    /// Before the secret, for typing it in.
    pub mfa_manual: &'static str,
    /// The link that opens the `otpauth://` URI in an app on the same device.
    pub mfa_open_app: &'static str,
    /// What the code field of the enrolment asks.
    pub mfa_confirm_intro: &'static str,
    pub mfa_turn_on: &'static str,
    /// A wrong code at enrolment.
    pub mfa_wrong_setup_code: &'static str,
    pub backup_codes_title: &'static str,
    pub backup_codes_intro: &'static str,
    /// The link that leaves the backup codes once they are kept.
    pub backup_codes_saved: &'static str,
    /// Above new backup codes: two-step sign-in was just turned on…
    pub mfa_now_on: &'static str,
    /// …or the codes replace the old ones.
    pub codes_replaced: &'static str,
    /// The link to a fresh set of backup codes, and its confirmation.
    pub regenerate_link: &'static str,
    pub regenerate_question: &'static str,
    pub regenerate_explained: &'static str,
    pub regenerate_button: &'static str,
    pub mfa_disable_heading: &'static str,
    pub mfa_disable_explained: &'static str,
    pub mfa_turn_off: &'static str,
    pub mfa_turned_off: &'static str,

    /// What the sessions page lists.
    pub sessions_intro: &'static str,
    /// The mark of this browser's own session.
    pub this_browser: &'static str,
    /// What a session opened by an API key's grant is signed in as.
    pub session_api_key: &'static str,
    /// The labels of what a session is.
    pub signed_in_to_label: &'static str,
    pub address_label: &'static str,
    pub user_agent_label: &'static str,
    pub started_label: &'static str,
    pub last_used_label: &'static str,
    /// A value that is not known (no address, no user agent).
    pub unknown: &'static str,
    pub end_session_button: &'static str,
    pub end_session_question: &'static str,
    pub end_session_explained: &'static str,
    /// Ending this browser's own session, from its confirmation.
    pub end_this_browser_explained: &'static str,
    pub end_others_button: &'static str,
    pub end_others_question: &'static str,
    pub end_others_explained: &'static str,
    pub session_ended: &'static str,
    pub others_ended: &'static str,
    /// A session, key or consent that is not there, or not the user's.
    pub gone_title: &'static str,
    pub gone: &'static str,
    /// The links between the pages of a list, and what they are (for screen readers).
    pub pages_label: &'static str,
    pub next_page: &'static str,
    pub first_page: &'static str,

    /// What API keys are, on their page.
    pub api_keys_intro: &'static str,
    pub api_keys_none: &'static str,
    /// The labels of what a key is.
    pub key_prefix_label: &'static str,
    pub key_roles_label: &'static str,
    /// The roles of a key without scopes.
    pub key_all_roles: &'static str,
    pub created_label: &'static str,
    pub expires_label: &'static str,
    /// A key that does not expire.
    pub never: &'static str,
    /// A key that was never used.
    pub not_used_yet: &'static str,
    /// The button that revokes a key (or withdraws a consent) after its confirmation.
    pub revoke_button: &'static str,
    /// The confirmation's question, with the key's name.
    pub revoke_key_question: fn(&str) -> String,
    pub revoke_key_explained: &'static str,
    pub key_revoked: &'static str,
    /// The form for a new key.
    pub create_key_heading: &'static str,
    pub key_name_label: &'static str,
    pub key_scopes_label: &'static str,
    pub key_expiry_label: &'static str,
    pub key_expiry_hint: &'static str,
    pub create_key_button: &'static str,
    /// The page that shows a new key once.
    pub new_key_heading: &'static str,
    pub new_key_intro: &'static str,
    pub new_key_label: &'static str,
    pub new_key_copy: &'static str,
    pub new_key_done: &'static str,

    /// What the applications page lists.
    pub applications_intro: &'static str,
    pub applications_none: &'static str,
    /// Before the list of what an application may have.
    pub consent_scopes_label: &'static str,
    /// When the user first consented.
    pub consent_since_label: &'static str,
    pub application_label: &'static str,
    pub withdraw_button: &'static str,
    /// The confirmation's question, with the application's name.
    pub withdraw_question: fn(&str) -> String,
    pub withdraw_explained: &'static str,
    pub consent_withdrawn: &'static str,

    /// What the activity page lists.
    pub activity_intro: &'static str,
    pub activity_none: &'static str,
    /// What happened, for each event of a user's account (`audit::ACCOUNT_EVENTS`); any other
    /// is said as a change.
    pub activity_event: fn(Event) -> &'static str,
    /// The mark of an attempt that was refused.
    pub outcome_refused: &'static str,
    pub when_label: &'static str,
    /// Who did it, when it was not the user.
    pub by_label: &'static str,
    pub by_administrator: &'static str,
    /// The title of a form of a signed-in page (the console) that did not come from these pages,
    /// or whose session has changed: nothing was done.
    pub form_expired_title: &'static str,
    pub form_expired: &'static str,

    /// The words of the admin console.
    pub admin: &'static AdminTexts,
}

impl std::fmt::Debug for Texts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Texts")
            .field("lang", &self.lang)
            .finish_non_exhaustive()
    }
}

impl Texts {
    /// "This account is locked …, try again in 4 minutes." for a lock with `seconds` left.
    pub fn locked_for(&self, seconds: u64) -> String {
        (self.locked)(TimeLeft::of(seconds))
    }

    /// "Too many attempts from here …" with `seconds` left.
    pub fn too_many_from_here_for(&self, seconds: u64) -> String {
        (self.too_many_from_here)(TimeLeft::of(seconds))
    }

    /// "Too many attempts for this username …" with `seconds` left.
    pub fn too_many_for_username_for(&self, seconds: u64) -> String {
        (self.too_many_for_username)(TimeLeft::of(seconds))
    }
}

/// English.
pub static EN: Texts = Texts {
    lang: "en",
    sign_in: "Sign in",
    to_tenant: "to",
    username_label: "Username or e-mail",
    password_label: "Password",
    sign_in_button: "Sign in",
    mfa_title: "Second step",
    mfa_heading: "One more step",
    mfa_intro: "Enter the code your authenticator app shows, or one of your backup codes.",
    code_label: "Code",
    continue_button: "Continue",
    signed_in: "Signed in",
    signed_in_lead: "You are signed in as",
    signed_in_tail: ". You can go back to the application you came from.",
    sign_out: "Sign out",
    allow_client: en_allow_client,
    signed_in_as: "Signed in as",
    client_asks: " asks to:",
    scope_openid: "Know who you are",
    scope_profile: "Your name and username",
    scope_email: "Your e-mail address",
    scope_offline_access: "Stay signed in to it when you are away",
    scope_api: "Use Tessera's API for you:",
    consent_hint: "You can withdraw this consent later.",
    allow: "Allow",
    deny: "Deny",
    consent_refused_title: "Nothing was decided",
    consent_refused: "This form has expired or did not come from this site. Go back to the application and try again.",
    sign_out_question: "Sign out?",
    client_asks_sign_out: en_client_asks_sign_out,
    sign_out_explained: "Signing out ends your session in this browser, and in the applications you signed in to with it.",
    stay_signed_in: "Stay signed in",
    signed_out_title: "Signed out",
    signed_out_heading: "You are signed out",
    signed_out_lead: "You can close this window, or",
    signed_out_link: "sign in again",
    signed_out_tail: ".",
    sign_out_refused_title: "Sign-out refused",
    sign_out_refused: "This sign-out form has expired or did not come from this site. You are still signed in.",
    bad_sign_out_link_title: "This sign-out link is not valid",
    sign_in_again: "Sign in again",
    wrong_password: "Wrong username or password.",
    account_disabled: "This account is disabled.",
    wrong_code: "This code is wrong or was already used.",
    locked: en_locked,
    too_many_from_here: en_too_many_from_here,
    too_many_for_username: en_too_many_for_username,
    locked_title: "Account locked",
    too_many_title: "Too many attempts",
    sign_in_expired_title: "Sign in again",
    sign_in_expired: "This sign-in has expired or was already finished.",
    form_refused_title: "Sign-in refused",
    form_refused: "This sign-in form has expired or did not come from this site.",
    bad_link_title: "This sign-in link is not valid",
    bad_link: "This sign-in link does not lead back to an application of this server.",
    app_mistake: en_app_mistake,
    failed_title: "Something went wrong",
    failed: "The server could not do this. Try again later.",
    busy_title: "Try again in a moment",
    busy: "The service is busy right now.",
    refused_title: "This cannot be done",
    refused: "This request could not be handled. Go back and try again.",
    not_here_title: "Not here",
    not_here: "This page cannot be used this way.",
    manage_account: "Manage your account",
    account_title: "Your account",
    account_nav: "Account",
    nav_overview: "Overview",
    nav_profile: "Profile",
    nav_password: "Password",
    nav_mfa: "Two-step sign-in",
    nav_sessions: "Sessions",
    nav_api_keys: "API keys",
    nav_applications: "Applications",
    nav_activity: "Activity",
    account_intro: "Change your details and your password, protect your sign-in with a second step, and see where you are signed in.",
    profile_hint: "Your name and e-mail address.",
    password_hint: "Change the password you sign in with.",
    mfa_hint: "A code from your phone as well as your password.",
    sessions_hint: "Where you are signed in, and signing out there.",
    api_keys_hint: "Keys for programs that use the API as you.",
    applications_hint: "The applications you allowed to sign you in.",
    activity_hint: "Recent sign-ins and changes to your account.",
    username_shown: "Username",
    display_name_label: "Display name",
    email_label: "E-mail address",
    profile_fields_hint: "Leave a field empty to remove it. Your username and roles are managed by your administrator.",
    profile_saved: "Your profile is saved.",
    save: "Save",
    field_required: "Fill this in.",
    field_too_long: "This is too long.",
    field_invalid_email: "This is not an e-mail address.",
    field_taken: "Another account already uses this.",
    field_invalid_characters: "This has characters that are not allowed here.",
    field_in_the_past: "Choose a day after today.",
    field_invalid_date: "Write the date as year-month-day, for example 2030-12-31.",
    field_not_held: "A key can only have roles you have.",
    field_invalid: "This is not valid.",
    password_too_short: en_password_too_short,
    password_too_long: en_password_too_long,
    password_common: "This is one of the most common passwords.",
    password_has_username: "It must not contain your username.",
    password_needs_lowercase: "Add a lowercase letter.",
    password_needs_uppercase: "Add an uppercase letter.",
    password_needs_digit: "Add a digit.",
    password_needs_symbol: "Add a character that is neither a letter nor a digit.",
    password_title: "Change your password",
    current_password_label: "Current password",
    new_password_label: "New password",
    confirm_password_label: "New password again",
    password_rules_intro: "A new password needs:",
    rule_min_length: en_rule_min_length,
    rule_max_bytes: en_rule_max_bytes,
    rule_not_common: "Not to be one of the most common passwords",
    rule_no_username: "Not to contain your username",
    rule_lowercase: "A lowercase letter",
    rule_uppercase: "An uppercase letter",
    rule_digit: "A digit",
    rule_symbol: "A character that is neither a letter nor a digit",
    end_api_keys_label: "Also revoke all my API keys",
    password_ends_sessions: "Changing your password signs you out everywhere else: your other sessions end, and this browser stays signed in.",
    change_password_button: "Change password",
    password_changed: "Your password is changed, and your other sessions have ended.",
    passwords_differ: "The two new passwords are not the same.",
    wrong_current_password: "This is not your current password.",
    cancel: "Cancel",
    mfa_off: "Two-step sign-in is off. Turn it on, and signing in will need a code from an authenticator app on your phone as well as your password.",
    mfa_on: en_mfa_on,
    mfa_set_up: "Set up two-step sign-in",
    mfa_scan: "Scan this QR code with your authenticator app.",
    mfa_qr_label: "QR code for your authenticator app",
    mfa_manual: "Or type this key into the app:",
    mfa_open_app: "Open in an authenticator app on this device",
    mfa_confirm_intro: "Then enter the six-digit code the app shows, to turn two-step sign-in on.",
    mfa_turn_on: "Turn on",
    mfa_wrong_setup_code: "This code is not right. Check that your phone's clock is right, and enter the newest code.",
    backup_codes_title: "Your backup codes",
    backup_codes_intro: "Keep these codes somewhere safe: each one signs you in once if you lose your phone. They are shown only now.",
    backup_codes_saved: "I have saved them",
    mfa_now_on: "Two-step sign-in is on.",
    codes_replaced: "Your old backup codes no longer work.",
    regenerate_link: "Make new backup codes",
    regenerate_question: "Make new backup codes?",
    regenerate_explained: "Your current backup codes stop working at once, and ten new ones are shown, only once.",
    regenerate_button: "Make new codes",
    mfa_disable_heading: "Turn off two-step sign-in",
    mfa_disable_explained: "To turn it off, enter your password and a code from your app, or a backup code.",
    mfa_turn_off: "Turn off",
    mfa_turned_off: "Two-step sign-in is off.",
    sessions_intro: "Everywhere you are signed in: browsers, applications and programs. Ending a session signs it out at once.",
    this_browser: "This browser",
    session_api_key: "A program, with an API key",
    signed_in_to_label: "Signed in to",
    address_label: "IP address",
    user_agent_label: "Browser or app",
    started_label: "Started",
    last_used_label: "Last used",
    unknown: "Unknown",
    end_session_button: "End this session",
    end_session_question: "End this session?",
    end_session_explained: "Whatever is signed in with it is signed out at once, and must sign in again.",
    end_this_browser_explained: "This is the session of this browser: ending it signs you out here.",
    end_others_button: "End all other sessions",
    end_others_question: "End all your other sessions?",
    end_others_explained: "Every other browser, application and program signed in as you is signed out at once. This browser stays signed in.",
    session_ended: "The session has ended.",
    others_ended: "Your other sessions have ended.",
    gone_title: "Not found",
    gone: "This is no longer there, or is not yours.",
    pages_label: "Pages",
    next_page: "Next page",
    first_page: "First page",
    api_keys_intro: "An API key lets a program use the API as you, with your roles or only some of them. Keep keys secret, and revoke a key you no longer use.",
    api_keys_none: "You have no API keys.",
    key_prefix_label: "Starts with",
    key_roles_label: "Roles",
    key_all_roles: "All of your roles",
    created_label: "Created",
    expires_label: "Expires",
    never: "Never",
    not_used_yet: "Not used yet",
    revoke_button: "Revoke",
    revoke_key_question: en_revoke_key_question,
    revoke_key_explained: "Programs using it are refused at once, and so are the tokens it obtained. This cannot be undone.",
    key_revoked: "The API key is revoked.",
    create_key_heading: "New API key",
    key_name_label: "Name",
    key_scopes_label: "Roles it may use (none ticked: all of yours)",
    key_expiry_label: "Expires on (optional)",
    key_expiry_hint: "At 00:00 UTC that day. Leave it empty for a key that does not expire.",
    create_key_button: "Create key",
    new_key_heading: "Your new API key",
    new_key_intro: "Copy it now: it is shown only this once.",
    new_key_label: "API key",
    new_key_copy: "Select the key and copy it. Keep it secret: it acts as you.",
    new_key_done: "I have copied it",
    applications_intro: "The applications you allowed to sign you in, and what they may have. Withdrawing your consent signs the application out, and it asks you again the next time.",
    applications_none: "You have not allowed any application yet.",
    consent_scopes_label: "What it may have:",
    consent_since_label: "Allowed on",
    application_label: "Application",
    withdraw_button: "Withdraw consent",
    withdraw_question: en_withdraw_question,
    withdraw_explained: "It is signed out at once, its tokens stop working, and it asks you again the next time you use it.",
    consent_withdrawn: "Your consent is withdrawn.",
    activity_intro: "Recent sign-ins and changes to your account, newest first. If you see something you did not do, change your password and end your other sessions.",
    activity_none: "Nothing yet.",
    activity_event: en_activity_event,
    outcome_refused: "Refused",
    when_label: "When",
    by_label: "By",
    by_administrator: "An administrator",
    form_expired_title: "Nothing was changed",
    form_expired: "This form has expired or did not come from this site. Go back, reload the page and try again.",
    admin: &ADMIN_EN,
};

/// "4 minutes", "1 second".
fn en_time_left(left: TimeLeft) -> String {
    let (n, one, many) = match left {
        TimeLeft::Seconds(n) => (n, "second", "seconds"),
        TimeLeft::Minutes(n) => (n, "minute", "minutes"),
        TimeLeft::Hours(n) => (n, "hour", "hours"),
    };
    format!("{n} {}", if n == 1 { one } else { many })
}

fn en_locked(left: TimeLeft) -> String {
    format!(
        "This account is locked after too many failed attempts. Try again in {}.",
        en_time_left(left)
    )
}

fn en_too_many_from_here(left: TimeLeft) -> String {
    format!(
        "Too many attempts from here. Try again in {}.",
        en_time_left(left)
    )
}

fn en_too_many_for_username(left: TimeLeft) -> String {
    format!(
        "Too many attempts for this username. Try again in {}.",
        en_time_left(left)
    )
}

fn en_app_mistake(description: &str, error: &str) -> String {
    format!("The application that sent you here made a mistake: {description} ({error}).")
}

fn en_allow_client(client: &str) -> String {
    format!("Allow {client}?")
}

fn en_client_asks_sign_out(client: &str) -> String {
    format!("{client} asks you to sign out")
}

fn en_password_too_short(n: usize) -> String {
    format!(
        "Use at least {n} {}.",
        if n == 1 { "character" } else { "characters" }
    )
}

fn en_password_too_long(n: usize) -> String {
    format!("Use at most {n} {}.", if n == 1 { "byte" } else { "bytes" })
}

fn en_rule_min_length(n: usize) -> String {
    format!(
        "At least {n} {}",
        if n == 1 { "character" } else { "characters" }
    )
}

fn en_rule_max_bytes(n: usize) -> String {
    format!("At most {n} {}", if n == 1 { "byte" } else { "bytes" })
}

fn en_mfa_on(left: u32) -> String {
    let codes = if left == 1 {
        "backup code"
    } else {
        "backup codes"
    };
    format!("Two-step sign-in is on. You have {left} unused {codes}.")
}

fn en_revoke_key_question(name: &str) -> String {
    format!("Revoke the API key {name}?")
}

fn en_withdraw_question(client: &str) -> String {
    format!("Withdraw your consent to {client}?")
}

fn en_activity_event(event: Event) -> &'static str {
    match event {
        Event::Login => "Sign-in",
        Event::LoginFailed => "Failed sign-in",
        Event::LoginLocked => "Sign-in while locked",
        Event::Lockout => "Locked after failed sign-ins",
        Event::Unlock => "Unlocked",
        Event::Logout => "Sign-out",
        Event::MfaRequired => "Password accepted; code asked",
        Event::MfaEnabled => "Two-step sign-in turned on",
        Event::MfaDisabled => "Two-step sign-in turned off",
        Event::BackupCodeUsed => "Backup code used",
        Event::BackupCodesRegenerated => "New backup codes",
        Event::PasswordChanged => "Password change",
        Event::PasswordReset => "Password reset",
        Event::SessionRevoked => "Session ended",
        Event::RefreshReuse => "Reused token: session ended",
        Event::ApiKeyCreated => "API key created",
        Event::ApiKeyDeleted => "API key revoked",
        Event::ConsentGranted => "Application allowed",
        Event::ConsentRevoked => "Consent withdrawn",
        Event::UserUpdated => "Profile change",
        _ => "Other change",
    }
}

/// Spanish.
pub static ES: Texts = Texts {
    lang: "es",
    sign_in: "Iniciar sesión",
    to_tenant: "en",
    username_label: "Usuario o correo electrónico",
    password_label: "Contraseña",
    sign_in_button: "Iniciar sesión",
    mfa_title: "Segundo paso",
    mfa_heading: "Un paso más",
    mfa_intro: "Escribe el código que muestra tu aplicación de autenticación o uno de tus códigos de respaldo.",
    code_label: "Código",
    continue_button: "Continuar",
    signed_in: "Sesión iniciada",
    signed_in_lead: "Has iniciado sesión como",
    signed_in_tail: ". Ya puedes volver a la aplicación de la que venías.",
    sign_out: "Cerrar sesión",
    allow_client: es_allow_client,
    signed_in_as: "Sesión iniciada como",
    client_asks: " solicita:",
    scope_openid: "Saber quién eres",
    scope_profile: "Tu nombre y tu nombre de usuario",
    scope_email: "Tu dirección de correo electrónico",
    scope_offline_access: "Mantener tu sesión iniciada en la aplicación mientras no estés",
    scope_api: "Usar la API de Tessera en tu nombre:",
    consent_hint: "Puedes retirar este consentimiento más adelante.",
    allow: "Permitir",
    deny: "Denegar",
    consent_refused_title: "No se ha decidido nada",
    consent_refused: "Este formulario ha caducado o no procede de este sitio. Vuelve a la aplicación e inténtalo de nuevo.",
    sign_out_question: "¿Cerrar sesión?",
    client_asks_sign_out: es_client_asks_sign_out,
    sign_out_explained: "Al cerrar sesión, terminas tu sesión en este navegador y en las aplicaciones en las que la iniciaste con él.",
    stay_signed_in: "Mantener la sesión iniciada",
    signed_out_title: "Sesión cerrada",
    signed_out_heading: "Has cerrado sesión",
    signed_out_lead: "Ya puedes cerrar esta ventana o",
    signed_out_link: "volver a iniciar sesión",
    signed_out_tail: ".",
    sign_out_refused_title: "Cierre de sesión rechazado",
    sign_out_refused: "Este formulario de cierre de sesión ha caducado o no procede de este sitio. Sigues con la sesión iniciada.",
    bad_sign_out_link_title: "Este enlace de cierre de sesión no es válido",
    sign_in_again: "Volver a iniciar sesión",
    wrong_password: "El usuario o la contraseña no son correctos.",
    account_disabled: "Esta cuenta está desactivada.",
    wrong_code: "Este código no es correcto o ya se ha usado.",
    locked: es_locked,
    too_many_from_here: es_too_many_from_here,
    too_many_for_username: es_too_many_for_username,
    locked_title: "Cuenta bloqueada",
    too_many_title: "Demasiados intentos",
    sign_in_expired_title: "Vuelve a iniciar sesión",
    sign_in_expired: "Este inicio de sesión ha caducado o ya se había completado.",
    form_refused_title: "Inicio de sesión rechazado",
    form_refused: "Este formulario de inicio de sesión ha caducado o no procede de este sitio.",
    bad_link_title: "Este enlace de inicio de sesión no es válido",
    bad_link: "Este enlace de inicio de sesión no lleva de vuelta a ninguna aplicación de este servidor.",
    app_mistake: es_app_mistake,
    failed_title: "Algo ha salido mal",
    failed: "El servidor no ha podido hacerlo. Inténtalo de nuevo más tarde.",
    busy_title: "Inténtalo de nuevo en un momento",
    busy: "El servicio está muy ocupado en este momento.",
    refused_title: "No se puede hacer",
    refused: "No se ha podido atender esta solicitud. Vuelve atrás e inténtalo de nuevo.",
    not_here_title: "Aquí no",
    not_here: "Esta página no se puede usar así.",
    manage_account: "Gestionar tu cuenta",
    account_title: "Tu cuenta",
    account_nav: "Cuenta",
    nav_overview: "Resumen",
    nav_profile: "Perfil",
    nav_password: "Contraseña",
    nav_mfa: "Verificación en dos pasos",
    nav_sessions: "Sesiones",
    nav_api_keys: "Claves de API",
    nav_applications: "Aplicaciones",
    nav_activity: "Actividad",
    account_intro: "Cambia tus datos y tu contraseña, protege tu inicio de sesión con un segundo paso y consulta dónde tienes la sesión iniciada.",
    profile_hint: "Tu nombre y tu dirección de correo electrónico.",
    password_hint: "Cambia la contraseña con la que inicias sesión.",
    mfa_hint: "Un código de tu teléfono además de tu contraseña.",
    sessions_hint: "Dónde tienes la sesión iniciada, y cerrarla allí.",
    api_keys_hint: "Claves para los programas que usan la API en tu nombre.",
    applications_hint: "Las aplicaciones a las que has permitido iniciar tu sesión.",
    activity_hint: "Inicios de sesión recientes y cambios en tu cuenta.",
    username_shown: "Nombre de usuario",
    display_name_label: "Nombre para mostrar",
    email_label: "Correo electrónico",
    profile_fields_hint: "Deja un campo vacío para quitarlo. Tu nombre de usuario y tus roles los gestiona el administrador.",
    profile_saved: "Se ha guardado tu perfil.",
    save: "Guardar",
    field_required: "Rellena este campo.",
    field_too_long: "Es demasiado largo.",
    field_invalid_email: "No es una dirección de correo electrónico válida.",
    field_taken: "Ya lo usa otra cuenta.",
    field_invalid_characters: "Contiene caracteres que no se admiten aquí.",
    field_in_the_past: "Elige un día posterior a hoy.",
    field_invalid_date: "Escribe la fecha como año-mes-día, por ejemplo 2030-12-31.",
    field_not_held: "Una clave solo puede tener roles que tú tengas.",
    field_invalid: "No es válido.",
    password_too_short: es_password_too_short,
    password_too_long: es_password_too_long,
    password_common: "Es una de las contraseñas más habituales.",
    password_has_username: "No debe contener tu nombre de usuario.",
    password_needs_lowercase: "Añade una letra minúscula.",
    password_needs_uppercase: "Añade una letra mayúscula.",
    password_needs_digit: "Añade un dígito.",
    password_needs_symbol: "Añade un carácter que no sea ni letra ni dígito.",
    password_title: "Cambiar la contraseña",
    current_password_label: "Contraseña actual",
    new_password_label: "Contraseña nueva",
    confirm_password_label: "Repite la contraseña nueva",
    password_rules_intro: "La contraseña nueva debe:",
    rule_min_length: es_rule_min_length,
    rule_max_bytes: es_rule_max_bytes,
    rule_not_common: "No ser una de las contraseñas más habituales",
    rule_no_username: "No contener tu nombre de usuario",
    rule_lowercase: "Tener una letra minúscula",
    rule_uppercase: "Tener una letra mayúscula",
    rule_digit: "Tener un dígito",
    rule_symbol: "Tener un carácter que no sea ni letra ni dígito",
    end_api_keys_label: "Revocar también todas mis claves de API",
    password_ends_sessions: "Al cambiar la contraseña se cierran todas tus demás sesiones; en este navegador sigues con la sesión iniciada.",
    change_password_button: "Cambiar la contraseña",
    password_changed: "Se ha cambiado tu contraseña y se han cerrado tus demás sesiones.",
    passwords_differ: "Las dos contraseñas nuevas no coinciden.",
    wrong_current_password: "Esta no es tu contraseña actual.",
    cancel: "Cancelar",
    mfa_off: "La verificación en dos pasos está desactivada. Si la activas, para iniciar sesión necesitarás, además de tu contraseña, un código de una aplicación de autenticación de tu teléfono.",
    mfa_on: es_mfa_on,
    mfa_set_up: "Configurar la verificación en dos pasos",
    mfa_scan: "Escanea este código QR con tu aplicación de autenticación.",
    mfa_qr_label: "Código QR para tu aplicación de autenticación",
    mfa_manual: "O escribe esta clave en la aplicación:",
    mfa_open_app: "Abrir en una aplicación de autenticación de este dispositivo",
    mfa_confirm_intro: "Después escribe el código de seis dígitos que muestra la aplicación para activar la verificación en dos pasos.",
    mfa_turn_on: "Activar",
    mfa_wrong_setup_code: "Este código no es correcto. Comprueba que la hora de tu teléfono es correcta y escribe el código más reciente.",
    backup_codes_title: "Tus códigos de respaldo",
    backup_codes_intro: "Guarda estos códigos en un lugar seguro: cada uno te permite iniciar sesión una vez si pierdes el teléfono. Solo se muestran ahora.",
    backup_codes_saved: "Ya los he guardado",
    mfa_now_on: "La verificación en dos pasos está activada.",
    codes_replaced: "Tus códigos de respaldo anteriores ya no sirven.",
    regenerate_link: "Generar códigos de respaldo nuevos",
    regenerate_question: "¿Generar códigos de respaldo nuevos?",
    regenerate_explained: "Tus códigos de respaldo actuales dejan de funcionar al momento y se muestran diez nuevos, una sola vez.",
    regenerate_button: "Generar códigos nuevos",
    mfa_disable_heading: "Desactivar la verificación en dos pasos",
    mfa_disable_explained: "Para desactivarla, escribe tu contraseña y un código de tu aplicación o uno de respaldo.",
    mfa_turn_off: "Desactivar",
    mfa_turned_off: "La verificación en dos pasos está desactivada.",
    sessions_intro: "Todos los lugares donde tienes la sesión iniciada: navegadores, aplicaciones y programas. Al cerrar una sesión, se cierra al momento.",
    this_browser: "Este navegador",
    session_api_key: "Un programa, con una clave de API",
    signed_in_to_label: "Sesión en",
    address_label: "Dirección IP",
    user_agent_label: "Navegador o aplicación",
    started_label: "Inicio",
    last_used_label: "Último uso",
    unknown: "Desconocido",
    end_session_button: "Cerrar esta sesión",
    end_session_question: "¿Cerrar esta sesión?",
    end_session_explained: "Lo que tenga la sesión iniciada con ella sale al momento y tendrá que volver a iniciar sesión.",
    end_this_browser_explained: "Es la sesión de este navegador: si la cierras, saldrás de tu cuenta aquí.",
    end_others_button: "Cerrar todas las demás sesiones",
    end_others_question: "¿Cerrar todas tus demás sesiones?",
    end_others_explained: "Todos los demás navegadores, aplicaciones y programas con tu sesión iniciada salen al momento. Este navegador sigue con la sesión iniciada.",
    session_ended: "Se ha cerrado la sesión.",
    others_ended: "Se han cerrado tus demás sesiones.",
    gone_title: "No encontrado",
    gone: "Ya no existe o no es tuyo.",
    pages_label: "Páginas",
    next_page: "Página siguiente",
    first_page: "Primera página",
    api_keys_intro: "Una clave de API permite a un programa usar la API en tu nombre, con tus roles o solo con algunos. Mantén las claves en secreto y revoca las que ya no uses.",
    api_keys_none: "No tienes claves de API.",
    key_prefix_label: "Empieza por",
    key_roles_label: "Roles",
    key_all_roles: "Todos tus roles",
    created_label: "Creada",
    expires_label: "Caduca",
    never: "Nunca",
    not_used_yet: "Sin usar todavía",
    revoke_button: "Revocar",
    revoke_key_question: es_revoke_key_question,
    revoke_key_explained: "Los programas que la usan dejan de tener acceso al momento, igual que los tokens obtenidos con ella. No se puede deshacer.",
    key_revoked: "Se ha revocado la clave de API.",
    create_key_heading: "Nueva clave de API",
    key_name_label: "Nombre",
    key_scopes_label: "Roles que puede usar (si no marcas ninguno, todos los tuyos)",
    key_expiry_label: "Caduca el (opcional)",
    key_expiry_hint: "A las 00:00 UTC de ese día. Déjalo vacío para una clave que no caduque.",
    create_key_button: "Crear clave",
    new_key_heading: "Tu nueva clave de API",
    new_key_intro: "Cópiala ahora: solo se muestra esta vez.",
    new_key_label: "Clave de API",
    new_key_copy: "Selecciona la clave y cópiala. Mantenla en secreto: actúa en tu nombre.",
    new_key_done: "Ya la he copiado",
    applications_intro: "Las aplicaciones a las que has permitido iniciar tu sesión y a qué tienen acceso. Si retiras tu consentimiento, se cierra la sesión de la aplicación y te volverá a pedir permiso la próxima vez.",
    applications_none: "Todavía no has dado permiso a ninguna aplicación.",
    consent_scopes_label: "A qué tiene acceso:",
    consent_since_label: "Permitido el",
    application_label: "Aplicación",
    withdraw_button: "Retirar el consentimiento",
    withdraw_question: es_withdraw_question,
    withdraw_explained: "Se cierra su sesión al momento, sus tokens dejan de funcionar y te volverá a pedir permiso la próxima vez que la uses.",
    consent_withdrawn: "Se ha retirado tu consentimiento.",
    activity_intro: "Inicios de sesión y cambios recientes en tu cuenta, del más reciente al más antiguo. Si ves algo que no has hecho tú, cambia la contraseña y cierra tus demás sesiones.",
    activity_none: "Todavía no hay nada.",
    activity_event: es_activity_event,
    outcome_refused: "Rechazado",
    when_label: "Cuándo",
    by_label: "Por",
    by_administrator: "Un administrador",
    form_expired_title: "No se ha cambiado nada",
    form_expired: "Este formulario ha caducado o no procede de este sitio. Vuelve atrás, recarga la página e inténtalo de nuevo.",
    admin: &ADMIN_ES,
};

/// "4 minutos", "1 segundo".
fn es_time_left(left: TimeLeft) -> String {
    let (n, one, many) = match left {
        TimeLeft::Seconds(n) => (n, "segundo", "segundos"),
        TimeLeft::Minutes(n) => (n, "minuto", "minutos"),
        TimeLeft::Hours(n) => (n, "hora", "horas"),
    };
    format!("{n} {}", if n == 1 { one } else { many })
}

fn es_locked(left: TimeLeft) -> String {
    format!(
        "Esta cuenta está bloqueada tras demasiados intentos fallidos. Vuelve a intentarlo dentro de {}.",
        es_time_left(left)
    )
}

fn es_too_many_from_here(left: TimeLeft) -> String {
    format!(
        "Demasiados intentos desde aquí. Vuelve a intentarlo dentro de {}.",
        es_time_left(left)
    )
}

fn es_too_many_for_username(left: TimeLeft) -> String {
    format!(
        "Demasiados intentos con este nombre de usuario. Vuelve a intentarlo dentro de {}.",
        es_time_left(left)
    )
}

fn es_app_mistake(description: &str, error: &str) -> String {
    format!("La aplicación que te ha traído aquí ha cometido un error: {description} ({error}).")
}

fn es_allow_client(client: &str) -> String {
    format!("¿Permitir el acceso a {client}?")
}

fn es_client_asks_sign_out(client: &str) -> String {
    format!("{client} te pide que cierres la sesión")
}

fn es_password_too_short(n: usize) -> String {
    format!(
        "Usa al menos {n} {}.",
        if n == 1 { "carácter" } else { "caracteres" }
    )
}

fn es_password_too_long(n: usize) -> String {
    format!(
        "Usa como máximo {n} {}.",
        if n == 1 { "byte" } else { "bytes" }
    )
}

fn es_rule_min_length(n: usize) -> String {
    format!(
        "Tener al menos {n} {}",
        if n == 1 { "carácter" } else { "caracteres" }
    )
}

fn es_rule_max_bytes(n: usize) -> String {
    format!(
        "Tener como máximo {n} {}",
        if n == 1 { "byte" } else { "bytes" }
    )
}

fn es_mfa_on(left: u32) -> String {
    if left == 1 {
        "La verificación en dos pasos está activada. Te queda 1 código de respaldo sin usar."
            .to_owned()
    } else {
        format!("La verificación en dos pasos está activada. Te quedan {left} códigos de respaldo sin usar.")
    }
}

fn es_revoke_key_question(name: &str) -> String {
    format!("¿Revocar la clave de API {name}?")
}

fn es_withdraw_question(client: &str) -> String {
    format!("¿Retirar tu consentimiento a {client}?")
}

fn es_activity_event(event: Event) -> &'static str {
    match event {
        Event::Login => "Inicio de sesión",
        Event::LoginFailed => "Inicio de sesión fallido",
        Event::LoginLocked => "Inicio de sesión con la cuenta bloqueada",
        Event::Lockout => "Bloqueo tras intentos fallidos",
        Event::Unlock => "Desbloqueo",
        Event::Logout => "Cierre de sesión",
        Event::MfaRequired => "Contraseña aceptada; se pidió el código",
        Event::MfaEnabled => "Verificación en dos pasos activada",
        Event::MfaDisabled => "Verificación en dos pasos desactivada",
        Event::BackupCodeUsed => "Código de respaldo usado",
        Event::BackupCodesRegenerated => "Códigos de respaldo nuevos",
        Event::PasswordChanged => "Cambio de contraseña",
        Event::PasswordReset => "Restablecimiento de contraseña",
        Event::SessionRevoked => "Sesión cerrada",
        Event::RefreshReuse => "Token reutilizado: sesión cerrada",
        Event::ApiKeyCreated => "Clave de API creada",
        Event::ApiKeyDeleted => "Clave de API revocada",
        Event::ConsentGranted => "Aplicación permitida",
        Event::ConsentRevoked => "Consentimiento retirado",
        Event::UserUpdated => "Cambio de perfil",
        _ => "Otro cambio",
    }
}

/// Every word of the admin console (`/admin`) in one language, a part of its `Texts`. Titles and
/// labels have no full stop; sentences end with theirs.
pub struct AdminTexts {
    // The frame of every page.
    /// The console's title and heading.
    pub console: &'static str,
    pub console_lead: &'static str,
    /// The label of the navigation.
    pub nav_label: &'static str,
    /// Before the name of who is signed in.
    pub signed_in_as: &'static str,
    /// What a global admin administers.
    pub all_tenants: &'static str,
    /// What a tenant admin administers: their tenant, by id.
    pub tenant_scope: fn(i64) -> String,
    /// What a change did, by the code of `?done=`; `None` for a code that is not one.
    pub done: fn(&str) -> Option<&'static str>,
    /// What each part of the console is for, by its path.
    pub section_lead: fn(&str) -> &'static str,
    pub home: &'static str,
    pub users: &'static str,
    pub tenants: &'static str,
    pub access: &'static str,
    pub clients: &'static str,
    pub api_keys: &'static str,
    pub audit: &'static str,
    pub keys: &'static str,
    pub node: &'static str,

    // Refusals.
    pub admins_only_title: &'static str,
    pub admins_only: &'static str,
    pub not_found_title: &'static str,
    pub not_found: &'static str,
    pub not_allowed_title: &'static str,
    pub not_allowed: &'static str,
    pub last_admin: &'static str,
    pub in_use: &'static str,
    pub public_client: &'static str,
    pub mfa_not_enabled: &'static str,
    pub duplicate: &'static str,
    /// A problem of a field, in words: the field and the rule it broke, as the use cases name
    /// them (`username`, `too_short`).
    pub rule: fn(&str, &str) -> &'static str,
    /// Before the problems of one line of a list ("Line 2:").
    pub line: fn(usize) -> String,

    // Words every page shares.
    pub cancel: &'static str,
    pub save: &'static str,
    pub create: &'static str,
    pub delete: &'static str,
    pub remove: &'static str,
    pub revoke: &'static str,
    pub add: &'static str,
    pub show: &'static str,
    pub optional: &'static str,
    pub actions: &'static str,
    pub yes: &'static str,
    pub no: &'static str,
    pub any: &'static str,
    pub unknown: &'static str,
    pub never: &'static str,
    pub none_yet: &'static str,
    pub pages: &'static str,
    pub first_page: &'static str,
    pub next_page: &'static str,
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub status: &'static str,
    pub active: &'static str,
    pub disabled: &'static str,
    pub created: &'static str,
    pub updated: &'static str,
    pub expires: &'static str,
    pub last_used: &'static str,
    pub address: &'static str,
    pub kind: &'static str,
    pub tenant: &'static str,
    /// No tenant: a global user or client.
    pub no_tenant: &'static str,
    /// How RFC 3339 times are typed.
    pub time_hint: &'static str,
    /// A secret shown on this page only.
    pub shown_once: &'static str,
    pub continue_link: &'static str,

    // Users.
    pub new_user: &'static str,
    pub create_user: &'static str,
    pub search_label: &'static str,
    pub search: &'static str,
    pub no_users: &'static str,
    pub username: &'static str,
    pub password: &'static str,
    pub password_hint: &'static str,
    pub email: &'static str,
    pub display_name: &'static str,
    pub roles: &'static str,
    pub roles_hint: &'static str,
    pub roles_change_hint: &'static str,
    /// Beside the username of a user's page: what a new one changes.
    pub username_change_hint: &'static str,
    /// Free-form values an admin keeps on a user (`name=value`).
    pub attributes: &'static str,
    pub attributes_hint: &'static str,
    pub no_attributes: &'static str,
    pub active_label: &'static str,
    pub profile: &'static str,
    pub account_actions: &'static str,
    pub disable: &'static str,
    pub disable_hint: &'static str,
    pub disable_question: fn(&str) -> String,
    pub disable_explained: &'static str,
    pub enable: &'static str,
    pub enable_hint: &'static str,
    pub unlock: &'static str,
    pub unlock_hint: &'static str,
    pub issue_reset: &'static str,
    pub issue_reset_hint: &'static str,
    pub reset_issued_title: &'static str,
    /// The reset token's expiry (RFC 3339) goes in.
    pub reset_issued_lead: fn(&str) -> String,
    pub reset_token_label: &'static str,
    pub mfa_reset: &'static str,
    pub mfa_reset_hint: &'static str,
    pub mfa_reset_question: fn(&str) -> String,
    pub mfa_reset_explained: &'static str,
    pub end_sessions: &'static str,
    pub end_sessions_hint: &'static str,
    pub end_sessions_question: fn(&str) -> String,
    pub end_sessions_explained: &'static str,
    pub delete_user: &'static str,
    pub delete_user_question: fn(&str) -> String,
    pub delete_user_explained: &'static str,
    pub sessions: &'static str,
    pub no_sessions: &'static str,
    pub started: &'static str,
    pub session_sign_in: &'static str,
    pub session_api_key: &'static str,

    // API keys.
    pub api_keys_lead: &'static str,
    pub no_keys: &'static str,
    pub new_key: &'static str,
    pub create_key: &'static str,
    pub key_prefix: &'static str,
    pub scopes: &'static str,
    pub scopes_hint: &'static str,
    /// A key without scopes acts with every role of its user.
    pub all_roles: &'static str,
    pub key_created_title: &'static str,
    /// The key's name goes in.
    pub key_created_lead: fn(&str) -> String,
    pub key_label: &'static str,
    pub delete_key_question: &'static str,
    pub delete_key_explained: &'static str,

    // The model and grants.
    pub access_lead: &'static str,
    pub services: &'static str,
    pub services_lead: &'static str,
    pub roles_lead: &'static str,
    pub permissions: &'static str,
    pub permissions_lead: &'static str,
    pub grants_lead: &'static str,
    pub add_new: &'static str,
    pub entry_name_hint: &'static str,
    pub delete_entry_question: fn(&str) -> String,
    pub delete_entry_explained: &'static str,
    pub delete_tenant_explained: &'static str,
    pub roles_offered: &'static str,
    pub permissions_of_role: &'static str,
    pub add_link: &'static str,
    pub unlink_question: &'static str,
    pub unlink_explained: &'static str,
    pub issue_secret: &'static str,
    pub issue_secret_hint: &'static str,
    pub service_secret_question: fn(&str) -> String,
    pub service_secret_explained: &'static str,
    pub service_secret_title: &'static str,
    /// The service's name and id go in.
    pub service_secret_lead: fn(&str, i64) -> String,
    pub service_secret_label: &'static str,
    pub revoke_secret: &'static str,
    pub revoke_secret_question: fn(&str) -> String,
    pub revoke_secret_explained: &'static str,
    pub access_in_services: &'static str,
    pub no_grants: &'static str,
    pub show_access_in: &'static str,
    /// The person's and the service's names go in.
    pub access_of: fn(&str, &str) -> String,
    pub granted_roles: &'static str,
    pub no_roles_granted: &'static str,
    pub revoke_role_question: &'static str,
    pub revoke_role_explained: &'static str,
    pub effective_permissions: &'static str,
    pub no_permissions: &'static str,
    pub check_token_lead: &'static str,
    pub grant: &'static str,
    pub grant_role: &'static str,
    pub grant_permission: &'static str,
    pub grant_permission_hint: &'static str,
    pub grant_button: &'static str,

    // Clients.
    pub new_client: &'static str,
    pub register_client: &'static str,
    pub no_clients: &'static str,
    pub client_id: &'static str,
    pub client_kind: &'static str,
    pub confidential: &'static str,
    pub public: &'static str,
    pub method_basic: &'static str,
    pub method_post: &'static str,
    pub method_none: &'static str,
    pub first_party: &'static str,
    pub first_party_hint: &'static str,
    pub redirect_uris: &'static str,
    pub post_logout_uris: &'static str,
    pub uris_hint: &'static str,
    pub allow_refresh: &'static str,
    pub scope: &'static str,
    pub scope_hint: &'static str,
    pub grant_types: &'static str,
    pub registration: &'static str,
    pub client_actions: &'static str,
    pub client_registered_title: &'static str,
    /// The client's name and id go in.
    pub client_registered_lead: fn(&str, &str) -> String,
    pub client_secret_label: &'static str,
    pub rotate_secret: &'static str,
    pub rotate_secret_hint: &'static str,
    pub rotate_secret_question: fn(&str) -> String,
    pub rotate_secret_explained: &'static str,
    pub new_secret_title: &'static str,
    pub new_secret_lead: fn(&str) -> String,
    pub delete_client: &'static str,
    pub delete_client_question: fn(&str) -> String,
    pub delete_client_explained: &'static str,

    // The audit log.
    pub audit_lead: &'static str,
    pub event: &'static str,
    pub outcome: &'static str,
    pub success: &'static str,
    pub failure: &'static str,
    pub user_id: &'static str,
    pub user_id_hint: &'static str,
    pub since: &'static str,
    pub until: &'static str,
    pub until_hint: &'static str,
    pub filter: &'static str,
    pub clear_filters: &'static str,
    pub no_entries: &'static str,
    pub time: &'static str,
    pub actor: &'static str,
    pub subject: &'static str,
    pub target: &'static str,
    pub details: &'static str,

    // Signing keys and the node.
    pub keys_lead: &'static str,
    pub key_id: &'static str,
    pub algorithm: &'static str,
    pub use_label: &'static str,
    pub signs: &'static str,
    pub verifies_only: &'static str,
    /// A key out of the JWKS whose file goes at the next clean-up.
    pub retired_key: &'static str,
    /// The button that makes a new signing key (after a confirmation).
    pub rotate_now: &'static str,
    pub rotate_hint: &'static str,
    pub rotate_keys_question: &'static str,
    pub rotate_keys_explained: &'static str,
    pub ready: &'static str,
    pub not_ready: &'static str,
    pub version: &'static str,
    pub live_sessions: &'static str,
    pub hash_queue: &'static str,
    pub revocations_known: &'static str,
    pub node_hint: &'static str,
}

impl std::fmt::Debug for AdminTexts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminTexts")
            .field("console", &self.console)
            .finish_non_exhaustive()
    }
}

/// The console in English.
pub static ADMIN_EN: AdminTexts = AdminTexts {
    console: "Administration",
    console_lead: "Manage the people, applications and access rules of this server. Every change here is checked and audited as the same change through the API is.",
    nav_label: "Administration",
    signed_in_as: "Signed in as",
    all_tenants: "all tenants",
    tenant_scope: en_tenant_scope,
    done: en_done,
    section_lead: en_section_lead,
    home: "Overview",
    users: "Users",
    tenants: "Tenants",
    access: "Access model",
    clients: "Clients",
    api_keys: "API keys",
    audit: "Audit log",
    keys: "Signing keys",
    node: "Node",
    admins_only_title: "Administrators only",
    admins_only: "These pages are for administrators. Your account is not one.",
    not_found_title: "Not found",
    not_found: "There is nothing here, or it is not yours to manage.",
    not_allowed_title: "Not allowed",
    not_allowed: "Your account may not do this.",
    last_admin: "The last active administrator cannot be disabled, deleted or lose the admin role.",
    in_use: "This cannot be deleted while users or clients still belong to it.",
    public_client: "A public client has no secret.",
    mfa_not_enabled: "This user has no second factor.",
    duplicate: "This is already taken.",
    rule: en_rule,
    line: en_line,
    cancel: "Cancel",
    save: "Save",
    create: "Create",
    delete: "Delete",
    remove: "Remove",
    revoke: "Revoke",
    add: "Add",
    show: "Show",
    optional: "(optional)",
    actions: "Actions",
    yes: "Yes",
    no: "No",
    any: "Any",
    unknown: "Unknown",
    never: "Never",
    none_yet: "There are none yet.",
    pages: "Pages",
    first_page: "First page",
    next_page: "Next page",
    id: "Id",
    name: "Name",
    description: "Description",
    status: "Status",
    active: "Active",
    disabled: "Disabled",
    created: "Created",
    updated: "Updated",
    expires: "Expires",
    last_used: "Last used",
    address: "Address",
    kind: "Kind",
    tenant: "Tenant",
    no_tenant: "None (global)",
    time_hint: "An RFC 3339 time, such as 2030-01-31T00:00:00Z.",
    shown_once: "Copy it now: it is shown on this page only, and cannot be shown again.",
    continue_link: "Done, continue",
    new_user: "New user",
    create_user: "Create user",
    search_label: "Search by the start of a username or e-mail address",
    search: "Search",
    no_users: "No user matches.",
    username: "Username",
    password: "Password",
    password_hint: "The user's first password. Hand it over safely; they can change it.",
    email: "E-mail",
    display_name: "Display name",
    roles: "Roles",
    roles_hint: "Role names separated by spaces or commas. admin makes an administrator.",
    roles_change_hint: "Role names separated by spaces or commas. Taking a role away ends all the user's sessions.",
    username_change_hint: "The name the user signs in with. A new one takes effect at once and their sessions stay; access tokens already issued show the old one until they expire.",
    attributes: "Attributes",
    attributes_hint: "One name=value per line, such as document_type=passport. Names: lowercase letters, digits and _ . - starting with a letter. A name left out is removed; empty removes them all.",
    no_attributes: "No attribute.",
    active_label: "Active (can sign in)",
    profile: "Profile, roles and attributes",
    account_actions: "Account",
    disable: "Disable",
    disable_hint: "The user can no longer sign in; their sessions end.",
    disable_question: en_disable_question,
    disable_explained: "The user can no longer sign in, and every session and token they hold stops working at once. You can enable them again later.",
    enable: "Enable",
    enable_hint: "The user can sign in again.",
    unlock: "Unlock",
    unlock_hint: "Lifts a lock after failed sign-ins, from every address.",
    issue_reset: "Issue a password-reset token",
    issue_reset_hint: "A single-use token the user sets a new password with. Replaces an earlier one.",
    reset_issued_title: "Password-reset token",
    reset_issued_lead: en_reset_issued_lead,
    reset_token_label: "Reset token",
    mfa_reset: "Reset second factor",
    mfa_reset_hint: "For a lost device: turns the second factor off.",
    mfa_reset_question: en_mfa_reset_question,
    mfa_reset_explained: "The user's second factor and backup codes are removed and all their sessions end. They sign in with their password alone until they set up a new one.",
    end_sessions: "End all sessions",
    end_sessions_hint: "Signs the user out everywhere.",
    end_sessions_question: en_end_sessions_question,
    end_sessions_explained: "Every session of the user ends, in every browser and application: their tokens stop working at once.",
    delete_user: "Delete user",
    delete_user_question: en_delete_user_question,
    delete_user_explained: "The user, their sessions, grants and API keys are deleted. This cannot be undone.",
    sessions: "Sessions",
    no_sessions: "No live session.",
    started: "Started",
    session_sign_in: "Sign-in",
    session_api_key: "API key",
    api_keys_lead: "API keys belong to users: find the user, then see, create or delete their keys on their page. Service secrets are on each service's page.",
    no_keys: "No API key.",
    new_key: "New API key",
    create_key: "Create key",
    key_prefix: "Starts with",
    scopes: "Scopes",
    scopes_hint: "Roles of the user the key may use, separated by spaces. Empty: all of them.",
    all_roles: "All the user's roles",
    key_created_title: "API key created",
    key_created_lead: en_key_created_lead,
    key_label: "API key",
    delete_key_question: "Delete this API key?",
    delete_key_explained: "The key stops working at once, and so do the tokens it bought.",
    access_lead: "Services are the applications that ask Tessera what a person may do. A service offers roles; a role holds permissions; a person is granted roles in a service.",
    services: "Services",
    services_lead: "The applications that check tokens, their roles and their secrets.",
    roles_lead: "Roles and the permissions each holds.",
    permissions: "Permissions",
    permissions_lead: "What a role lets a person do.",
    grants_lead: "Grants are given on each user's page, service by service.",
    add_new: "Add",
    entry_name_hint: "1 to 64 characters: letters, digits and . _ : / -",
    delete_entry_question: en_delete_entry_question,
    delete_entry_explained: "It is deleted with every link and grant that names it. This cannot be undone.",
    delete_tenant_explained: "The tenant is deleted. A tenant that still has users or clients cannot be.",
    roles_offered: "Roles it offers",
    permissions_of_role: "Permissions of this role",
    add_link: "Add",
    unlink_question: "Remove this link?",
    unlink_explained: "People lose what the link gave them in this service at once.",
    issue_secret: "Issue a new secret",
    issue_secret_hint: "The service authenticates with it at introspection. Replaces the current one.",
    service_secret_question: en_service_secret_question,
    service_secret_explained: "A new secret is made and the current one, if any, stops working at once.",
    service_secret_title: "Service secret",
    service_secret_lead: en_service_secret_lead,
    service_secret_label: "Service secret",
    revoke_secret: "Revoke the secret",
    revoke_secret_question: en_revoke_secret_question,
    revoke_secret_explained: "The service's secret stops working at once.",
    access_in_services: "Access in services",
    no_grants: "No grant in any service.",
    show_access_in: "Show access in",
    access_of: en_access_of,
    granted_roles: "Roles granted",
    no_roles_granted: "No role granted in this service.",
    revoke_role_question: "Revoke this role?",
    revoke_role_explained: "The person loses the role's permissions in this service at once.",
    effective_permissions: "Effective permissions",
    no_permissions: "No permission in this service.",
    check_token_lead: "What POST /check-token with this service_id answers for a live token of this person:",
    grant: "Grant",
    grant_role: "Grant a role",
    grant_permission: "Grant one permission directly",
    grant_permission_hint: "Without a role; it cannot be revoked from here.",
    grant_button: "Grant",
    new_client: "Register a client",
    register_client: "Register",
    no_clients: "No client is registered.",
    client_id: "Client id",
    client_kind: "Kind",
    confidential: "Confidential",
    public: "Public",
    method_basic: "Confidential: its secret in HTTP Basic",
    method_post: "Confidential: its secret in the form",
    method_none: "Public: no secret, PKCE alone",
    first_party: "First party",
    first_party_hint: "Your own application: its users are never asked for consent.",
    redirect_uris: "Redirect URIs",
    post_logout_uris: "Post-logout redirect URIs",
    uris_hint: "One per line, exact: https, or http to 127.0.0.1, [::1] or localhost.",
    allow_refresh: "Allow refresh tokens (offline access)",
    scope: "Scope",
    scope_hint: "Scopes separated by spaces, with openid. Empty: every scope offered.",
    grant_types: "Grant types",
    registration: "Registration",
    client_actions: "Client",
    client_registered_title: "Client registered",
    client_registered_lead: en_client_registered_lead,
    client_secret_label: "Client secret",
    rotate_secret: "New secret",
    rotate_secret_hint: "The current secret stops working.",
    rotate_secret_question: en_rotate_secret_question,
    rotate_secret_explained: "A new secret is made and the current one stops working at once; the application needs the new one.",
    new_secret_title: "New client secret",
    new_secret_lead: en_new_secret_lead,
    delete_client: "Delete client",
    delete_client_question: en_delete_client_question,
    delete_client_explained: "The client is deleted and every session opened for it ends. This cannot be undone.",
    audit_lead: "Every sign-in and every change, oldest first.",
    event: "Event",
    outcome: "Outcome",
    success: "Success",
    failure: "Failure",
    user_id: "User id",
    user_id_hint: "Who acted, or whom it was about.",
    since: "Since",
    until: "Until",
    until_hint: "An RFC 3339 time, not included.",
    filter: "Filter",
    clear_filters: "Clear",
    no_entries: "No entry matches.",
    time: "Time",
    actor: "Actor",
    subject: "Subject",
    target: "Target",
    details: "Details",
    keys_lead: "The keys that sign tokens, newest first. The newest signs; older ones stay in the JWKS, and verify, until the last token they signed has expired.",
    key_id: "Key id",
    algorithm: "Algorithm",
    use_label: "Use",
    signs: "Signs",
    verifies_only: "Verifies only",
    retired_key: "Retired: removed at the next clean-up",
    rotate_now: "Rotate now",
    rotate_hint: "A new key signs at once on this node, and on the other nodes within the cluster's sync interval. From the command line, tessera keys rotate makes one too, unaudited.",
    rotate_keys_question: "Make a new signing key?",
    rotate_keys_explained: "A new key signs every token from now on. The key that signs now stops signing but stays in the JWKS until the last token it signed has expired, so nobody is signed out. Services that cache the JWKS fetch it again when a token names the new key.",
    ready: "This node is ready: the database answers and its schema is current.",
    not_ready: "This node is not ready:",
    version: "Version",
    live_sessions: "Live sessions",
    hash_queue: "Password checks waiting",
    revocations_known: "Ended sessions known",
    node_hint: "The same figures, and more, are in the Prometheus metrics (/metrics).",
};

fn en_tenant_scope(tenant: i64) -> String {
    format!("tenant {tenant}")
}

fn en_done(what: &str) -> Option<&'static str> {
    Some(match what {
        "created" => "Created.",
        "saved" => "Saved.",
        "enabled" => "The user is enabled.",
        "disabled" => "The user is disabled and their sessions have ended.",
        "unlocked" => "The user is unlocked.",
        "mfa_reset" => "The second factor is removed and the user's sessions have ended.",
        "sessions_ended" => "Every session of the user has ended.",
        "deleted" => "Deleted.",
        "key_deleted" => "The API key is deleted.",
        "revoked" => "Revoked.",
        "granted" => "Granted.",
        "linked" => "Added.",
        "unlinked" => "Removed.",
        "secret_revoked" => "The secret is revoked.",
        "key_rotated" => "A new signing key signs from now on; the previous one stays published until its tokens have expired.",
        _ => return None,
    })
}

fn en_section_lead(path: &str) -> &'static str {
    match path {
        "/admin/users" => "Find, create and change users: roles, locks, second factors, password resets, sessions, keys and grants.",
        "/admin/tenants" => "The tenants users and clients belong to.",
        "/admin/access" => "Services, roles, permissions, and who may do what.",
        "/admin/clients" => "The OpenID Connect applications that sign people in here.",
        "/admin/api-keys" => "Users' API keys.",
        "/admin/audit" => "Who did what, and when.",
        "/admin/keys" => "The keys that sign tokens, and a new one at once.",
        "/admin/node" => "Whether this node is ready, and what it is doing.",
        _ => "",
    }
}

fn en_rule(field: &str, rule: &str) -> &'static str {
    match (field, rule) {
        ("username", "too_short") => "At least 3 characters.",
        ("username" | "role" | "permission", "too_long") => "At most 64 characters.",
        ("username", "invalid_characters") => {
            "Letters, digits, dots, hyphens and underscores only."
        }
        ("name", "invalid_characters") => "Letters, digits, spaces and . _ : / - only.",
        ("name", "invalid_spaces") => "No space at the end, and never two in a row.",
        ("name", "empty") => "Give a name.",
        ("email", "too_long") => "At most 254 characters.",
        ("display_name" | "client_name", "too_long") => "At most 128 characters.",
        ("display_name" | "client_name", "empty") => "Give a name.",
        ("display_name" | "client_name" | "description", "invalid_characters") => {
            "No control characters."
        }
        ("description", "too_long") => "At most 500 characters.",
        ("roles" | "scopes", "invalid_length") => "Each role name has 1 to 64 characters.",
        ("attributes", "too_many") => "At most 32 attributes.",
        ("attributes", "invalid_name") => {
            "Names have 1 to 64 lowercase letters, digits and _ . - and start with a letter."
        }
        ("attributes", "value_too_long") => "Each value has at most 1024 characters.",
        ("attributes", "invalid_characters") => "No control characters in a value.",
        ("attributes", "invalid_format") => "Write name=value.",
        ("roles" | "scopes", "invalid_characters") => {
            "Role names use lowercase letters, digits and _ . : - only."
        }
        ("redirect_uris" | "post_logout_redirect_uris", "empty") => "Give at least one URI.",
        ("redirect_uris" | "post_logout_redirect_uris", "too_many") => "At most 20 URIs.",
        ("redirect_uris" | "post_logout_redirect_uris", "too_long") => "At most 2000 characters.",
        ("redirect_uris" | "post_logout_redirect_uris", "invalid_characters") => {
            "Printable ASCII only, without spaces."
        }
        ("grant_types", "missing_authorization_code") => {
            "The authorization code grant is required."
        }
        ("scope", "missing_openid") => "The scope must include openid.",
        ("scope", "offline_access_needs_refresh_token") => {
            "offline_access needs refresh tokens to be allowed."
        }
        ("scope", "unsupported") => "A scope this server does not offer.",
        ("q", "too_long") => "Too long to search for.",
        ("tenant", "not_found") => "No such tenant.",
        ("person", "not_found") => "No such person.",
        ("service", "not_found") => "No such service.",
        ("role", "not_found") => "No such role.",
        ("permission", "not_found") => "No such permission.",
        ("role", "not_offered_by_service") => {
            "This service does not offer this role: add the role to the service first."
        }
        (_, "too_short") => "Too short.",
        (_, "too_long") => "Too long.",
        (_, "empty") => "This cannot be empty.",
        (_, "invalid_characters") => "It holds characters that are not allowed.",
        (_, "must_start_with_letter_or_digit") => "Start with a letter or a digit.",
        (_, "taken") => "This is already taken.",
        (_, "invalid_email") => "Not a valid e-mail address.",
        (_, "min_length") => "Too short for the password rules.",
        (_, "max_bytes") => "Too long.",
        (_, "common_password") => "Too common: choose a less common password.",
        (_, "contains_username") => "It must not contain the username.",
        (_, "require_lowercase") => "It needs a lowercase letter.",
        (_, "require_uppercase") => "It needs an uppercase letter.",
        (_, "require_digit") => "It needs a digit.",
        (_, "require_symbol") => "It needs a character that is neither a letter nor a digit.",
        (_, "not_held_by_user") => "The user does not hold every one of these roles.",
        (_, "invalid_format") => "Not in the expected form.",
        (_, "in_the_past") => "This time has passed.",
        (_, "fragment") => "No fragment (#…).",
        (_, "not_absolute") => "Not an absolute URI.",
        (_, "unsupported_scheme") => "Use https (or http to this computer).",
        (_, "insecure") => "Plain http only to 127.0.0.1, [::1] or localhost; use https.",
        (_, "userinfo") => "No user name or password in the URI.",
        (_, "unsupported") => "Not one of the values offered.",
        (_, "immutable") => "This cannot change.",
        (_, "not_found") => "There is no such thing.",
        (_, "unknown") => "Not one of the choices.",
        (_, "required") => "Choose one.",
        (_, "out_of_range") => "Out of range.",
        _ => "This value is not accepted.",
    }
}

fn en_line(n: usize) -> String {
    format!("Line {n}:")
}

fn en_disable_question(user: &str) -> String {
    format!("Disable {user}?")
}

fn en_reset_issued_lead(expires: &str) -> String {
    format!("Hand this token to the user, out of band. It sets a new password once (POST /auth/password-reset) and ends all their sessions. It expires at {expires}.")
}

fn en_mfa_reset_question(user: &str) -> String {
    format!("Reset the second factor of {user}?")
}

fn en_end_sessions_question(user: &str) -> String {
    format!("End every session of {user}?")
}

fn en_delete_user_question(user: &str) -> String {
    format!("Delete {user}?")
}

fn en_key_created_lead(name: &str) -> String {
    format!("The API key {name} is created.")
}

fn en_delete_entry_question(name: &str) -> String {
    format!("Delete {name}?")
}

fn en_service_secret_question(service: &str) -> String {
    format!("Issue a new secret for {service}?")
}

fn en_service_secret_lead(service: &str, id: i64) -> String {
    format!("The new secret of {service} (service id {id}). The previous one no longer works.")
}

fn en_revoke_secret_question(service: &str) -> String {
    format!("Revoke the secret of {service}?")
}

fn en_access_of(person: &str, service: &str) -> String {
    format!("{person} in {service}")
}

fn en_client_registered_lead(name: &str, client_id: &str) -> String {
    format!("{name} is registered with the client id {client_id}. Give the application its secret:")
}

fn en_rotate_secret_question(client: &str) -> String {
    format!("Give {client} a new secret?")
}

fn en_new_secret_lead(client: &str) -> String {
    format!("The new secret of {client}. The previous one no longer works.")
}

fn en_delete_client_question(client: &str) -> String {
    format!("Delete {client}?")
}

/// The console in Spanish.
pub static ADMIN_ES: AdminTexts = AdminTexts {
    console: "Administración",
    console_lead: "Gestiona las personas, las aplicaciones y las reglas de acceso de este servidor. Cada cambio que hagas aquí se comprueba y se audita igual que el mismo cambio hecho a través de la API.",
    nav_label: "Administración",
    signed_in_as: "Sesión iniciada como",
    all_tenants: "todos los inquilinos",
    tenant_scope: es_tenant_scope,
    done: es_done,
    section_lead: es_section_lead,
    home: "Resumen",
    users: "Usuarios",
    tenants: "Inquilinos",
    access: "Modelo de acceso",
    clients: "Clientes",
    api_keys: "Claves de API",
    audit: "Registro de auditoría",
    keys: "Claves de firma",
    node: "Nodo",
    admins_only_title: "Solo para administradores",
    admins_only: "Estas páginas son para administradores y tu cuenta no lo es.",
    not_found_title: "No encontrado",
    not_found: "Aquí no hay nada, o no te corresponde gestionarlo.",
    not_allowed_title: "No permitido",
    not_allowed: "Tu cuenta no puede hacer esto.",
    last_admin: "El último administrador activo no se puede desactivar ni eliminar, ni perder el rol admin.",
    in_use: "No se puede eliminar mientras tenga usuarios o clientes.",
    public_client: "Un cliente público no tiene secreto.",
    mfa_not_enabled: "Este usuario no tiene segundo factor.",
    duplicate: "Ya está en uso.",
    rule: es_rule,
    line: es_line,
    cancel: "Cancelar",
    save: "Guardar",
    create: "Crear",
    delete: "Eliminar",
    remove: "Quitar",
    revoke: "Revocar",
    add: "Añadir",
    show: "Mostrar",
    optional: "(opcional)",
    actions: "Acciones",
    yes: "Sí",
    no: "No",
    any: "Cualquiera",
    unknown: "Desconocido",
    never: "Nunca",
    none_yet: "Todavía no hay ninguno.",
    pages: "Páginas",
    first_page: "Primera página",
    next_page: "Página siguiente",
    id: "Id",
    name: "Nombre",
    description: "Descripción",
    status: "Estado",
    active: "Activo",
    disabled: "Desactivado",
    created: "Creado",
    updated: "Actualizado",
    expires: "Caduca",
    last_used: "Último uso",
    address: "Dirección",
    kind: "Tipo",
    tenant: "Inquilino",
    no_tenant: "Ninguno (global)",
    time_hint: "Una fecha y hora RFC 3339, como 2030-01-31T00:00:00Z.",
    shown_once: "Cópialo ahora: solo se muestra en esta página y no se puede volver a mostrar.",
    continue_link: "Hecho, continuar",
    new_user: "Nuevo usuario",
    create_user: "Crear usuario",
    search_label: "Buscar por el principio del nombre de usuario o del correo electrónico",
    search: "Buscar",
    no_users: "Ningún usuario coincide.",
    username: "Nombre de usuario",
    password: "Contraseña",
    password_hint: "La primera contraseña del usuario. Entrégasela de forma segura; podrá cambiarla.",
    email: "Correo electrónico",
    display_name: "Nombre visible",
    roles: "Roles",
    roles_hint: "Nombres de rol separados por espacios o comas. admin convierte al usuario en administrador.",
    roles_change_hint: "Nombres de rol separados por espacios o comas. Quitar un rol cierra todas las sesiones del usuario.",
    username_change_hint: "El nombre con el que el usuario inicia sesión. Uno nuevo vale en el acto y sus sesiones siguen abiertas; los tokens de acceso ya emitidos muestran el anterior hasta que caducan.",
    attributes: "Atributos",
    attributes_hint: "Un nombre=valor por línea, como document_type=pasaporte. Nombres: minúsculas, dígitos y _ . - empezando por una letra. Un nombre que falte se quita; vacío los quita todos.",
    no_attributes: "Ningún atributo.",
    active_label: "Activo (puede iniciar sesión)",
    profile: "Perfil, roles y atributos",
    account_actions: "Cuenta",
    disable: "Desactivar",
    disable_hint: "El usuario ya no podrá iniciar sesión; sus sesiones se cierran.",
    disable_question: es_disable_question,
    disable_explained: "El usuario ya no podrá iniciar sesión, y todas sus sesiones y tokens dejan de funcionar en el acto. Podrás volver a activarlo más adelante.",
    enable: "Activar",
    enable_hint: "El usuario podrá volver a iniciar sesión.",
    unlock: "Desbloquear",
    unlock_hint: "Levanta el bloqueo por intentos fallidos, desde cualquier dirección.",
    issue_reset: "Emitir un token de restablecimiento de contraseña",
    issue_reset_hint: "Un token de un solo uso con el que el usuario elige una contraseña nueva. Sustituye al anterior.",
    reset_issued_title: "Token de restablecimiento de contraseña",
    reset_issued_lead: es_reset_issued_lead,
    reset_token_label: "Token de restablecimiento",
    mfa_reset: "Restablecer el segundo factor",
    mfa_reset_hint: "Para un dispositivo perdido: desactiva el segundo factor.",
    mfa_reset_question: es_mfa_reset_question,
    mfa_reset_explained: "Se eliminan el segundo factor y los códigos de respaldo del usuario, y se cierran todas sus sesiones. Iniciará sesión solo con su contraseña hasta que configure uno nuevo.",
    end_sessions: "Cerrar todas las sesiones",
    end_sessions_hint: "Cierra la sesión del usuario en todas partes.",
    end_sessions_question: es_end_sessions_question,
    end_sessions_explained: "Se cierran todas las sesiones del usuario, en todos los navegadores y aplicaciones: sus tokens dejan de funcionar en el acto.",
    delete_user: "Eliminar usuario",
    delete_user_question: es_delete_user_question,
    delete_user_explained: "Se eliminan el usuario, sus sesiones, sus permisos concedidos y sus claves de API. No se puede deshacer.",
    sessions: "Sesiones",
    no_sessions: "Ninguna sesión activa.",
    started: "Inicio",
    session_sign_in: "Inicio de sesión",
    session_api_key: "Clave de API",
    api_keys_lead: "Las claves de API pertenecen a los usuarios: busca al usuario y consulta, crea o elimina sus claves en su página. Los secretos de servicio están en la página de cada servicio.",
    no_keys: "Ninguna clave de API.",
    new_key: "Nueva clave de API",
    create_key: "Crear clave",
    key_prefix: "Empieza por",
    scopes: "Ámbitos",
    scopes_hint: "Roles del usuario que la clave puede usar, separados por espacios. Vacío: todos.",
    all_roles: "Todos los roles del usuario",
    key_created_title: "Clave de API creada",
    key_created_lead: es_key_created_lead,
    key_label: "Clave de API",
    delete_key_question: "¿Eliminar esta clave de API?",
    delete_key_explained: "La clave deja de funcionar en el acto, y también los tokens obtenidos con ella.",
    access_lead: "Los servicios son las aplicaciones que preguntan a Tessera qué puede hacer una persona. Un servicio ofrece roles; un rol reúne permisos; a una persona se le conceden roles en un servicio.",
    services: "Servicios",
    services_lead: "Las aplicaciones que comprueban tokens, sus roles y sus secretos.",
    roles_lead: "Los roles y los permisos de cada uno.",
    permissions: "Permisos",
    permissions_lead: "Lo que un rol permite hacer.",
    grants_lead: "Los roles y permisos se conceden en la página de cada usuario, servicio a servicio.",
    add_new: "Añadir",
    entry_name_hint: "De 1 a 64 caracteres: letras, dígitos y . _ : / -",
    delete_entry_question: es_delete_entry_question,
    delete_entry_explained: "Se elimina junto con todos los vínculos y concesiones que lo nombran. No se puede deshacer.",
    delete_tenant_explained: "Se elimina el inquilino. No se puede eliminar uno que todavía tenga usuarios o clientes.",
    roles_offered: "Roles que ofrece",
    permissions_of_role: "Permisos de este rol",
    add_link: "Añadir",
    unlink_question: "¿Quitar este vínculo?",
    unlink_explained: "Las personas pierden en el acto lo que el vínculo les daba en este servicio.",
    issue_secret: "Emitir un secreto nuevo",
    issue_secret_hint: "El servicio se autentica con él en la introspección. Sustituye al actual.",
    service_secret_question: es_service_secret_question,
    service_secret_explained: "Se crea un secreto nuevo y el actual, si lo hay, deja de funcionar en el acto.",
    service_secret_title: "Secreto del servicio",
    service_secret_lead: es_service_secret_lead,
    service_secret_label: "Secreto del servicio",
    revoke_secret: "Revocar el secreto",
    revoke_secret_question: es_revoke_secret_question,
    revoke_secret_explained: "El secreto del servicio deja de funcionar en el acto.",
    access_in_services: "Acceso en los servicios",
    no_grants: "Sin concesiones en ningún servicio.",
    show_access_in: "Ver el acceso en",
    access_of: es_access_of,
    granted_roles: "Roles concedidos",
    no_roles_granted: "Ningún rol concedido en este servicio.",
    revoke_role_question: "¿Revocar este rol?",
    revoke_role_explained: "La persona pierde en el acto los permisos del rol en este servicio.",
    effective_permissions: "Permisos efectivos",
    no_permissions: "Ningún permiso en este servicio.",
    check_token_lead: "Lo que responde POST /check-token con este service_id a un token válido de esta persona:",
    grant: "Conceder",
    grant_role: "Conceder un rol",
    grant_permission: "Conceder un permiso directamente",
    grant_permission_hint: "Sin rol; no se puede revocar desde aquí.",
    grant_button: "Conceder",
    new_client: "Registrar un cliente",
    register_client: "Registrar",
    no_clients: "No hay ningún cliente registrado.",
    client_id: "Id de cliente",
    client_kind: "Tipo",
    confidential: "Confidencial",
    public: "Público",
    method_basic: "Confidencial: su secreto en HTTP Basic",
    method_post: "Confidencial: su secreto en el formulario",
    method_none: "Público: sin secreto, solo PKCE",
    first_party: "Propia",
    first_party_hint: "Una aplicación tuya: nunca se pide consentimiento a sus usuarios.",
    redirect_uris: "URI de redirección",
    post_logout_uris: "URI de redirección tras cerrar sesión",
    uris_hint: "Una por línea, exacta: https, o http a 127.0.0.1, [::1] o localhost.",
    allow_refresh: "Permitir tokens de actualización (acceso sin conexión)",
    scope: "Ámbito",
    scope_hint: "Ámbitos separados por espacios, con openid. Vacío: todos los que se ofrecen.",
    grant_types: "Tipos de concesión",
    registration: "Registro",
    client_actions: "Cliente",
    client_registered_title: "Cliente registrado",
    client_registered_lead: es_client_registered_lead,
    client_secret_label: "Secreto del cliente",
    rotate_secret: "Secreto nuevo",
    rotate_secret_hint: "El secreto actual deja de funcionar.",
    rotate_secret_question: es_rotate_secret_question,
    rotate_secret_explained: "Se crea un secreto nuevo y el actual deja de funcionar en el acto; la aplicación necesitará el nuevo.",
    new_secret_title: "Nuevo secreto del cliente",
    new_secret_lead: es_new_secret_lead,
    delete_client: "Eliminar cliente",
    delete_client_question: es_delete_client_question,
    delete_client_explained: "Se elimina el cliente y se cierran todas las sesiones abiertas para él. No se puede deshacer.",
    audit_lead: "Cada inicio de sesión y cada cambio, del más antiguo al más reciente.",
    event: "Evento",
    outcome: "Resultado",
    success: "Correcto",
    failure: "Fallido",
    user_id: "Id de usuario",
    user_id_hint: "Quién actuó o a quién afectó.",
    since: "Desde",
    until: "Hasta",
    until_hint: "Una fecha y hora RFC 3339, no incluida.",
    filter: "Filtrar",
    clear_filters: "Quitar filtros",
    no_entries: "Ninguna entrada coincide.",
    time: "Hora",
    actor: "Autor",
    subject: "Afectado",
    target: "Objeto",
    details: "Detalles",
    keys_lead: "Las claves que firman los tokens, de la más reciente a la más antigua. La más reciente firma; las anteriores siguen en el JWKS, y verifican, hasta que caduca el último token que firmaron.",
    key_id: "Id de clave",
    algorithm: "Algoritmo",
    use_label: "Uso",
    signs: "Firma",
    verifies_only: "Solo verifica",
    retired_key: "Retirada: se borra en la próxima limpieza",
    rotate_now: "Rotar ahora",
    rotate_hint: "La clave nueva firma en el acto en este nodo, y en los demás nodos dentro del intervalo de sincronización del clúster. Desde la línea de órdenes, tessera keys rotate también crea una, sin auditoría.",
    rotate_keys_question: "¿Crear una clave de firma nueva?",
    rotate_keys_explained: "Una clave nueva firma todos los tokens desde ahora. La clave que firma ahora deja de firmar, pero sigue en el JWKS hasta que caduca el último token que firmó, así que no se cierra ninguna sesión. Los servicios que guardan el JWKS en caché lo vuelven a pedir cuando un token nombra la clave nueva.",
    ready: "Este nodo está listo: la base de datos responde y su esquema está al día.",
    not_ready: "Este nodo no está listo:",
    version: "Versión",
    live_sessions: "Sesiones activas",
    hash_queue: "Comprobaciones de contraseña en espera",
    revocations_known: "Sesiones cerradas conocidas",
    node_hint: "Estas cifras, y más, están en las métricas de Prometheus (/metrics).",
};

fn es_tenant_scope(tenant: i64) -> String {
    format!("inquilino {tenant}")
}

fn es_done(what: &str) -> Option<&'static str> {
    Some(match what {
        "created" => "Creado.",
        "saved" => "Guardado.",
        "enabled" => "El usuario está activado.",
        "disabled" => "El usuario está desactivado y sus sesiones se han cerrado.",
        "unlocked" => "El usuario está desbloqueado.",
        "mfa_reset" => {
            "Se ha eliminado el segundo factor y se han cerrado las sesiones del usuario."
        }
        "sessions_ended" => "Se han cerrado todas las sesiones del usuario.",
        "deleted" => "Eliminado.",
        "key_deleted" => "La clave de API está eliminada.",
        "revoked" => "Revocado.",
        "granted" => "Concedido.",
        "linked" => "Añadido.",
        "unlinked" => "Quitado.",
        "secret_revoked" => "El secreto está revocado.",
        "key_rotated" => "Una clave de firma nueva firma desde ahora; la anterior sigue publicada hasta que caducan sus tokens.",
        _ => return None,
    })
}

fn es_section_lead(path: &str) -> &'static str {
    match path {
        "/admin/users" => "Busca, crea y modifica usuarios: roles, bloqueos, segundos factores, restablecimientos de contraseña, sesiones, claves y concesiones.",
        "/admin/tenants" => "Los inquilinos a los que pertenecen usuarios y clientes.",
        "/admin/access" => "Servicios, roles, permisos, y quién puede hacer qué.",
        "/admin/clients" => "Las aplicaciones OpenID Connect que inician sesión con este servidor.",
        "/admin/api-keys" => "Las claves de API de los usuarios.",
        "/admin/audit" => "Quién hizo qué, y cuándo.",
        "/admin/keys" => "Las claves que firman los tokens, y una nueva en el acto.",
        "/admin/node" => "Si este nodo está listo, y qué está haciendo.",
        _ => "",
    }
}

fn es_rule(field: &str, rule: &str) -> &'static str {
    match (field, rule) {
        ("username", "too_short") => "Al menos 3 caracteres.",
        ("username" | "role" | "permission", "too_long") => "Como mucho 64 caracteres.",
        ("username", "invalid_characters") => {
            "Solo letras, dígitos, puntos, guiones y guiones bajos."
        }
        ("name", "invalid_characters") => "Solo letras, dígitos, espacios y . _ : / -",
        ("name", "invalid_spaces") => "Sin espacio al final, y nunca dos seguidos.",
        ("name", "empty") => "Escribe un nombre.",
        ("email", "too_long") => "Como mucho 254 caracteres.",
        ("display_name" | "client_name", "too_long") => "Como mucho 128 caracteres.",
        ("display_name" | "client_name", "empty") => "Escribe un nombre.",
        ("display_name" | "client_name" | "description", "invalid_characters") => {
            "Sin caracteres de control."
        }
        ("description", "too_long") => "Como mucho 500 caracteres.",
        ("roles" | "scopes", "invalid_length") => "Cada nombre de rol tiene de 1 a 64 caracteres.",
        ("attributes", "too_many") => "Como mucho 32 atributos.",
        ("attributes", "invalid_name") => {
            "Los nombres tienen de 1 a 64 minúsculas, dígitos y _ . - y empiezan por una letra."
        }
        ("attributes", "value_too_long") => "Cada valor tiene como mucho 1024 caracteres.",
        ("attributes", "invalid_characters") => "Sin caracteres de control en los valores.",
        ("attributes", "invalid_format") => "Escribe nombre=valor.",
        ("roles" | "scopes", "invalid_characters") => {
            "Los nombres de rol usan solo minúsculas, dígitos y _ . : -"
        }
        ("redirect_uris" | "post_logout_redirect_uris", "empty") => "Indica al menos una URI.",
        ("redirect_uris" | "post_logout_redirect_uris", "too_many") => "Como mucho 20 URI.",
        ("redirect_uris" | "post_logout_redirect_uris", "too_long") => {
            "Como mucho 2000 caracteres."
        }
        ("redirect_uris" | "post_logout_redirect_uris", "invalid_characters") => {
            "Solo ASCII imprimible, sin espacios."
        }
        ("grant_types", "missing_authorization_code") => {
            "La concesión de código de autorización es obligatoria."
        }
        ("scope", "missing_openid") => "El ámbito debe incluir openid.",
        ("scope", "offline_access_needs_refresh_token") => {
            "offline_access requiere que se permitan los tokens de actualización."
        }
        ("scope", "unsupported") => "Un ámbito que este servidor no ofrece.",
        ("q", "too_long") => "Demasiado largo para buscarlo.",
        ("tenant", "not_found") => "No existe ese inquilino.",
        ("person", "not_found") => "No existe esa persona.",
        ("service", "not_found") => "No existe ese servicio.",
        ("role", "not_found") => "No existe ese rol.",
        ("permission", "not_found") => "No existe ese permiso.",
        ("role", "not_offered_by_service") => {
            "Este servicio no ofrece este rol: añade antes el rol al servicio."
        }
        (_, "too_short") => "Demasiado corto.",
        (_, "too_long") => "Demasiado largo.",
        (_, "empty") => "No puede quedar vacío.",
        (_, "invalid_characters") => "Contiene caracteres no permitidos.",
        (_, "must_start_with_letter_or_digit") => "Empieza por una letra o un dígito.",
        (_, "taken") => "Ya está en uso.",
        (_, "invalid_email") => "No es una dirección de correo electrónico válida.",
        (_, "min_length") => "Demasiado corta para las reglas de contraseñas.",
        (_, "max_bytes") => "Demasiado larga.",
        (_, "common_password") => "Demasiado común: elige una contraseña menos común.",
        (_, "contains_username") => "No puede contener el nombre de usuario.",
        (_, "require_lowercase") => "Necesita una letra minúscula.",
        (_, "require_uppercase") => "Necesita una letra mayúscula.",
        (_, "require_digit") => "Necesita un dígito.",
        (_, "require_symbol") => "Necesita un carácter que no sea ni letra ni dígito.",
        (_, "not_held_by_user") => "El usuario no tiene todos estos roles.",
        (_, "invalid_format") => "No tiene el formato esperado.",
        (_, "in_the_past") => "Esa fecha ya ha pasado.",
        (_, "fragment") => "Sin fragmento (#…).",
        (_, "not_absolute") => "No es una URI absoluta.",
        (_, "unsupported_scheme") => "Usa https (o http a este mismo equipo).",
        (_, "insecure") => "http sin cifrar solo a 127.0.0.1, [::1] o localhost; usa https.",
        (_, "userinfo") => "Sin nombre de usuario ni contraseña en la URI.",
        (_, "unsupported") => "No es uno de los valores que se ofrecen.",
        (_, "immutable") => "Esto no se puede cambiar.",
        (_, "not_found") => "No existe.",
        (_, "unknown") => "No es una de las opciones.",
        (_, "required") => "Elige uno.",
        (_, "out_of_range") => "Fuera del rango permitido.",
        _ => "Este valor no se acepta.",
    }
}

fn es_line(n: usize) -> String {
    format!("Línea {n}:")
}

fn es_disable_question(user: &str) -> String {
    format!("¿Desactivar a {user}?")
}

fn es_reset_issued_lead(expires: &str) -> String {
    format!("Entrega este token al usuario por otro medio. Sirve una sola vez para elegir una contraseña nueva (POST /auth/password-reset) y cierra todas sus sesiones. Caduca el {expires}.")
}

fn es_mfa_reset_question(user: &str) -> String {
    format!("¿Restablecer el segundo factor de {user}?")
}

fn es_end_sessions_question(user: &str) -> String {
    format!("¿Cerrar todas las sesiones de {user}?")
}

fn es_delete_user_question(user: &str) -> String {
    format!("¿Eliminar a {user}?")
}

fn es_key_created_lead(name: &str) -> String {
    format!("Se ha creado la clave de API {name}.")
}

fn es_delete_entry_question(name: &str) -> String {
    format!("¿Eliminar {name}?")
}

fn es_service_secret_question(service: &str) -> String {
    format!("¿Emitir un secreto nuevo para {service}?")
}

fn es_service_secret_lead(service: &str, id: i64) -> String {
    format!("El nuevo secreto de {service} (id de servicio {id}). El anterior ya no funciona.")
}

fn es_revoke_secret_question(service: &str) -> String {
    format!("¿Revocar el secreto de {service}?")
}

fn es_access_of(person: &str, service: &str) -> String {
    format!("{person} en {service}")
}

fn es_client_registered_lead(name: &str, client_id: &str) -> String {
    format!("{name} está registrado con el id de cliente {client_id}. Entrega a la aplicación su secreto:")
}

fn es_rotate_secret_question(client: &str) -> String {
    format!("¿Dar un secreto nuevo a {client}?")
}

fn es_new_secret_lead(client: &str) -> String {
    format!("El nuevo secreto de {client}. El anterior ya no funciona.")
}

fn es_delete_client_question(client: &str) -> String {
    format!("¿Eliminar {client}?")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_its_own_code() {
        for language in Language::ALL {
            assert_eq!(Language::from_code(language.code()), Some(language));
            assert_eq!(language.texts().lang, language.code());
        }
        assert_eq!(Language::from_code("ES"), Some(Language::Spanish));
        assert_eq!(Language::from_tag("es-MX"), Some(Language::Spanish));
        assert_eq!(Language::from_tag("en_GB"), Some(Language::English));
        for unknown in ["fr", "*", "", "e", "english", "es!"] {
            assert_eq!(Language::from_tag(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn the_application_s_ui_locales_beat_the_browser_s_accept_language() {
        let es = Language::Spanish;
        let en = Language::English;
        assert_eq!(choose(None, Some("es"), Some("en"), en), es);
        assert_eq!(choose(None, Some("fr-CA es-MX en"), Some("en"), en), es);
        // None of the application's languages is spoken: the browser's preference decides.
        assert_eq!(choose(None, Some("fr de"), Some("es"), en), es);
        // What a form of the pages carried comes first: the pages chose it already.
        assert_eq!(choose(Some("es"), Some("en"), Some("en"), en), es);
        assert_eq!(choose(Some("xx"), None, Some("es;q=0.5"), en), es);
        // Nothing known: the configured default.
        assert_eq!(choose(None, None, None, es), es);
        assert_eq!(choose(None, Some(""), Some("fr, de;q=0.9"), es), es);
        assert_eq!(choose(None, None, Some("fr, de;q=0.9"), en), en);
    }

    #[test]
    fn accept_language_is_read_with_its_q_values() {
        let es = Some(Language::Spanish);
        let en = Some(Language::English);
        assert_eq!(from_accept_language("es"), es);
        assert_eq!(from_accept_language("es-ES,es;q=0.9,en;q=0.8"), es);
        assert_eq!(from_accept_language("en;q=0.5, es;q=0.8"), es);
        assert_eq!(
            from_accept_language("fr-CH, fr;q=0.9, en;q=0.8, *;q=0.5"),
            en
        );
        assert_eq!(
            from_accept_language("es; q=0.7, en;Q=0.70"),
            es,
            "first on a tie"
        );
        assert_eq!(from_accept_language("en;q=1.0, es"), en, "first on a tie");
        assert_eq!(from_accept_language("es;q=0, en;q=0.1"), en, "q=0 refuses");
        assert_eq!(from_accept_language("es;q=0.000"), None);
        assert_eq!(from_accept_language("es;q=0.001"), es);
        // Items that cannot be read are skipped, not the whole header.
        assert_eq!(from_accept_language("en;q=2, es;q=0.3"), es);
        assert_eq!(
            from_accept_language("en;q=0.1234, es;q=abc, es-MX;q=0.2"),
            es
        );
        assert_eq!(from_accept_language("en;q=1.5, es;q=.5"), None);
        assert_eq!(from_accept_language(""), None);
        assert_eq!(from_accept_language("*"), None);
        assert_eq!(from_accept_language(",,;;q=,"), None);
    }

    #[test]
    fn a_wait_is_said_rounded_up_in_the_right_unit() {
        assert_eq!(TimeLeft::of(0), TimeLeft::Seconds(1));
        assert_eq!(TimeLeft::of(30), TimeLeft::Seconds(30));
        assert_eq!(TimeLeft::of(59), TimeLeft::Seconds(59));
        assert_eq!(TimeLeft::of(60), TimeLeft::Minutes(1));
        assert_eq!(TimeLeft::of(61), TimeLeft::Minutes(2));
        assert_eq!(TimeLeft::of(181), TimeLeft::Minutes(4));
        assert_eq!(TimeLeft::of(900), TimeLeft::Minutes(15));
        assert_eq!(TimeLeft::of(7199), TimeLeft::Minutes(120));
        assert_eq!(TimeLeft::of(7200), TimeLeft::Hours(2));
        assert_eq!(TimeLeft::of(86_400), TimeLeft::Hours(24));

        assert_eq!(
            EN.locked_for(181),
            "This account is locked after too many failed attempts. Try again in 4 minutes."
        );
        assert_eq!(
            EN.locked_for(60),
            "This account is locked after too many failed attempts. Try again in 1 minute."
        );
        assert_eq!(
            EN.too_many_from_here_for(30),
            "Too many attempts from here. Try again in 30 seconds."
        );
        assert_eq!(
            EN.too_many_for_username_for(1),
            "Too many attempts for this username. Try again in 1 second."
        );
        assert!(EN.locked_for(10_000).ends_with("Try again in 3 hours."));
        assert_eq!(
            ES.locked_for(181),
            "Esta cuenta está bloqueada tras demasiados intentos fallidos. Vuelve a intentarlo dentro de 4 minutos."
        );
        assert!(ES.locked_for(3_700).ends_with("dentro de 62 minutos."));
        assert!(ES
            .too_many_from_here_for(1)
            .ends_with("dentro de 1 segundo."));
        assert!(ES.locked_for(86_400).ends_with("dentro de 24 horas."));
        assert!(ES
            .locked_for(3_600 * 24 + 1)
            .ends_with("dentro de 25 horas."));
    }

    #[test]
    fn the_console_says_every_change_and_every_rule_in_every_language() {
        for language in Language::ALL {
            let a = language.texts().admin;
            for done in [
                "created",
                "saved",
                "enabled",
                "disabled",
                "unlocked",
                "mfa_reset",
                "sessions_ended",
                "deleted",
                "key_deleted",
                "revoked",
                "granted",
                "linked",
                "unlinked",
                "secret_revoked",
                "key_rotated",
            ] {
                assert!((a.done)(done).is_some(), "{done}");
            }
            assert_eq!((a.done)("<script>"), None);
            assert!((a.access_of)("alice", "billing").contains("billing"));
            assert!((a.client_registered_lead)("Wiki", "tc_1").contains("tc_1"));
            assert!((a.line)(3).contains('3'));
            assert_ne!((a.rule)("username", "too_short"), (a.rule)("x", "nonsense"));
            assert_ne!(
                (a.rule)("redirect_uris", "insecure"),
                (a.rule)("x", "nonsense")
            );
            for rule in [
                "too_many",
                "invalid_name",
                "value_too_long",
                "invalid_characters",
                "invalid_format",
            ] {
                assert_ne!(
                    (a.rule)("attributes", rule),
                    (a.rule)("x", "nonsense"),
                    "{rule}"
                );
            }
        }
        assert_eq!((ADMIN_ES.rule)("email", "taken"), "Ya está en uso.");
    }

    #[test]
    fn every_language_fills_in_what_goes_into_its_sentences() {
        for language in Language::ALL {
            let t = language.texts();
            let mistake = (t.app_mistake)("redirect_uri is not registered", "invalid_request");
            assert!(mistake.contains("redirect_uri is not registered (invalid_request)"));
            assert!((t.allow_client)("Calendar").contains("Calendar"));
            assert!((t.client_asks_sign_out)("Wiki").contains("Wiki"));
            for text in [t.locked_for(120), t.too_many_from_here_for(5)] {
                assert!(text.contains(" 2 ") || text.contains(" 5 "), "{text}");
            }
        }
        assert_eq!((EN.allow_client)("Calendar"), "Allow Calendar?");
        assert_eq!(
            (ES.allow_client)("Calendar"),
            "¿Permitir el acceso a Calendar?"
        );
        assert_eq!(
            (EN.client_asks_sign_out)("Wiki"),
            "Wiki asks you to sign out"
        );
    }
}
