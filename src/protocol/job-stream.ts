// The frames of the direct job stream `/mvp/job/1.0.0` (schemas/job-stream.schema.json), one
// JSON object per line: the client's request, then the executor's frames. Peers ignore fields
// they do not know, so a field added here never breaks an older peer. `retry: true` on an
// `error` frame is the retryable refusal: the job did not run to its end here (the queue was
// full, or the node drained: it shut down gracefully), so the client offers it again. Not a
// WireSchema (a union of frames): jobs/stream.ts parses the lines, checked against it by a test.
const text = { type: 'string', maxLength: 1_048_576 } as const;

export const jobStreamSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'mvp-node job stream frame',
  description: 'One line of the /mvp/job/1.0.0 stream: the client\'s request, or one of the executor\'s frames. Unknown fields are ignored.',
  oneOf: [
    {
      description: 'client → executor, once: the job\'s payload (its prompt hashes to the offer\'s prompt_sha256)',
      type: 'object',
      required: ['job_id', 'prompt'],
      properties: { job_id: { type: 'string', maxLength: 128 }, prompt: text },
    },
    {
      description: 'executor → client: generated text, in order',
      type: 'object',
      required: ['t', 'text'],
      properties: { t: { const: 'token' }, text },
    },
    {
      description: 'executor → client: keepalive while the job waits or runs (renews the client\'s lease)',
      type: 'object',
      required: ['t'],
      properties: { t: { const: 'alive' } },
    },
    {
      description: 'executor → client, last: the whole text and the signed receipt envelope',
      type: 'object',
      required: ['t', 'text', 'receipt'],
      properties: { t: { const: 'done' }, text, receipt: { type: 'object' } },
    },
    {
      description: 'executor → client, last: the job was refused or lost here',
      type: 'object',
      required: ['t', 'reason'],
      properties: {
        t: { const: 'error' },
        reason: { type: 'string', maxLength: 1024 },
        retry: {
          type: 'boolean',
          description: 'the retryable refusal: true when the job did not run to its end here (queue full, or the node drained) and the client should offer it again; absent or false: final',
        },
        receipt: {
          type: 'object',
          description: 'with retry, when the job had started: the executor\'s signed failed receipt (reason `drain`), which the next run\'s receipt replaces',
        },
      },
    },
  ],
} as const;
