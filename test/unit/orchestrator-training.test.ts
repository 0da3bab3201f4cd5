// Training data: JSONL round trip, pending records completed by a later line, the export
// formats, automatic export at the threshold, and crash safety — a torn last line is cut on
// open, a record a stopped node left pending is completed unmeasured, and a writer killed with
// SIGKILL mid-stream leaves only complete records.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import {
  PENDING_OUTCOME, STOPPED_OUTCOME, TRAINING_FILE, TrainingStore, formatExport, measureOutcome, readTrainingFile, type TrainingRecord,
} from '../../src/actors/orchestrator/training.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import { createLogger } from '../../src/runtime/log.ts';
import { tmpDir } from '../helpers/config.ts';

const log = createLogger({ level: 'warn', nodeId: 'test', pretty: false, destination: new Writable({ write(_c, _e, cb) { cb(); } }) });

export function record(i: number, over: Partial<TrainingRecord> = {}): TrainingRecord {
  const metrics = { queue_depth: 90, queue_capacity: 100, cpu: 0.2, mem_free_mb: 4000, peers: 2 };
  return {
    v: 1, id: `d-${i}`, ts: 1000 + i, node_id: 'n1', decision_type: 'infrastructure', context: 'queue full', metrics,
    prompt: { system: 'You are the orchestrator…', user: 'Decision type: infrastructure\nContext: queue full' },
    raw_output: null, source: 'heuristic', fallback_reason: null,
    decision: { action: 'scale_queue', params: { capacity: 150, from: 100 }, confidence: 0.75, reasoning: 'queue nearly full' },
    safety: { verdict: 'accepted', reason: null }, final: 'executed', execution: { ok: true, detail: 'queue capacity 100 → 150' },
    outcome: measureOutcome(metrics, { ...metrics, queue_depth: 40, queue_capacity: 150 }, 60_000),
    ...over,
  };
}

const open = (dir: string, threshold = 1000, exportPath = join(dir, 'exports')) =>
  TrainingStore.open({ dir, nodeId: 'n1', exportPath, autoExportThreshold: threshold, clock: systemClock, log });

