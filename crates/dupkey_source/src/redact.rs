//! Connection strings without their secrets, whether or not the driver can parse them, and
//! any text (driver messages, errors, notes) without the passwords of the connection strings
//! this process was given, in any form the driver might echo them.

use std::sync::RwLock;

/// Option names whose values are secrets (matched case-insensitively, as substrings).
const SECRET_OPTIONS: [&str; 6] = [
    "password",
    "authmechanismproperties",
    "tlscertificatekeyfilepassword",
    "sslpassword",
    "secret",
    "token",
];

/// Characters that end a piece of a password as a driver may echo it: the URI delimiters
/// the driver splits on, and whitespace.
/// Quotes and backslashes too: a message that quotes the string with `{:?}` escapes them.
const PIECE_ENDS: &[char] = &[
    '/', '?', '#', '@', ':', '%', ',', ';', '&', '=', '[', ']', '"', '\'', '\\', '`', '<', '>',
];

/// Secrets registered by [`register_secrets`]; read by [`redact_text`].
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// `mongodb://USER:PASSWORD` + `@host/db?authSource=admin` becomes
/// `mongodb://***@host/db?authSource=admin`; secret-bearing options (`authMechanismProperties`,
/// TLS key passwords) are masked too.
///
/// The whole of `uri` is taken as one connection string, parseable or not: the userinfo ends
/// at the last `@` followed by something shaped like a host list, so a `/`, `?`, `#`, `%`,
/// `@` or space inside the password cannot end it early. When no `@` is followed by a host
/// list, everything up to the last `@` is hidden: a redaction may hide too much, never too
/// little.
pub fn redact_uri(uri: &str) -> String {
    let body_start = scheme_end(uri).unwrap_or(0);
    let (head, body) = uri.split_at(body_start);
    let slashes = body.len() - body.trim_start_matches('/').len();
    let (slashes, rest) = body.split_at(slashes);
    let (hidden, after) = match userinfo_end(rest) {
        Some(at) => ("***@", &rest[at + 1..]),
        None => ("", rest),
    };
    format!("{head}{slashes}{hidden}{}", mask_options(after))
}

/// Where the connection string's body starts (after `mongodb:` or `mongodb+srv:`, any case),
/// if `s` starts with a scheme.
fn scheme_end(s: &str) -> Option<usize> {
    let lower = s.get(..12).unwrap_or(s).to_ascii_lowercase();
    ["mongodb+srv:", "mongodb:"]
        .iter()
        .find(|scheme| lower.starts_with(*scheme))
        .map(|scheme| scheme.len())
}

/// The position of the `@` that ends the userinfo of `rest` (the text after `scheme://`).
fn userinfo_end(rest: &str) -> Option<usize> {
    let mut last = None;
    for (at, _) in rest
        .match_indices('@')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
    {
        last.get_or_insert(at);
        let hosts = rest[at + 1..]
            .split(['/', '?', '#'])
            .next()
            .unwrap_or_default();
        if !hosts.is_empty() && hosts.chars().all(is_host_char) {
            return Some(at);
        }
    }
    last
}

/// A character of a host list: names (international ones too), IPv4, `[IPv6]`, ports, commas,
/// and the percent-encoding of a Unix socket path.
fn is_host_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | ',' | '[' | ']' | '%' | '~')
}

/// The text after the userinfo with secret-bearing option values replaced.
fn mask_options(after: &str) -> String {
    let Some((path, query)) = after.split_once('?') else {
        return after.to_string();
    };
    let masked: Vec<String> = query
        .split('&')
        .map(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            if is_secret_option(name) {
                format!("{name}=***")
            } else {
                pair.to_string()
            }
        })
        .collect();
    format!("{path}?{}", masked.join("&"))
}

fn is_secret_option(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_OPTIONS.iter().any(|s| name.contains(s))
}

/// Whether `s` holds something shaped like a connection string (`mongodb:` or
/// `mongodb+srv:`, any case, anywhere).
pub fn looks_like_uri(s: &str) -> bool {
    uri_starts(s).next().is_some()
}

/// Byte positions in `s` where a connection string starts.
fn uri_starts(s: &str) -> impl Iterator<Item = usize> + '_ {
    let lower = s.to_ascii_lowercase();
    let starts: Vec<usize> = lower
        .match_indices("mongodb")
        .map(|(i, _)| i)
        .filter(|&i| scheme_end(&s[i..]).is_some())
        .collect();
    starts.into_iter()
}

