// The web console's weight and first paint: one real node (TCP, the api actor, the tiny test
// model) and Debian's headless Chromium through playwright-core. Each round opens a fresh
// browser context (empty cache) and reads the Navigation/Resource/Paint timing entries: bytes
// transferred, first paint, first contentful paint, and when the swarm panel first shows data
// from the event stream. Prints one line per round and the medians.
//
//   node --import tsx --import ./src/polyfill.ts bench/console.ts
//   BENCH_ROUNDS=5 CHROMIUM_PATH=/usr/bin/chromium (defaults shown)
import { chromium } from 'playwright-core';
import { createNode } from '../src/node/create-node.ts';
import { testConfig } from '../test/helpers/config.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const node = await createNode(testConfig({ node: { listen_host: '127.0.0.1', listen_port: 0 } }), { persistIdentity: false });
await node.start();
const url = await node.supervisor.request<string>('api', { type: 'api.url' }, 5000);
const browser = await chromium.launch({
  executablePath: CHROMIUM, headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

interface Round { bytes: number; decoded: number; requests: number; fp: number; fcp: number; live: number }
const rounds: Round[] = [];
try {
  for (let i = 0; i < ROUNDS; i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${url}/`);
    await page.getByTestId('actor-network').waitFor({ timeout: 30_000 });
    const live = await page.evaluate('performance.now()') as number;
    const r = await page.evaluate(`(() => {
      const nav = performance.getEntriesByType('navigation')[0];
      const res = performance.getEntriesByType('resource').filter((e) => !e.name.includes('/events') && !e.name.includes('/v1/') && !/\\/(peers|actors|jobs|orchestration|orchestrator|console\\.json)/.test(e.name));
      const paint = Object.fromEntries(performance.getEntriesByType('paint').map((p) => [p.name, p.startTime]));
      return {
        bytes: nav.transferSize + res.reduce((s, e) => s + e.transferSize, 0),
        decoded: nav.decodedBodySize + res.reduce((s, e) => s + e.decodedBodySize, 0),
        requests: 1 + res.length,
        fp: paint['first-paint'] ?? -1, fcp: paint['first-contentful-paint'] ?? -1,
      };
    })()`) as Omit<Round, 'live'>;
    rounds.push({ ...r, live });
    console.log(`round ${i + 1}: ${r.requests} static requests, ${r.bytes} bytes transferred (${r.decoded} decoded), first paint ${r.fp.toFixed(0)} ms, first contentful paint ${r.fcp.toFixed(0)} ms, data shown ${live.toFixed(0)} ms`);
    await context.close();
  }
} finally {
  await browser.close();
  await node.stop();
}
const m = (k: keyof Round) => median(rounds.map((r) => r[k]));
console.log(`\nmedian of ${ROUNDS}: ${m('bytes')} bytes transferred for the page (${m('requests')} requests), first paint ${m('fp').toFixed(0)} ms, first contentful paint ${m('fcp').toFixed(0)} ms, actors shown ${m('live').toFixed(0)} ms after navigation start`);
