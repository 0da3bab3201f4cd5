// The OpenAI-compatible gateway, registered under /v1 by server.ts:
// GET /v1/models, POST /v1/chat/completions, POST /v1/completions, streamed (SSE) or not. Each
// request becomes a network job (GatewayPort.run: the same routing as `mvp-node submit`).
//
// Wire decisions, also in the README ("OpenAI-compatible API"):
// - Errors are OpenAI-shaped, `{ error: { message, type, param, code } }`, with the code and
//   HTTP status from the error registry (errors/registry.ts, docs/ERRORS.md); `type` is
//   `invalid_request_error` for a 4xx, `server_error` otherwise. E.g. 400 bad body (invalid_json,
//   invalid_value, ...), 404 unknown model (model_not_found) or URL, 503 no node took the job in
//   time (no_executor) or this node's network is unreachable, 502 the job was refused, failed, or
//   its receipt did not verify (job_refused, job_failed, bad_receipt).
// - Headers: `x-mvp-job-id` (every answer once the job is offered) and, when not streaming,
//   `x-mvp-receipt-id` (the signed receipt envelope's id) and `x-mvp-executor`. A stream's
//   headers go out with its first token (so a job no node takes still gets a real 503), and its
//   receipt arrives in the chunk carrying finish_reason, as the extension field `mvp`:
//   `{ job_id, receipt_id, executor, receipt }` (non-streaming bodies carry `mvp` too).
// - Chat messages become one prompt by a plain template (chatPrompt below): one line per message,
//   `System: …` (system and developer), `User: …`, `Assistant: …`, `Tool: …`, then `Assistant:`.
// - Honoured: model, messages / prompt, max_tokens / max_completion_tokens (default 256, below
//   the model's context), temperature (default 1), seed, stream, stream_options.include_usage,
//   n (1 only). Other OpenAI parameters are accepted and ignored.
import { Ajv } from 'ajv';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { MAX_JOB_TOKENS, type ReceiptEnvelope } from '../../protocol/index.ts';
import type { SubmitResult } from '../../client/submit.ts';
import type { Logger } from '../../runtime/log.ts';
import type { ServedModel } from '../network/messages.ts';
import type { GatewayPort } from './gateway.ts';
import { CodedError, errorCodeOf, type ErrorCode } from '../../errors/registry.ts';

export interface OpenAiOptions {
  gateway: GatewayPort;
  log: Logger;
}

/** max_tokens when a request names none (kept below the model's context). */
export const DEFAULT_MAX_TOKENS = 256;
/** OpenAI's default sampling temperature. */
export const DEFAULT_TEMPERATURE = 1;
/** `owned_by` of a generated test model: random weights, meaningless output. */
export const TEST_MODEL_OWNER = 'mvp-node test model (random weights, meaningless output)';
export const NETWORK_OWNER = 'mvp-network';

/** An OpenAI model object, plus what the network knows of it. */
export interface ListedModel {
  id: string;
  object: 'model';
  /** Models carry no creation date on this network: 0. */
  created: number;
  owned_by: string;
  /** A generated test model (random weights) on at least one node serving this name. */
  test_model: boolean;
  /** The largest context of the nodes serving it. */
  context_length: number;
  served_by: Array<{ peer_id: string; node_id: string; sha256: string }>;
}

/** The extension field `mvp` of a completion (and of a stream's finishing chunk). */
export interface MvpResult { job_id: string; receipt_id: string; executor: string; receipt: ReceiptEnvelope }

type ErrorType = 'invalid_request_error' | 'server_error';

/** An error answered in OpenAI's shape; its status (and so its type) is its registry code's. */
export class OpenAiError extends CodedError {
  override name = 'OpenAiError';
  constructor(
    code: ErrorCode,
    message: string,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(code, message);
  }

  get type(): ErrorType { return this.statusCode < 500 ? 'invalid_request_error' : 'server_error'; }

  body() { return { error: { message: this.message, type: this.type, param: this.param, code: this.code } }; }
}

// --- request bodies ------------------------------------------------------------------------

const ROLES = ['system', 'developer', 'user', 'assistant', 'tool', 'function'] as const;
type Role = (typeof ROLES)[number];
const LABELS: Record<Role, string> = { system: 'System', developer: 'System', user: 'User', assistant: 'Assistant', tool: 'Tool', function: 'Tool' };

interface ContentPart { type: string; text?: string }
interface ChatMessage { role: Role; content?: string | ContentPart[] | null }
interface CommonBody {
  model: string;
  max_tokens?: number | null;
  temperature?: number | null;
  seed?: number | null;
  stream?: boolean | null;
  stream_options?: { include_usage?: boolean } | null;
  n?: number | null;
}
interface ChatBody extends CommonBody { messages: ChatMessage[]; max_completion_tokens?: number | null }
interface CompletionBody extends CommonBody { prompt: string | string[] }

