use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::relay::Summary;

fn record() -> AuditRecord {
    AuditRecord {
        time: "2026-12-01T12:00:00.123Z".into(),
        kind: "hsgate.audit",
        phase: "response",
        request_id: "0123456789abcdef0123456789abcdef".into(),
        client_addr: "127.0.0.1:4242".into(),
        method: "POST".into(),
        path: "/api/calls/update".into(),
        route: Some("calls.update".into()),
        subject: Some("svc-notes".into()),
        issuer: Some("https://idp.example".into()),
        token_id: None,
        grant: Some("notes".into()),
        profile: Some("acme".into()),
        customer_name: Some("Acme Answering".into()),
        user_name: Some("api-gateway".into()),
        call_id: Some("call-1001".into()),
        notes_length: Some(31),
        redacted: Some(false),
        notes_hmac: None,
        notes: None,
        decision: "allow",
        error_code: None,
        status: Some(200),
        upstream_status: Some(200),
        duration_ms: Some(1.25),
        upstream_ms: Some(0.5),
        result: Some(Summary([Some(json!("call-1001")), Some(json!("c")), None, Some(json!("In")), Some(json!(true))])),
        client_cert: None,
        trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
    }
}

/// The reference: serde's derived serialization of the same record.
fn by_serde(record: &AuditRecord) -> Vec<u8> {
    let mut line = serde_json::to_vec(record).unwrap();
    line.push(b'\n');
    line
}

fn written(record: &AuditRecord) -> Vec<u8> {
    let mut out = Vec::new();
    write(record, &mut out);
    out
}

#[test]
fn a_typical_record_is_what_serde_writes() {
    let r = record();
    assert_eq!(String::from_utf8(written(&r)).unwrap(), String::from_utf8(by_serde(&r)).unwrap());
}

#[test]
fn nulls_notes_and_odd_numbers_are_what_serde_writes() {
    let mut r = record();
    r.route = None;
    r.status = None;
    r.redacted = None;
    r.result = None;
    r.notes = Some("line one\nline \"two\"\t\u{7f}\u{1}".into());
    for x in [f64::NAN, f64::INFINITY, -0.0, 1e-7, 123456789.125, 0.1 + 0.2] {
        r.duration_ms = Some(x);
        assert_eq!(written(&r), by_serde(&r), "{x}");
    }
}

proptest! {
    #[test]
    fn any_strings_are_written_as_serde_writes_them(
        texts in proptest::collection::vec(any::<String>(), 6),
        status in proptest::option::of(any::<u16>()),
        length in proptest::option::of(any::<usize>()),
        ms in proptest::option::of(any::<f64>()),
    ) {
        let mut r = record();
        r.path = texts[0].clone();
        r.subject = Some(texts[1].clone());
        r.call_id = Some(texts[2].clone());
        r.error_code = Some(texts[3].clone());
        r.notes = Some(texts[4].clone());
        r.client_cert = Some(texts[5].clone());
        r.status = status;
        r.notes_length = length;
        r.upstream_ms = ms;
        prop_assert_eq!(written(&r), by_serde(&r));
    }
}
