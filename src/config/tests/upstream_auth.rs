//! `[upstream]` and `[auth]` rules.

use super::*;

#[test]
fn upstream_url_rules() {
    let fx = Fixture::new();
    let with_url = |url: &str, plaintext: bool| {
        let text = config(&[("upstream", if plaintext { "allow_plaintext = true" } else { "" })]);
        fx.load(&text.replace("https://evo.hostedsuite.com", url))
    };
    let rows: &[(&str, &str, bool, Option<&str>)] = &[
        ("https host", "https://cpo.hostedsuite.com", false, Some("https://cpo.hostedsuite.com")),
        ("https host and port", "https://127.0.0.1:8443", false, Some("https://127.0.0.1:8443")),
        (
            "trailing slash is the root, not a path",
            "https://io.hostedsuite.com/",
            false,
            Some("https://io.hostedsuite.com"),
        ),
        ("http refused", "http://evo.hostedsuite.com", false, None),
        ("http with allow_plaintext", "http://127.0.0.1:8080", true, Some("http://127.0.0.1:8080")),
        ("path refused", "https://evo.hostedsuite.com/api", false, None),
        ("path refused with allow_plaintext too", "http://127.0.0.1:8080/api/calls", true, None),
        ("query refused", "https://evo.hostedsuite.com/?a=1", false, None),
        ("empty query refused", "https://evo.hostedsuite.com?", false, None),
        ("user info refused", "https://user:pw@evo.hostedsuite.com", false, None),
        ("other scheme refused", "ftp://evo.hostedsuite.com", false, None),
        ("no scheme refused", "evo.hostedsuite.com", false, None),
        ("not a URL", "https://", false, None),
    ];
    for (label, url, plaintext, expected) in rows {
        match (with_url(url, *plaintext), expected) {
            (Ok(c), Some(want)) => {
                assert_eq!(c.upstream.url.as_str(), *want, "row {label:?}");
                assert_eq!(
                    c.upstream.url.join("/api/calls/update"),
                    format!("{want}/api/calls/update"),
                    "row {label:?}"
                );
            }
            (Err(e), None) => assert!(has(&e.problems, "upstream.url"), "row {label:?}: {:?}", e.problems),
            (got, _) => panic!("row {label:?}: {:?}", got.map(|c| c.upstream.url)),
        }
    }
}

#[test]
fn auth_requires_issuers_audiences_and_a_key() {
    let fx = Fixture::new();
    let base = config(&[]);
    let pem = format!("{HMAC_BLOCK}[[auth.pem]]\nkid = \"p\"\nalg = \"RS256\"\nfile = \"nope.pem\"\n");
    let issuers = r#"issuers = ["https://idp.example.internal"]"#;
    let audiences = r#"audiences = ["hsgate"]"#;
    let rows: &[(&str, String, &str)] = &[
        ("empty issuers", base.replace(issuers, "issuers = []"), "auth.issuers"),
        ("missing issuers", base.replace(issuers, ""), "auth.issuers"),
        ("empty-string issuer", base.replace(issuers, r#"issuers = [""]"#), "auth.issuers"),
        ("empty audiences", base.replace(audiences, "audiences = []"), "auth.audiences"),
        ("missing audiences", base.replace(audiences, ""), "auth.audiences"),
        ("no key source", base.replace(HMAC_BLOCK, ""), "auth"),
        (
            "missing [auth]",
            base.replace("[auth]\n", "").replace(issuers, "").replace(audiences, "").replace(HMAC_BLOCK, ""),
            "auth",
        ),
        ("missing jwks file", base.replace("[auth]\n", "[auth]\njwks_file = \"no-such.json\"\n"), "auth.jwks_file"),
        ("missing pem file", base.replace(HMAC_BLOCK, &pem), "auth.pem[0].file"),
    ];
    for (label, text, key) in rows {
        assert_ne!(text, &base, "row {label:?}: the change applied");
        let problems = fx.errors(text);
        assert!(has(&problems, key), "row {label:?}: {key} missing from {problems:?}");
    }
}