describe('training data', () => {
  it('round-trips records through the JSONL file, one line each, across reopening', async () => {
    const dir = tmpDir();
    const store = await open(dir);
    const written = [record(1), record(2, { source: 'llm', raw_output: '{"action":"wait"}' }), record(3)];
    for (const r of written) await store.append(r);
    await store.close();
    const text = readFileSync(join(dir, TRAINING_FILE), 'utf8');
    assert.equal(text.split('\n').filter(Boolean).length, 3);
    assert.deepEqual(await readTrainingFile(join(dir, TRAINING_FILE)), written);
    const again = await open(dir);
    assert.equal(again.count, 3);
    await again.append(record(4));
    assert.deepEqual((await again.read()).map((r) => r.id), ['d-1', 'd-2', 'd-3', 'd-4']);
    await again.close();
  });

  it('keeps the latest line of a decision: a pending record is completed in place', async () => {
    const dir = tmpDir();
    const store = await open(dir);
    await store.append(record(1, { outcome: PENDING_OUTCOME, final: 'held' }));
    await store.append(record(2, { outcome: PENDING_OUTCOME }));
    assert.equal(store.count, 2);
    assert.deepEqual((await store.read()).map((r) => [r.id, r.outcome.pending]), [['d-1', true], ['d-2', true]]);
    await store.append(record(1));
    assert.equal(store.count, 2);
    const read = await store.read();
    assert.deepEqual(read.map((r) => [r.id, r.final, r.outcome.measured]), [['d-1', 'executed', true], ['d-2', 'executed', false]]);
    assert.equal(read[1]!.outcome.pending, true);
    await store.close();
  });

  it('completes, unmeasured, the records a stopped node left pending', async () => {
    const dir = tmpDir();
    const store = await open(dir);
    await store.append(record(1, { outcome: PENDING_OUTCOME }));
    await store.append(record(2));
    await store.close();
    const again = await open(dir);
    assert.equal(again.count, 2);
    assert.deepEqual((await again.read()).map((r) => r.outcome), [STOPPED_OUTCOME, record(2).outcome]);
    await again.close();
    assert.equal(readFileSync(join(dir, TRAINING_FILE), 'utf8').split('\n').filter(Boolean).length, 3);
  });

  it('measures the outcome as before/after figures', () => {
    const o = record(1).outcome;
    assert.deepEqual(o, {
      measured: true, after_ms: 60_000, after: { queue_depth: 40, queue_capacity: 150, cpu: 0.2, mem_free_mb: 4000, peers: 2 },
      queue_depth_delta: -50, queue_load_before: 0.9, queue_load_after: 0.2667, peers_delta: 0,
    });
  });

  it('cuts a torn last line on open and skips a line that does not parse', async () => {
    const dir = tmpDir();
    const file = join(dir, TRAINING_FILE);
    writeFileSync(file, `${JSON.stringify(record(1))}\nnot json at all\n${JSON.stringify(record(2))}\n${JSON.stringify(record(3)).slice(0, 40)}`);
    const store = await open(dir);
    assert.ok(readFileSync(file, 'utf8').endsWith('\n'));
    assert.deepEqual((await store.read()).map((r) => r.id), ['d-1', 'd-2']);
    await store.append(record(4));
    assert.deepEqual((await store.read()).map((r) => r.id), ['d-1', 'd-2', 'd-4']);
    await store.close();
  });

  it('survives a writer killed with SIGKILL mid-stream: every line left is a whole record', async () => {
    const dir = tmpDir();
    const writer = fileURLToPath(new URL('../fixtures/training-writer.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', writer, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    // Kill it once it has written a good number of records (it prints a dot per record).
    let dots = 0;
    await new Promise<void>((resolve) => {
      child.stdout!.on('data', (d: Buffer) => {
        dots += d.toString().split('.').length - 1;
        if (dots >= 200) resolve();
      });
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const file = join(dir, TRAINING_FILE);
    const lines = readFileSync(file, 'utf8').split('\n');
    const tail = lines.pop()!; // '' when the last write was whole
    for (const line of lines) JSON.parse(line);
    const store = await open(dir);
    const records = await store.read();
    assert.ok(records.length >= 200, `${records.length} records`);
    assert.equal(records.length, lines.length);
    assert.deepEqual(records.map((r) => r.id), records.map((_, i) => `d-${i}`), 'in order, none missing');
    assert.ok(readFileSync(file, 'utf8').endsWith('\n'), `torn tail of ${tail.length} characters was cut`);
    await store.close();
  });

  it('exports every auto_export_threshold new records to export_path, once each', async () => {
    const dir = tmpDir();
    const exports = join(dir, 'exports');
    const store = await open(dir, 3, exports);
    for (let i = 0; i < 7; i++) await store.append(record(i));
    const files = readdirSync(exports).sort();
    assert.equal(files.length, 2);
    const first = await readTrainingFile(join(exports, files[0]!));
    const second = await readTrainingFile(join(exports, files[1]!));
    assert.deepEqual([...first, ...second].map((r) => r.id), ['d-0', 'd-1', 'd-2', 'd-3', 'd-4', 'd-5']);
    assert.match(files[0]!, /^n1-\d{4}-\d\d-\d\dT.*\.jsonl$/);
    await store.close();
    // The bookkeeping survives a restart: one more record does not export the first six again.
    const again = await open(dir, 3, exports);
    assert.deepEqual([again.exported, again.exports], [6, 2]);
    await again.append(record(7));
    await again.append(record(8));
    const third = readdirSync(exports).sort().filter((f) => !files.includes(f));
    assert.deepEqual((await readTrainingFile(join(exports, third[0]!))).map((r) => r.id), ['d-6', 'd-7', 'd-8']);
    await again.close();
  });

  it('exports automatically only complete records, each once', async () => {
    const dir = tmpDir();
    const exports = join(dir, 'exports');
    const store = await open(dir, 2, exports);
    await store.append(record(1, { outcome: PENDING_OUTCOME }));
    await store.append(record(2, { outcome: PENDING_OUTCOME }));
    assert.equal(store.exports, 0);
    await store.append(record(1));
    await store.append(record(2));
    const files = readdirSync(exports);
    assert.equal(files.length, 1);
    const exported = await readTrainingFile(join(exports, files[0]!));
    assert.deepEqual(exported.map((r) => [r.id, r.outcome.measured]), [['d-1', true], ['d-2', true]]);
    await store.close();
  });

  it('exports as jsonl or as chat fine-tuning lines (only decisions worth imitating)', () => {
    const records = [record(1), record(2, { final: 'refused', safety: { verdict: 'refused', reason: 'not allowed' } }), record(3, { final: 'held' })];
    const jsonl = formatExport(records, 'jsonl');
    assert.equal(jsonl.records, 3);
    assert.deepEqual(jsonl.lines.map((l) => JSON.parse(l).id), ['d-1', 'd-2', 'd-3']);
    const chat = formatExport(records, 'chat');
    assert.equal(chat.records, 2);
    const first = JSON.parse(chat.lines[0]!);
    assert.deepEqual(first.messages.map((x: { role: string }) => x.role), ['system', 'user', 'assistant']);
    assert.equal(first.messages[1].content, records[0]!.prompt.user);
    // The assistant says what the grammar asks a model for: scale_queue as a factor.
    assert.deepEqual(JSON.parse(first.messages[2].content), { action: 'scale_queue', params: { factor: 1.5 }, confidence: 0.75, reasoning: 'queue nearly full' });
    assert.deepEqual(first.metadata, { id: 'd-1', source: 'heuristic', outcome: 'executed', decision_type: 'infrastructure' });
  });

  it('reads nothing from a file that does not exist, and appends after a partial line was cut', async () => {
    assert.deepEqual(await readTrainingFile(join(tmpDir(), 'none.jsonl')), []);
    const dir = tmpDir();
    appendFileSync(join(dir, TRAINING_FILE), '{"v":1,"id":"torn"');
    const store = await open(dir);
    assert.equal(store.count, 0);
    await store.append(record(1));
    assert.deepEqual((await store.read()).map((r) => r.id), ['d-1']);
    await store.close();
  });
});
