#!/usr/bin/env node
// Real-client test: the npm package @servicestack/client (pinned in
// package.json) drives the hsgate release binary exactly as a ServiceStack
// user would, changing only the base URL and the bearer token.
//
//   node tests/clients/servicestack-js/run.mjs --bin target/release/hsgate
//
// It starts `hsgate simulate` (the built-in HostedSuite simulator), mints
// tokens with `hsgate token`, writes a config, runs `hsgate check` and then
// `hsgate serve`, and calls the gateway with JsonServiceClient and
// JsonApiClient using generated-style DTOs. One line per check
// (`ok NAME` / `FAIL NAME: WHY`), then `N passed, M failed`; exit 0 only if
// nothing failed. Every wait is bounded; children are killed on any exit.
//
// Options: --bin PATH (default target/release/hsgate under the repo root),
//          --keep (keep the temp dir and print where it is),
//          --verbose (also print each request's body and the answer's body).

import { spawn, execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { JsonServiceClient, JsonApiClient } from '@servicestack/client';

const OVERALL_MS = 60_000;
const started = Date.now();
const remaining = () => Math.max(0, OVERALL_MS - (Date.now() - started));

const scriptDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(scriptDir, '..', '..', '..');

// ---------------------------------------------------------------- arguments

function parseArgs(argv) {
  const out = { bin: null, keep: false, verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--bin') out.bin = argv[++i];
    else if (a.startsWith('--bin=')) out.bin = a.slice('--bin='.length);
    else if (a === '--keep') out.keep = true;
    else if (a === '--verbose') out.verbose = true;
    else {
      console.error(`usage: node run.mjs [--bin PATH] [--keep] [--verbose] (unknown argument ${JSON.stringify(a)})`);
      process.exit(2);
    }
  }
  return out;
}

function resolveBin(given) {
  const candidates = given
    ? path.isAbsolute(given) ? [given] : [path.resolve(process.cwd(), given), path.resolve(repoRoot, given)]
    : [path.join(repoRoot, 'target', 'release', 'hsgate')];
  for (const c of candidates) {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      return c;
    } catch { /* try the next */ }
  }
  throw new Error(`hsgate binary not found or not executable: ${candidates.join(', ')}`);
}

// ------------------------------------------------------------------ results

let passed = 0;
let failed = 0;
function ok(name) { passed++; console.log(`ok ${name}`); }
function fail(name, why) { failed++; console.log(`FAIL ${name}: ${oneLine(why)}`); }
function oneLine(s) { return String(s).replace(/\s+/g, ' ').slice(0, 600); }
function show(v) {
  try { return JSON.stringify(v); } catch { return String(v); }
}

/** Runs `fn`; a throw or a returned string is a failure, anything else passes. */
async function check(name, fn) {
  try {
    const why = await withTimeout(Promise.resolve().then(fn), Math.min(15_000, remaining()), name);
    if (typeof why === 'string') fail(name, why);
    else ok(name);
    return why === undefined || why === true;
  } catch (e) {
    fail(name, e && e.stack ? e.message : show(e));
    return false;
  }
}

function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- processes

const children = new Set();

function startChild(name, bin, args, env) {
  const child = spawn(bin, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const rec = { name, child, stdout: '', stderr: '', exited: null };
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (d) => { rec.stdout += d; });
  child.stderr.on('data', (d) => { rec.stderr += d; });
  rec.exit = new Promise((resolve) => {
    child.on('exit', (code, signal) => { rec.exited = { code, signal }; children.delete(rec); resolve(rec.exited); });
    child.on('error', (err) => { rec.exited = { code: null, signal: null, error: err }; children.delete(rec); resolve(rec.exited); });
  });
  children.add(rec);
  return rec;
}

function killAll(signal = 'SIGKILL') {
  for (const rec of children) {
    try { rec.child.kill(signal); } catch { /* already gone */ }
  }
}

/** Asks a child to stop with `signal`, then SIGKILL after `ms`. */
async function stopChild(rec, signal, ms) {
  if (rec.exited) return rec.exited;
  rec.child.kill(signal);
  try {
    return await withTimeout(rec.exit, ms, `${rec.name} exit`);
  } catch {
    rec.child.kill('SIGKILL');
    await withTimeout(rec.exit, 5_000, `${rec.name} exit after SIGKILL`).catch(() => {});
    return { code: null, signal: 'SIGKILL', forced: true };
  }
}

