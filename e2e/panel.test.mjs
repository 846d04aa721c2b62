// End-to-end tests of the admin panel in a real browser: playwright-core drives Debian's headless
// Chromium (/usr/bin/chromium; nothing downloads a browser). Run by crates/tollgate/tests/browser.rs,
// which creates a company, an admin and a member with the CLI, starts `tollgate serve` and passes:
//
//   TOLLGATE_URL              base URL of the server, e.g. http://127.0.0.1:41234
//   TOLLGATE_COMPANY_ID       the company (scopes groups:read,groups:write,users:read; 10 credentials)
//   TOLLGATE_ADMIN_EMAIL, TOLLGATE_ADMIN_PASSWORD     an admin of that company
//   TOLLGATE_MEMBER_EMAIL, TOLLGATE_MEMBER_PASSWORD   a member of that company
//   E2E_SCREENSHOTS           directory for the page screenshots (docs/screenshots when refreshing them)
//
// The tests run in order and share the server: the last one fills the company up to its limit.
// Tokens and API calls go through node's fetch, the way an integration would use the secret it copied.
// Changes reach the token endpoint and the API through the server's change feed, within 1 s (README),
// so every check of their effect polls for up to SYNC_MS.

import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';

import { chromium } from 'playwright-core';

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run these tests through crates/tollgate/tests/browser.rs`);
  }
  return value;
}

const BASE = required('TOLLGATE_URL').replace(/\/$/, '');
const COMPANY_ID = required('TOLLGATE_COMPANY_ID');
const ADMIN = { email: required('TOLLGATE_ADMIN_EMAIL'), password: required('TOLLGATE_ADMIN_PASSWORD') };
const MEMBER = { email: required('TOLLGATE_MEMBER_EMAIL'), password: required('TOLLGATE_MEMBER_PASSWORD') };
const SCREENSHOTS = process.env.E2E_SCREENSHOTS || null;

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** How long a change may take to reach the token endpoint and the API (the change feed's promise). */
const SYNC_MS = 1000;
const SCOPES = ['groups:read', 'groups:write', 'users:read'];
const MAX_CREDENTIALS = 10;
const TEST_TIMEOUT = 60_000;
const API_HEADERS = { accept: 'application/json', '360-api-version': 'v2.0' };
/**
 * axe-core's browser bundle, evaluated in each page the accessibility test checks (through the
 * DevTools protocol: the panel's CSP rightly refuses an injected <script>).
 */
const AXE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let browser;
/** The admin's cookies after logging in through the form, shared by the tests that act as admin. */
let adminState;
/** The credential the scope matrix test saved, which the accessibility test rotates and visits. */
let matrixClientId;
/** Contexts opened by a test, closed after it. */
const contexts = [];

before(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  if (SCREENSHOTS) fs.mkdirSync(SCREENSHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
});

// ---------------------------------------------------------------------------------------------
// helpers

async function newPage(storageState) {
  const context = await browser.newContext({
    storageState,
    viewport: { width: 1280, height: 800 },
    deviceScaleFactor: 1,
  });
  context.setDefaultTimeout(10_000);
  contexts.push(context);
  return context.newPage();
}

async function closeContexts() {
  while (contexts.length) await contexts.pop().close();
}

/** Clicks `selector` (a submit button) and waits for the page it leads to; returns its response. */
async function submit(page, selector) {
  const [response] = await Promise.all([page.waitForNavigation(), page.locator(selector).click()]);
  return response;
}

async function login(page, who) {
  const response = await page.goto(`${BASE}/admin/login`);
  assert.equal(response.status(), 200);
  await page.fill('input[name=email]', who.email);
  await page.fill('input[name=password]', who.password);
  return submit(page, 'form[action="/admin/login"] button[type=submit]');
}

/** A page logged in as the admin (the session of the login test, or a new one). */
async function adminPage() {
  if (!adminState) {
    const page = await newPage();
    await login(page, ADMIN);
    adminState = await page.context().storageState();
    return page;
  }
  return newPage(adminState);
}

async function screenshot(page, name, options = {}) {
  if (!SCREENSHOTS) return;
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), ...options });
}

/** The credentials listed on the credentials page: [{clientId, label, scopes}]. */
async function listed(page) {
  const response = await page.goto(`${BASE}/admin/credentials`);
  assert.equal(response.status(), 200);
  return page.$$eval('tr[data-client-id]', (rows) =>
    rows.map((r) => ({
      clientId: r.dataset.clientId,
      label: r.querySelector('.label').textContent,
      scopes: r.querySelector('.scopes-cell').dataset.scopes.split(/\s+/).filter(Boolean),
    })),
  );
}

/** Fills and submits the create form; returns the response and the one-time secret if shown. */
async function createCredential(page, label, scopes) {
  await page.goto(`${BASE}/admin/credentials`);
  await page.fill('#create-form input[name=label]', label);
  for (const s of scopes) await page.check(`#create-form input[name=scope][value="${s}"]`);
  const response = await submit(page, '#create-form button[type=submit]');
  const shown = (await page.locator('#client-secret').count()) > 0;
  return {
    response,
    clientId: shown ? (await page.textContent('#client-id')).trim() : null,
    secret: shown ? (await page.textContent('#client-secret')).trim() : null,
  };
}