const maxTokensSchema = { type: ['integer', 'null'], minimum: 1, maximum: MAX_JOB_TOKENS } as const;
const commonProperties = {
  model: { type: 'string', minLength: 1, maxLength: 128 },
  max_tokens: maxTokensSchema,
  temperature: { type: ['number', 'null'], minimum: 0, maximum: 2 },
  seed: { type: ['integer', 'null'], minimum: 0, maximum: 0xffff_ffff },
  stream: { type: ['boolean', 'null'] },
  stream_options: { type: ['object', 'null'], properties: { include_usage: { type: 'boolean' } } },
  n: { type: ['integer', 'null'], minimum: 1, maximum: 1 },
} as const;

const chatSchema = {
  type: 'object',
  required: ['model', 'messages'],
  properties: {
    ...commonProperties,
    max_completion_tokens: maxTokensSchema,
    messages: {
      type: 'array', minItems: 1, maxItems: 4096,
      items: {
        type: 'object', required: ['role'],
        properties: {
          role: { enum: ROLES },
          content: {
            type: ['string', 'array', 'null'],
            items: { type: 'object', required: ['type'], properties: { type: { type: 'string' }, text: { type: 'string' } } },
          },
        },
      },
    },
  },
} as const;

const completionSchema = {
  type: 'object',
  required: ['model', 'prompt'],
  properties: {
    ...commonProperties,
    prompt: { type: ['string', 'array'], minItems: 1, maxItems: 1, items: { type: 'string' } },
  },
} as const;

/**
 * The chat template: one line per message, labelled by role, then `Assistant:` for the model
 * to continue. Plain on purpose: the same prompt whatever the model file's own template.
 */
export function chatPrompt(messages: readonly ChatMessage[]): string {
  return [...messages.map((m, i) => `${LABELS[m.role]}: ${textOf(m.content, i)}`), 'Assistant:'].join('\n');
}

function textOf(content: ChatMessage['content'], index: number): string {
  if (content === undefined || content === null) return '';
  if (typeof content === 'string') return content;
  return content.map((p) => {
    if (p.type !== 'text' || typeof p.text !== 'string') {
      throw new OpenAiError('invalid_value', `messages[${index}]: only text content parts are supported, not ${JSON.stringify(p.type)}`, 'messages');
    }
    return p.text;
  }).join('');
}

// --- models --------------------------------------------------------------------------------

/** The network's models by name, in the order first seen (this node's own first). */
export function listModels(served: readonly ServedModel[]): ListedModel[] {
  const byName = new Map<string, ListedModel>();
  for (const s of served) {
    let m = byName.get(s.model.name);
    if (!m) {
      m = { id: s.model.name, object: 'model', created: 0, owned_by: NETWORK_OWNER, test_model: false, context_length: 0, served_by: [] };
      byName.set(s.model.name, m);
    }
    if (s.model.test_model) { m.test_model = true; m.owned_by = TEST_MODEL_OWNER; }
    m.context_length = Math.max(m.context_length, s.model.context_length);
    m.served_by.push({ peer_id: s.peer_id, node_id: s.node_id, sha256: s.model.sha256 });
  }
  return [...byName.values()];
}

function modelNotFound(name: string, known: readonly ListedModel[]): OpenAiError {
  return new OpenAiError('model_not_found', `The model '${name}' does not exist on this network (served: ${known.map((m) => m.id).join(', ') || 'nothing'})`,
    'model');
}

// --- the routes ----------------------------------------------------------------------------

interface CompletionRequest {
  kind: 'chat' | 'text';
  model: string;
  prompt: string;
  maxTokens?: number;
  temperature: number;
  seed?: number;
  stream: boolean;
  includeUsage: boolean;
}

/** A job whose executor failed after its tokens began to stream: the next one would start over. */
class ExecutorLostError extends CodedError {
  override name = 'ExecutorLostError';
  constructor(message: string) { super('executor_lost', message); }
}
/** The HTTP client went away: the job is given up. */
class ClientGoneError extends CodedError {
  override name = 'ClientGoneError';
  constructor(message: string) { super('client_gone', message); }
}