function run(bin, args, env = {}, ms = 10_000) {
  return new Promise((resolve) => {
    execFile(bin, args, { env: { ...process.env, ...env }, timeout: Math.min(ms, remaining()), encoding: 'utf8' },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, err, stdout, stderr }));
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitFor(what, ms, intervalMs, probe) {
  const deadline = Date.now() + Math.min(ms, remaining());
  let last = 'never probed';
  for (let i = 0; Date.now() < deadline && i < Math.ceil(ms / intervalMs) + 1; i++) {
    const r = await probe();
    if (r === true) return;
    last = r;
    await sleep(intervalMs);
  }
  throw new Error(`${what} not ready within ${ms} ms (last: ${last})`);
}

// --------------------------------------------- generated-style DTOs (TS gen)
// Shaped like the output of ServiceStack's TypeScript generator (compiled to
// ES2022 classes): the base class keeps the credential fields HostedSuite
// expects, declared but never set by the caller (the gateway injects them).

class RequestBase {
  CustomerName;
  UserName;
  Password;
  constructor(init) { Object.assign(this, init); }
}

class CallRecordInteraction {
  StartTime;
  Type;
  Description;
  constructor(init) { Object.assign(this, init); }
}

class CallRecordInfo {
  Id;
  ClientId;
  ClientName;
  CenterId;
  StartTime;
  CallerName;
  CallerNumber;
  TransferToName;
  TransferToNumber;
  Notes;
  DurationInSeconds;
  RingTimeInSeconds;
  HoldTimeInSeconds;
  TalkTimeInSeconds;
  TransferTimeInSeconds;
  WorkTimeInSeconds;
  HoldCount;
  Interactions; // CallRecordInteraction[]
  AnsweredBy;
  Server;
  ScreenPop;
  CompletedFormIds;
  Flagged;
  FlagNotes;
  Type;
  constructor(init) { Object.assign(this, init); }
}

// @Route("/calls/update", "POST")
class UpdateCallRecordRequest extends RequestBase {
  Id;
  Notes;
  constructor(init) { super(init); Object.assign(this, init); }
  getTypeName() { return 'UpdateCallRecordRequest'; }
  getMethod() { return 'POST'; }
  createResponse() { return new CallRecordInfo(); }
}

void CallRecordInteraction;

// ------------------------------------------------- what the client sent/got

const exchanges = []; // every request the clients made, with the answer
const clientOutputs = []; // everything a client call returned or threw

const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init = {}) => {
  const url = typeof input === 'string' ? input : input.url;
  // The headers as fetch will send them (a string body with no Content-Type
  // gets fetch's default `text/plain;charset=UTF-8`).
  const { headers } = new Request(url, { method: init.method, headers: init.headers, body: init.body });
  const entry = {
    method: init.method ?? 'GET',
    url,
    path: new URL(url).pathname + new URL(url).search,
    contentType: headers.get('content-type'),
    authorization: headers.has('authorization') ? headers.get('authorization').split(' ')[0] : null,
    body: typeof init.body === 'string' ? init.body : init.body == null ? null : '(non-string body)',
  };
  exchanges.push(entry);
  const res = await realFetch(input, init);
  entry.status = res.status;
  entry.responseContentType = res.headers.get('content-type');
  entry.responseBody = await res.clone().text();
  return res;
};

function lastExchange() { return exchanges[exchanges.length - 1]; }

function expectExchange(e, { method = 'POST', path: p, contentType }) {
  if (!e) return 'the client made no request';
  if (e.method !== method || e.path !== p) return `client sent ${e.method} ${e.path}, expected ${method} ${p}`;
  if (contentType !== undefined && e.contentType !== contentType) {
    return `client sent Content-Type ${show(e.contentType)}, expected ${show(contentType)}`;
  }
  if (e.authorization !== 'Bearer') return `client sent Authorization scheme ${show(e.authorization)}`;
  return undefined;
}

function describe(e) {
  return e ? `${e.method} ${e.path} [${e.contentType}] -> ${e.status} ${e.responseBody}` : '(no request)';
}

