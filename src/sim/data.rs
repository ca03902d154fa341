//! The simulator's call records (HostedSuite `CallRecordInfo`), five made-up calls.

use serde::{Serialize, Serializer};

/// One step of a call (`CallRecordInteraction`).
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Interaction {
    pub start_time: String,
    #[serde(rename = "Type")]
    pub kind: String,
    pub description: String,
}

/// HostedSuite's `CallRecordInfo`, serialized compactly with null fields left out.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
#[serde(rename_all = "PascalCase")]
pub struct CallRecord {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub center_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_to_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_to_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "num")]
    pub duration_in_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "num")]
    pub ring_time_in_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "num")]
    pub hold_time_in_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "num")]
    pub talk_time_in_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "num")]
    pub transfer_time_in_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "num")]
    pub work_time_in_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_count: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interactions: Option<Vec<Interaction>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screen_pop: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_form_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flagged: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flag_notes: Option<String>,
    #[serde(rename = "Type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// Write whole numbers the way .NET does (`125`, not `125.0`).
fn num<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => s.serialize_i64(*x as i64),
        Some(x) => s.serialize_f64(*x),
        None => s.serialize_none(),
    }
}

fn some(s: &str) -> Option<String> {
    Some(s.to_owned())
}

fn step(start_time: &str, kind: &str, description: &str) -> Interaction {
    Interaction { start_time: start_time.to_owned(), kind: kind.to_owned(), description: description.to_owned() }
}

/// Timings: duration, ring, hold, talk, transfer, work (seconds) and hold count.
type Timings = (f64, f64, f64, f64, f64, f64, i32);

#[allow(clippy::too_many_arguments)]
fn record(
    id: &str,
    client: (&str, &str),
    start: &str,
    caller: (&str, &str),
    t: Timings,
    answered_by: &str,
    notes: Option<&str>,
    interactions: Vec<Interaction>,
) -> CallRecord {
    CallRecord {
        id: id.to_owned(),
        client_id: some(client.0),
        client_name: some(client.1),
        center_id: some("ctr-acme-01"),
        start_time: some(start),
        caller_name: some(caller.0),
        caller_number: some(caller.1),
        notes: notes.map(str::to_owned),
        duration_in_seconds: Some(t.0),
        ring_time_in_seconds: Some(t.1),
        hold_time_in_seconds: Some(t.2),
        talk_time_in_seconds: Some(t.3),
        transfer_time_in_seconds: Some(t.4),
        work_time_in_seconds: Some(t.5),
        hold_count: Some(t.6),
        interactions: Some(interactions),
        answered_by: some(answered_by),
        server: some("HS-WEB02"),
        completed_form_ids: Some(Vec::new()),
        flagged: Some(false),
        kind: some("Inbound"),
        ..CallRecord::default()
    }
}

