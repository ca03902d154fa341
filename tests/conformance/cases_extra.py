"""hsgate's own conformance cases, run with the shared harness beside the public ones:

    python3 ../shared/conformance/run.py --bin target/release/hsgate \
        --cases ../shared/conformance/cases_public.py --cases tests/conformance/cases_extra.py

They exercise SPEC rows the public sample leaves out, from outside, with tokens
minted by an independent JOSE library. Core stage only (no ops keys, no signals).
"""
import json
import socket
import time

from harness import UPDATE, b64u, case, check, eq, now

BODY = {"Id": "call-1002", "Notes": "extra"}


# -- token rules ------------------------------------------------------------------

def refused_token(t, tok):
    t.expect_refused(t.post(BODY, token=tok), 401, "InvalidToken")


@case("x-token-alg-none")
def _(t):
    refused_token(t, t.craft({"alg": "none", "kid": "rsa1"}, t.claims()))


@case("x-token-crit-header")
def _(t):
    key = t.ctx.keys["rsa1"]
    refused_token(t, t.craft({"alg": "RS256", "kid": "rsa1", "crit": ["exp"], "exp": 1}, t.claims(), "RS256", key.private))


@case("x-token-hs256-signed-with-rsa-public-key")
def _(t):
    from harness import public_pem
    pub = public_pem(t.ctx.keys["rsa1"].private)
    refused_token(t, t.craft({"alg": "HS256", "kid": "rsa1"}, t.claims(), "HS256", pub))
    refused_token(t, t.craft({"alg": "HS256"}, t.claims(), "HS256", pub))


@case("x-token-kid-of-other-key")
def _(t):
    refused_token(t, t.token("ES256", kid="rsa1"))
    refused_token(t, t.token("RS256", kid="nope"))


@case("x-token-no-kid-tries-matching-keys")
def _(t):
    t.expect_relayed(t.post(BODY, token=t.token("ES256", kid=None)), BODY)


@case("x-token-attacker-key-with-our-kid")
def _(t):
    refused_token(t, t.token("RS256", key=t.ctx.attacker_key))
    refused_token(t, t.token("RS256", key=t.ctx.attacker_key, header={"jwk": t.ctx.attacker_key.public_jwk()}))


@case("x-token-key-headers-ignored-when-valid")
def _(t):
    hdr = {"jku": "https://127.0.0.1:1/jwks.json", "x5u": "https://127.0.0.1:1/c.pem"}
    t.expect_relayed(t.post(BODY, token=t.token("ES256", header=hdr)), BODY)


@case("x-token-time-rules")
def _(t):
    n = now()
    refused_token(t, t.token(nbf=n + 300))
    refused_token(t, t.token(iat=n + 300, exp=n + 900))
    refused_token(t, t.token(exp=None))
    refused_token(t, t.token(iat=None))                       # max_token_lifetime needs iat
    refused_token(t, t.token(iat=n, exp=n + 3 * 3600))        # longer than max_token_lifetime = 2h
    t.expect_relayed(t.post(BODY, token=t.token(exp=n - 10)), BODY)   # within leeway 30s


@case("x-token-claim-rules")
def _(t):
    refused_token(t, t.token(iss=["https://idp.test"]))
    refused_token(t, t.token(iss="https://evil.test"))
    refused_token(t, t.token(aud=["billing", "other"]))
    refused_token(t, t.token(sub=None))
    t.expect_relayed(t.post(BODY, token=t.token(aud=["billing", "hsgate"])), BODY)


