// The error registry: its table, the generated docs/ERRORS.md, every error class coded, codes
// surviving MessagePorts and worker threads, and the API and CLI answering by code.
// After changing the registry: npm run docs:errors
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { CodedError, ERRORS, describeError, errorCodeOf, isErrorCode, type ErrorSpec } from '../../src/errors/registry.ts';
import { renderErrorsDoc } from '../../src/errors/doc.ts';
import { ActorDownError, UnknownRequestError, deserializeError, serializeError, type SerializedError } from '../../src/runtime/errors.ts';
import { QueueFullError } from '../../src/actors/scheduler/queue.ts';
import { ModelPullError } from '../../src/actors/network/model-transfer.ts';
import { ModelLoadError } from '../../src/models/errors.ts';
import { JobFailedError } from '../../src/client/submit.ts';
import { StoreLockedError } from '../../src/store/errors.ts';
import { ConfigError } from '../../src/config/errors.ts';
import { CommandFailedError } from '../../src/cli/errors.ts';
import { reportCliError } from '../../src/cli/program.ts';
import { createNode, type MvpNode } from '../../src/node/create-node.ts';
import type { ApiErrorBody } from '../../src/actors/api/messages.ts';
import { apiUrl, get, post } from '../helpers/api.ts';
import { counter, testSupervisor } from '../helpers/runtime.ts';
import { testConfig } from '../helpers/config.ts';

const loopback = { listen_host: '127.0.0.1', listen_port: 0 };

const root = fileURLToPath(new URL('../../', import.meta.url));
const srcFiles = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
  e.isDirectory() ? srcFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []);

describe('error registry', () => {
  it('gives every code a 4xx/5xx status, a meaning, and an exit status of 1 or 2 when it has one', () => {
    for (const [code, spec] of Object.entries(ERRORS) as Array<[string, ErrorSpec]>) {
      assert.match(code, /^[a-z][a-z0-9_]*$/, code);
      assert.ok(Number.isInteger(spec.status) && spec.status >= 400 && spec.status < 600, code);
      assert.ok(spec.meaning.length > 10 && spec.meaning.endsWith('.'), code);
      assert.ok(spec.exit === undefined || spec.exit === 1 || spec.exit === 2, code);
    }
  });

  it('docs/ERRORS.md is the table the registry renders (npm run docs:errors rewrites it)', () => {
    assert.equal(readFileSync(join(root, 'docs/ERRORS.md'), 'utf8'), renderErrorsDoc(), 'docs/ERRORS.md is out of date: run npm run docs:errors');
    for (const code of Object.keys(ERRORS)) assert.ok(renderErrorsDoc().includes(`| \`${code}\` |`), code);
  });

  it('every error class under src/ is a CodedError, and every code is raised somewhere', () => {
    const files = srcFiles(join(root, 'src'));
    const plain: string[] = [];
    let source = '';
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      for (const m of text.matchAll(/class (\w+) extends Error\b/g)) plain.push(`${relative(root, f)}: ${m[1]}`);
      if (!f.endsWith(join('errors', 'registry.ts'))) source += text;
    }
    // Truncated is the GGUF reader's internal signal, caught where it is thrown; CodedError is the base.
    assert.deepEqual(plain.sort(), ['src/errors/registry.ts: CodedError', 'src/models/gguf-reader.ts: Truncated']);
    const unused = Object.keys(ERRORS).filter((code) => !source.includes(`'${code}'`));
    assert.deepEqual(unused, [], 'codes no source file uses');
  });

  it('derives status and retryable from the code, and describes an uncoded error as internal', () => {
    const full = new QueueFullError(4);
    assert.deepEqual([full.code, full.statusCode, full.retryable, full.exitCode], ['queue_full', 503, true, undefined]);
    assert.deepEqual([new StoreLockedError('x').statusCode, new ConfigError('x').exitCode, new CommandFailedError('x').exitCode], [423, 2, 1]);
    assert.deepEqual([new JobFailedError('no', 'refused').code, new JobFailedError('bad', 'bad_receipt').code], ['job_refused', 'bad_receipt']);
    assert.deepEqual([new ModelPullError('disk_full', 'x').code, new ModelPullError('no_source', 'x').code], ['pull_disk_full', 'pull_failed']);
    assert.deepEqual(describeError(new Error('boom')), { code: 'internal', status: 500, retryable: false, message: 'boom' });
    // Codes that are not the registry's (errno, fastify) are not mistaken for one.
    const enoent = Object.assign(new Error('gone'), { code: 'ENOENT' });
    assert.equal(errorCodeOf(enoent), undefined);
    assert.equal(isErrorCode('FST_ERR_CTP_BODY_TOO_LARGE'), false);
    assert.equal(isErrorCode('toString'), false);
  });
});

