// `mvp-node status | peers | jobs` as a user runs them: real `mvp-node` processes in one data
// directory, found through their api.json, one of them guarding its API with a token; a real
// job submitted with `mvp-node submit` shows up in `jobs` with its receipt.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HealthBody, JobBody } from '../../src/actors/api/messages.ts';
import type { JobRecord } from '../../src/actors/scheduler/messages.ts';
import type { ActorInfo } from '../../src/runtime/supervisor.ts';
import { tmpDir } from '../helpers/config.ts';
import { listenPort, runCli, spawnNode, type NodeProcess } from '../helpers/proc.ts';

describe('status, peers and jobs against running nodes', () => {
  let dir = '';
  let plainCfg = '';
  let tokenCfg = '';
  let boot = '';
  let alpha: NodeProcess;
  let beta: NodeProcess | undefined;
  const cli = (...args: string[]) => runCli([...args, '--data-dir', dir]);

  before(async () => {
    dir = tmpDir();
    plainCfg = join(dir, 'plain.toml');
    tokenCfg = join(dir, 'token.toml');
    // The test machine is busy by design; let the load manager claim anyway.
    writeFileSync(plainCfg, '[executor]\nmax_load_per_core = 1000\n');
    writeFileSync(tokenCfg, '[executor]\nmax_load_per_core = 1000\n[api]\ntoken = "s3cret"\n');
    alpha = spawnNode(['-c', plainCfg, '--node-id', 'alpha', '--port', '0', '--data-dir', dir]);
    boot = `/ip4/127.0.0.1/tcp/${await listenPort(alpha)}`;
    await alpha.waitFor((l) => l.msg.startsWith('Node started'), 60_000, 'alpha to start');
  });
  after(async () => { await Promise.all([alpha?.stop('SIGKILL'), beta?.stop('SIGKILL')]); });

  it('status finds the only node in the data directory and summarises it; --json gives the API\'s answers', async () => {
    const r = await cli('status');
    assert.equal(r.code, 0, r.stderr);
    const url = (JSON.parse(readFileSync(join(dir, 'alpha', 'api.json'), 'utf8')) as { url: string }).url;
    assert.match(r.stdout, /^Node {5}alpha \(12D3KooW\w+\)\nStatus {3}ok, up \d+[smhd]/);
    assert.match(r.stdout, new RegExp(`\\nAPI {6}${url}\\n`));
    assert.match(r.stdout, /\nModels {3}mvp-test-tiny \(loaded\)\n/);
    assert.match(r.stdout, /\nActors {3}store open, scheduler accepting \[thread\], inference:mvp-test-tiny ready \[thread\], network (joining|online|isolated) \[thread\], consensus (observer|member|candidate|coordinator|minority) \[thread\], orchestrator idle \[thread\], api serving \[thread\]\n/);
    const j = await cli('status', '--json');
    assert.equal(j.code, 0, j.stderr);
    const out = JSON.parse(j.stdout) as { url: string; health: HealthBody; actors: ActorInfo[] };
    assert.equal(out.url, url);
    assert.deepEqual([out.health.status, out.health.node_id], ['ok', 'alpha']);
    assert.equal(out.actors.length, 7);
  });

  it('actors lists the actors with their states; actors describe NAME prints its machine as xstate JSON', async () => {
    const list = await cli('actors');
    assert.equal(list.code, 0, list.stderr);
    const [head, ...rows] = list.stdout.trimEnd().split('\n');
    assert.match(head!, /^ACTOR +STATUS +STATE +PLACEMENT +RESTARTS +CRASHES$/);
    assert.ok(rows.some((r) => /^scheduler +running +accepting +thread +0 +0$/.test(r)), list.stdout);
    assert.ok(rows.some((r) => /^inference:mvp-test-tiny +running +ready +thread +0 +0$/.test(r)), list.stdout);

    const d = await cli('actors', 'describe', 'scheduler');
    assert.equal(d.code, 0, d.stderr);
    const def = JSON.parse(d.stdout) as { id: string; states: Record<string, { always?: Array<{ guard: string; target: string[] }> }> };
    assert.equal(def.id, 'scheduler');
    assert.deepEqual(Object.keys(def.states).sort(), ['accepting', 'draining', 'failed', 'full', 'starting']);
    assert.deepEqual(def.states.accepting!.always!.map((t) => [t.guard, t.target]), [['draining', ['#scheduler.draining']], ['full', ['#scheduler.full']]]);
    const j = JSON.parse((await cli('actors', 'describe', 'scheduler', '--json')).stdout) as { name: string; status: string; state: string; definition: unknown };
    assert.deepEqual([j.name, j.status, j.state], ['scheduler', 'running', 'accepting']);
    assert.deepEqual(j.definition, def);

    const unknown = await cli('actors', 'describe', 'nobody');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^Error: http:\/\/127\.0\.0\.1:\d+\/actors\/nobody\/machine answered 404 unknown_actor: /);
  });

  it('jobs lists a job run here, and jobs <id> shows its record and receipt', async () => {
    assert.equal((await cli('jobs')).stdout, 'No jobs yet.\n');
    const s = await runCli(['submit', '-b', boot, '--max-tokens', '8', '--temperature', '0', '--json', 'Hello there']);
    assert.equal(s.code, 0, s.stderr);
    const receipt = (JSON.parse(s.stdout) as { receipt: JobBody['receipt'] }).receipt!;
    const id = receipt.body.job_id;
    const list = await cli('jobs');
    assert.equal(list.code, 0, list.stderr);
    const [head, row] = list.stdout.split('\n');
    assert.match(head!, /^JOB +STATUS +MODEL +CLIENT +TOKENS +QUEUED +GENERATION +AGE$/);
    assert.match(row!, new RegExp(`^${id.slice(0, 12)} +completed +mvp-test-tiny +\\S+ +\\d+→${receipt.body.tokens_out} `));
    const json = JSON.parse((await cli('jobs', '--json', '--status', 'completed')).stdout) as JobRecord[];
    assert.deepEqual(json.map((x) => x.id), [id]);
    assert.equal((await cli('jobs', '--status', 'failed')).stdout, 'No jobs yet.\n');
    const one = await cli('jobs', id);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, new RegExp(`^Job {9}${id}\\nStatus {6}completed\\n`));
    assert.match(one.stdout, new RegExp(`\\nReceipt {5}${receipt.id}, executor ${receipt.body.executor}, `));
    const detail = JSON.parse((await cli('jobs', id, '--json')).stdout) as JobBody;
    assert.deepEqual(detail.receipt, receipt);
    const unknown = await cli('jobs', 'f'.repeat(64));
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^Error: http:\/\/127\.0\.0\.1:\d+\/jobs\/f{64} answered 404 unknown_job: this node has no record and no receipt of job f{64}\n$/);
  });

  it('submit without --bootstrap runs the job through the node running here and verifies its receipt', async () => {
    const s = await cli('submit', '--max-tokens', '8', '--temperature', '0', '--json', 'Through the local node');
    assert.equal(s.code, 0, s.stderr);
    const out = JSON.parse(s.stdout) as { text: string; receipt: NonNullable<JobBody['receipt']> };
    assert.equal(out.receipt.body.status, 'completed');
    assert.ok(out.receipt.body.tokens_out >= 1);
    // What the CLI printed verifies offline too: the executor's signature, the text and the prompt.
    const file = join(dir, 'local.json');
    writeFileSync(file, JSON.stringify({ ...out, prompt: 'Through the local node' }));
    const v = await runCli(['verify-receipt', file]);
    assert.equal(v.code, 0, v.stderr);
    // Streaming output, then the receipt line on stderr.
    const plain = await cli('submit', '--max-tokens', '4', '--temperature', '0', 'Again');
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stderr, /^Receipt \S+: job [0-9a-f]{12}… ran on 12D3KooW\w+ \(mvp-test-tiny\), \d+ tokens at [\d.]+ tokens\/s, status completed\n$/);
  });

  it('submit through a node API that alters the output fails the receipt check', async () => {
    const url = (JSON.parse(readFileSync(join(dir, 'alpha', 'api.json'), 'utf8')) as { url: string }).url;
    // A man in the middle: forwards to alpha's API, rewrites the streamed text of the completion.
    const proxy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void (async () => {
          const up = await fetch(`${url}${req.url}`, { method: req.method, headers: { 'content-type': 'application/json' }, ...(req.method === 'POST' ? { body: Buffer.concat(chunks) } : {}) });
          const body = await up.text();
          res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' });
          res.end(req.url === '/v1/completions' ? body.replace(/"text":"([^"]+)"/, '"text":"X$1"') : body);
        })().catch((err: Error) => { res.writeHead(500); res.end(err.message); });
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const s = await cli('submit', '--api', `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`, '--max-tokens', '8', '--temperature', '0', 'Tampered');
      assert.equal(s.code, 1, s.stderr);
      assert.match(s.stderr, /^Error: the receipt from 12D3KooW\w+ failed verification: output_hash: /m);
    } finally {
      proxy.close();
    }
  });

  it('submit with neither --bootstrap nor a node running here says what it needs', async () => {
    const s = await runCli(['submit', '--data-dir', tmpDir(), '--max-tokens', '4', 'x']);
    assert.equal(s.code, 1);
    assert.match(s.stderr, /^Error: submit needs --bootstrap <multiaddr> \(a node of the network\), or a node running on this machine \(no running node found in /);
  });

  it('with two nodes running asks which one; --node-id picks; peers shows the other', async () => {
    beta = spawnNode(['-c', tokenCfg, '--node-id', 'beta', '--port', '0', '--bootstrap', boot, '--data-dir', dir]);
    await beta.waitFor((l) => l.msg.startsWith('Node started'), 60_000, 'beta to start');
    await alpha.waitFor((l) => l.msg === 'Peer announced', 30_000, 'alpha to learn beta');
    const both = await cli('status');
    assert.equal(both.code, 1);
    assert.match(both.stderr, new RegExp(`^Error: 2 nodes run in ${dir}: alpha \\(http://127\\.0\\.0\\.1:\\d+\\), beta \\(http://127\\.0\\.0\\.1:\\d+\\); pick one with --node-id <id> or --api <url>\\n$`));
    const peers = await cli('peers', '--node-id', 'alpha');
    assert.equal(peers.code, 0, peers.stderr);
    assert.match(peers.stdout, /^PEER +NODE +CONNECTED +STATE +SCORE +LAST SEEN +MODELS\n/);
    assert.match(peers.stdout, /\n12D3KooW\w+ +beta +yes +alive +-?[\d.]+ +\d+s ago +mvp-test-tiny\n/);
  });

  it('a node with api.token needs it: --token, or the config that holds it', async () => {
    const refused = await cli('status', '--node-id', 'beta');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^Error: the node's API at http:\/\/127\.0\.0\.1:\d+ needs its token: pass --token <token> or set MVP_NODE_API_TOKEN\n$/);
    const wrong = await cli('peers', '--node-id', 'beta', '--token', 'guess');
    assert.equal(wrong.code, 1);
    const withFlag = await cli('status', '--node-id', 'beta', '--token', 's3cret');
    assert.equal(withFlag.code, 0, withFlag.stderr);
    assert.match(withFlag.stdout, /^Node {5}beta /);
    const viaConfig = await cli('peers', '-c', tokenCfg, '--node-id', 'beta', '--json');
    assert.equal(viaConfig.code, 0, viaConfig.stderr);
    assert.ok((JSON.parse(viaConfig.stdout) as Array<{ node_id?: string }>).some((p) => p.node_id === 'alpha'), viaConfig.stdout);
  });

  it('says no node runs once a node has stopped, and --api reaches a node directly', async () => {
    const url = (JSON.parse(readFileSync(join(dir, 'beta', 'api.json'), 'utf8')) as { url: string }).url;
    assert.equal(await beta!.stop('SIGTERM'), 0);
    assert.equal(existsSync(join(dir, 'beta', 'api.json')), false, 'api.json removed on stop');
    const gone = await cli('status', '--node-id', 'beta');
    assert.equal(gone.code, 1);
    assert.equal(gone.stderr, `Error: no running node found in ${join(dir, 'beta')}: start one with \`npx mvp-node\` or pass --api <url>\n`);
    const unreachable = await cli('status', '--api', url);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, new RegExp(`^Error: cannot reach the node's API at ${url}: ECONNREFUSED\\n$`));
    const alphaUrl = (JSON.parse(readFileSync(join(dir, 'alpha', 'api.json'), 'utf8')) as { url: string }).url;
    const direct = await runCli(['status', '--api', alphaUrl]);
    assert.equal(direct.code, 0, direct.stderr);
    assert.match(direct.stdout, /^Node {5}alpha /);
  });
});
