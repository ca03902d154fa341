//! Path routing: `hsgate::routes::Routes` (`new`, `by_path`) with the
//! built-in `calls.update` route and routes from the input.
//!
//! Input, as text lines: the first is a request target as a caller sends it
//! (looked up as is, and as the path hyper parses from it, which is what the
//! gateway looks up); each further line is a route:
//! `name path operation-or-dash alias...` (whitespace separated).
//!
//! Asserts, against the README's definition: a route answers exactly its
//! `path`, its aliases and, with an `operation`, `/api/{op}`,
//! `/json/reply/{op}` and `/api/json/reply/{op}`; nothing else matches (no
//! normalisation: case, trailing slash, percent-encoding, dot segments,
//! doubled slashes all miss); `text/plain` is accepted on `/api/{op}` only;
//! a path claimed twice is reported, each clash once, in order.

#![no_main]

use hsgate::routes::{PathKind, Route, Routes};
use libfuzzer_sys::fuzz_target;

/// Every path of `routes` with its route index and kind, in claim order.
fn claimed(routes: &[Route]) -> Vec<(String, usize, PathKind)> {
    let mut out = Vec::new();
    for (i, r) in routes.iter().enumerate() {
        out.push((r.path.clone(), i, PathKind::Own));
        out.extend(r.aliases.iter().map(|a| (a.clone(), i, PathKind::Alias)));
        if let Some(op) = &r.operation {
            out.push((format!("/api/{op}"), i, PathKind::ApiOperation));
            out.push((format!("/json/reply/{op}"), i, PathKind::Predefined));
            out.push((format!("/api/json/reply/{op}"), i, PathKind::Predefined));
        }
    }
    out
}

/// Near misses of `path` that must not match unless claimed themselves.
fn variants(path: &str) -> Vec<String> {
    let mut out = vec![
        format!("{path}/"),
        path.to_ascii_uppercase(),
        path.to_ascii_lowercase(),
        path.replacen('/', "//", 1),
        format!("{path}?"),
        format!("{path}/."),
        format!("/x/..{path}"),
        path.trim_end_matches('/').to_owned(),
    ];
    if let (Some(b'/'), Some(c)) = (path.as_bytes().first(), path.as_bytes().get(1).filter(|c| c.is_ascii())) {
        out.push(format!("/%{c:02X}{}", &path[2..]));
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut lines = text.lines();
    let target = lines.next().unwrap_or_default();
    let mut routes = vec![Routes::builtin_route()];
    for line in lines.take(16) {
        let mut words = line.split_whitespace();
        let (Some(name), Some(path)) = (words.next(), words.next()) else { continue };
        let operation = words.next().filter(|op| *op != "-").map(str::to_owned);
        let aliases = words.take(8).map(str::to_owned).collect();
        routes.push(Route { name: name.into(), path: path.into(), operation, aliases, fields: Vec::new() });
    }

    let claims = claimed(&routes);
    let mut first: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut clashes = Vec::new();
    for (path, i, _) in &claims {
        match first.get(path.as_str()) {
            Some(&owner) => clashes.push((path.clone(), routes[owner].name.clone(), routes[*i].name.clone())),
            None => {
                first.insert(path, *i);
            }
        }
    }

    let table = match Routes::new(routes.clone()) {
        Ok(table) => {
            assert!(clashes.is_empty(), "paths claimed twice were accepted: {clashes:?}");
            table
        }
        Err(reported) => {
            let reported: Vec<_> = reported.into_iter().map(|c| (c.path, c.first, c.second)).collect();
            assert_eq!(reported, clashes, "clashes reported");
            return;
        }
    };

    let expect = |path: &str| claims.iter().find(|(p, _, _)| p == path).map(|(_, i, kind)| (*i, *kind));
    let mut probes: Vec<String> = vec![target.to_owned()];
    if let Ok(uri) = target.parse::<hyper::Uri>() {
        probes.push(uri.path().to_owned());
    }
    for (path, _, _) in &claims {
        probes.push(path.clone());
        probes.extend(variants(path));
    }
    for probe in &probes {
        let got = table.by_path(probe);
        match (expect(probe), got) {
            (None, None) => {}
            (Some((i, kind)), Some(m)) => {
                assert_eq!(m.route.name, routes[i].name, "{probe:?} matched the wrong route");
                assert_eq!(m.kind, kind, "{probe:?} matched as the wrong kind");
                assert_eq!(m.kind.accepts_text_plain(), kind == PathKind::ApiOperation);
            }
            (want, got) => panic!("{probe:?}: expected {want:?}, got {:?}", got.map(|m| (&m.route.name, m.kind))),
        }
    }
    for r in &routes {
        assert!(table.by_name(&r.name).is_some());
        let mut extra: Vec<&str> = table.extra_paths(r).collect();
        extra.sort_unstable();
        let mut want: Vec<&str> = claims
            .iter()
            .filter(|(_, i, kind)| routes[*i].name == r.name && *kind != PathKind::Own)
            .map(|(p, _, _)| p.as_str())
            .collect();
        want.sort_unstable();
        want.dedup();
        if routes.iter().filter(|x| x.name == r.name).count() == 1 {
            assert_eq!(extra, want, "extra paths of {}", r.name);
        }
    }
});
