// `mvp-node orchestrator …` as a user runs it: real `mvp-node` processes (one deciding by
// heuristics, one with a generated test model as its orchestrator model), each command run as
// its own process against them through the HTTP API, and `decision` / `ask` without a node.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'smol-toml';
import { listenPort, runCli, spawnNode, type NodeProcess } from '../helpers/proc.ts';
import { tmpDir } from '../helpers/config.ts';
import { tinyTestModelPath } from '../helpers/test-model.ts';
import type { AskResult, DecisionRecord, OrchestratorMetrics, OrchestratorStatus } from '../../src/actors/orchestrator/messages.ts';

describe('mvp-node orchestrator against running nodes', () => {
  const dir = tmpDir();
  const nodes: NodeProcess[] = [];
  const on = (id: string) => ['--data-dir', dir, '--node-id', id];
  const cli = (id: string, ...args: string[]) => runCli(['orchestrator', ...args, ...on(id)], 120_000);
  const json = async <T>(id: string, ...args: string[]): Promise<T> => {
    const r = await cli(id, ...args, '--json');
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as T;
  };
  const exportDir = join(dir, 'exports');
  let boot = '';

  before(async () => {
    const heuristic = join(dir, 'heuristic.toml');
    writeFileSync(heuristic, stringify({
      executor: { max_load_per_core: 1000 },
      orchestrator: { training: { outcome_delay_secs: 0, auto_export_threshold: 3, export_path: exportDir } },
    }));
    const withModel = join(dir, 'llm.toml');
    writeFileSync(withModel, stringify({
      orchestrator: { model_path: await tinyTestModelPath(), device: 'cpu', generation: { max_tokens: 200 }, training: { outcome_delay_secs: 0 } },
    }));
    nodes.push(spawnNode(['-c', heuristic, ...on('orch1'), '--port', '0']));
    boot = `/ip4/127.0.0.1/tcp/${await listenPort(nodes[0]!)}`;
    nodes.push(spawnNode(['-c', withModel, ...on('orch2'), '--port', '0', '--bootstrap', boot]));
    for (const n of nodes) await n.waitFor((l) => l.msg.startsWith('API listening on'), 60_000, 'the API');
    await nodes[0]!.waitFor((l) => l.msg === 'Peer announced', 30_000, 'the nodes to know each other');
  });
  after(async () => { await Promise.all(nodes.map((n) => n.stop('SIGKILL'))); });

  it('decision prints action, parameters, confidence, reasoning, source, latency and outcome', async () => {
    const r = await cli('orch1', 'decision', '--context', 'high CPU usage, queue full', '--decision-type', 'infrastructure');
    assert.equal(r.code, 0, r.stderr);
    for (const field of ['action', 'parameters', 'confidence', 'reasoning', 'source', 'latency', 'outcome', 'metrics', 'context']) {
      assert.match(r.stdout, new RegExp(`^ {4}${field}: +\\S`, 'm'), `no ${field} in:\n${r.stdout}`);
    }
    assert.match(r.stdout, /^Decision d-\S+ \(infrastructure\)$/m);
    assert.match(r.stdout, /source: +heuristic \(rule \w+\)/);
    assert.doesNotMatch(r.stdout, /LOCAL/);
    const d = await json<DecisionRecord>('orch1', 'decision', '--context', 'coordinator down', '--decision-type', 'job_routing');
    assert.deepEqual([d.decision_type, d.source, d.local], ['job_routing', 'heuristic', undefined]);
    // The coordinator is down: an election, which acts, so above the confirmation bound it is held.
    assert.deepEqual([d.action, d.outcome], ['start_election', 'held']);
    // Confirmed, it runs; whether the election is won in the action's time depends on the
    // swarm (exit 1 with the outcome when it is not), but it is held no longer.
    const confirmed = await cli('orch1', 'confirm', d.id);
    assert.ok([0, 1].includes(confirmed.code ?? -1) && (confirmed.stdout + confirmed.stderr).includes(d.id), confirmed.stdout + confirmed.stderr);
  });

  it('ask lists the connected nodes as a table', async () => {
    const r = await cli('orch1', 'ask', 'show me all connected nodes');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Intent: list_peers \(rules, confidence [\d.]+\)$/m);
    assert.match(r.stdout, /^Commands: mvp-node peers$/m);
    assert.match(r.stdout, /^PEER ID +NODE ID +CONNECTED +MODELS +LAST SEEN$/m);
    assert.match(r.stdout, /^12D3\S+ +orch2 +yes +mvp-test-tiny +\d+ s ago$/m);
  });

  it('ask shows the queue and the latest jobs', async () => {
    const job = await runCli(['submit', '--bootstrap', boot, '--max-tokens', '8', '--json', 'Hello']);
    assert.equal(job.code, 0, job.stderr);
    const jobId = (JSON.parse(job.stdout) as { receipt: { body: { job_id: string } } }).receipt.body.job_id;
    let out = '';
    for (let i = 0; i < 20 && !out.includes(jobId.slice(0, 12)); i++) {
      if (i) await new Promise((r) => setTimeout(r, 500));
      out = (await cli('orch1', 'ask', 'what jobs are running')).stdout;
    }
    assert.match(out, /^Intent: queue_status /m);
    assert.match(out, /^queue: 0 waiting of 100;/m);
    assert.match(out, new RegExp(`^${jobId.slice(0, 12)}… +…\\S{8} +mvp-test-tiny +completed +\\d+ +\\d+ s ago$`, 'm'));
  });

  it('ask runs an action through the safety rules: held, then confirm executes it', async () => {
    const held = await json<AskResult>('orch1', 'ask', 'scale the queue to 200');
    assert.deepEqual([held.interpretation.intent, held.decision?.outcome, held.decision?.params.capacity], ['scale_queue', 'held', 200]);
    const id = held.decision!.id;
    const text = await cli('orch1', 'confirm', id);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /outcome: +executed — queue capacity 100 → 200/);
    const again = await cli('orch1', 'confirm', id);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^Error: http:\/\/127\.0\.0\.1:\d+\/orchestrator\/decisions\/\S+\/confirm answered 409 decision_not_held: decision \S+ is not held for confirmation: it is executed$/m);
    const queue = await cli('orch1', 'ask', 'how full is the queue?');
    assert.match(queue.stdout, /^queue: 0 waiting of 200;/m);
  });

  it('reject drops a held decision', async () => {
    const held = await json<AskResult>('orch1', 'ask', 'double the queue');
    const r = await json<DecisionRecord>('orch1', 'reject', held.decision!.id, '--reason', 'not today');
    assert.deepEqual([r.outcome, r.outcome_reason], ['rejected', 'rejected by an operator: not today']);
    const unknown = await cli('orch1', 'reject', 'd-nope');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /answered 404 unknown_decision: /);
  });

  it('ask answers an unknown request with what it can do', async () => {
    const r = await cli('orch1', 'ask', 'order me a pizza');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Intent: unknown/m);
    assert.match(r.stdout, /I did not understand "order me a pizza"\.\nI understand requests like these:/);
  });

  it('metrics counts decisions by source, type and outcome, latency, cache, safety, tokens', async () => {
    const r = await cli('orch1', 'metrics');
    assert.equal(r.code, 0, r.stderr);
    for (const head of ['Decisions:', '  by type:', '  by outcome:', 'Latency:', 'Cache:', 'Safety:', 'Model:', 'Ask:', 'Training:']) {
      assert.ok(r.stdout.split('\n').some((l) => l.startsWith(head)), `no ${head} line in:\n${r.stdout}`);
    }
    const m = await json<OrchestratorMetrics>('orch1', 'metrics');
    assert.equal(m.decisions.total, 4);
    assert.deepEqual([m.safety.held, m.safety.confirmed, m.safety.rejected], [3, 2, 1]);
    assert.equal(m.decisions.by_source.user, 2);
  });

  it('status shows mode, model, device, cache and training data', async () => {
    const r = await cli('orch1', 'status');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Orchestrator: enabled, mode heuristic$/m);
    assert.match(r.stdout, /^ {4}training data: +collecting, 4 records/m);
    const s = await json<OrchestratorStatus>('orch2', 'status');
    assert.deepEqual([s.mode, s.device.requested, s.device.used, s.model?.threads], ['llm', 'cpu', 'cpu', 1]);
  });

  it('export-data writes the training data as jsonl or as chat messages; the node exported every 3 records', async () => {
    const jsonl = join(dir, 'training.jsonl');
    const r = await cli('orch1', 'export-data', '--output', jsonl, '--format', 'jsonl');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^Exported 4 records \(jsonl\) to /);
    const records = readFileSync(jsonl, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(records.length, 4);
    assert.ok(records.every((x) => x.prompt.system && x.decision.action && x.outcome.measured === true));
    const chat = join(dir, 'chat.jsonl');
    assert.equal((await cli('orch1', 'export-data', '--output', chat, '--format', 'chat')).code, 0);
    const lines = readFileSync(chat, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(lines.length >= 1 && lines.length < 4, 'the rejected decision (at least) is left out');
    assert.deepEqual(lines[0].messages.map((m: { role: string }) => m.role), ['system', 'user', 'assistant']);
    const bad = await cli('orch1', 'export-data', '--output', chat, '--format', 'csv');
    assert.equal(bad.code, 2);
    assert.equal(readFileSync(join(exportDir, (await import('node:fs')).readdirSync(exportDir)[0]!), 'utf8').trim().split('\n').length, 3);
  });

  it('decisions lists the latest, newest first', async () => {
    const r = await json<{ decisions: DecisionRecord[] }>('orch1', 'decisions', '--limit', '2');
    assert.equal(r.decisions.length, 2);
    assert.equal(r.decisions[0]!.action, 'scale_queue');
  });

  it('a node with an orchestrator model decides by it: a schema-valid decision or a counted fallback', async () => {
    const d = await json<DecisionRecord>('orch2', 'decision', '--context', 'high CPU usage, queue full');
    if (d.source === 'llm') assert.ok(d.tokens && d.tokens.output > 0);
    else assert.ok(d.fallback_reason, `source ${d.source} without a fallback reason`);
    const m = await json<OrchestratorMetrics>('orch2', 'metrics');
    assert.equal(m.llm.calls, 1);
    assert.equal(Object.values(m.llm.fallbacks).reduce((a, b) => a + b, 0), d.source === 'llm' ? 0 : 1);
    const a = await json<AskResult>('orch2', 'ask', 'show me all connected nodes');
    assert.ok(['llm', 'rules'].includes(a.interpretation.source));
  });
});

