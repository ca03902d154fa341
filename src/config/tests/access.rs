//! Profiles, grants and their claims; the audit sink path.

use super::*;

#[test]
fn profile_and_grant_rules() {
    let fx = Fixture::new();
    let base = config(&[]);
    let second_profile = PROFILE_BLOCK.replace("Acme Answering", "Other");
    let rows: &[(&str, String, &str)] = &[
        ("duplicate profile names", base.clone() + &second_profile, "profile[1].name"),
        ("empty profile name", base.replace("name = \"acme\"", "name = \"\""), "profile[0].name"),
        ("empty customer_name", base.replace("customer_name = \"Acme Answering\"", "customer_name = \"\""), "profile[0].customer_name"),
        ("no profile", base.replace(PROFILE_BLOCK, ""), "profile"),
        ("grant naming an unknown profile", base.replace("profiles = [\"acme\"]", "profiles = [\"globex\"]"), "grant[0].profiles"),
        ("grant with no profiles", base.replace("profiles = [\"acme\"]", "profiles = []"), "grant[0].profiles"),
        ("grant naming an unknown route", base.replace("routes = [\"calls.update\"]", "routes = [\"calls.delete\"]"), "grant[0].routes"),
        ("grant with no routes", base.replace("routes = [\"calls.update\"]", "routes = []"), "grant[0].routes"),
        ("grant with empty claims", base.replace("claims = { sub = \"svc-notes\" }", "claims = {}"), "grant[0].claims"),
        ("grant claim of a table", base.replace("claims = { sub = \"svc-notes\" }", "claims = { sub = { a = 1 } }"), "grant[0].claims.sub"),
        ("duplicate grant names", base.clone() + "[[grant]]\nname = \"notes-service\"\nclaims = { sub = \"b\" }\nprofiles = [\"acme\"]\nroutes = [\"calls.update\"]\n", "grant[1].name"),
        ("profile not an array of tables", base.replace(PROFILE_BLOCK, "[profile]\nname = \"acme\"\n"), "profile"),
    ];
    for (label, text, key) in rows {
        assert_ne!(text, &base, "row {label:?}: the change applied");
        let problems = fx.errors(text);
        assert!(has(&problems, key), "row {label:?}: {key} missing from {problems:?}");
    }
    let problems = fx.errors(&base.replace("user_name = \"api-gateway\"", ""));
    assert!(problems.iter().any(|p| p.key == "profile[0]" && p.message.contains("user_name")), "{problems:?}");
}

#[test]
fn grant_claims_keep_their_types_and_file_order() {
    let fx = Fixture::new();
    let text = config(&[])
        .replace("claims = { sub = \"svc-notes\" }", "claims = { sub = \"svc-notes\", tier = 2, internal = true }");
    let c = fx.load(&text).unwrap();
    let got: BTreeSet<_> = c.grants[0].claims.iter().cloned().map(|(k, v)| (k, v.to_string())).collect();
    let want: BTreeSet<_> = [("sub", "\"svc-notes\""), ("tier", "2"), ("internal", "true")]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    assert_eq!(got, want);
}

#[test]
fn audit_file_sink_path_is_relative_to_the_config_folder() {
    let fx = Fixture::new();
    let c = fx.load(&config(&[("audit", "sink = \"file\""), ("audit", "path = \"logs/audit.jsonl\"")])).unwrap();
    assert_eq!(c.audit.sink, AuditSinkKind::File(fx.dir.path().join("logs/audit.jsonl")));
}