@case("x-token-16k-accepted-bigger-refused")
def _(t):
    base = t.token(pad="")
    pad = 16384 - len(base)
    tok = t.token(pad="a" * (pad * 3 // 4 - 4))
    while len(tok) < 16384:
        tok = t.token(pad="a" * (len(json.loads(__import__("base64").urlsafe_b64decode(tok.split(".")[1] + "==="))["pad"]) + 1))
    while len(tok) > 16384:
        cur = json.loads(__import__("base64").urlsafe_b64decode(tok.split(".")[1] + "==="))["pad"]
        tok = t.token(pad=cur[:-1])
    check(len(tok) <= 16384 and len(tok) > 16300, f"token length {len(tok)}")
    t.expect_relayed(t.post(BODY, token=tok), BODY)
    t.sim.clear()
    refused_token(t, t.token(pad="a" * 16500))


@case("x-authorization-header-rules")
def _(t):
    tok = t.token()
    r = t.post(BODY, token=None, headers=[("Authorization", f"Bearer {tok}"), ("Authorization", f"Bearer {tok}")])
    t.expect_refused(r, 401, "MissingToken")
    t.expect_refused(t.post(BODY, token=None, headers=[("Authorization", f"Basic {tok}")]), 401, "MissingToken")
    t.expect_refused(t.post(BODY, token=None, headers=[("Authorization", "Bearer ")]), 401, "MissingToken")
    t.expect_relayed(t.post(BODY, token=None, headers=[("Authorization", f"bEaReR {tok}")]), BODY)


# -- request shape ------------------------------------------------------------------

@case("x-path-exact-match")
def _(t):
    for p in ("/api/calls/update/", "/API/calls/update", "/api/calls/./update", "/api/calls/%75pdate"):
        t.expect_refused(t.post(BODY, path=p), 404, "NotFound")


@case("x-query-refused-before-body-checks")
def _(t):
    t.expect_refused(t.post(BODY, query="callback=cb"), 400, "QueryNotAllowed")
    t.expect_refused(t.post("not json", query="Password=x", ctype="text/plain"), 400, "QueryNotAllowed")
    t.expect_refused(t.post(BODY, token="bad.token.here", query="x=1"), 401, "InvalidToken")


@case("x-body-shape")
def _(t):
    for body in ("", "[1]", '"x"', "{", '{"Id":"call-1001","Notes":"x"} {}', b"\xff\xfe{}"):
        t.expect_refused(t.post(body), 400, "InvalidRequest")
    t.expect_refused(t.post('{"Id":"call-1001","id":"call-1002","Notes":""}'), 400, "InvalidRequest", field="id")
    t.expect_refused(t.post({"Id": "call-1001", "Notes": "", "Extra": 1}), 400, "InvalidRequest", field="Extra")
    t.expect_refused(t.post({"Id": "", "Notes": ""}), 400, "InvalidRequest", field="Id")
    t.expect_refused(t.post({"Id": 1001, "Notes": ""}), 400, "InvalidRequest", field="Id")
    t.expect_refused(t.post({"Id": "call-1001", "Notes": 5}), 400, "InvalidRequest", field="Notes")


@case("x-credentials-any-spelling")
def _(t):
    for key in ("password", "PASSWORD", "User_Name", "customer-name", "uSeRnAmE"):
        t.expect_refused(t.post({**BODY, key: "x"}), 400, "CredentialsNotAllowed")
    t.expect_refused(t.post('{"Id":"call-1001","Notes":"","Password":null,"password":null}'), 400, "InvalidRequest")


@case("x-body-too-large", config={"server": {"max_body_bytes": 1024}})
def _(t):
    big = {"Id": "call-1001", "Notes": "x" * 2000}
    t.expect_refused(t.post(big), 413, "PayloadTooLarge")
    data = json.dumps(big).encode()
    t.expect_refused(t.post(None, chunks=[data[i:i + 300] for i in range(0, len(data), 300)]), 413, "PayloadTooLarge")
    t.expect_relayed(t.post({"Id": "call-1001", "Notes": "y" * 900}), {"Id": "call-1001", "Notes": "y" * 900})


@case("x-body-timeout", config={"server": {"request_timeout": "1s"}}, isolated=True)
def _(t):
    tok = t.token()
    head = (f"POST {UPDATE} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\n"
            "Content-Type: application/json\r\nContent-Length: 50\r\nX-Request-Id: slow-body-1\r\n\r\n{\"Id\":")
    out = t.send_raw(head.encode(), read_timeout=5)
    check(out.startswith(b"HTTP/1.1 408"), f"expected 408, got {out[:60]!r}")
    check(b"RequestTimeout" in out, "ErrorCode RequestTimeout")
    t.expect_no_upstream()
    eq([r["status"] for r in t.audit("slow-body-1", want=1)], [408], "audit status")


# -- upstream outcomes ------------------------------------------------------------

@case("x-upstream-faults")
def _(t):
    for call_id, status, code in (("fault-html500", 502, "UpstreamBadResponse"), ("fault-badjson", 502, "UpstreamBadResponse"),
                                  ("fault-reset", 502, "UpstreamUnavailable"), ("fault-slow", 504, "UpstreamTimeout")):
        t.sim.clear()
        r = t.post({"Id": call_id, "Notes": "x"})
        t.expect_error(r, status, code)
        check(len(t.calls()) <= 1, f"{call_id}: request sent more than once")
    t.sim.clear()
    r = t.post({"Id": "fault-500json", "Notes": "x"})
    t.expect_relayed(r, {"Id": "fault-500json", "Notes": "x"})
    eq((r.status, r.error_code), (500, "NullReferenceException"), "relayed 500")


@case("x-upstream-403-is-refused-login")
def _(t):
    t.expect_error(t.post({"Id": "fault-403", "Notes": "x"}), 502, "UpstreamCredentialsRejected")


@case("x-upstream-refusal-as-401", isolated=True)
def _(t):
    t.sim.refusal = (401, "Unauthorized")
    t.expect_error(t.post(BODY, token=t.token(sub="svc-stale")), 502, "UpstreamCredentialsRejected")


@case("x-upstream-untrusted-certificate", config=lambda ctx: {"upstream": {"url": ctx.rogue.url}}, isolated=True)
def _(t):
    t.expect_error(t.post(BODY), 502, "UpstreamUnavailable")
    eq(t.ctx.rogue.requests("/api/"), [], "requests that reached the untrusted upstream")


@case("x-upstream-nothing-listening", config=lambda ctx: {"upstream": {"url": f"https://localhost:{ctx.dead_port}"}}, isolated=True)
def _(t):
    t.expect_error(t.post(BODY), 502, "UpstreamUnavailable")


@case("x-breaker-suspends-after-threshold", isolated=True)
def _(t):
    for _ in range(3):
        t.expect_error(t.post(BODY, token=t.token(sub="svc-stale")), 502, "UpstreamCredentialsRejected")
    eq(len(t.calls()), 3, "refused logins that reached HostedSuite")
    t.expect_error(t.post(BODY, token=t.token(sub="svc-stale")), 502, "UpstreamCredentialsRejected")
    eq(len(t.calls()), 3, "a suspended profile is not sent upstream")
    t.sim.clear()
    t.expect_relayed(t.post(BODY), BODY)      # acme is unaffected


@case("x-echo-escaped-and-as-object", isolated=True)
def _(t):
    t.sim.echo_as_text = False
    t.expect_redacted(t.post({"Id": "fault-echo", "Notes": "x"}), "acme")
    t.sim.clear()
    t.sim.echo_as_text, t.sim.echo_escaped = True, True
    t.expect_redacted(t.post({"Id": "fault-echo", "Notes": "x"}, token=t.token(sub="svc-multi"), profile="globex"), "globex")


# -- audit ------------------------------------------------------------------------

@case("x-audit-unwritable-refuses", config={"audit": {"path": "/dev/full"}}, isolated=True)
def _(t):
    t.expect_refused(t.post(BODY), 503, "AuditUnavailable")


@case("x-audit-include-notes", config={"audit": {"include_notes": True}}, isolated=True)
def _(t):
    r = t.post({"Id": "call-1003", "Notes": "Gate 12"}, rid="notes-on-1")
    eq(r.status, 200, "status")
    eq([x.get("notes") for x in t.audit("notes-on-1", want=2)], ["Gate 12", "Gate 12"], "notes in records")


@case("x-audit-caller-hangs-up")
def _(t):
    body = json.dumps({"Id": "fault-slow", "Notes": "x"}).encode()
    head = (f"POST {UPDATE} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t.token()}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-Request-Id: hangup-1\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", t.gw.port)) as s:
        s.sendall(head + body)
        time.sleep(0.2)
    recs = [x for x in t.audit("hangup-1", want=2, timeout=5) if x["phase"] == "response"]
    eq(len(recs), 1, "response records for a caller that hung up")


@case("x-audit-404-and-405")
def _(t):
    t.post(BODY, path="/nope", rid="nf-1")
    t.post(None, method="GET", ctype=None, rid="mna-1")
    eq([(x["route"], x["status"], x["decision"]) for x in t.audit("nf-1", want=1)], [(None, 404, "deny")], "404 record")
    eq([(x["route"], x["status"]) for x in t.audit("mna-1", want=1)], [("calls.update", 405)], "405 record")


# -- command line -----------------------------------------------------------------

@case("x-check-reports-every-error", config={"upstream": {"tiemout": "5s"}, "server": {"max_body_bytes": "big"}},
      start=False)
def _(t):
    rc, out = t.gw.check_config()
    eq(rc, 2, "exit code")
    check("tiemout" in out and "max_body_bytes" in out, f"both problems named: {out[-400:]!r}")
    check(str(t.gw.config_file) in out, "the file is named")


@case("x-plaintext-upstream-refused", config=lambda ctx: {"upstream": {"url": "http://127.0.0.1:1"}}, start=False)
def _(t):
    rc, out = t.gw.check_config()
    eq(rc, 2, f"exit code ({out[-200:]!r})")
    check("upstream.url" in out, "names upstream.url")


@case("x-serve-config-error-exit-2", config={"grant": [{"name": "g", "claims": {}, "profiles": ["nope"], "routes": ["x"]}]},
      start=False)
def _(t):
    t.gw.start(wait=False)
    eq(t.gw.proc.wait(10), 2, "serve exit code on a bad config")


# -- defects found from outside (issue: leak, silent connections, ServiceStack clients) ---------

@case("x-echo-dotnet-escaped", isolated=True)
def _(t):
    # System.Text.Json writes " as \u0022 and every non-ASCII character as \uXXXX.
    t.sim.echo_as_text, t.sim.echo_dotnet = True, True
    t.expect_redacted(t.post({"Id": "fault-echo", "Notes": "x"}), "acme")
    t.sim.clear()
    t.expect_redacted(t.post({"Id": "fault-echo", "Notes": "x"}, token=t.token(sub="svc-multi"), profile="globex"),
                      "globex")


@case("x-servicestack-predefined-routes")
def _(t):
    for path, ctype in (("/api/UpdateCallRecordRequest", "application/json"),
                        ("/api/UpdateCallRecordRequest", "text/plain;charset=UTF-8"),
                        ("/json/reply/UpdateCallRecordRequest", "application/json"),
                        ("/api/json/reply/UpdateCallRecordRequest", "application/json; charset=utf-8")):
        t.sim.clear()
        r = t.post(BODY, path=path, ctype=ctype)
        t.expect_relayed(r, BODY, path=UPDATE)
    for path in ("/json/reply/UpdateCallRecordRequest", "/api/json/reply/UpdateCallRecordRequest", UPDATE):
        t.sim.clear()
        t.expect_refused(t.post(BODY, path=path, ctype="text/plain"), 415, "UnsupportedMediaType")
    t.sim.clear()
    t.expect_refused(t.post(BODY, path="/api/updatecallrecordrequest"), 404, "NotFound")


@case("x-head-with-many-fields")
def _(t):
    headers = [(f"X-F{i}", "v" * 16) for i in range(300)]
    t.expect_relayed(t.post(BODY, headers=headers), BODY)


@case("x-silent-connection-closed", config={"server": {"header_read_timeout": "1s"}}, isolated=True)
def _(t):
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", t.gw.port), timeout=8) as s:
        try:
            got = s.recv(1024)
        except ConnectionResetError:
            got = b""
    took = time.monotonic() - started
    eq(got, b"", "bytes answered to a silent client")
    check(0.9 <= took < 8, f"closed after {took:.1f}s (header_read_timeout 1s)")
    t.expect_relayed(t.post(BODY), BODY)


@case("x-idle-keep-alive-closed", config={"server": {"idle_timeout": "1s"}}, isolated=True)
def _(t):
    body = json.dumps(BODY).encode()
    head = (f"POST {UPDATE} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t.token()}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", t.gw.port), timeout=8) as s:
        s.sendall(head + body)
        got = b""
        try:
            while chunk := s.recv(65536):
                got += chunk
        except ConnectionResetError:
            pass
    check(got.startswith(b"HTTP/1.1 200"), f"answered before the idle close: {got[:60]!r}")
    t.ctx.seen.append(got)


