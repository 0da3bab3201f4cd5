// The web console in a real browser: headless Chromium (Debian's package) driven by
// playwright-core, against three real node processes on 127.0.0.1 serving the generated tiny
// test model, the first with an API token. Screenshots go to a temporary directory, whose path
// is printed.
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { listenPort, spawnNode, type NodeProcess } from '../helpers/proc.ts';
import { until } from '../helpers/runtime.ts';
import { describeNeeding } from '../helpers/needs.ts';
import { testModelPath } from '../helpers/test-model.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const TOKEN = 'console-test-token';
const auth = { authorization: `Bearer ${TOKEN}` };

/** A port free right now, for the main node's API: it must come back on the same one after a restart. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * A script for the page: records in `window[name]` every distinct non-empty value of `expr`
 * after each DOM change, so a state shown only briefly is still seen.
 */
const watch = (name: string, expr: string) => `(() => {
  const seen = window[${JSON.stringify(name)}] = [];
  new MutationObserver(() => {
    const v = ${expr};
    if (v && seen[seen.length - 1] !== v) seen.push(v);
  }).observe(document.body, { subtree: true, attributes: true, childList: true, characterData: true });
})()`;

interface Running { proc: NodeProcess; peerId: string; port: number; url: string }

describeNeeding('web console in headless Chromium', existsSync(CHROMIUM) ? undefined : `needs Chromium at ${CHROMIUM} (Debian's chromium package; or set CHROMIUM_PATH)`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'mvp-console-'));
  const shots = mkdtempSync(join(tmpdir(), 'mvp-console-shots-'));
  const cfg = join(dir, 'node.toml');
  writeFileSync(cfg, ['[api]', `token = "${TOKEN}"`, '[executor]', 'max_load_per_core = 1000',
    '[distributed_orchestration]', 'heartbeat_timeout_secs = 6', '[monitoring]', 'health_check_interval_secs = 3600'].join('\n'));
  let apiPort = 0;
  let main: Running;
  const peers: Running[] = [];
  let browser: Browser;
  /** Console and page errors, by page. */
  const errors = new Map<Page, string[]>();

  async function start(id: string, boot?: Running, env: Record<string, string> = {}): Promise<Running> {
    const proc = spawnNode(['-c', cfg, '--node-id', id, '--port', '0', '--data-dir', dir,
      ...(boot ? ['--bootstrap', `/ip4/127.0.0.1/tcp/${boot.port}/p2p/${boot.peerId}`] : [])], env);
    const port = await listenPort(proc);
    const api = await proc.waitFor((l) => l.msg.startsWith('API listening on'), 60_000, 'the API');
    const started = await proc.waitFor((l) => l.msg.startsWith('Node started'), 60_000, 'node start');
    // The console's address is logged beside the API's.
    await proc.waitFor((l) => l.msg.startsWith(`Console at ${String(api.url)}/`), 5000, 'the console URL');
    return { proc, port, peerId: String(started.peer_id), url: String(api.url) };
  }

  const peerCount = async (r: Running) => ((await (await fetch(`${r.url}/peers`, { headers: auth })).json()) as unknown[]).length;

  async function shot(page: Page, name: string): Promise<string> {
    const path = join(shots, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    console.log(`screenshot: ${path}`);
    return path;
  }

  /** A page on the console, with console errors and page errors collected. */
  async function open(): Promise<Page> {
    const context = await browser.newContext();
    const page = await context.newPage();
    const mine: string[] = [];
    errors.set(page, mine);
    page.on('console', (m) => { if (m.type() === 'error') mine.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => mine.push(`page: ${e.message}`));
    page.on('response', (r) => { if (r.status() >= 400) mine.push(`http ${r.status()} ${r.request().method()} ${r.url()}`); });
    await page.goto(`${main.url}/`);
    return page;
  }

  async function login(page: Page): Promise<void> {
    await page.getByLabel('API token').fill(TOKEN);
    await page.getByRole('button', { name: 'Open' }).click();
    await page.getByTestId('connection').filter({ hasText: 'live' }).waitFor({ timeout: 30_000 });
  }

  before(async () => {
    apiPort = await freePort();
    main = await start('main', undefined, { MVP_NODE_API_PORT: String(apiPort) });
    peers.push(await start('peer-b', main), await start('peer-c', main));
    await until(async () => (await peerCount(main)) === 2, 60_000, 'the main node to know its 2 peers');
    // launch() (not a persistent context) gives the browser a fresh profile directory of its own.
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    console.log(`screenshots in ${shots}`);
  });

  after(async () => {
    await browser?.close();
    await Promise.all([main, ...peers].filter(Boolean).map((r) => r.proc.stop()));
  });

  it('without the token shows the login prompt and no data', async () => {
    const page = await open();
    await page.getByTestId('login').waitFor();
    await shot(page, '1-login');
    assert.equal(await page.locator('main').count(), 0, 'no panel is rendered');
    assert.equal(await page.getByTestId('peer-row').count(), 0);
    const text = await page.locator('body').innerText();
    assert.ok(!text.includes(peers[0]!.peerId) && !text.includes('peer-b'), 'no peer shows before the token');
    // The page itself is public; everything with data is not.
    const api = await page.evaluate(async () => (await fetch('/peers')).status);
    assert.equal(api, 401);
    await page.context().close();
  });

  it('loads with no console errors and shows the 2 peers and the actors', async () => {
    const page = await open();
    const res = await page.request.get(`${main.url}/`);
    const csp = res.headers()['content-security-policy'] ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    await login(page);
    // The token was asked once: this tab keeps it, so a reload goes straight to the data.
    await page.reload();
    await page.getByTestId('connection').filter({ hasText: 'live' }).waitFor({ timeout: 30_000 });
    assert.equal(await page.getByTestId('login').count(), 0);
    await page.getByTestId('peer-count').filter({ hasText: '2 peers' }).waitFor({ timeout: 30_000 });
    assert.equal(await page.getByTestId('peer-row').count(), 2);
    for (const name of ['network', 'scheduler', 'consensus', 'api']) {
      await page.getByTestId(`actor-${name}`).waitFor();
      assert.equal(await page.getByTestId(`actor-${name}`).getAttribute('data-status'), 'running');
    }
    await page.getByTestId('model-row').first().waitFor({ timeout: 30_000 });
    assert.equal(await page.evaluate('sessionStorage.getItem("mvp-node.token")'), TOKEN, 'the token is kept for this tab');
    await shot(page, '2-loaded');
    assert.deepEqual(errors.get(page), [], 'no console or page error while loading');
    await page.context().close();
  });

  it('Kill network: the actor panel shows it down, then running again', async () => {
    const page = await open();
    await login(page);
    const row = page.getByTestId('actor-network');
    await row.waitFor();
    const restartsBefore = Number(await row.locator('td').nth(4).innerText());
    // Every status the row shows, however briefly.
    await page.evaluate(watch('seen', 'document.querySelector(\'[data-testid="actor-network"]\')?.getAttribute("data-status")'));
    await row.getByRole('button', { name: 'Kill' }).click();
    await page.getByTestId('actor-news').filter({ hasText: 'network down' }).waitFor({ timeout: 30_000 });
    await until(async () => (await row.getAttribute('data-status')) === 'running' && Number(await row.locator('td').nth(4).innerText()) > restartsBefore,
      60_000, 'the network actor to run again, one restart more');
    const seen = await page.evaluate('window.seen') as string[];
    assert.ok(seen.some((s) => s !== 'running'), `the row showed the actor down (saw ${seen.join(' → ')})`);
    assert.equal(seen[seen.length - 1], 'running');
    await page.getByTestId('actor-news').filter({ hasText: 'network up' }).waitFor();
    await shot(page, '3-network-killed');
    await page.context().close();
  });

  it('streams a playground chat token by token and marks its receipt verified', async () => {
    const page = await open();
    await login(page);
    await page.getByTestId('model-row').first().waitFor({ timeout: 30_000 });
    await page.evaluate(watch('texts', 'document.querySelector(\'[data-testid="playground-output"]\')?.textContent'));
    await page.getByLabel('prompt').fill('Describe the network in detail');
    // Long enough that the tokens cannot all arrive in one network read, and greedy: the test
    // model is generated from a fixed seed, so this answer is the same every run.
    await page.getByLabel('max tokens').fill('400');
    await page.getByLabel('temperature').fill('0');
    await page.getByRole('button', { name: 'Send' }).click();
    const verdict = page.getByTestId('playground-verdict');
    await verdict.and(page.locator('[data-verified="true"], [data-verified="false"]')).waitFor({ timeout: 120_000 });
    await shot(page, '4-playground');
    assert.equal(await verdict.getAttribute('data-verified'), 'true', await verdict.innerText());
    const receipt = await page.getByTestId('playground-receipt').innerText();
    assert.match(receipt, /receipt \S+ · executor \S+/);
    const texts = await page.evaluate('window.texts') as string[];
    const chunks = Number(await page.getByTestId('playground-output').getAttribute('data-chunks'));
    assert.ok(chunks > 1, `the answer came in ${chunks} deltas`);
    assert.ok(texts.length >= 2, `the output grew while streaming (saw ${texts.length} states)`);
    console.log(`the answer came in ${chunks} deltas, shown in ${texts.length} steps`);
    await page.context().close();
  });

  it('answers a question asked in the Orchestrator panel', async () => {
    const page = await open();
    await login(page);
    await page.getByLabel('question').fill('how many peers are connected?');
    await page.getByRole('button', { name: 'Ask' }).click();
    const answer = page.getByTestId('ask-answer');
    await answer.filter({ hasNotText: 'asking…' }).waitFor({ timeout: 60_000 });
    assert.match(await answer.innerText(), /intent: \S+/);
    await page.context().close();
  });

  it('holds an action asked for, and Confirm and Reject settle held decisions', async () => {
    const page = await open();
    await login(page);
    const held = page.locator('[data-testid="decision-row"][data-outcome="held"]');
    for (const sentence of ['scale the queue to 200', 'double the queue']) {
      await page.getByLabel('question').fill(sentence);
      await page.getByRole('button', { name: 'Ask' }).click();
      await page.getByTestId('ask-answer').filter({ hasText: '(held)' }).waitFor({ timeout: 60_000 });
    }
    await until(async () => (await held.count()) === 2, 10_000, 'both held decisions in the Decisions table');
    const [first, second] = [await held.nth(0).getAttribute('data-decision'), await held.nth(1).getAttribute('data-decision')];
    await held.nth(0).getByRole('button', { name: 'Confirm' }).click();
    await page.locator(`[data-decision="${first}"][data-outcome="executed"]`).waitFor({ timeout: 30_000 });
    await page.locator(`[data-decision="${second}"]`).getByRole('button', { name: 'Reject' }).click();
    await page.locator(`[data-decision="${second}"][data-outcome="rejected"]`).waitFor({ timeout: 30_000 });
    await shot(page, '5-orchestrator');
    await page.context().close();
  });

  it('marks a receipt altered on its way to the page invalid, and the untouched one verified', async () => {
    const page = await open();
    await login(page);
    // A job to look up: one run through the gateway, whichever node executed it.
    const r = await fetch(`${main.url}/v1/chat/completions`, {
      method: 'POST', headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'mvp-test-tiny', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(r.status, 200);
    const jobId = ((await r.json()) as { mvp: { job_id: string } }).mvp.job_id;
    await until(async () => (await fetch(`${main.url}/jobs/${jobId}`, { headers: auth })).status === 200, 30_000, 'the receipt to reach the main node');

    await page.getByLabel('job id').fill(jobId);
    await page.getByRole('button', { name: 'Look up' }).click();
    const verdict = page.getByTestId('job-receipt-verdict');
    await verdict.and(page.locator('[data-verified="true"], [data-verified="false"]')).waitFor({ timeout: 30_000 });
    assert.equal(await verdict.getAttribute('data-verified'), 'true', await verdict.innerText());

    // The node (or anything between it and the page) now lies about the job's output.
    await page.route(`**/jobs/${jobId}`, async (route) => {
      const res = await route.fetch();
      const body = (await res.json()) as { receipt: { body: { tokens_out: number } } };
      body.receipt.body.tokens_out += 1;
      await route.fulfill({ response: res, json: body });
    });
    await page.getByRole('button', { name: 'Look up' }).click();
    await verdict.and(page.locator('[data-verified="false"]')).waitFor({ timeout: 30_000 });
    assert.match(await verdict.innerText(), /invalid \(signature\)/);
    await shot(page, '6-forged-receipt');
    await page.context().close();
  });

  it('ignores and counts malformed events, resynchronises from REST after lost ones, and never blanks the page', async () => {
    const page = await open();
    // Between the node and the page, the stream is mangled: bad lines, a wrong shape, lost lines.
    await page.route('**/events', async (route) => {
      const hello = JSON.stringify({ seq: 1, type: 'hello', data: { node_id: 'main', peer_id: main.peerId, sample_ms: 400 } });
      await route.fulfill({
        status: 200, contentType: 'application/x-ndjson',
        body: [hello, '{not json', JSON.stringify({ seq: 2, type: 'peers', data: 'not a list' }), JSON.stringify({ seq: 9, type: 'ping', data: {} }), ''].join('\n'),
      });
    });
    await page.getByLabel('API token').fill(TOKEN);
    await page.getByRole('button', { name: 'Open' }).click();
    await until(async () => Number(await page.getByTestId('malformed').innerText()) >= 2, 30_000, 'the malformed lines to be counted');
    await until(async () => Number(await page.getByTestId('resyncs').innerText()) >= 2, 30_000, 'a resync after the gap');
    await page.getByTestId('peer-count').filter({ hasText: '2 peers' }).waitFor({ timeout: 30_000 });
    assert.equal(await page.getByTestId('peer-row').count(), 2, 'the peers come from REST, the bad event changed nothing');
    await page.getByTestId('actor-network').waitFor();
    assert.deepEqual(errors.get(page)!.filter((e) => e.startsWith('page:')), [], 'no script error');
    await shot(page, '7-mangled-stream');
    await page.context().close();
  });

  it('loads a second model by path from the Models panel, shows it served here, then unloads it', async () => {
    // Another tiny model (another seed, so another sha256): the nodes' own model stays for the other tests.
    const second = await testModelPath('tiny', 2);
    const loadedHere = async () => ((await (await fetch(`${main.url}/models`, { headers: auth })).json()) as { loaded: Array<{ model: string }> })
      .loaded.map((m) => m.model);
    const page = await open();
    await login(page);
    await page.getByTestId('model-row').first().waitFor({ timeout: 30_000 });
    // A file that is not there: the node's refusal shows beside the form.
    await page.getByLabel('model file path or sha256').fill(join(dir, 'no-such-model.gguf'));
    await page.getByRole('button', { name: 'Load', exact: true }).click();
    await page.locator('[data-testid="model-outcome-load"].refused').filter({ hasText: 'no-such-model.gguf' }).waitFor({ timeout: 30_000 });

    await page.getByLabel('model file path or sha256').fill(second);
    await page.getByLabel('model name').fill('second-tiny');
    await page.getByRole('button', { name: 'Load', exact: true }).click();
    await page.getByTestId('model-outcome-load').filter({ hasText: 'loaded second-tiny' }).waitFor({ timeout: 120_000 });
    const row = page.getByTestId('loaded-second-tiny');
    await row.waitFor({ timeout: 30_000 });
    assert.ok((await loadedHere()).includes('second-tiny'), 'the node serves it');
    await shot(page, '10-model-loaded');

    await row.getByRole('button', { name: 'Unload' }).click();
    await row.waitFor({ state: 'detached', timeout: 120_000 });
    assert.ok(!(await loadedHere()).includes('second-tiny'), 'the node no longer serves it');
    assert.equal(await page.getByTestId('model-outcome-unload-second-tiny').count(), 0, 'the row and its outcome are gone with the model');
    assert.ok((await page.locator('[data-testid^="loaded-"]').count()) >= 1, 'the node\'s own model is still listed');
    assert.deepEqual(errors.get(page)!.filter((e) => e.startsWith('page:')), [], 'no script error');
    await page.context().close();
  });

  it('pulls a model a peer serves from the Models panel and shows the pull done, every byte in', async () => {
    const second = await testModelPath('tiny', 2);
    const json = { ...auth, 'content-type': 'application/json' };
    const loaded = await fetch(`${peers[0]!.url}/models`, { method: 'POST', headers: json, body: JSON.stringify({ path: second, name: 'peer-only' }) });
    assert.equal(loaded.status, 201);
    const { sha256 } = await loaded.json() as { sha256: string };
    try {
      const page = await open();
      await login(page);
      const row = page.getByTestId('model-row').filter({ hasText: 'peer-only' });
      await row.waitFor({ timeout: 30_000 });
      await row.getByRole('button', { name: 'Pull' }).click();
      const pull = page.getByTestId(`pull-${sha256}`);
      await page.locator(`[data-testid="pull-${sha256}"][data-state="done"]`).waitFor({ timeout: 60_000 });
      const size = await pull.locator('progress').getAttribute('max');
      assert.ok(Number(size) > 0);
      assert.equal(await pull.locator('progress').getAttribute('value'), size, 'every byte in');
      assert.match(await pull.innerText(), /peer-b: \d+ chunks/, 'its source is listed by node id');
      await shot(page, '11-model-pulled');
      assert.deepEqual(errors.get(page)!.filter((e) => e.startsWith('page:')), [], 'no script error');
      await page.context().close();
    } finally {
      await fetch(`${peers[0]!.url}/models/peer-only`, { method: 'DELETE', headers: auth });
      await fetch(`${main.url}/models/prune`, { method: 'POST', headers: auth });
    }
  });

  it('shows "disconnected" when the node goes away and reconnects when it is back', async () => {
    const page = await open();
    await login(page);
    await page.getByTestId('peer-count').filter({ hasText: '2 peers' }).waitFor({ timeout: 30_000 });
    await main.proc.stop('SIGKILL');
    await page.getByTestId('connection').filter({ hasText: 'disconnected' }).waitFor({ timeout: 30_000 });
    assert.ok(await page.getByTestId('peer-row').count() > 0, 'the last known state stays on screen');
    await shot(page, '8-disconnected');
    main = await start('main', peers[0], { MVP_NODE_API_PORT: String(apiPort) });
    await page.getByTestId('connection').filter({ hasText: 'live' }).waitFor({ timeout: 60_000 });
    await page.getByTestId('peer-count').filter({ hasText: '2 peers' }).waitFor({ timeout: 60_000 });
    await shot(page, '9-reconnected');
    await page.context().close();
  });

  it('refuses state-changing requests from a foreign page, and /v1 answers no cross-origin call', async () => {
    const kill = await fetch(`${main.url}/actors/scheduler/kill`, {
      method: 'POST', headers: { ...auth, origin: 'http://evil.example', 'content-type': 'application/json' }, body: '{}',
    });
    assert.equal(kill.status, 403);
    assert.equal(((await kill.json()) as { code: string }).code, 'foreign_origin');
    const chat = await fetch(`${main.url}/v1/chat/completions`, {
      method: 'POST', headers: { ...auth, origin: 'http://evil.example', 'content-type': 'application/json' }, body: '{}',
    });
    assert.equal(chat.status, 403);
    assert.equal(chat.headers.get('access-control-allow-origin'), null);
  });
});