export async function openaiRoutes(app: FastifyInstance, { gateway, log }: OpenAiOptions): Promise<void> {
  // Strict JSON types, as OpenAI's API has them: "12" is not a number here (fastify's default
  // validator would coerce it).
  const ajv = new Ajv({ allErrors: false, allowUnionTypes: true, strict: false });
  app.setValidatorCompiler(({ schema }) => ajv.compile(schema));

  app.setErrorHandler<FastifyError | OpenAiError>((err, req, reply) => {
    const known = asOpenAiError(err, '');
    const e = known instanceof OpenAiError ? known : fromFastifyError(err as FastifyError);
    if (e.statusCode === 500) log.error({ err, method: req.method, url: req.url }, 'OpenAI gateway request failed');
    return reply.code(e.statusCode).headers(e.headers).send(e.body());
  });
  app.setNotFoundHandler((req, reply) => {
    const e = new OpenAiError('unknown_url', `Unknown request URL: ${req.method} ${req.url.split('?')[0]}`);
    return reply.code(e.statusCode).send(e.body());
  });

  const models = async () => listModels(await gateway.models());

  app.get('/models', async () => ({ object: 'list', data: await models() }));
  app.get<{ Params: { '*': string } }>('/models/*', async (req) => {
    const known = await models();
    const m = known.find((x) => x.id === req.params['*']);
    if (!m) throw modelNotFound(req.params['*'], known);
    return m;
  });

  app.post<{ Body: ChatBody }>('/chat/completions', { schema: { body: chatSchema } }, async (req, reply) => {
    const b = req.body;
    return complete({
      kind: 'chat', model: b.model, prompt: chatPrompt(b.messages), maxTokens: b.max_completion_tokens ?? b.max_tokens ?? undefined,
      ...sampling(b),
    }, reply);
  });

  app.post<{ Body: CompletionBody }>('/completions', { schema: { body: completionSchema } }, async (req, reply) => {
    const b = req.body;
    return complete({
      kind: 'text', model: b.model, prompt: typeof b.prompt === 'string' ? b.prompt : b.prompt[0]!, maxTokens: b.max_tokens ?? undefined,
      ...sampling(b),
    }, reply);
  });

  function sampling(b: CommonBody): Pick<CompletionRequest, 'temperature' | 'seed' | 'stream' | 'includeUsage'> {
    return {
      temperature: b.temperature ?? DEFAULT_TEMPERATURE,
      ...(b.seed === undefined || b.seed === null ? {} : { seed: b.seed }),
      stream: b.stream === true,
      includeUsage: b.stream_options?.include_usage === true,
    };
  }

  async function complete(c: CompletionRequest, reply: FastifyReply): Promise<FastifyReply> {
    const known = await models();
    const model = known.find((m) => m.id === c.model);
    if (!model) throw modelNotFound(c.model, known);
    const maxTokens = c.maxTokens ?? Math.max(1, Math.min(DEFAULT_MAX_TOKENS, model.context_length - 1));
    if (maxTokens >= model.context_length) {
      throw new OpenAiError('context_length_exceeded', `max_tokens ${maxTokens} does not fit the context of any node serving ${c.model} (largest: ${model.context_length} tokens)`,
        'max_tokens');
    }
    // A client that hangs up gives its job up: the executor's stream is closed and it stops.
    const abort = new AbortController();
    reply.raw.once('close', () => { if (!reply.raw.writableEnded) abort.abort(new ClientGoneError('the HTTP client went away')); });
    const created = Math.floor(Date.now() / 1000);
    let jobId = '';
    const out = c.stream ? new EventStream(reply) : undefined;
    const chunk = (choice: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
      id: completionId(c.kind, jobId), object: c.kind === 'chat' ? 'chat.completion.chunk' : 'text_completion', created, model: c.model,
      choices: [{ index: 0, ...choice, logprobs: null }], ...(c.includeUsage ? { usage: null } : {}), ...extra,
    });
    const open = () => {
      if (!out || out.started) return;
      out.start({ 'x-mvp-job-id': jobId });
      if (c.kind === 'chat') out.send(chunk({ delta: { role: 'assistant', content: '' }, finish_reason: null }));
    };

    let result: SubmitResult;
    try {
      result = await gateway.run({
        prompt: c.prompt, model: c.model, maxTokens, temperature: c.temperature, ...(c.seed === undefined ? {} : { seed: c.seed }),
        signal: abort.signal,
        onOffer: (id) => { jobId = id; },
        onAssign: (a) => {
          if (a.attempt > 1 && out?.started) {
            abort.abort(new ExecutorLostError(`the executor failed after its output began to stream; the job moved to ${a.executor}, whose output would start over: ask again`));
          }
        },
        onToken: out ? (text) => {
          if (abort.signal.aborted) return;
          open();
          out.send(chunk(c.kind === 'chat' ? { delta: { content: text }, finish_reason: null } : { text, finish_reason: null }));
        } : undefined,
      });
      const status = result.receipt.body.status;
      if (status !== 'completed') {
        throw new OpenAiError('job_failed', `the job ended ${status} on ${result.executor}: ${result.receipt.body.reason ?? 'no reason given'}`, null,
          { 'x-mvp-receipt-id': result.receipt.id, 'x-mvp-executor': result.executor });
      }
    } catch (err) {
      if (abort.signal.reason instanceof ClientGoneError) {
        log.debug({ job_id: jobId }, 'OpenAI gateway: the client went away, job given up');
        if (!out?.started) reply.hijack();
        out?.end();
        return reply;
      }
      const e = asOpenAiError(err, jobId);
      if (!out?.started) throw e;
      // Headers are gone: the error becomes the stream's last event (the openai client throws it).
      if (!(e instanceof OpenAiError)) log.error({ err: e, job_id: jobId }, 'OpenAI gateway stream failed');
      out.send((e instanceof OpenAiError ? e : new OpenAiError('internal', (e as Error).message)).body());
      out.end();
      return reply;
    }

    const r = result.receipt;
    const mvp: MvpResult = { job_id: r.body.job_id, receipt_id: r.id, executor: result.executor, receipt: r };
    const usage = { prompt_tokens: r.body.tokens_in, completion_tokens: r.body.tokens_out, total_tokens: r.body.tokens_in + r.body.tokens_out };
    const finish_reason = r.body.tokens_out >= maxTokens ? 'length' : 'stop';
    log.debug({ job_id: mvp.job_id, receipt_id: mvp.receipt_id, executor: mvp.executor, tokens_out: usage.completion_tokens }, 'OpenAI gateway job done');
    if (out) {
      open();
      out.send(chunk(c.kind === 'chat' ? { delta: {}, finish_reason } : { text: '', finish_reason }, { mvp }));
      if (c.includeUsage) out.send({ ...chunk({}), choices: [], usage });
      out.done();
      return reply;
    }
    const choice = c.kind === 'chat'
      ? { index: 0, message: { role: 'assistant', content: result.text, refusal: null }, logprobs: null, finish_reason }
      : { index: 0, text: result.text, logprobs: null, finish_reason };
    return reply.headers({ 'x-mvp-job-id': mvp.job_id, 'x-mvp-receipt-id': mvp.receipt_id, 'x-mvp-executor': mvp.executor }).send({
      id: completionId(c.kind, mvp.job_id), object: c.kind === 'chat' ? 'chat.completion' : 'text_completion', created, model: c.model,
      choices: [choice], usage, mvp,
    });
  }
}