# -- ops stage: reach and lifecycle -------------------------------------------------------------

import signal as _signal
import ssl as _ssl
import threading as _threading

from harness import wait_until


def _jwks_only(ctx, **extra):
    return {"auth": {"jwks_file": None, "hmac": None, "jwks_url": f"{ctx.sim.url}/jwks.json",
                     "jwks_ca_file": str(ctx.ca_file), **extra}}


@case("x-ops-jwks-url", config=lambda ctx: _jwks_only(ctx, jwks_refresh="1h"), isolated=True, stage="ops")
def _(t):
    t.expect_relayed(t.post(BODY, token=t.token("ES256")), BODY)
    t.sim.clear()
    t.expect_relayed(t.post(BODY, token=t.token("EdDSA")), BODY)
    check(t.sim.jwks_fetches >= 1, "the JWKS was fetched")
    t.sim.clear()
    # HS256 keys are never taken from a JWKS: the hs1 token has no key now.
    t.expect_refused(t.post(BODY, token=t.token("HS256")), 401, "InvalidToken")


@case("x-ops-jwks-down-at-start", config=lambda ctx: _jwks_only(ctx, jwks_refresh="1s"), isolated=True,
      start=False, stage="ops")
def _(t):
    t.sim.jwks = None          # the IdP answers 500
    t.gw.start(wait=False)
    check(wait_until(lambda: _admin_status(t, "/healthz") == 200, 10), "gateway not up")
    eq(_admin_status(t, "/readyz"), 503, "/readyz with no key to verify with")
    t.expect_refused(t.post(BODY), 401, "InvalidToken")
    t.sim.jwks = t.ctx.jwks
    check(wait_until(lambda: _admin_status(t, "/readyz") == 200, 8), "not ready after the IdP came back")
    t.expect_relayed(t.post(BODY), BODY)


