// The one registry of the node's error codes, in the manner of fastify's createError(code,
// message, status): every error class of the program carries a `code` from this table, and the
// table gives each code its HTTP status, whether asking again may succeed (retryable), and,
// when the CLI reports it as a one-line failure, the exit code. The node API and the /v1
// gateway answer an error with the status of its code; the CLI prints `Error: <message>` and
// exits with the code's exit status. An error crossing a MessagePort keeps its code
// (runtime/errors.ts), so the api actor maps a failure raised in another actor, on another
// thread, without knowing its class. docs/ERRORS.md is generated from this table
// (`npm run docs:errors`) and a unit test keeps it equal.

export type ErrorArea = 'runtime' | 'api' | 'openai' | 'jobs' | 'models' | 'network' | 'orchestrator' | 'store' | 'node' | 'cli';

export interface ErrorSpec {
  /** The HTTP status an API answers with when this error ends a request. */
  status: number;
  /** Asking again (later, or of another node) may succeed: nothing about the request is wrong. */
  retryable: boolean;
  /** What it means, for the docs table. */
  meaning: string;
  /** Where it comes from, for grouping the docs table. */
  area: ErrorArea;
  /** Set: the CLI reports it as `Error: <message>` and exits with this; unset: reaching the CLI is a bug (stack trace). */
  exit?: 1 | 2;
}

const e = (area: ErrorArea, status: number, retryable: boolean, meaning: string, exit?: 1 | 2): ErrorSpec =>
  ({ area, status, retryable, meaning, ...(exit === undefined ? {} : { exit }) });