/// Every form in which the secrets of `uri` might be printed: the raw userinfo, the password
/// raw, percent-decoded and percent-encoded, each piece of it between URI delimiters (a
/// driver that cannot parse the string echoes pieces: `got Sec` for `Sec?ret`), and the
/// values of secret-bearing options.
pub fn secrets_of(uri: &str) -> Vec<String> {
    let start = uri_starts(uri).next().unwrap_or(0);
    let uri = &uri[start..];
    let body = &uri[scheme_end(uri).unwrap_or(0)..];
    let rest = body.trim_start_matches('/');
    let mut secrets = Vec::new();
    if let Some(at) = userinfo_end(rest) {
        let userinfo = &rest[..at];
        secrets.push(userinfo.to_string());
        if let Some((_, password)) = userinfo.split_once(':') {
            add_forms(password, &mut secrets);
        }
    }
    if let Some((_, query)) = rest.split_once('?') {
        for pair in query.split('&') {
            if let Some((name, value)) = pair.split_once('=')
                && is_secret_option(name)
            {
                add_forms(value, &mut secrets);
            }
        }
    }
    secrets.retain(|s| !s.is_empty());
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    secrets
}

/// A secret, its decoded and encoded forms, and their pieces.
fn add_forms(secret: &str, out: &mut Vec<String>) {
    let decoded = percent_decode(secret);
    for form in [
        secret.to_string(),
        decoded.clone(),
        percent_encode(secret, false),
        percent_encode(secret, true),
        percent_encode(&decoded, false),
        percent_encode(&decoded, true),
    ] {
        for piece in form.split(|c: char| PIECE_ENDS.contains(&c) || c.is_whitespace()) {
            out.push(piece.to_string());
        }
        out.push(form);
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every byte but ASCII letters and digits as `%XX`, in upper or lower case hex.
fn percent_encode(s: &str, lower: bool) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() {
            out.push(char::from(b));
        } else if lower {
            out.push_str(&format!("%{b:02x}"));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Whether the user name or password of `uri` holds a character a connection string must
/// percent-encode (`/ ? # @ : [ ]`, a space, or a `%` not starting `%XX`): the driver then
/// misreads where the userinfo ends, and its message says something else went wrong.
pub fn userinfo_needs_encoding(uri: &str) -> bool {
    let body = &uri[scheme_end(uri).unwrap_or(0)..];
    let rest = body.trim_start_matches('/');
    let Some(at) = userinfo_end(rest) else {
        return false;
    };
    let (user, password) = rest[..at].split_once(':').unwrap_or((&rest[..at], ""));
    let bad = |part: &str, colon_ok: bool| {
        part.char_indices().any(|(i, c)| match c {
            '/' | '?' | '#' | '@' | '[' | ']' => true,
            ':' => !colon_ok,
            '%' => part
                .get(i + 1..i + 3)
                .is_none_or(|h| !h.chars().all(|c| c.is_ascii_hexdigit())),
            c => c.is_whitespace(),
        })
    };
    bad(user, true) || bad(password, false)
}

/// Remembers the secrets of the connection strings in one command-line argument, so that
/// [`redact_text`] removes them from anything printed later. An argument that is a connection
/// string (or `--option=` one) is one whole, spaces included; one that only holds connection
/// strings among other text (an error message to explain) gives each up to whitespace or a
/// quote, so that its words are not taken for a password.
pub fn register_secrets(arg: &str) {
    let trimmed = arg.trim();
    let value = match trimmed.strip_prefix("--") {
        Some(option) => option.split_once('=').map_or(trimmed, |(_, v)| v),
        None => trimmed,
    };
    let mut new = Vec::new();
    if scheme_end(value).is_some() {
        new = secrets_of(value);
    } else {
        for start in uri_starts(arg) {
            let end = token_end(arg, start);
            new.extend(secrets_of(&arg[start..end]));
        }
    }
    if new.is_empty() {
        return;
    }
    let mut all = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    all.extend(new);
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    all.dedup();
}

/// `text` with the userinfo of every connection string in it hidden ([`redact_uri`]; a
/// string there ends at whitespace or a quote) and every registered secret replaced by `***`.
pub fn redact_text(text: &str) -> String {
    let secrets = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    redact_text_with(text, &secrets)
}

/// [`redact_text`] with the secrets given.
pub fn redact_text_with(text: &str, secrets: &[String]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    for start in uri_starts(text) {
        if start < done {
            continue;
        }
        let end = token_end(text, start);
        out.push_str(&text[done..start]);
        out.push_str(&redact_uri(&text[start..end]));
        done = end;
    }
    out.push_str(&text[done..]);
    for secret in secrets {
        out = replace_secret(&out, secret);
    }
    out
}

/// Where a connection string starting at `start` inside other text ends.
fn token_end(text: &str, start: usize) -> usize {
    text[start..]
        .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
        .map_or(text.len(), |e| start + e)
}

/// Replaces `secret` in `text`: anywhere when it is long enough to be no common word, else
/// only where it stands alone between non-alphanumeric characters.
fn replace_secret(text: &str, secret: &str) -> String {
    if secret.is_empty() || secret == "***" {
        return text.to_string();
    }
    let anywhere = secret.chars().count() >= 4;
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    for (i, _) in text.match_indices(secret) {
        if i < done {
            continue;
        }
        let end = i + secret.len();
        let alone = !text[..i]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric)
            && !text[end..]
                .chars()
                .next()
                .is_some_and(char::is_alphanumeric);
        if anywhere || alone {
            out.push_str(&text[done..i]);
            out.push_str("***");
            done = end;
        }
    }
    out.push_str(&text[done..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Written apart so no credential-shaped literal sits in the source.
    const AT: char = '@';

    #[test]
    fn credentials_never_survive() {
        assert_eq!(
            redact_uri(&format!(
                "mongodb://alice:{}{AT}db1:27017,db2/app?replicaSet=rs",
                "s3cr%40t"
            )),
            "mongodb://***@db1:27017,db2/app?replicaSet=rs"
        );
        assert_eq!(
            redact_uri(&format!(
                "mongodb+srv://u:{}{AT}cluster0.example.net/?retryWrites=true",
                "p"
            )),
            "mongodb+srv://***@cluster0.example.net/?retryWrites=true"
        );
        assert_eq!(
            redact_uri("mongodb://h/?authMechanismProperties=AWS_SESSION_TOKEN:abc"),
            "mongodb://h/?authMechanismProperties=***"
        );
        assert_eq!(
            redact_uri("mongodb://localhost:27017"),
            "mongodb://localhost:27017"
        );
        assert!(!redact_uri(&format!("mongodb://a:{}{AT}h/", "pa@ss")).contains("pa@ss"));
    }

    #[test]
    fn a_delimiter_inside_the_password_does_not_end_the_userinfo() {
        for password in [
            "Sec/retPW",
            "Sec?retPW",
            "Sec#retPW",
            "Sec%retPW",
            "Sec ret@PW",
            "S/e?c#r%e@t",
        ] {
            for tail in [
                "host",
                "h1:27017,h2:27018/app?authSource=admin",
                "[::1]:27017/",
            ] {
                let uri = format!("mongodb://alice:{password}{AT}{tail}");
                let redacted = redact_uri(&uri);
                assert_eq!(redacted, format!("mongodb://***@{tail}"), "{uri}");
            }
        }
        // No host list after any `@`: hide up to the last one.
        let cut = format!("MongoDB://alice:pw{AT}");
        assert_eq!(redact_uri(&cut), "MongoDB://***@");
    }

    #[test]
    fn a_text_argument_gives_only_its_connection_strings() {
        let text = format!(
            "connecting to mongodb://u:pw9Secret{AT}h:27017/app then E11000 duplicate key \
             error collection: app.users index: email_1 dup key: {{ email: \"a{AT}b.com\" }}"
        );
        register_secrets(&text);
        let clean = redact_text("E11000 duplicate key error on app.users: email_1 pw9Secret");
        assert_eq!(
            clean,
            "E11000 duplicate key error on app.users: email_1 ***"
        );
    }

    #[test]
    fn text_loses_embedded_uris_and_registered_pieces() {
        let uri = format!("mongodb://alice:Sec?retPW{AT}host/app");
        let secrets = secrets_of(&uri);
        let message = "invalid server address alice:Sec: the port must be an integer between 1 \
                       and 65535, got Sec";
        let clean = redact_text_with(message, &secrets);
        assert!(!clean.contains("Sec"), "{clean}");
        let quoted = format!("cannot connect to \"{uri}\" now");
        assert_eq!(
            redact_text_with(&quoted, &secrets),
            "cannot connect to \"mongodb://***@host/app\" now"
        );
        // A short piece is replaced only where it stands alone.
        let short = secrets_of(&format!("mongodb://u:ab/cdefgh{AT}h"));
        assert_eq!(redact_text_with("table ab", &short), "table ***");
    }
}