describe('mvp-node orchestrator without a running node', () => {
  const dir = tmpDir();

  it('decision and ask use a local orchestrator and say so', async () => {
    const d = await runCli(['orchestrator', 'decision', '--context', 'high CPU usage, queue full', '--data-dir', dir]);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /^LOCAL ORCHESTRATOR \(no running node\): decided on this host's figures; nothing was executed\.$/m);
    assert.match(d.stdout, /outcome: +not_executed/);
    const j = await runCli(['orchestrator', 'decision', '--json', '--data-dir', dir]);
    assert.equal((JSON.parse(j.stdout) as DecisionRecord).local, true);
    const a = await runCli(['orchestrator', 'ask', 'show', 'me', 'all', 'connected', 'nodes', '--data-dir', dir]);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /^LOCAL ORCHESTRATOR/m);
    assert.match(a.stdout, /no running node, so there is nothing to show for list_peers/);
  });

  it('metrics, status, export-data, confirm and reject need a node, and say where they looked', async () => {
    for (const args of [['metrics'], ['status'], ['export-data', '--output', join(dir, 'x.jsonl')], ['confirm', 'd-1'], ['reject', 'd-1']]) {
      const r = await runCli(['orchestrator', ...args, '--data-dir', dir]);
      assert.equal(r.code, 1, `${args[0]}: ${r.stderr}`);
      assert.equal(r.stderr, `Error: no running node found in ${dir}: start one with \`npx mvp-node\` or pass --api <url>\n`);
    }
  });

  it('treats a stale api.json (node gone) as no node for decision, and as an error for metrics', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    await new Promise<void>((r) => server.close(() => r()));
    mkdirSync(join(dir, 'gone'), { recursive: true });
    writeFileSync(join(dir, 'gone', 'api.json'), JSON.stringify({ url: `http://127.0.0.1:${port}`, pid: 1 }));
    const d = await runCli(['orchestrator', 'decision', '--data-dir', dir, '--node-id', 'gone']);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /^LOCAL ORCHESTRATOR/m);
    const m = await runCli(['orchestrator', 'metrics', '--data-dir', dir, '--node-id', 'gone']);
    assert.equal(m.code, 1);
    assert.match(m.stderr, /^Error: cannot reach the node's API at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED; is the node still running\?$/m);
  });

  it('a node whose orchestrator.model_path fails the model checks does not start', async () => {
    const bad = join(dir, 'bad.gguf');
    writeFileSync(bad, 'not a model');
    const cfg = join(dir, 'bad.toml');
    writeFileSync(cfg, stringify({ orchestrator: { model_path: bad } }));
    const n = spawnNode(['-c', cfg, '--data-dir', dir, '--node-id', 'bad', '--port', '0']);
    const code = await n.exited;
    assert.equal(code, 1);
    assert.match(n.stderr(), new RegExp(`^Error: .*${bad.replace(/[/.]/g, '\\$&')}`, 'm'));
  });
});