/** Every error code, by area. Codes are stable: clients branch on them. */
export const ERRORS = {
  // --- the actor runtime -----------------------------------------------------------------
  actor_start_failed: e('runtime', 500, false, 'An actor failed to start; the message is its own failure.'),
  actor_down: e('runtime', 503, true, 'The actor asked is down (crashed, restarting or stopped).'),
  request_timeout: e('runtime', 503, true, 'The actor asked did not answer in time.'),
  unknown_actor: e('runtime', 404, false, 'No supervised actor has that name.'),
  duplicate_actor: e('runtime', 409, false, 'An actor of that name is already in the supervision tree.'),
  unknown_request: e('runtime', 500, false, 'An actor was sent a request type it does not answer (a bug).'),
  kill_refused: e('runtime', 409, false, 'A terminate kill of a threaded actor holding a llama.cpp context (it could abort the process); kill it with mode=throw or restart it.'),
  supervisor_gave_up: e('runtime', 500, false, 'An actor crashed more often than its restart intensity allows; the node stops.', 1),

  // --- the node's HTTP API ---------------------------------------------------------------
  unauthorized: e('api', 401, false, 'api.token is set and the request lacks `Authorization: Bearer <token>`.', 1),
  foreign_origin: e('api', 403, false, 'A POST/PUT/DELETE whose Origin header names another site than this node.'),
  not_found: e('api', 404, false, 'No such route.'),
  invalid_request: e('api', 400, false, "The body, path or query string does not match the route's JSON Schema."),
  invalid_json: e('api', 400, false, 'The body is not JSON (or is empty) although its content-type says JSON.'),
  body_too_large: e('api', 413, false, 'The body is larger than the API accepts (1 MiB).'),
  unsupported_media_type: e('api', 415, false, 'The body is not `application/json`.'),
  bad_request: e('api', 400, false, 'Any other request that could not be handled as sent (fastify may answer another 4xx).'),
  actor_not_running: e('api', 409, true, 'The actor to kill is (re)starting or stopped.'),
  unknown_job: e('api', 404, false, 'GET /jobs/:id: no record and no receipt for that id on this node.'),
  metrics_disabled: e('api', 404, false, 'GET /metrics while monitoring.metrics_enabled = false.'),
  unavailable: e('api', 503, true, 'A part of the node the route needs is not running (e.g. orchestrator.enabled = false).'),
  model_loaded: e('api', 409, false, 'POST /models: that name or file is served here already.'),
  model_load_failed: e('api', 422, false, "POST /models: the file passed the checks but the native loader refused it."),
  api_listen_failed: e('api', 500, false, 'The HTTP API could not listen where configured (port taken, address not on this host).'),
  internal: e('api', 500, false, "A failure without a code (a bug); the node's log has the details."),

  // --- the OpenAI-compatible gateway (/v1) -----------------------------------------------
  unknown_url: e('openai', 404, false, 'No such route under /v1.'),
  model_not_found: e('openai', 404, false, 'No node of the network serves a model of that name.'),
  context_length_exceeded: e('openai', 400, false, 'max_tokens does not fit the context of any node serving the model.'),
  invalid_value: e('openai', 400, false, 'A request field has a value the gateway cannot use.'),
  missing_required_parameter: e('openai', 400, false, 'A required request field is missing.'),
  network_unavailable: e('openai', 503, true, "This node's network actor did not answer, the gateway could not join it, or the node drains."),
  receipt_not_stored: e('openai', 503, false, "The job ran but its receipt could not be kept in this node's store (a full disk)."),
  job_failed: e('openai', 502, false, 'The job ended with a receipt whose status is not completed.'),
  executor_lost: e('openai', 502, true, 'The executor failed after its output began to stream; another would start over.'),
  client_gone: e('openai', 499, false, 'The HTTP client went away; its job is given up (never answered).'),

  // --- jobs: scheduling, inference, the job path between nodes ---------------------------
  unknown_model: e('jobs', 404, false, 'The model named is not served on this node.'),
  invalid_job: e('jobs', 400, false, 'A job the inference actor refuses before running it (bad parameters, duplicate id).'),
  queue_full: e('jobs', 503, true, "The node's job queue is full; offer the job again or elsewhere."),
  duplicate_job: e('jobs', 409, false, 'A job with that id is already queued here.'),
  draining: e('jobs', 503, true, 'The node is draining (shutting down) and takes no new jobs; offer the job to another node.'),
  worker_crashed: e('jobs', 500, true, "The inference worker thread died or stopped answering; the job failed with it."),
  job_stream_invalid: e('jobs', 502, true, 'A job stream carried an oversize or non-JSON line, or ended early.'),
  no_executor: e('jobs', 503, true, 'No node took the job in time: nothing ran.', 1),
  executor_busy: e('jobs', 503, true, 'The executor refused the job retryably (queue full, draining): it is offered again.'),
  job_refused: e('jobs', 502, false, 'The executor refused or failed the job; its reason is in the message.', 1),
  bad_receipt: e('jobs', 502, false, 'What the executor returned did not verify as its signed receipt.', 1),

  // --- model files -----------------------------------------------------------------------
  invalid_model: e('models', 422, false, 'The model file fails a check: unreadable, not a usable GGUF model, or too large.', 1),
  resource_exhausted: e('models', 507, false, 'The model does not fit in free memory.', 1),
  duplicate_model_name: e('models', 400, false, 'Two configured models have the same name.', 1),
  pull_failed: e('models', 502, true, 'A model pull from peers failed; the message starts with its reason (no_source, hash_mismatch, …).', 1),
  pull_disk_full: e('models', 507, false, 'A model pull stopped: the disk is full.', 1),

  // --- the network -----------------------------------------------------------------------
  bind_failed: e('network', 500, false, 'The node could not listen on its port (taken, or not allowed).', 1),
  invalid_swarm_key: e('network', 400, false, 'The swarm key file is missing, unreadable, or not a libp2p swarm key.', 1),
  invalid_peer: e('network', 400, false, "A peer id that is not one, or this node's own."),
  sync_failed: e('network', 502, true, "A peer's sync answer was unreadable or too large."),
  envelope_seal_failed: e('network', 500, false, 'A message could not be signed into its envelope (a bug).'),

  // --- orchestration and consensus -------------------------------------------------------
  invalid_decision_request: e('orchestrator', 400, false, 'A decision request whose type, context or metrics the orchestrator cannot use.'),
  unknown_decision: e('orchestrator', 404, false, 'No decision with that id (or older than the last 100).'),
  decision_not_held: e('orchestrator', 409, false, 'Confirm/reject of a decision that is not held; the message says what it is.'),
  llm_output_invalid: e('orchestrator', 500, true, "The orchestrator model's output is not JSON, or not a decision."),
  llm_generation_failed: e('orchestrator', 500, true, "The orchestrator model's generation timed out or failed."),
  orchestrator_device_unavailable: e('orchestrator', 500, false, 'The configured orchestrator device is not on this machine.', 1),
  decision_router_failed: e('orchestrator', 500, false, 'The decision router could not take the decision.'),
  consensus_unavailable: e('orchestrator', 503, true, 'The consensus actor cannot take the decision (unknown type, or not ready yet).'),

  // --- the store -------------------------------------------------------------------------
  store_version_unsupported: e('store', 500, false, "The data directory's schema version is one this program cannot use.", 1),
  store_corrupt: e('store', 500, false, 'The store cannot be opened or does not hold what its own records say.', 1),
  store_locked: e('store', 423, true, "Another process (a running node) holds the store's lock.", 1),
  store_write_failed: e('store', 507, false, 'A store write failed (a full disk, an I/O error): nothing of it was acknowledged.', 1),
  invalid_cursor: e('store', 400, false, 'A page cursor that is not one.'),

  // --- the node's start ------------------------------------------------------------------
  data_dir_unusable: e('node', 500, false, 'The data directory cannot be created, read, written or locked.', 1),

  // --- the command line ------------------------------------------------------------------
  invalid_config: e('cli', 400, false, 'Invalid or unreadable configuration (file, environment or flags).', 2),
  invalid_scenario: e('cli', 400, false, 'A simulation scenario that is not valid.', 1),
  command_failed: e('cli', 500, false, 'A CLI command could not do its job for a reason the message names.', 1),
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERRORS, code);
}

/** The base of every error class of the program: a registry code, and from it status and retryable. */
export class CodedError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }

  /** The HTTP status of this error's code. */
  get statusCode(): number { return ERRORS[this.code].status; }
  /** Whether asking again may succeed. */
  get retryable(): boolean { return ERRORS[this.code].retryable; }
  /** The CLI's exit status for it; undefined: it reaching the CLI is a bug. */
  get exitCode(): number | undefined { return (ERRORS[this.code] as ErrorSpec).exit; }
}

/** The registry code an error carries (a CodedError, or one deserialized from another actor), or undefined. */
export function errorCodeOf(err: unknown): ErrorCode | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return isErrorCode(code) ? code : undefined;
}

/** An error as an API answers it: its code (`internal` when it has none), status, message and retryable. */
export interface DescribedError { code: ErrorCode; status: number; retryable: boolean; message: string }

export function describeError(err: unknown): DescribedError {
  const code = errorCodeOf(err) ?? 'internal';
  const spec: ErrorSpec = ERRORS[code];
  const message = err instanceof Error ? err.message : typeof (err as { message?: unknown })?.message === 'string' ? (err as { message: string }).message : String(err);
  return { code, status: spec.status, retryable: spec.retryable, message };
}