def _admin_status(t, path):
    try:
        return t.gw.admin(path).status
    except OSError:
        return None


@case("x-ops-sighup-reload", isolated=True, stage="ops")
def _(t):
    t.expect_refused(t.post(BODY, token=t.token(sub="svc-new")), 403, "Forbidden")
    t.gw.config["grant"].append({"name": "new", "claims": {"sub": "svc-new"}, "profiles": ["acme"],
                                 "routes": ["calls.update"]})
    t.gw.write_config()
    t.gw.reload()
    t.expect_relayed(t.post(BODY, token=t.token(sub="svc-new")), BODY)
    t.sim.clear()
    t.gw.write_config("this is [not toml")
    t.gw.reload()
    t.expect_relayed(t.post(BODY, token=t.token(sub="svc-new")), BODY)   # the old config keeps serving
    eq(_admin_status(t, "/readyz"), 200, "/readyz after a failed reload")


@case("x-ops-rate-limit", config={"grant+": [{"name": "limited", "claims": {"sub": "svc-limited"},
                                              "profiles": ["acme"], "routes": ["calls.update"], "rate_limit": "2/m"}]},
      isolated=True, stage="ops")
def _(t):
    for _ in range(2):
        eq(t.post(BODY, token=t.token(sub="svc-limited")).status, 200, "within the limit")
    t.sim.clear()
    r = t.post(BODY, token=t.token(sub="svc-limited"))
    t.expect_refused(r, 429, "RateLimited")
    check(r.header("Retry-After").isdigit() and int(r.header("Retry-After")) >= 1, f"Retry-After {r.header('Retry-After')!r}")
    t.expect_relayed(t.post(BODY), BODY)   # other grants are not limited