async function requestToken(clientId, secret) {
  const r = await fetch(`${BASE}/api/v2/oauth2/token`, {
    method: 'POST',
    headers: { accept: 'application/json', 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret }),
  });
  return { status: r.status, body: await r.json() };
}

async function api(method, urlPath, token, body) {
  const headers = { ...API_HEADERS, authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${BASE}${urlPath}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

/**
 * Calls `probe` until `done(result)` holds or `ms` have passed; returns the last result and how long
 * it took. The caller asserts on the result, so a timeout shows what was seen last.
 */
async function eventually(probe, done, ms = SYNC_MS) {
  const start = Date.now();
  for (;;) {
    const result = await probe();
    const elapsed = Date.now() - start;
    if (done(result) || elapsed >= ms) return { result, elapsed };
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A token for the credential, waiting for a just-created or just-changed credential to be known. */
async function tokenFor(clientId, secret) {
  const { result } = await eventually(() => requestToken(clientId, secret), (r) => r.status === 200);
  assert.equal(result.status, 200, `token refused: ${JSON.stringify(result.body)}`);
  return result.body;
}

async function rootGroupId(token) {
  const r = await api('GET', '/api/v2/groups', token);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const root = r.body.find((g) => !g.parentId);
  assert.ok(root, `no root group in ${JSON.stringify(r.body)}`);
  return root._id;
}

/** A small HTTP server on loopback that serves one HTML page at `/`. */
async function servePage(html) {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(html);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: server.address().port };
}

/** An attacker's page: a form that posts a new credential to the panel as soon as it loads. */
function forgedFormPage(label, extraFields = '') {
  return `<!doctype html><title>You won a prize</title>
<form id="f" method="post" action="${BASE}/admin/credentials">
<input name="label" value="${label}"><input name="scope" value="groups:write">${extraFields}
</form><script>document.getElementById('f').submit()</script>`;
}

/**
 * Checks the page as it is now: no serious or critical axe-core violation, no horizontal overflow,
 * the skip link first in the tab order (shown when focused) and aimed at <main id="main">, every
 * control in the main content's tables and forms at least 24×24 px (links inside sentences are
 * exempt, as WCAG 2.5.8 allows), and every <time> with its exact UTC time as tooltip. `times`: how
 * many <time> elements the page must have at least.
 */
async function checkAccessible(page, what, { times = 0 } = {}) {
  await page.evaluate(`${AXE}\n;void 0`);
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.html.slice(0, 160)) }));
  });
  assert.deepEqual(violations, [], `${what}: axe found ${JSON.stringify(violations, null, 1)}`);

  const width = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    inner: window.innerWidth,
    widest: [...document.querySelectorAll('main *')]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5)
      .slice(0, 3)
      .map((e) => e.outerHTML.slice(0, 120)),
  }));
  assert.ok(width.scroll <= width.inner, `${what}: ${width.scroll} px wide in a ${width.inner} px window: ${width.widest.join(' | ')}`);

  await page.evaluate(() => document.activeElement?.blur());
  await page.keyboard.press('Tab');
  const first = await page.evaluate(() => {
    const e = document.activeElement;
    const r = e.getBoundingClientRect();
    return { text: e.textContent.trim(), href: e.getAttribute('href'), shown: r.width > 1 && r.height > 1 && r.top >= 0 && r.bottom <= window.innerHeight };
  });
  assert.deepEqual(first, { text: 'Skip to content', href: '#main', shown: true }, `${what}: the first focusable element`);
  assert.equal(await page.locator('main#main').count(), 1, `${what}: no <main id="main">`);
  await page.evaluate(() => document.activeElement?.blur());

  const small = await page.$$eval('main table :is(button, input, select, a), main form :is(button, input, select, a)', (els) =>
    els
      .filter((e) => e.type !== 'hidden' && e.checkVisibility() && !(e.tagName === 'A' && e.closest('p')))
      .map((e) => {
        const r = e.getBoundingClientRect();
        return { html: e.outerHTML.slice(0, 100), w: Math.round(r.width), h: Math.round(r.height) };
      })
      .filter((c) => c.w < 24 || c.h < 24),
  );
  assert.deepEqual(small, [], `${what}: controls smaller than 24×24 px`);

  const titles = await page.$$eval('time', (ts) => ts.map((t) => [t.title, t.getAttribute('datetime'), t.textContent]));
  assert.ok(titles.length >= times, `${what}: ${titles.length} <time> elements, expected at least ${times}`);
  for (const [title, datetime, text] of titles) {
    assert.match(title, / UTC$/, `${what}: <time> ${text} has the tooltip ${title}`);
    assert.match(datetime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, `${what}: <time> ${text}`);
  }
}

/** The values of the ticked scope checkboxes in the form `form`. */
function tickedScopes(page, form) {
  return page.$$eval(`${form} input[name=scope]:checked`, (boxes) => boxes.map((b) => b.value).sort());
}

/** A test of the suite, with its own time limit. */
function it(name, fn) {
  return test(name, { timeout: TEST_TIMEOUT }, fn);
}

// ---------------------------------------------------------------------------------------------
// the tests