/// The five initial records, `call-1001` .. `call-1005`.
pub fn initial_records() -> Vec<CallRecord> {
    let dental = ("cl-2001", "Bright Smile Dental");
    let plumbing = ("cl-2002", "Rapid Rooter Plumbing");
    let vet = ("cl-2003", "Maple Street Veterinary Clinic");

    let mut r1 = record(
        "call-1001",
        dental,
        "2024-05-06T09:14:05.0000000-05:00",
        ("Dana Whitfield", "+1 555 201 4410"),
        (184.0, 6.5, 0.0, 142.0, 0.0, 35.5, 0),
        "agent.kim",
        Some("Wants to move cleaning to Thursday afternoon."),
        vec![
            step("2024-05-06T09:14:05-05:00", "Ring", "Ringing agent.kim"),
            step("2024-05-06T09:14:11-05:00", "Answer", "Answered by agent.kim"),
            step("2024-05-06T09:16:33-05:00", "Hangup", "Caller hung up"),
        ],
    );
    r1.screen_pop = some("https://portal.example/clients/cl-2001/scripts/appointments");
    r1.completed_form_ids = Some(vec!["form-appt-7".to_owned()]);

    let mut r2 = record(
        "call-1002",
        plumbing,
        "2024-05-06T22:47:51.0000000-05:00",
        ("José Müller", "+1 555 388 0192"),
        (421.0, 12.0, 64.0, 290.0, 18.0, 37.0, 1),
        "agent.osei",
        Some("Burst pipe under kitchen sink; on-call tech paged."),
        vec![
            step("2024-05-06T22:47:51-05:00", "Ring", "Ringing agent.osei"),
            step("2024-05-06T22:48:03-05:00", "Answer", "Answered by agent.osei"),
            step("2024-05-06T22:50:10-05:00", "Hold", "Held 64 s"),
            step("2024-05-06T22:52:20-05:00", "Transfer", "Transferred to on-call tech"),
        ],
    );
    r2.transfer_to_name = some("Ray Kowalski (on-call)");
    r2.transfer_to_number = some("+1 555 388 7700");
    r2.flagged = Some(true);
    r2.flag_notes = some("Emergency dispatch – confirm tech arrival with caller.");
    r2.completed_form_ids = Some(vec!["form-emerg-2".to_owned(), "form-dispatch-1".to_owned()]);

    let mut r3 = record(
        "call-1003",
        vet,
        "2024-05-07T08:02:40.0000000-05:00",
        ("Priya Raman", "+1 555 610 2234"),
        (97.0, 3.0, 0.0, 80.0, 0.0, 14.0, 0),
        "agent.kim",
        None,
        vec![
            step("2024-05-07T08:02:40-05:00", "Ring", "Ringing agent.kim"),
            step("2024-05-07T08:02:43-05:00", "Answer", "Answered by agent.kim"),
        ],
    );
    r3.screen_pop = some("https://portal.example/clients/cl-2003/scripts/intake");

    let r4 = record(
        "call-1004",
        dental,
        "2024-05-07T11:30:12.0000000-05:00",
        ("Unknown Caller", "+1 555 000 0000"),
        (12.5, 12.5, 0.0, 0.0, 0.0, 0.0, 0),
        "voicemail",
        Some(""),
        vec![step("2024-05-07T11:30:12-05:00", "Abandon", "Caller abandoned while ringing")],
    );

    let mut r5 = record(
        "call-1005",
        vet,
        "2024-05-07T19:05:58.0000000-05:00",
        ("Tom O'Brien", "+1 555 743 9981"),
        (268.0, 8.0, 30.0, 205.0, 0.0, 25.0, 2),
        "agent.osei",
        Some("Dog ate chocolate; advised to come in now."),
        vec![
            step("2024-05-07T19:05:58-05:00", "Ring", "Ringing agent.osei"),
            step("2024-05-07T19:06:06-05:00", "Answer", "Answered by agent.osei"),
            step("2024-05-07T19:07:40-05:00", "Hold", "Held 12 s"),
            step("2024-05-07T19:08:55-05:00", "Hold", "Held 18 s"),
        ],
    );
    r5.kind = some("AfterHours");
    r5.completed_form_ids = Some(vec!["form-triage-3".to_owned()]);

    vec![r1, r2, r3, r4, r5]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn five_records_with_required_variety() {
        let records = initial_records();
        let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["call-1001", "call-1002", "call-1003", "call-1004", "call-1005"]);
        assert!(records.iter().any(|r| r.flagged == Some(true)));
        assert!(records.iter().any(|r| r.caller_name.as_deref().is_some_and(|n| !n.is_ascii())));
    }

    #[test]
    fn serializes_compactly_in_field_order() {
        let records = initial_records();
        let json = serde_json::to_string(&records[2]).unwrap();
        assert!(json.starts_with(r#"{"Id":"call-1003","ClientId":"cl-2003","ClientName":"#));
        assert!(!json.contains("Notes"), "null Notes must be omitted: {json}");
        assert!(!json.contains("null"));
        assert!(json.contains(r#""DurationInSeconds":97,"#));
        let json4 = serde_json::to_string(&records[3]).unwrap();
        assert!(json4.contains(r#""DurationInSeconds":12.5,"#));
        assert!(json4.contains(r#""Notes":"""#));
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys.last().unwrap().as_str(), "Type");
        let i = &v["Interactions"][0];
        assert_eq!(i["Type"], "Ring");
    }
}