const completionId = (kind: CompletionRequest['kind'], jobId: string) => `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${jobId}`;

/**
 * A coded failure (the job path's, or another actor's) as an OpenAI error with its registry
 * code and status; an error without a code stays as it is (a 500, logged).
 */
function asOpenAiError(err: unknown, jobId: string): unknown {
  const headers: Record<string, string> = jobId ? { 'x-mvp-job-id': jobId } : {};
  if (err instanceof OpenAiError) return new OpenAiError(err.code, err.message, err.param, { ...headers, ...err.headers });
  const code = errorCodeOf(err);
  return code === undefined ? err : new OpenAiError(code, (err as Error).message, null, headers);
}

/** Fastify's own 4xx (bad JSON, schema, size, media type) in OpenAI's shape; the rest is a 500. */
function fromFastifyError(err: FastifyError): OpenAiError {
  const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
  if (status === 500) return new OpenAiError('internal', err.message);
  if (err.validation) {
    const first = err.validation[0];
    const path = (first?.instancePath ?? '').split('/').filter(Boolean);
    const missing = first?.keyword === 'required' ? String((first.params as { missingProperty?: string }).missingProperty ?? '') : '';
    const param = missing || path[0] || null;
    return new OpenAiError(missing ? 'missing_required_parameter' : 'invalid_value', err.message, param);
  }
  const code = err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ? 'invalid_json'
    : err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' ? 'body_too_large'
    : err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'unsupported_media_type'
    : 'invalid_request';
  return new OpenAiError(code, err.message);
}

/** Server-sent events on the raw response, in OpenAI's framing: `data: <json>`, then `data: [DONE]`. */
class EventStream {
  started = false;
  constructor(private readonly reply: FastifyReply) {}

  start(headers: Record<string, string>): void {
    this.started = true;
    this.reply.hijack();
    this.reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      ...headers,
    });
  }

  send(data: unknown): void {
    if (!this.reply.raw.writableEnded) this.reply.raw.write(`data: ${JSON.stringify(data)}\n\n`);
  }

  done(): void {
    if (!this.reply.raw.writableEnded) this.reply.raw.write('data: [DONE]\n\n');
    this.end();
  }

  end(): void {
    if (!this.reply.raw.writableEnded) this.reply.raw.end();
  }
}
