//! How a config error reads.

use super::*;

#[test]
fn config_error_display_names_the_file_and_each_key() {
    let fx = Fixture::new();
    let text =
        config(&[("upstream", "bogus = 1"), ("server", "max_body_bytes = \"x\""), ("audit", "sink = \"syslog\"")]);
    let e = fx.load(&text).unwrap_err();
    let shown = e.to_string();
    assert!(shown.contains(&fx.file().display().to_string()), "{shown}");
    assert!(e.problems.len() >= 3, "{:?}", e.problems);
    for p in &e.problems {
        assert!(shown.contains(&format!("{}: {}", p.key, p.message)), "{shown}");
    }
    for key in ["upstream.bogus", "server.max_body_bytes", "audit.sink"] {
        assert!(shown.contains(key), "{key} in {shown}");
    }
}

#[test]
fn toml_syntax_error_names_the_line() {
    let fx = Fixture::new();
    let problems = fx.errors("[server]\nlisten = \"0.0.0.0:8080\"\nmax_body_bytes = = 3\n");
    assert_eq!(keys(&problems), ["(syntax)"]);
    assert!(problems[0].message.contains("line 3"), "{:?}", problems[0]);
}
