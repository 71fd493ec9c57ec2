// Drives the real jsforce client (npm) against sfbridge's Salesforce emulator.
// Run by internal/sfemu/jsforce_test.go with SFEMU_URL, SFEMU_CLIENT_ID,
// SFEMU_CLIENT_SECRET, SFEMU_USERNAME and SFEMU_PASSWORD set. Every check
// that fails is printed; the exit code is the number of failures (capped).
// The last line of stdout is a JSON summary the Go test compares with the
// emulator's own records.
import jsforce from 'jsforce';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const loginUrl = env('SFEMU_URL');
const oauth2 = { loginUrl, clientId: env('SFEMU_CLIENT_ID'), clientSecret: env('SFEMU_CLIENT_SECRET') };
const version = '62.0';

const failures = [];
const summary = {};
function check(ok, what, detail) {
  if (!ok) {
    failures.push(what);
    console.log(`FAIL ${what}${detail === undefined ? '' : ': ' + JSON.stringify(detail)}`);
  } else {
    console.log(`ok   ${what}`);
  }
}
async function step(name, fn) {
  try {
    await fn();
  } catch (err) {
    failures.push(name);
    console.log(`FAIL ${name}: threw ${err && (err.errorCode || err.name)}: ${err && err.message}`);
  }
}

// --- OAuth: password grant through jsforce's OAuth2 login ---------------------
const conn = new jsforce.Connection({ oauth2, version });
await step('login (OAuth2 password grant)', async () => {
  const info = await conn.login(env('SFEMU_USERNAME'), env('SFEMU_PASSWORD'));
  check(/^005/.test(info.id), 'login returns the user id', info);
  check(/^00D/.test(info.organizationId), 'login returns the org id', info);
  check(/^00D.{12,15}!/.test(conn.accessToken), 'access token is shaped 00D…!…');
  check(conn.instanceUrl === loginUrl, 'instance URL is the emulator', conn.instanceUrl);
});

await step('client_credentials grant', async () => {
  const cc = new jsforce.Connection({ oauth2, version });
  await cc.authorize({ grant_type: 'client_credentials' });
  check(!!cc.accessToken, 'client_credentials gives an access token');
  const id = await cc.identity();
  check(id.username === env('SFEMU_USERNAME'), 'identity of the run-as user', id.username);
});

await step('identity and limits', async () => {
  const id = await conn.identity();
  check(id.username === env('SFEMU_USERNAME'), 'identity username', id.username);
  const limits = await conn.limits();
  check(limits.DailyApiRequests && limits.DailyApiRequests.Max > 0, 'limits DailyApiRequests', limits.DailyApiRequests);
  check(conn.limitInfo && conn.limitInfo.apiUsage && conn.limitInfo.apiUsage.limit > 0, 'Sforce-Limit-Info parsed by jsforce', conn.limitInfo);
});

await step('describe', async () => {
  const g = await conn.describeGlobal();
  const names = g.sobjects.map((o) => o.name);
  for (const n of ['Account', 'Contact', 'Case']) check(names.includes(n), `describeGlobal lists ${n}`);
  const d = await conn.sobject('Contact').describe();
  const ext = d.fields.find((f) => f.name === 'Counselor_Id__c');
  check(ext && ext.externalId === true, 'Contact.Counselor_Id__c is an external ID', ext && ext.externalId);
  const acct = d.fields.find((f) => f.name === 'AccountId');
  check(acct && acct.relationshipName === 'Account' && acct.referenceTo[0] === 'Account', 'AccountId relationship', acct);
});

// --- sObject REST ---------------------------------------------------------------
let accountId;
await step('sObject create/retrieve/update', async () => {
  const r = await conn.sobject('Account').create({ Name: 'Acme Rescue', Org_Id__c: 'org-1' });
  check(r.success === true && /^001/.test(r.id) && r.id.length === 18, 'create Account', r);
  accountId = r.id;
  const got = await conn.sobject('Account').retrieve(accountId);
  check(got.Name === 'Acme Rescue' && got.Org_Id__c === 'org-1', 'retrieve Account', got);
  const u = await conn.sobject('Account').update({ Id: accountId, Name: 'Acme Rescue Ltd' });
  check(u.success === true, 'update Account', u);
});