@case("x-ops-route-and-grant-routes",
      config={"route": [{"name": "calls.list", "path": "/api/calls", "operation": "ListCallRecordsRequest",
                         "fields": ["StartDate", "EndDate"]}],
              "grant+": [{"name": "lister", "claims": {"sub": "svc-list"}, "profiles": ["acme"], "routes": ["calls.list"]}]},
      isolated=True, stage="ops")
def _(t):
    sent = {"StartDate": "2026-11-01", "EndDate": {"any": ["json", 1]}}
    r = t.post(sent, token=t.token(sub="svc-list"), path="/api/calls")
    t.expect_relayed(r, sent, path="/api/calls")
    t.sim.clear()
    r = t.post(sent, token=t.token(sub="svc-list"), path="/api/ListCallRecordsRequest", ctype="text/plain")
    t.expect_relayed(r, sent, path="/api/calls")
    t.sim.clear()
    t.expect_refused(t.post(BODY, token=t.token(sub="svc-list")), 403, "Forbidden")       # not granted calls.update
    t.expect_refused(t.post(sent, path="/api/calls"), 403, "Forbidden")                    # svc-notes: not calls.list
    t.expect_refused(t.post({"Page": 1}, token=t.token(sub="svc-list"), path="/api/calls"), 400, "InvalidRequest", "Page")


