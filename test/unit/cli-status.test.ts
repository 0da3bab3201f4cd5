// How `mvp-node status | peers | jobs` find a running node (api.json in the data directory, a
// live pid, --node-id or the only one) and how they print what its API answered. The commands
// against real node processes: test/integration/cli-status.test.ts.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findNode } from '../../src/cli/node-api.ts';
import { formatJobs, formatPeers, formatStatus, span, table } from '../../src/cli/status.ts';
import type { HealthBody } from '../../src/actors/api/messages.ts';
import type { ActorInfo } from '../../src/runtime/supervisor.ts';
import { tmpDir } from '../helpers/config.ts';

/** A pid that surely names no process: one of ours that has exited. */
const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;

function node(dir: string, id: string, url: string, pid = process.pid) {
  mkdirSync(join(dir, id), { recursive: true });
  writeFileSync(join(dir, id, 'api.json'), JSON.stringify({ url, pid }));
}

const failure = (message: RegExp) => (err: Error & { exitCode?: number }) => {
  assert.equal(err.name, 'CommandFailedError');
  assert.equal(err.exitCode, 1);
  assert.match(err.message, message);
  return true;
};

describe('finding the node to talk to', () => {
  it('takes --api as given, without looking at the data directory', async () => {
    assert.deepEqual(await findNode({ api: 'http://10.0.0.5:8080/', dataDir: '/nonexistent' }), { url: 'http://10.0.0.5:8080' });
    await assert.rejects(findNode({ api: 'localhost:8080', dataDir: '/x' }), failure(/--api localhost:8080 is not an http\(s\) URL/));
    await assert.rejects(findNode({ api: 'nope', dataDir: '/x' }), failure(/--api nope is not a URL/));
  });

  it('finds the only node running in the data directory, skipping files left by dead processes', async () => {
    const dir = tmpDir();
    node(dir, 'alive', 'http://127.0.0.1:1111');
    node(dir, 'crashed', 'http://127.0.0.1:2222', deadPid());
    mkdirSync(join(dir, 'stopped'));
    assert.deepEqual(await findNode({ dataDir: dir }), { nodeId: 'alive', url: 'http://127.0.0.1:1111' });
  });

  it('with several running, lists them and asks for --node-id or --api; --node-id picks one', async () => {
    const dir = tmpDir();
    node(dir, 'a', 'http://127.0.0.1:1111');
    node(dir, 'b', 'http://127.0.0.1:2222');
    await assert.rejects(findNode({ dataDir: dir }),
      failure(new RegExp(`^2 nodes run in ${dir}: a \\(http://127\\.0\\.0\\.1:1111\\), b \\(http://127\\.0\\.0\\.1:2222\\); pick one with --node-id <id> or --api <url>$`)));
    assert.deepEqual(await findNode({ dataDir: dir, nodeId: 'b' }), { nodeId: 'b', url: 'http://127.0.0.1:2222' });
  });

  it('says plainly that no node runs, naming where it looked', async () => {
    const dir = tmpDir();
    const expected = (where: string) => failure(new RegExp(`^no running node found in ${where}: start one with \`npx mvp-node\` or pass --api <url>$`));
    await assert.rejects(findNode({ dataDir: dir }), expected(dir));
    await assert.rejects(findNode({ dataDir: join(dir, 'missing') }), expected(join(dir, 'missing')));
    node(dir, 'gone', 'http://127.0.0.1:3333', deadPid());
    await assert.rejects(findNode({ dataDir: dir, nodeId: 'gone' }), expected(join(dir, 'gone')));
  });
});

describe('printing what the API answered', () => {
  it('writes spans as a person reads them', () => {
    assert.deepEqual([span(0), span(42_400), span(303_000), span(7_620_000), span(3 * 86_400_000 + 4 * 3_600_000)], ['0s', '42s', '5m 3s', '2h 7m', '3d 4h']);
  });

  it('aligns table columns on their widest cell', () => {
    assert.equal(table(['A', 'BB', 'C'], [['xxx', 'y', 'z'], ['1', '22222', '3']]), 'A    BB     C\nxxx  y      z\n1    22222  3\n');
  });

  it('summarises a node\'s health and actors, naming restarted ones', () => {
    const h: HealthBody = {
      status: 'ok', node_id: 'alpha', peer_id: '12D3KooWabc', peers: 2, known_peers: 5, uptime_s: 303,
      actors: {}, models: { tiny: 'loaded' }, queue: { depth: 1, capacity: 100 },
    };
    const a = (name: string, restarts = 0, crashes = 0, placement: ActorInfo['placement'] = 'inline'): ActorInfo =>
      ({ name, placement, restart: 'permanent', status: 'running', state: 'running', restarts, crashes });
    assert.equal(formatStatus('http://127.0.0.1:5000', h, [a('scheduler'), a('network', 1, 1, 'thread')]), [
      'Node     alpha (12D3KooWabc)',
      'Status   ok, up 5m 3s',
      'API      http://127.0.0.1:5000',
      'Peers    2 connected, 5 known',
      'Queue    1 waiting, capacity 100',
      'Models   tiny (loaded)',
      'Actors   scheduler running, network running [thread]',
      'Restarts network 1 (1 crash)',
      '',
    ].join('\n'));
  });

  it('lists peers connected first, and says so when there are none', () => {
    const now = 1_000_000;
    assert.equal(formatPeers([], now), 'No peers known.\n');
    const text = formatPeers([
      { peer_id: 'P1', connected: false, addrs: [], last_seen: now - 3000, state: 'suspect', silent_ms: 3000, models: [], score: -12.5 },
      { peer_id: 'P2', node_id: 'beta', connected: true, addrs: ['/ip4/1.2.3.4/tcp/1'], last_seen: now, state: 'alive', silent_ms: 0, models: ['tiny', 'small'], score: 0 },
    ], now);
    assert.equal(text, [
      'PEER  NODE  CONNECTED  STATE    SCORE  LAST SEEN  MODELS',
      'P2    beta  yes        alive    0      0s ago     tiny, small',
      'P1    -     no         suspect  -12.5  3s ago     -',
      '',
    ].join('\n'));
  });

  it('lists jobs with a short id, tokens in→out and times, and says so when there are none', () => {
    const now = 2_000_000;
    assert.equal(formatJobs([], now), 'No jobs yet.\n');
    const text = formatJobs([{
      id: 'ab'.repeat(32), client: '12D3KooWFFFFFFFFFFFFFFabcdef', model: 'tiny', priority: 'normal', max_tokens: 8, status: 'completed',
      queued_at: now - 65_000, started_at: now - 64_000, finished_at: now - 63_000, queue_ms: 3, first_token_ms: 12, generation_ms: 1500, tokens_in: 4, tokens_out: 8,
    }], now);
    assert.equal(text, [
      'JOB           STATUS     MODEL  CLIENT         TOKENS  QUEUED  GENERATION  AGE',
      'abababababab  completed  tiny   12D3Ko…abcdef  4→8     3 ms    1.5 s       1m 5s ago',
      '',
    ].join('\n'));
  });
});