await step('upsert by external ID with a parent lookup', async () => {
  const rec = { LastName: 'Doe', FirstName: 'Jane', Counselor_Id__c: 'c-1', Account: { Org_Id__c: 'org-1' } };
  const first = await conn.sobject('Contact').upsert(rec, 'Counselor_Id__c');
  check(first.success === true && first.created === true, 'first upsert creates', first);
  const second = await conn.sobject('Contact').upsert({ ...rec, FirstName: 'Janet' }, 'Counselor_Id__c');
  check(second.success === true && second.created === false, 'second upsert updates', second);
  const q = await conn.query("SELECT FirstName, Account.Org_Id__c FROM Contact WHERE Counselor_Id__c = 'c-1'");
  check(q.totalSize === 1 && q.records[0].FirstName === 'Janet', 'query after upsert', q.records);
  check(q.records[0].Account && q.records[0].Account.Org_Id__c === 'org-1', 'parent relationship field in query', q.records[0]);
});

await step('errors come back as jsforce errors with errorCode', async () => {
  try {
    await conn.sobject('Contact').create({ LastName: 'X', No_Such_Field__c: 1 });
    check(false, 'unknown field rejected');
  } catch (err) {
    check(err.errorCode === 'INVALID_FIELD', 'unknown field → INVALID_FIELD', err.errorCode);
  }
  try {
    await conn.sobject('Contact').create({ FirstName: 'NoLast' });
    check(false, 'missing required field rejected');
  } catch (err) {
    check(err.errorCode === 'REQUIRED_FIELD_MISSING', 'missing required field → REQUIRED_FIELD_MISSING', err.errorCode);
  }
  try {
    await conn.sobject('Contact').upsert({ LastName: 'Orphan', Counselor_Id__c: 'c-orphan', Account: { Org_Id__c: 'no-such-org' } }, 'Counselor_Id__c');
    check(false, 'missing parent rejected');
  } catch (err) {
    check(typeof err.errorCode === 'string' && err.errorCode.length > 0, 'missing parent → an errorCode', err.errorCode);
  }
});

// --- sObject Collections -----------------------------------------------------------
await step('collections create and upsert (allOrNone=false)', async () => {
  const recs = [];
  for (let i = 0; i < 150; i++) recs.push({ LastName: `Coll ${i}`, Counselor_Id__c: `coll-${i}` });
  const created = await conn.sobject('Contact').create(recs, { allOrNone: false });
  check(created.length === 150 && created.every((r) => r.success), 'collections create 150', created.filter((r) => !r.success).slice(0, 3));
  const mixed = recs.slice(0, 10).map((r, i) => (i === 3 ? { LastName: null, Counselor_Id__c: r.Counselor_Id__c } : { ...r, Title: 'Updated' }));
  const up = await conn.sobject('Contact').upsert(mixed, 'Counselor_Id__c', { allOrNone: false });
  check(up.length === 10, 'collections upsert returns one result per record', up.length);
  check(up.filter((r) => r.success).length === 9 && up[3].success === false, 'one bad record fails alone', up[3]);
  check(up.filter((r) => r.success).every((r) => r.created === false), 'upsert of existing records is not created', up.slice(0, 2));
});