@case("x-ops-route-path-claimed-twice", config={"route": [{"name": "dup", "path": "/api/UpdateCallRecordRequest",
                                                          "fields": []}]}, start=False, stage="ops")
def _(t):
    rc, out = t.gw.check_config()
    eq(rc, 2, f"exit code ({out[-200:]!r})")
    check("/api/UpdateCallRecordRequest" in out, "names the path")


@case("x-ops-profile-upstream-url",
      config=lambda ctx: {"profile+": [{"name": "cpo", "customer_name": ctx.profiles["cpo"][0],
                                         "user_name": ctx.profiles["cpo"][1],
                                         "password_file": str(ctx.password_files["cpo"]), "upstream_url": ctx.sim2.url}],
                          "grant+": [{"name": "cpo", "claims": {"sub": "svc-cpo"}, "profiles": ["cpo"],
                                      "routes": ["calls.update"]}]},
      isolated=True, stage="ops")
def _(t):
    r = t.post(BODY, token=t.token(sub="svc-cpo"))
    t.expect_relayed(r, BODY, profile="cpo", sim=t.ctx.sim2)
    check(not t.calls(), "nothing reached the main host")
    t.ctx.sim2.clear()
    t.expect_relayed(t.post(BODY), BODY)


@case("x-ops-mtls", config=lambda ctx: {"server": {"tls_cert_file": str(ctx.cert_files[0]),
                                                  "tls_key_file": str(ctx.cert_files[1]),
                                                  "client_ca_file": str(ctx.ca_file)}},
      isolated=True, stage="ops")
def _(t):
    r = t.post(BODY, rid="mtls-1", tls=t.ctx.tls_client("test"))
    t.expect_relayed(r, BODY)
    recs = [x for x in t.audit("mtls-1", want=2) if x["phase"] == "response"]
    check(recs and isinstance(recs[0].get("client_cert"), str) and recs[0]["client_cert"],
          f"client_cert in the audit record: {recs}")
    t.sim.clear()
    for who in (None, "rogue"):
        try:
            r = t.post(BODY, tls=t.ctx.tls_client(who))
            failed = r.status != 200
        except (OSError, _ssl.SSLError):
            failed = True
        check(failed, f"a client with {who or 'no'} certificate was served")
    t.expect_no_upstream()
    t.expect_refused(t.post(BODY, token=None, tls=t.ctx.tls_client("test")), 401, "MissingToken")


@case("x-ops-sigterm-drains-in-flight", config={"server": {"shutdown_grace": "10s"}}, isolated=True, stage="ops")
def _(t):
    t.sim.slow_seconds = 0.8      # under the base config's upstream.timeout (1s)
    out = {}
    worker = _threading.Thread(target=lambda: out.update(r=t.post({"Id": "fault-slow", "Notes": "x"}, rid="drain-1")))
    worker.start()
    check(wait_until(lambda: any(x["phase"] == "request" for x in t.audit("drain-1")), 5), "request not forwarded")
    t.gw.signal(_signal.SIGTERM)
    check(wait_until(lambda: _admin_status(t, "/readyz") in (503, None), 5), "/readyz did not turn 503")
    worker.join(15)
    eq(out.get("r") and out["r"].status, 200, "the in-flight request finished")
    eq(t.gw.proc.wait(15), 0, "exit code after the drain")
    eq([x["status"] for x in t.audit("drain-1", want=2) if x["phase"] == "response"], [200], "response record")
