// The api actor as the console's server: the built page and its assets at `/` (public, under a
// strict Content-Security-Policy), everything with data behind the token, GET /events as one
// NDJSON stream of the node's changes, and state-changing routes closed to other sites' pages.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNode, type MvpNode } from '../../src/node/create-node.ts';
import { CONSOLE_DIR } from '../../src/actors/api/server.ts';
import { apiUrl } from '../helpers/api.ts';
import { testConfig } from '../helpers/config.ts';

const TOKEN = 'unit-console-token';
const auth = { authorization: `Bearer ${TOKEN}` };

interface Line { seq: number; type: string; data: unknown }

/** Reads /events until `pred` holds for the lines so far (or the time is up), then closes it. */
async function readEvents(url: string, pred: (lines: Line[]) => boolean, timeoutMs: number, act?: () => Promise<unknown>): Promise<Line[]> {
  const abort = new AbortController();
  const res = await fetch(`${url}/events`, { headers: auth, signal: abort.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /application\/x-ndjson/);
  const lines: Line[] = [];
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const decoder = new TextDecoder();
  let buf = '';
  let acted = false;
  try {
    for await (const chunk of res.body!) {
      buf += decoder.decode(chunk, { stream: true });
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) { lines.push(JSON.parse(buf.slice(0, i)) as Line); buf = buf.slice(i + 1); }
      if (!acted && act && lines.some((l) => l.type === 'actors')) { acted = true; await act(); }
      if (pred(lines)) break;
    }
  } catch (err) {
    if ((err as Error).name !== 'AbortError') throw err;
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
  return lines;
}

describe('api actor: the web console', () => {
  let node: MvpNode;
  let url: string;
  before(async () => {
    node = await createNode(testConfig({ node: { listen_host: '127.0.0.1', listen_port: 0 }, api: { token: TOKEN } }), { persistIdentity: false, serveModels: false });
    await node.start();
    url = await apiUrl(node);
  });
  after(() => node.stop());

  it('serves the built page and its assets without the token, under a strict CSP', async () => {
    const page = await fetch(`${url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.equal(await page.text(), readFileSync(join(CONSOLE_DIR, 'index.html'), 'utf8'));
    const csp = page.headers.get('content-security-policy') ?? '';
    for (const d of ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"]) assert.ok(csp.includes(d), d);
    assert.doesNotMatch(csp, /unsafe/);
    const js = await fetch(`${url}/assets/app.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    assert.deepEqual(await fetch(`${url}/console.json`).then((r) => r.json()), { token_required: true });
  });

  it('keeps every route with data behind the token, /events included, and has no inline script', async () => {
    for (const path of ['/events', '/peers', '/actors', '/jobs', '/assets/nothing.js', '/?x=1']) {
      assert.equal((await fetch(`${url}${path}`)).status, 401, path);
    }
    const html = readFileSync(join(CONSOLE_DIR, 'index.html'), 'utf8');
    assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)[^>]*>/, 'every script element has a src');
    assert.doesNotMatch(html, /\son[a-z]+=/i, 'no inline event handler');
  });

  it('streams hello, every topic, then an actor going down, up, and its crash counted', async () => {
    type Actors = Array<{ name: string; status: string; crashes: number }>;
    const recovered = (l: Line) => l.type === 'actors' && (l.data as Actors).some((a) => a.name === 'scheduler' && a.status === 'running' && a.crashes >= 1);
    const lines = await readEvents(url, (ls) => ls.some((l) => l.type === 'actor_up') && ls.some(recovered), 30_000,
      () => fetch(`${url}/actors/scheduler/kill`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"how":"throw"}' }));
    assert.equal(lines[0]!.type, 'hello');
    assert.equal((lines[0]!.data as { peer_id: string }).peer_id, node.peerId);
    assert.deepEqual(lines.map((l) => l.seq), lines.map((_, i) => i + 1), 'seq counts every line from 1');
    for (const t of ['peers', 'actors', 'jobs', 'orchestration', 'decisions', 'models']) assert.ok(lines.some((l) => l.type === t), t);
    // The models topic is GET /models's answer: this node's models, the swarm's, the pulls.
    const models = lines.find((l) => l.type === 'models')!.data as { loaded: unknown[]; swarm: unknown[]; pulls: unknown[] };
    assert.deepEqual(models, await (await fetch(`${url}/models`, { headers: auth })).json());
    const down = lines.findIndex((l) => l.type === 'actor_down');
    assert.ok(down > 0, 'actor_down sent');
    assert.equal((lines[down]!.data as { name: string }).name, 'scheduler');
    const up = lines.findIndex((l) => l.type === 'actor_up');
    assert.ok(up > down, 'actor_up after actor_down');
    assert.equal((lines[up]!.data as { name: string }).name, 'scheduler');
    assert.ok(lines.findIndex(recovered) > down, 'the actors topic shows the crash once it happened');
  });

  it('sends a topic again only when it changed', async () => {
    const lines = await readEvents(url, () => false, 2500);
    const perTopic = (t: string) => lines.filter((l) => l.type === t).length;
    // Peers, jobs and the like do not change on an idle node: sent once, not every 400 ms sample.
    assert.equal(perTopic('jobs'), 1);
    assert.equal(perTopic('models'), 1);
  });

  it('refuses a state-changing request from another site\'s page; the same origin and no origin pass', async () => {
    const block = (origin?: string) => fetch(`${url}/peers/${'12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp'}/block`, {
      method: 'POST', headers: { ...auth, ...(origin ? { origin } : {}) },
    });
    const foreign = await block('http://evil.example');
    assert.equal(foreign.status, 403);
    assert.deepEqual(Object.keys(await foreign.json() as object), ['code', 'message', 'retryable']);
    assert.notEqual((await block(url)).status, 403);
    assert.notEqual((await block()).status, 403);
    const pre = await fetch(`${url}/v1/chat/completions`, { method: 'OPTIONS', headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
    assert.equal(pre.headers.get('access-control-allow-origin'), null, '/v1 answers no cross-origin call');
  });
});