describe('errors across the actor boundary', () => {
  it('keep name, message, code and reason through a real MessagePort', async () => {
    const { port1, port2 } = new MessageChannel();
    const got = new Promise<SerializedError[]>((resolve) => port2.once('message', resolve));
    port1.postMessage([
      serializeError(new ModelPullError('hash_mismatch', 'the file built from root r has sha256 s')),
      serializeError(new ModelLoadError('invalid_format', '/m.gguf', 'Model load error: Invalid model format: bad magic (/m.gguf)')),
      serializeError(Object.assign(new Error('gone'), { code: 'ENOENT' })),
      serializeError('a string thrown'),
    ]);
    const [pull, load, errno, str] = (await got).map(deserializeError);
    port1.close();
    assert.ok(pull instanceof CodedError);
    assert.deepEqual([pull.name, pull.code, pull.statusCode, pull.retryable, (pull as { reason?: string }).reason, pull.message],
      ['ModelPullError', 'pull_failed', 502, true, 'hash_mismatch', 'the file built from root r has sha256 s']);
    assert.ok(load instanceof CodedError);
    assert.deepEqual([load.name, load.code, load.statusCode, (load as { reason?: string }).reason], ['ModelLoadError', 'invalid_model', 422, 'invalid_format']);
    assert.ok(!(errno instanceof CodedError));
    assert.equal((errno as { code?: string }).code, 'ENOENT');
    assert.deepEqual(describeError(str), { code: 'internal', status: 500, retryable: false, message: 'a string thrown' });
  });

  it('keep their code from an actor on a worker thread, directly and relayed by an inline actor', async () => {
    const sup = testSupervisor([counter('threaded', 'thread'), counter('relay', 'inline')]);
    await sup.start();
    try {
      for (const [what, ask] of [
        ['direct', () => sup.request('threaded', { type: 'refuse' }, 10_000)],
        ['relayed', () => sup.request('relay', { type: 'ask', to: 'threaded', msg: { type: 'refuse' } }, 10_000)],
      ] as const) {
        const err = await ask().then(() => assert.fail(`${what}: no refusal`), (e: unknown) => e);
        assert.ok(err instanceof CodedError, what);
        assert.deepEqual([err.name, err.code, err.statusCode, err.retryable, err.message], ['QueueFullError', 'queue_full', 503, true, 'queue full (3/3 jobs)'], what);
      }
      // Raised by the runtime in the main thread, to the threaded actor, and relayed back by it.
      const unknown = await sup.request('threaded', { type: 'ask', to: 'nowhere' }, 10_000).catch((e: unknown) => e);
      assert.deepEqual([errorCodeOf(unknown), (unknown as CodedError).statusCode, (unknown as Error).name], ['unknown_actor', 404, 'UnknownActorError']);
    } finally {
      await sup.stop();
    }
  });
});

describe('the node API answers by registry code, from actors on worker threads', () => {
  let node: MvpNode;
  let url: string;
  before(async () => {
    const config = testConfig({ node: { ...loopback, node_id: 'errors' }, runtime: { placement: { api: 'thread', network: 'thread', orchestrator: 'thread' } } });
    node = await createNode(config, { persistIdentity: false, serveModels: false });
    await node.start();
    url = await apiUrl(node);
  });
  after(() => node.stop());

  it('maps a refusal raised in the threaded network actor and relayed by the threaded api actor', async () => {
    const r = await post<ApiErrorBody>(`${url}/peers/not-a-peer/block`);
    assert.equal(r.status, 400);
    assert.deepEqual(Object.keys(r.body).sort(), ['code', 'message', 'retryable']);
    assert.deepEqual([r.body.code, r.body.retryable], ['invalid_peer', false]);
    assert.match(r.body.message, /not a peer id: not-a-peer/);
  });

  it('maps the threaded orchestrator\'s unknown decision to 404, and the api\'s own refusals the same way', async () => {
    const r = await get<ApiErrorBody>(`${url}/orchestrator/decisions/no-such-decision`);
    assert.deepEqual([r.status, r.body.code, r.body.retryable], [404, 'unknown_decision', false]);
    const kill = await post<ApiErrorBody>(`${url}/actors/nope/kill`);
    assert.deepEqual([kill.status, kill.body], [404, { code: 'unknown_actor', message: 'no actor named nope', retryable: false }]);
  });
});

describe('the CLI reports errors by registry code', () => {
  it('prints a coded error with an exit status as one line and returns that status; rethrows the rest', () => {
    let stderr = '';
    assert.equal(reportCliError(new StoreLockedError('Store /d is locked by another process'), (s) => { stderr += s; }), 1);
    assert.equal(stderr, 'Error: Store /d is locked by another process\n');
    assert.equal(reportCliError(new ConfigError('Invalid configuration: x'), () => undefined), 2);
    // No exit status: reaching the CLI is a bug, shown with its stack.
    assert.throws(() => reportCliError(new UnknownRequestError('a', 'b')), UnknownRequestError);
    assert.throws(() => reportCliError(new ActorDownError('a', 'why')), ActorDownError);
    assert.throws(() => reportCliError(new TypeError('bug')), TypeError);
  });
});