describe('admin panel in Chromium', { concurrency: false }, () => {
  afterEach(closeContexts);

  it('an admin logs in with the form and lands on the credentials page', async () => {
    const page = await newPage();
    // Not logged in: the panel sends the browser to the login page.
    const first = await page.goto(`${BASE}/admin/credentials`);
    assert.equal(new URL(page.url()).pathname, '/admin/login');
    assert.equal(first.status(), 200);
    await page.fill('input[name=email]', ADMIN.email);
    await screenshot(page, 'login');

    // A wrong password is refused with a message.
    await page.fill('input[name=password]', 'not-the-password');
    const refused = await submit(page, 'form[action="/admin/login"] button[type=submit]');
    assert.equal(refused.status(), 401);
    assert.match(await page.textContent('[role=alert]'), /Wrong email or password/);

    const landed = await login(page, ADMIN);
    assert.equal(landed.status(), 200);
    assert.equal(new URL(page.url()).pathname, '/admin/credentials');
    assert.equal(await page.textContent('h1'), 'API credentials');
    assert.ok((await page.textContent('header .who')).includes(ADMIN.email), 'the header names the admin');

    // The session cookie is HttpOnly and SameSite=Strict.
    const cookies = await page.context().cookies(`${BASE}/admin`);
    const session = cookies.find((c) => c.name === 'tollgate_session');
    assert.ok(session, `no session cookie in ${JSON.stringify(cookies.map((c) => c.name))}`);
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    adminState = await page.context().storageState();
  });

  it('create a credential: its secret is shown once, absent when the page is loaded again, and gets a token', async () => {
    const page = await adminPage();
    const label = 'HR Integration - Payroll System';
    const { response, clientId, secret } = await createCredential(page, label, ['groups:read', 'groups:write']);
    assert.equal(response.status(), 201);
    assert.ok(clientId, 'no #client-id after creating');
    assert.match(secret ?? '', /^tgsec_/, 'the secret is shown in #client-secret');
    assert.match(await page.textContent('#new-secret'), /will not be shown again/);
    assert.match(await page.textContent('[role=status]'), /Credential created/);
    const row = page.locator(`tr[data-client-id="${clientId}"]`);
    assert.equal(await row.locator('.label').textContent(), label);
    await screenshot(page, 'credentials', { fullPage: true });

    // The Copy button puts the secret on the clipboard.
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
    await page.click('#new-secret button[data-copy="client-secret"]');
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);
    assert.equal(await page.textContent('#new-secret button[data-copy="client-secret"]'), 'Copied');
    // The box also gives the token URL and a ready command, which copies too.
    assert.equal(await page.textContent('#token-url'), `${BASE}/api/v2/oauth2/token`);
    await page.click('#new-secret button[data-copy="ready-curl"]');
    const command = await page.evaluate(() => navigator.clipboard.readText());
    assert.ok(command.startsWith(`curl -s -X POST ${BASE}/api/v2/oauth2/token`) && command.includes(secret), command);

    // Loaded again, the page lists the credential but never shows its secret.
    const again = await page.goto(`${BASE}/admin/credentials`);
    assert.equal(again.status(), 200);
    assert.equal(await page.locator('#client-secret').count(), 0);
    assert.equal(await page.locator(`tr[data-client-id="${clientId}"]`).count(), 1);
    assert.ok(!(await page.content()).includes(secret), 'the secret is in the reloaded page');
    await page.goto(`${BASE}/admin/credentials/${clientId}`);
    assert.ok(!(await page.content()).includes(secret), 'the secret is in the edit page');

    // The secret copied from the page works at the token endpoint.
    const token = await tokenFor(clientId, secret);
    assert.equal(token.token_type, 'Bearer');
    assert.deepEqual(token.scope.split(' ').sort(), ['groups:read', 'groups:write']);
    const groups = await api('GET', '/api/v2/groups', token.access_token);
    assert.equal(groups.status, 200, JSON.stringify(groups.body));
    // It belongs to the admin's company.
    const introspected = await fetch(`${BASE}/api/v2/oauth2/introspect`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: token.access_token, client_id: clientId, client_secret: secret }),
    }).then((r) => r.json());
    assert.equal(introspected.active, true);
    assert.equal(introspected.company_id, COMPANY_ID);
  });

  it('edit scopes: unchecking groups:write narrows new tokens and refuses old ones', async (t) => {
    const page = await adminPage();
    const { clientId, secret } = await createCredential(page, 'Group sync', ['groups:read', 'groups:write']);
    const before = await tokenFor(clientId, secret);
    assert.deepEqual(before.scope.split(' ').sort(), ['groups:read', 'groups:write']);
    const root = await rootGroupId(before.access_token);
    const created = await api('POST', '/api/v2/groups', before.access_token, {
      name: 'Payroll',
      public: false,
      parentId: root,
    });
    assert.equal(created.status, 201, `groups:write works before the edit: ${JSON.stringify(created.body)}`);

    const edit = await page.goto(`${BASE}/admin/credentials/${clientId}`);
    assert.equal(edit.status(), 200);
    assert.equal(await page.isChecked('#edit-form input[name=scope][value="groups:write"]'), true);
    await page.fill('#edit-form input[name=label]', 'Group sync (read only)');
    await page.uncheck('#edit-form input[name=scope][value="groups:write"]');
    await screenshot(page, 'edit', { fullPage: true });
    const saved = await submit(page, '#edit-form button[type=submit]');
    assert.equal(saved.status(), 200);
    assert.equal(new URL(page.url()).pathname, '/admin/credentials');
    assert.match(await page.textContent('[role=status]'), /Credential updated/);
    const row = page.locator(`tr[data-client-id="${clientId}"]`);
    assert.equal(await row.locator('.label').textContent(), 'Group sync (read only)');
    assert.equal(await row.locator('.scopes-cell').getAttribute('data-scopes'), 'groups:read');
    assert.equal((await row.locator('.scopes-cell').textContent()).trim(), '1 permission');

    // A fresh token holds only groups:read...
    const { result: fresh, elapsed } = await eventually(
      () => requestToken(clientId, secret),
      (r) => r.status === 200 && r.body.scope === 'groups:read',
    );
    assert.equal(fresh.status, 200, JSON.stringify(fresh.body));
    assert.equal(fresh.body.scope, 'groups:read', `fresh token's scope after ${elapsed} ms`);
    // ...and the token obtained before the edit can no longer write.
    const post = () =>
      api('POST', '/api/v2/groups', before.access_token, { name: 'Payroll 2', public: false, parentId: root });
    const { result: denied, elapsed: deniedAfter } = await eventually(post, (r) => r.status === 403);
    assert.equal(denied.status, 403, `old token still writes after ${deniedAfter} ms: ${JSON.stringify(denied.body)}`);
    assert.equal(denied.body.error.code, 'invalid_scope');
    t.diagnostic(`narrowed scope in fresh tokens after ${elapsed} ms, old token refused after ${deniedAfter} ms`);
    const read = await api('GET', '/api/v2/groups', before.access_token);
    assert.equal(read.status, 200, 'the old token still reads');
  });

  it('rotate with a grace period: the old secret keeps working', async () => {
    const page = await adminPage();
    const { clientId, secret: oldSecret } = await createCredential(page, 'Rotated with grace', ['groups:read']);
    const oldToken = await tokenFor(clientId, oldSecret);

    await page.goto(`${BASE}/admin/credentials/${clientId}`);
    await page.fill('#rotate-form input[name=grace]', '3600');
    const rotated = await submit(page, '#rotate-form button[type=submit]');
    assert.equal(rotated.status(), 200);
    assert.match(await page.textContent('[role=status]'), /Secret rotated/);
    assert.equal((await page.textContent('#client-id')).trim(), clientId);
    const newSecret = (await page.textContent('#client-secret')).trim();
    assert.match(newSecret, /^tgsec_/);
    assert.notEqual(newSecret, oldSecret);

    await tokenFor(clientId, newSecret);
    // Well past the sync delay, the old secret and its token still work.
    await new Promise((r) => setTimeout(r, SYNC_MS));
    const old = await requestToken(clientId, oldSecret);
    assert.equal(old.status, 200, `old secret refused during its grace period: ${JSON.stringify(old.body)}`);
    const call = await api('GET', '/api/v2/groups', oldToken.access_token);
    assert.equal(call.status, 200, 'token of the old secret refused during its grace period');
  });

  it('revoke the old secret now: during its grace, the old secret and its token stop at once', async () => {
    const page = await adminPage();
    const { clientId, secret: oldSecret } = await createCredential(page, 'Old secret revoked', ['groups:read']);
    const oldToken = await tokenFor(clientId, oldSecret);
    await page.goto(`${BASE}/admin/credentials/${clientId}`);
    await page.fill('#rotate-form input[name=grace]', '86400');
    await submit(page, '#rotate-form button[type=submit]');
    const newSecret = (await page.textContent('#client-secret')).trim();
    await tokenFor(clientId, newSecret);

    await page.goto(`${BASE}/admin/credentials/${clientId}`);
    assert.match(await page.textContent('#secrets'), /Old secret valid until \d\d:\d\d UTC \(in 24 h\)/);
    assert.equal(await page.locator('#secrets button').count(), 1, 'one button, for the old secret only');
    const revoked = await submit(page, '#secrets button[type=submit]');
    assert.equal(revoked.status(), 200);
    assert.match(await page.textContent('[role=status]'), /Old secret revoked/);
    const old = await requestToken(clientId, oldSecret);
    assert.equal(old.status, 401, `old secret still works: ${JSON.stringify(old.body)}`);
    const call = await api('GET', '/api/v2/groups', oldToken.access_token);
    assert.equal(call.status, 401, 'the old secret\'s token still works');
    await tokenFor(clientId, newSecret);
  });

  it('an expiry and an IP allowlist set in the forms hold, and the list says so', async () => {
    const page = await adminPage();
    await page.goto(`${BASE}/admin/credentials`);
    await page.fill('#create-form input[name=label]', 'Office only');
    await page.check('#create-form input[name=scope][value="groups:read"]');
    await page.fill('#create-form input[name=expires_at]', '2099-01-31T18:00');
    await page.fill('#create-form textarea[name=allowed_ips]', '203.0.113.0/24');
    const response = await submit(page, '#create-form button[type=submit]');
    assert.equal(response.status(), 201);
    const clientId = (await page.textContent('#client-id')).trim();
    const secret = (await page.textContent('#client-secret')).trim();
    const row = page.locator(`tr[data-client-id="${clientId}"]`);
    // Shown relative to now, the exact time in the tooltip.
    assert.equal(await row.locator('.expiry time').getAttribute('datetime'), '2099-01-31T18:00:00Z');
    assert.equal(await row.locator('.expiry time').getAttribute('title'), '2099-01-31 18:00:00 UTC');
    assert.match(await row.locator('.expiry').textContent(), /^in \d+ days/);
    assert.match(await row.textContent(), /IP allowlist/);

    // The browser and this test run on loopback, outside the allowlist.
    const { result } = await eventually(() => requestToken(clientId, secret), (r) => r.status === 401);
    assert.equal(result.status, 401, JSON.stringify(result.body));
    assert.match(result.body.error_description, /may not be used from this address/);

    await page.goto(`${BASE}/admin/credentials/${clientId}`);
    assert.equal(await page.inputValue('input[name=expires_at]'), '2099-01-31T18:00');
    assert.equal(await page.inputValue('textarea[name=allowed_ips]'), '203.0.113.0/24');
    await page.fill('textarea[name=allowed_ips]', '');
    const saved = await submit(page, '#edit-form button[type=submit]');
    assert.equal(saved.status(), 200);
    await tokenFor(clientId, secret);
  });

  it('rotate without a grace period: the old secret and its tokens are refused', async (t) => {
    const page = await adminPage();
    const { clientId, secret: oldSecret } = await createCredential(page, 'Rotated at once', ['groups:read']);
    const oldToken = await tokenFor(clientId, oldSecret);

    await page.goto(`${BASE}/admin/credentials/${clientId}`);
    assert.equal(await page.inputValue('#rotate-form input[name=grace]'), '0');
    const rotated = await submit(page, '#rotate-form button[type=submit]');
    assert.equal(rotated.status(), 200);
    const newSecret = (await page.textContent('#client-secret')).trim();
    assert.notEqual(newSecret, oldSecret);

    const { result: refused, elapsed } = await eventually(
      () => requestToken(clientId, oldSecret),
      (r) => r.status === 401,
    );
    assert.equal(refused.status, 401, `old secret still accepted after ${elapsed} ms`);
    assert.equal(refused.body.error, 'invalid_client');
    t.diagnostic(`old secret refused after ${elapsed} ms`);
    await tokenFor(clientId, newSecret);
    const { result: call } = await eventually(
      () => api('GET', '/api/v2/groups', oldToken.access_token),
      (r) => r.status === 401,
    );
    assert.equal(call.status, 401, 'token of the rotated-away secret still accepted');
  });

  it('delete a credential: its tokens are refused', async (t) => {
    const page = await adminPage();
    const { clientId, secret } = await createCredential(page, 'To be deleted', ['groups:read']);
    const token = await tokenFor(clientId, secret);
    assert.equal((await api('GET', '/api/v2/groups', token.access_token)).status, 200);

    await page.goto(`${BASE}/admin/credentials`);
    await Promise.all([
      page.waitForNavigation(),
      page.click(`tr[data-client-id="${clientId}"] a[href$="/delete"]`),
    ]);
    assert.equal(new URL(page.url()).pathname, `/admin/credentials/${clientId}/delete`);
    assert.match(await page.textContent('h1'), /To be deleted/);
    const deleted = await submit(page, '#delete-form button[type=submit]');
    assert.equal(deleted.status(), 200);
    assert.match(await page.textContent('[role=status]'), /Credential deleted/);
    assert.equal(await page.locator(`tr[data-client-id="${clientId}"]`).count(), 0);

    const { result: call, elapsed } = await eventually(
      () => api('GET', '/api/v2/groups', token.access_token),
      (r) => r.status === 401,
    );
    assert.equal(call.status, 401, `token of a deleted credential accepted after ${elapsed} ms`);
    assert.equal(call.body.error, 'invalid_token');
    t.diagnostic(`token of the deleted credential refused after ${elapsed} ms`);
    const { result: again } = await eventually(() => requestToken(clientId, secret), (r) => r.status === 401);
    assert.equal(again.status, 401, 'deleted credential still gets tokens');
  });

  it('a member sees the "ask your platform admin" page, gets 403 on admin pages, and logs out', async () => {
    const admin = await adminPage();
    const someCredential = (await listed(admin))[0].clientId;
    const countBefore = (await listed(admin)).length;

    const page = await newPage();
    const landed = await login(page, MEMBER);
    assert.equal(landed.status(), 200);
    assert.equal(new URL(page.url()).pathname, '/admin');
    const text = await page.textContent('main');
    assert.match(text, /Only platform admins can create, edit and delete API credentials/);
    assert.match(text, /ask your platform admin/);
    assert.equal(await page.locator('#create-form').count(), 0);
    await screenshot(page, 'member');
    const memberCsrf = await page.inputValue('input[name=csrf]');

    for (const p of [
      '/admin/credentials',
      `/admin/credentials/${someCredential}`,
      `/admin/credentials/${someCredential}/delete`,
      '/admin/users',
      '/admin/audit',
    ]) {
      const r = await page.goto(`${BASE}${p}`);
      assert.equal(r.status(), 403, p);
      assert.match(await page.textContent('main'), /ask your platform admin/, p);
    }
    // Nor can the member create one by posting the form with their own session's CSRF token.
    const status = await page.evaluate(async (csrf) => {
      const body = new URLSearchParams({ csrf, label: 'by a member', scope: 'groups:read' });
      return (await fetch('/admin/credentials', { method: 'POST', body })).status;
    }, memberCsrf);
    assert.equal(status, 403);
    assert.equal((await listed(admin)).length, countBefore, 'a member created a credential');

    // Log out: back to the login page, and the panel no longer knows the browser.
    await page.goto(`${BASE}/admin`);
    await submit(page, 'form[action="/admin/logout"] button[type=submit]');
    assert.equal(new URL(page.url()).pathname, '/admin/login');
    await page.goto(`${BASE}/admin`);
    assert.equal(new URL(page.url()).pathname, '/admin/login');
  });

  it('a label with HTML in it is shown as text and never runs', async () => {
    const page = await adminPage();
    const label = '<img src=x onerror="window.__injected=1"><script>window.__injected=2</script>';
    const { response, clientId } = await createCredential(page, label, ['groups:read']);
    assert.equal(response.status(), 201);
    for (const p of ['/admin/credentials', `/admin/credentials/${clientId}`, `/admin/credentials/${clientId}/delete`]) {
      await page.goto(`${BASE}${p}`);
      assert.equal(await page.evaluate(() => window.__injected), undefined, `markup in the label ran on ${p}`);
      assert.equal(await page.locator('main img, main script').count(), 0, `markup in the label parsed on ${p}`);
    }
    await page.goto(`${BASE}/admin/credentials`);
    assert.equal(await page.textContent(`tr[data-client-id="${clientId}"] .label`), label);
    await page.goto(`${BASE}/admin/credentials/${clientId}`);
    assert.equal(await page.inputValue('#edit-form input[name=label]'), label);
  });

  it('reloading the page that shows a new secret creates no second credential', async () => {
    const page = await adminPage();
    const countBefore = (await listed(page)).length;
    const { response, clientId, secret } = await createCredential(page, 'Reloaded after creation', ['groups:read']);
    assert.equal(response.status(), 201);
    // The browser's Reload button on the page showing the secret (a headed Chromium first asks
    // whether to send the form again; the user who says yes must not get a second credential).
    await page.reload();
    const after = await listed(page);
    assert.equal(
      after.length,
      countBefore + 1,
      `reloading the secret page created another credential: ${JSON.stringify(after.map((c) => c.label))}`,
    );
    assert.equal(after.filter((c) => c.label === 'Reloaded after creation').length, 1);
    await tokenFor(clientId, secret);
  });

  it('reloading the page that shows a rotated secret does not rotate again', async () => {
    const page = await adminPage();
    const { clientId } = await createCredential(page, 'Reloaded after rotation', ['groups:read']);
    await page.goto(`${BASE}/admin/credentials/${clientId}`);
    const rotated = await submit(page, '#rotate-form button[type=submit]');
    assert.equal(rotated.status(), 200);
    const copied = (await page.textContent('#client-secret')).trim();
    await page.reload();
    const shownAgain = (await page.locator('#client-secret').count()) > 0;
    const other = shownAgain ? (await page.textContent('#client-secret')).trim() : null;
    assert.ok(
      other === null || other === copied,
      'reloading the rotated-secret page rotated the secret again and showed a new one',
    );
    // The secret the admin copied keeps working, well past the sync delay.
    await new Promise((r) => setTimeout(r, SYNC_MS));
    const token = await requestToken(clientId, copied);
    assert.equal(token.status, 200, `the rotated secret the page showed first is refused: ${JSON.stringify(token.body)}`);
  });

  it('a forged cross-site POST creates nothing', async (t) => {
    const page = await adminPage();
    const before = await listed(page);
    const forgedPost = () =>
      page.waitForRequest((r) => r.method() === 'POST' && r.url() === `${BASE}/admin/credentials`);

    // Another site (localhost is not the same site as 127.0.0.1): the SameSite=Strict session
    // cookie is not sent, so the panel sees no session and sends the browser to the login page.
    const crossSite = await servePage(forgedFormPage('forged cross-site'));
    t.after(() => crossSite.server.close());
    const posted = forgedPost();
    await page.goto(`http://localhost:${crossSite.port}/`, { waitUntil: 'commit' });
    const request = await posted;
    await page.waitForURL(`${BASE}/admin/login`);
    const sent = await request.allHeaders();
    assert.ok(!(sent.cookie ?? '').includes('tollgate_session'), `session cookie sent cross-site: ${sent.cookie}`);
    assert.equal((await request.response()).status(), 303);

    // Another origin of the same site (another port of 127.0.0.1): the cookie is sent, as SameSite
    // ignores ports, and the CSRF check refuses the POST, with a guessed token or without one.
    for (const extra of ['', '<input name="csrf" value="guessed">']) {
      const sameSite = await servePage(forgedFormPage('forged same-site', extra));
      t.after(() => sameSite.server.close());
      const posted2 = forgedPost();
      await page.goto(`http://127.0.0.1:${sameSite.port}/`, { waitUntil: 'commit' });
      const response2 = await (await posted2).response();
      await page.waitForLoadState();
      assert.equal(response2.status(), 403, `forged POST ${extra || 'without a token'}`);
      assert.match(await page.textContent('[role=alert]'), /CSRF token/);
    }

    assert.deepEqual(await listed(page), before, 'a forged POST changed the credentials');
  });

  it('a forged cross-site login leaves the browser logged out', async (t) => {
    // Login CSRF: another site posts the login form with an account it controls, so that the
    // victim's browser ends up in that account's session.
    const page = await newPage();
    const attacker = await servePage(`<!doctype html><title>Hello</title>
<form id="f" method="post" action="${BASE}/admin/login">
<input name="email" value="${MEMBER.email}"><input name="password" value="${MEMBER.password}">
</form><script>document.getElementById('f').submit()</script>`);
    t.after(() => attacker.server.close());
    const posted = page.waitForRequest((r) => r.method() === 'POST' && r.url() === `${BASE}/admin/login`);
    await page.goto(`http://localhost:${attacker.port}/`, { waitUntil: 'commit' });
    await posted;
    await page.waitForURL(`${BASE}/admin**`);
    await page.waitForLoadState();
    await page.goto(`${BASE}/admin`);
    assert.equal(
      new URL(page.url()).pathname,
      '/admin/login',
      `a login form posted from another site logged the browser in as ${MEMBER.email}`,
    );
  });

  it('the users and audit pages show who did what', async () => {
    const page = await adminPage();
    const users = await page.goto(`${BASE}/admin/users`);
    assert.equal(users.status(), 200);
    const text = await page.textContent('main table');
    assert.ok(text.includes(ADMIN.email) && text.includes(MEMBER.email), text);
    await screenshot(page, 'users', { fullPage: true });

    const audit = await page.goto(`${BASE}/admin/audit`);
    assert.equal(audit.status(), 200);
    const rowsOf = () =>
      page.$$eval('main tbody tr', (trs) =>
        trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => [td.textContent, td.title])),
      );
    // Each action through the filter form: the page shows it in words, its code as the cell's title.
    for (const [code, words] of [
      ['credential.created', 'Credential created'],
      ['credential.updated', 'Credential changed'],
      ['credential.rotated', 'Secret rotated'],
      ['credential.deleted', 'Credential deleted'],
    ]) {
      await page.goto(`${BASE}/admin/audit`);
      await page.selectOption('#audit-filters select[name=action]', code);
      await submit(page, '#audit-filters button[type=submit]');
      const rows = await rowsOf();
      assert.ok(rows.length > 0, `${code} missing from the audit log`);
      assert.ok(
        rows.every((r) => r[2][0] === words && r[2][1] === code),
        `${code}: ${JSON.stringify(rows.slice(0, 3))}`,
      );
      assert.ok(rows.some((r) => r[1][0].includes(ADMIN.email)), 'the admin is named as actor');
    }
    // Created credentials carry their label next to the client ID.
    await page.selectOption('#audit-filters select[name=action]', 'credential.created');
    await submit(page, '#audit-filters button[type=submit]');
    assert.match(await page.textContent('main tbody'), / · /);
    const csv = await page.request.get(`${BASE}/admin/audit/export?format=csv&action=credential.created`);
    assert.equal(csv.status(), 200);
    assert.match(csv.headers()['content-type'], /^text\/csv/);
    const lines = (await csv.text()).trim().split('\r\n');
    assert.equal(lines[0], 'seq,at,actor,action,target,remote_addr');
    assert.ok(lines.length > 1 && lines.slice(1).every((l) => l.includes(',credential.created,')), lines.join('\n'));
    await page.goto(`${BASE}/admin/audit`);
    const html = await page.content();
    assert.ok(!html.includes('tgsec_'), 'a secret is shown in the audit log');
    await screenshot(page, 'audit');
  });

  it('the scope matrix tools filter rows, tick all read, clear, and the ticks are saved', async () => {
    const page = await adminPage();
    await page.goto(`${BASE}/admin/credentials`);
    const form = '#create-form';
    assert.ok(await page.locator(`${form} [data-js-only]`).isVisible(), 'the matrix tools are hidden with JavaScript on');
    const shownRows = () =>
      page.$$eval(`${form} table.matrix tbody tr`, (trs) => trs.filter((tr) => !tr.hidden).map((tr) => tr.dataset.resource));
    const allRows = await shownRows();
    assert.deepEqual(allRows, ['groups', 'users'], 'the company allows groups and users');
    const allowedRead = await page.$$eval(`${form} input[name=scope][data-action=read]`, (bs) => bs.map((b) => b.value).sort());
    assert.deepEqual(allowedRead, ['groups:read', 'users:read']);

    // The filter (any case) hides the rows that do not match; "Tick all read" ticks only the rows
    // shown. ("users" would match both rows: the groups' description speaks of users.)
    await page.fill(`${form} input[data-scope-filter]`, 'GROUPS:W');
    assert.deepEqual(await shownRows(), ['groups']);
    await page.click(`${form} button[data-tick=read]`);
    assert.deepEqual(await tickedScopes(page, form), ['groups:read']);
    await page.fill(`${form} input[data-scope-filter]`, '');
    assert.deepEqual(await shownRows(), allRows);

    // Unfiltered: exactly the allowed :read scopes; "Clear all" unticks everything.
    await page.check(`${form} input[name=scope][value="groups:write"]`);
    await page.click(`${form} button[data-tick=""]`);
    assert.deepEqual(await tickedScopes(page, form), []);
    await page.click(`${form} button[data-tick=read]`);
    assert.deepEqual(await tickedScopes(page, form), allowedRead);

    // Saved as ticked.
    await page.fill(`${form} input[name=label]`, 'Matrix tools');
    const response = await submit(page, `${form} button[type=submit]`);
    assert.equal(response.status(), 201);
    const clientId = (await page.textContent('#client-id')).trim();
    const saved = (await listed(page)).find((c) => c.clientId === clientId);
    assert.deepEqual(saved?.scopes.sort(), allowedRead, JSON.stringify(saved));
    await page.goto(`${BASE}/admin/credentials/${clientId}`);
    assert.deepEqual(await tickedScopes(page, '#edit-form'), allowedRead);
    matrixClientId = clientId;
  });

  it('every page passes axe-core, fits a phone and has a skip link, at 1280 and 390 px', async () => {
    const page = await adminPage();
    // Something to show on every page: a credential in a rotation's grace (the previous test's: the
    // company is at its limit of credentials now), a webhook with a delivery.
    const clientId = matrixClientId;
    assert.ok(clientId, 'the scope matrix test made no credential');
    await page.goto(`${BASE}/admin/credentials/${clientId}`);
    await page.fill('#rotate-form input[name=grace]', '3600');
    assert.equal((await submit(page, '#rotate-form button[type=submit]')).status(), 200);
    await page.goto(`${BASE}/admin/webhooks`);
    await page.fill('#webhook-form input[name=url]', 'http://127.0.0.1:9/hooks/tollgate-accessibility-check');
    assert.ok((await submit(page, '#webhook-form button[type=submit]')).ok());
    await page.goto(`${BASE}/admin/webhooks`);
    const hook = await page.getAttribute('#webhooks a[href^="/admin/webhooks/"]', 'href');
    await page.goto(`${BASE}${hook}`);
    await submit(page, 'form[action$="/test"] button[type=submit]');

    const pages = [
      ['credentials', '/admin/credentials', 3, 'credentials'],
      ['edit', `/admin/credentials/${clientId}`, 3, 'edit'],
      ['delete', `/admin/credentials/${clientId}/delete`, 0],
      ['users', '/admin/users', 2],
      ['audit', '/admin/audit', 5],
      ['webhooks', '/admin/webhooks', 1, 'webhooks'],
      ['webhook', hook, 1],
      ['change password', '/admin/password', 0],
    ];
    const views = [
      [DESKTOP, ''],
      [PHONE, '-390'],
    ];
    for (const [size, suffix] of views) {
      await page.setViewportSize(size);
      for (const [what, url, times, shot] of pages) {
        const r = await page.goto(`${BASE}${url}`);
        assert.equal(r.status(), 200, `${what}: ${url}`);
        await checkAccessible(page, `${what} at ${size.width} px`, { times });
        if (shot && (suffix || shot === 'webhooks')) await screenshot(page, `${shot}${suffix}`, { fullPage: true });
      }
    }

    // Logged out, and as a member.
    for (const [size] of views) {
      const out = await newPage();
      await out.setViewportSize(size);
      await out.goto(`${BASE}/admin/login`);
      await checkAccessible(out, `login at ${size.width} px`);
      await login(out, MEMBER);
      assert.equal(new URL(out.url()).pathname, '/admin');
      await checkAccessible(out, `member's page at ${size.width} px`);
      await out.goto(`${BASE}/admin/password`);
      await checkAccessible(out, `member's change password at ${size.width} px`);
    }
  });

  it('the 11th credential is refused with a message about the limit', async () => {
    const page = await adminPage();
    let count = (await listed(page)).length;
    while (count < MAX_CREDENTIALS) {
      const { response } = await createCredential(page, `Filler ${count + 1}`, ['users:read']);
      assert.equal(response.status(), 201);
      count += 1;
    }
    await page.goto(`${BASE}/admin/credentials`);
    assert.match(await page.textContent('main'), new RegExp(`${MAX_CREDENTIALS} of ${MAX_CREDENTIALS} credentials used`));
    assert.match(await page.textContent('main'), /reached its limit of 10 API credentials/);

    assert.ok(await page.isDisabled('#create-form button[type=submit]'), 'create is disabled at the limit');
    // The server refuses too: a form sent anyway (from a page loaded before the limit was reached).
    await page.fill('#create-form input[name=label]', 'One too many');
    await page.check('#create-form input[name=scope][value="groups:read"]');
    const [response] = await Promise.all([
      page.waitForNavigation(),
      page.$eval('#create-form', (form) => form.submit()),
    ]);
    assert.equal(response.status(), 409);
    assert.equal(await page.locator('#client-secret').count(), 0, 'a secret was shown for a refused credential');
    const alert = await page.textContent('[role=alert]');
    assert.match(alert, /maximum of 10 credentials/);
    await screenshot(page, 'limit', { fullPage: true });
    const now = await listed(page);
    assert.equal(now.length, MAX_CREDENTIALS);
    assert.ok(!now.some((c) => c.label === 'One too many'));
  });
});