/** A successful CallRecordInfo for `id` with `notes`. */
function expectRecord(res, id, notes) {
  if (!res || typeof res !== 'object') return `response is ${show(res)}`;
  if (res.Id !== id) return `Id ${show(res.Id)}, expected ${show(id)}; got ${show(res)}`;
  if (res.Notes !== notes) return `Notes ${show(res.Notes)}, expected ${show(notes)}`;
  for (const k of ['CustomerName', 'UserName', 'Password']) {
    if (k in res) return `response carries ${k}`;
  }
  return undefined;
}

/** The client's ResponseStatus (camelCased by the client) carries `code`. */
function expectStatus(status, code, fieldName) {
  if (!status) return 'no responseStatus';
  if (status.errorCode !== code) return `errorCode ${show(status.errorCode)}, expected ${code}; status ${show(status)}`;
  if (fieldName) {
    const errs = status.errors ?? [];
    if (!errs.some((x) => x && x.fieldName === fieldName)) {
      return `no errors[] entry with fieldName ${fieldName}: ${show(errs)}`;
    }
  }
  return undefined;
}

/** `client.post(dto)` must throw; returns the thrown value's responseStatus. */
async function postThrows(client, dto) {
  try {
    const r = await client.post(dto);
    clientOutputs.push(r);
    return { threw: false, value: r };
  } catch (e) {
    clientOutputs.push(e);
    return { threw: true, value: e, status: e?.responseStatus };
  }
}