// --- Bulk API 2.0 ----------------------------------------------------------------------
const BULK = 2500;
await step('bulk 2.0 ingest upsert with a failing row', async () => {
  const lines = ['Counselor_Id__c,LastName,Email,Account.Org_Id__c'];
  for (let i = 0; i < BULK; i++) lines.push(`bulk-${i},"Bulk, ""quoted"" ${i}",b${i}@example.com,org-1`);
  lines.push('bulk-bad,Bad,not-an-email,org-1');
  const res = await conn.bulk2.loadAndWaitForResults({
    object: 'Contact', operation: 'upsert', externalIdFieldName: 'Counselor_Id__c',
    input: lines.join('\n') + '\n', pollInterval: 200, pollTimeout: 120000,
  });
  check(res.successfulResults.length === BULK, 'bulk successful rows', res.successfulResults.length);
  check(res.failedResults.length === 1 && /INVALID_EMAIL_ADDRESS/.test(res.failedResults[0].sf__Error), 'bulk failed row with its error', res.failedResults[0]);
  check(res.successfulResults.every((r) => /^003/.test(r.sf__Id)), 'bulk results carry sf__Id');
});

await step('query with nextRecordsUrl paging (autoFetch)', async () => {
  const res = await conn.query('SELECT Id, Counselor_Id__c FROM Contact', { autoFetch: true, maxFetch: 100000 });
  check(res.records.length === res.totalSize && res.totalSize > 2000, 'autoFetch follows nextRecordsUrl', { got: res.records.length, total: res.totalSize });
  summary.contacts = res.totalSize;
  const count = await conn.query("SELECT COUNT() FROM Contact WHERE Counselor_Id__c LIKE 'bulk-%'");
  check(count.totalSize === BULK, 'COUNT() with LIKE', count.totalSize);
});

await step('bulk 2.0 query', async () => {
  const recs = await (await conn.bulk2.query("SELECT Id, Counselor_Id__c FROM Contact WHERE Counselor_Id__c LIKE 'bulk-%'")).toArray();
  check(recs.length === BULK, 'bulk query returns every row', recs.length);
});

await step('delete', async () => {
  const c = await conn.sobject('Contact').create({ LastName: 'Temp' });
  const d = await conn.sobject('Contact').destroy(c.id);
  check(d.success === true, 'destroy', d);
  try {
    await conn.sobject('Contact').retrieve(c.id);
    check(false, 'deleted record is gone');
  } catch (err) {
    check(err.errorCode === 'ENTITY_IS_DELETED', 'retrieve deleted → ENTITY_IS_DELETED (fact sheet §3.2)', err.errorCode);
  }
});

await step('404 for an unknown record', async () => {
  try {
    await conn.sobject('Contact').retrieve('003000000000000AAA');
    check(false, 'unknown Id rejected');
  } catch (err) {
    check(err.errorCode === 'NOT_FOUND', 'retrieve unknown Id → NOT_FOUND', err.errorCode);
  }
});

// Last: expire every session. A connection holding only an access token must
// fail as an expired session does; the logged-in one must log in again by
// itself (jsforce re-runs the password grant on 401 INVALID_SESSION_ID).
await step('401 INVALID_SESSION_ID after the session expires', async () => {
  const bare = new jsforce.Connection({ instanceUrl: conn.instanceUrl, accessToken: conn.accessToken, version });
  await bare.query('SELECT COUNT() FROM Account');
  const before = conn.accessToken;
  const res = await fetch(`${loginUrl}/__emulator/sessions/expire`, { method: 'POST' });
  check(res.ok, 'emulator expired the sessions', res.status);
  try {
    await bare.query('SELECT Id FROM Account');
    check(false, 'expired session rejected');
  } catch (err) {
    check(err.errorCode === 'INVALID_SESSION_ID' || err.name === 'INVALID_SESSION_ID', 'expired session → INVALID_SESSION_ID', { code: err.errorCode, name: err.name, message: err.message });
  }
  const q = await conn.query('SELECT COUNT() FROM Account');
  check(q.totalSize === 1, 'jsforce re-authenticates and carries on', q.totalSize);
  check(conn.accessToken !== before, 'with a new access token');
});

summary.failures = failures.length;
console.log(JSON.stringify(summary));
process.exit(Math.min(failures.length, 100));