// --------------------------------------------------------------------- main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const bin = resolveBin(opts.bin);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsgate-ssjs-'));
  const cleanupDir = () => {
    if (opts.keep) console.log(`# kept ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await scenario(bin, dir, opts);
  } finally {
    killAll('SIGKILL');
    cleanupDir();
  }
}

async function scenario(bin, dir, opts) {
  // A password with a `"`, a backslash and non-ASCII, so JSON escaping matters.
  const password = `sim-${crypto.randomBytes(6).toString('hex')}"✓\\ü-${crypto.randomBytes(4).toString('hex')}`;
  const passwordFile = path.join(dir, 'acme.password');
  fs.writeFileSync(passwordFile, password + '\n', { mode: 0o600 });

  // 1. The HostedSuite simulator.
  const caFile = path.join(dir, 'ca.pem');
  const sim = startChild('simulator', bin, ['simulate', '--listen', '127.0.0.1:0', '--ca-out', caFile],
    { HSGATE_SIM_PASSWORD: password });
  let upstreamUrl = null;
  const simOk = await check('simulator starts and prints its URL', async () => {
    await waitFor('simulator', 12_000, 50, async () => {
      if (sim.exited) throw new Error(`simulator exited ${show(sim.exited)}: ${sim.stderr}`);
      const m = /listening on (https:\/\/[^\s:/]+):(\d+)/.exec(sim.stderr);
      if (!m || !fs.existsSync(caFile)) return 'no URL on stderr yet';
      // The URL names localhost; the simulator listens on 127.0.0.1 only, and
      // its certificate names both, so use the address it is really on.
      upstreamUrl = `https://127.0.0.1:${m[2]}`;
      return true;
    });
    if (!fs.readFileSync(caFile, 'utf8').includes('BEGIN CERTIFICATE')) return 'CA file has no certificate';
  });
  if (!simOk) return;

  // 2. Signing keys and tokens.
  const kid = 'ssjs-ed25519';
  const iss = 'https://idp.servicestack-js.test';
  const aud = 'hsgate';
  const pair = () => crypto.generateKeyPairSync('ed25519', {
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const good = pair();
  const other = pair();
  const pubFile = path.join(dir, 'idp.pub.pem');
  const keyFile = path.join(dir, 'idp.key.pem');
  const otherKeyFile = path.join(dir, 'other.key.pem');
  fs.writeFileSync(pubFile, good.publicKey);
  fs.writeFileSync(keyFile, good.privateKey, { mode: 0o600 });
  fs.writeFileSync(otherKeyFile, other.privateKey, { mode: 0o600 });

  const mint = async (key, sub = 'svc-notes') => {
    const r = await run(bin, ['token', '--key', key, '--alg', 'EdDSA', '--kid', kid, '--iss', iss, '--aud', aud,
      '--sub', sub, '--ttl', '10m']);
    if (r.code !== 0) throw new Error(`hsgate token exited ${r.code}: ${r.stderr}`);
    const t = r.stdout.trim();
    if (t.split('.').length !== 3) throw new Error(`hsgate token printed ${show(r.stdout)}`);
    return t;
  };
  let token = null;
  let wrongSigToken = null;
  const tokOk = await check('hsgate token mints EdDSA tokens', async () => {
    token = await mint(keyFile);
    wrongSigToken = await mint(otherKeyFile); // same kid, signed by another key
  });
  if (!tokOk) return;

  // 3. Gateway config, check, serve.
  const [gwPort, adminPort] = [await freePort(), await freePort()];
  const auditFile = path.join(dir, 'audit.jsonl');
  const configFile = path.join(dir, 'hsgate.toml');
  const q = (s) => JSON.stringify(s); // a JSON string is a valid TOML basic string here
  fs.writeFileSync(configFile, `# written by tests/clients/servicestack-js/run.mjs
[server]
listen = ${q(`127.0.0.1:${gwPort}`)}

[admin]
listen = ${q(`127.0.0.1:${adminPort}`)}

[upstream]
url = ${q(upstreamUrl)}
ca_file = ${q(caFile)}

[auth]
issuers = [${q(iss)}]
audiences = [${q(aud)}]
algorithms = ["EdDSA"]

[[auth.pem]]
kid = ${q(kid)}
alg = "EdDSA"
file = ${q(pubFile)}

[audit]
sink = "file"
path = ${q(auditFile)}

[[profile]]
name = "acme"
customer_name = "Acme Answering"
user_name = "api-gateway"
password_file = ${q(passwordFile)}

[[grant]]
name = "notes-service"
claims = { sub = "svc-notes" }
profiles = ["acme"]
routes = ["calls.update"]
`);

  let checkOutput = '';
  const cfgOk = await check('hsgate check --config exits 0', async () => {
    const r = await run(bin, ['check', '--config', configFile]);
    checkOutput = r.stdout + r.stderr;
    if (r.code !== 0) return `exit ${r.code}: ${checkOutput}`;
  });
  if (!cfgOk) return;

  const gw = startChild('gateway', bin, ['serve', '--config', configFile], {});
  const readyOk = await check('gateway /readyz answers 200', async () => {
    await waitFor('gateway', 12_000, 100, async () => {
      if (gw.exited) throw new Error(`gateway exited ${show(gw.exited)}: ${gw.stderr}`);
      try {
        const r = await realFetch(`http://127.0.0.1:${adminPort}/readyz`, { signal: AbortSignal.timeout(1_000) });
        await r.arrayBuffer();
        return r.status === 200 ? true : `status ${r.status}`;
      } catch (e) {
        return e.message;
      }
    });
  });
  if (!readyOk) return;

  // 4./5. Drive the gateway. Default client settings; only the base URL and
  // the bearer token are set.
  const base = `http://127.0.0.1:${gwPort}`;
  const serviceClient = () => {
    const c = new JsonServiceClient(base);
    c.bearerToken = token;
    return c;
  };
  const stamp = crypto.randomBytes(3).toString('hex');
  const notesFor = (what) => `${what} ${stamp}: called back, moved to Tue 10:30 ✓`;

  await check('JsonServiceClient.post(dto) -> CallRecordInfo call-1001', async () => {
    const notes = notesFor('post');
    const res = await serviceClient().post(new UpdateCallRecordRequest({ Id: 'call-1001', Notes: notes }));
    clientOutputs.push(res);
    return expectExchange(lastExchange(), { path: '/api/UpdateCallRecordRequest', contentType: 'application/json' })
      ?? expectRecord(res, 'call-1001', notes);
  });

  await check('generated DTO sends no credential fields', async () => {
    const body = JSON.parse(lastExchange()?.body ?? 'null');
    const keys = Object.keys(body ?? {});
    if (keys.join(',') !== 'Id,Notes') return `client sent body keys ${show(keys)}`;
  });

  if (typeof JsonServiceClient.prototype.send === 'function') {
    await check('JsonServiceClient.send(dto) -> CallRecordInfo call-1002', async () => {
      const notes = notesFor('send');
      const res = await serviceClient().send(new UpdateCallRecordRequest({ Id: 'call-1002', Notes: notes }));
      clientOutputs.push(res);
      return expectExchange(lastExchange(), { path: '/api/UpdateCallRecordRequest', contentType: 'application/json' })
        ?? expectRecord(res, 'call-1002', notes);
    });
  } else {
    fail('JsonServiceClient.send(dto)', 'this @servicestack/client has no send()');
  }

  await check('JsonServiceClient.api(dto) -> ApiResult with call-1003', async () => {
    const notes = notesFor('api');
    const r = await serviceClient().api(new UpdateCallRecordRequest({ Id: 'call-1003', Notes: notes }));
    clientOutputs.push(r);
    if (!r.succeeded) return `ApiResult failed: ${show(r.error)}; ${describe(lastExchange())}`;
    return expectExchange(lastExchange(), { path: '/api/UpdateCallRecordRequest', contentType: 'application/json' })
      ?? expectRecord(r.response, 'call-1003', notes);
  });

  await check('JsonApiClient.create(base).api(dto) (text/plain body) -> call-1004', async () => {
    const c = JsonApiClient.create(base);
    c.bearerToken = token;
    const notes = notesFor('JsonApiClient');
    const r = await c.api(new UpdateCallRecordRequest({ Id: 'call-1004', Notes: notes }));
    clientOutputs.push(r);
    if (!r.succeeded) return `ApiResult failed: ${show(r.error)}; ${describe(lastExchange())}`;
    return expectExchange(lastExchange(), { path: '/api/UpdateCallRecordRequest', contentType: 'text/plain;charset=UTF-8' })
      ?? expectRecord(r.response, 'call-1004', notes);
  });

  await check('JsonServiceClient basePath=null posts /json/reply/UpdateCallRecordRequest -> call-1005', async () => {
    const c = serviceClient();
    c.basePath = null; // the pre-/api style: {base}/json/reply/{Operation}
    const notes = notesFor('json/reply');
    const res = await c.post(new UpdateCallRecordRequest({ Id: 'call-1005', Notes: notes }));
    clientOutputs.push(res);
    return expectExchange(lastExchange(), { path: '/json/reply/UpdateCallRecordRequest', contentType: 'application/json' })
      ?? expectRecord(res, 'call-1005', notes);
  });

  await check('Notes of call-1001 persist (second update returns them)', async () => {
    const res = await serviceClient().post(new UpdateCallRecordRequest({ Id: 'call-1001', Notes: notesFor('post') }));
    clientOutputs.push(res);
    return expectRecord(res, 'call-1001', notesFor('post'));
  });

  // Failures as the client's ResponseStatus.
  const dto = (extra = {}) => new UpdateCallRecordRequest({ Id: 'call-1002', Notes: notesFor('refused'), ...extra });

  await check('wrong-signature token: api() error.errorCode InvalidToken', async () => {
    const c = serviceClient();
    c.bearerToken = wrongSigToken;
    const r = await c.api(dto());
    clientOutputs.push(r);
    if (r.succeeded) return `succeeded: ${show(r.response)}`;
    if (lastExchange()?.status !== 401) return `status ${lastExchange()?.status}: ${describe(lastExchange())}`;
    return expectStatus(r.error, 'InvalidToken');
  });

  await check('garbage token: post() throws responseStatus.errorCode InvalidToken', async () => {
    const c = serviceClient();
    c.bearerToken = 'not.a-real.token';
    const r = await postThrows(c, dto());
    if (!r.threw) return `did not throw: ${show(r.value)}`;
    if (lastExchange()?.status !== 401) return `status ${lastExchange()?.status}: ${describe(lastExchange())}`;
    return expectStatus(r.status, 'InvalidToken');
  });

  await check('DTO with Password: api() error CredentialsNotAllowed, errors[] Password', async () => {
    const r = await serviceClient().api(dto({ Password: 'caller-supplied' }));
    clientOutputs.push(r);
    if (r.succeeded) return `succeeded: ${show(r.response)}`;
    if (lastExchange()?.status !== 400) return `status ${lastExchange()?.status}: ${describe(lastExchange())}`;
    return expectStatus(r.error, 'CredentialsNotAllowed', 'Password');
  });

  await check('DTO with Password: post() throws CredentialsNotAllowed, errors[] Password', async () => {
    const r = await postThrows(serviceClient(), dto({ Password: 'caller-supplied' }));
    if (!r.threw) return `did not throw: ${show(r.value)}`;
    return expectStatus(r.status, 'CredentialsNotAllowed', 'Password');
  });

  await check('DTO with unknown field Foo: api() error InvalidRequest, errors[] Foo', async () => {
    const r = await serviceClient().api(dto({ Foo: 'x' }));
    clientOutputs.push(r);
    if (r.succeeded) return `succeeded: ${show(r.response)}`;
    if (lastExchange()?.status !== 400) return `status ${lastExchange()?.status}: ${describe(lastExchange())}`;
    return expectStatus(r.error, 'InvalidRequest', 'Foo');
  });

  await check('DTO with unknown field Foo: post() throws InvalidRequest, errors[] Foo', async () => {
    const r = await postThrows(serviceClient(), dto({ Foo: 'x' }));
    if (!r.threw) return `did not throw: ${show(r.value)}`;
    return expectStatus(r.status, 'InvalidRequest', 'Foo');
  });

  await check('JsonApiClient with Password: api() error CredentialsNotAllowed', async () => {
    const c = JsonApiClient.create(base);
    c.bearerToken = token;
    const r = await c.api(dto({ Password: 'caller-supplied' }));
    clientOutputs.push(r);
    if (r.succeeded) return `succeeded: ${show(r.response)}`;
    return expectStatus(r.error, 'CredentialsNotAllowed', 'Password');
  });

  // HostedSuite echoing the injected password in an error is relayed redacted.
  await check('upstream error echoing the password reaches the client redacted', async () => {
    const r = await postThrows(serviceClient(), new UpdateCallRecordRequest({ Id: 'fault-echo', Notes: 'x' }));
    if (!r.threw) return `did not throw: ${show(r.value)}`;
    const why = expectStatus(r.status, 'ArgumentException');
    if (why) return why;
    if (!show(r.status).includes('[redacted]')) return `no [redacted] marker in ${show(r.status)}`;
  });

  // 6. Stop the gateway (flushes the audit), then look for the password.
  await check('gateway stops on SIGTERM with exit 0', async () => {
    const ex = await stopChild(gw, 'SIGTERM', 10_000);
    if (ex.code !== 0) return `exit ${show(ex)}; stderr tail: ${gw.stderr.slice(-400)}`;
  });

  let audit = '';
  await check('audit file has one record or more per client request', async () => {
    audit = fs.readFileSync(auditFile, 'utf8');
    const lines = audit.split('\n').filter((l) => l.trim());
    for (const l of lines) JSON.parse(l);
    if (lines.length < exchanges.length) return `${lines.length} audit records for ${exchanges.length} requests`;
  });

  const variants = [...new Set([
    password,
    JSON.stringify(password).slice(1, -1),
    JSON.stringify(password).slice(1, -1).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
    JSON.stringify(password).slice(1, -1).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`),
  ])];
  const leaks = (text) => variants.some((v) => text.includes(v));
  const sources = {
    'client call results and errors': clientOutputs.map(show).join('\n'),
    'raw gateway answers': exchanges.map((e) => e.responseBody ?? '').join('\n'),
    'gateway stdout': gw.stdout,
    'gateway stderr': gw.stderr,
    'hsgate check output': checkOutput,
    'audit file': audit,
  };
  for (const [name, text] of Object.entries(sources)) {
    await check(`password absent from ${name}`, () => (leaks(text) ? 'the simulator password appears' : undefined));
  }

  await stopChild(sim, 'SIGINT', 5_000);
  console.log('# requests the clients sent:');
  for (const e of exchanges) {
    console.log(`#   ${e.method} ${e.path} Content-Type: ${e.contentType} -> ${e.status} ${e.responseContentType}`);
    if (opts.verbose) console.log(`#     sent ${e.body}\n#     got  ${e.responseBody}`);
  }
}

// ------------------------------------------------------------- entry point

process.on('exit', () => killAll('SIGKILL'));
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killAll('SIGKILL');
    console.log(`FAIL interrupted: ${sig}`);
    console.log(`${passed} passed, ${failed + 1} failed`);
    process.exit(1);
  });
}

const overall = setTimeout(() => {
  killAll('SIGKILL');
  fail('overall deadline', `not finished within ${OVERALL_MS} ms`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(1);
}, OVERALL_MS);

try {
  await main();
} catch (e) {
  fail('run', e && e.stack ? e.stack : show(e));
} finally {
  clearTimeout(overall);
  killAll('SIGKILL');
}
if (passed + failed === 0) fail('run', 'no check ran');
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
