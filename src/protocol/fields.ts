// Field schemas the job messages share (peer ids, sha256 digests, model names, job ids), so
// one field has one definition across work_offer, job_claim, job_assign and receipt.
import { createHash } from 'node:crypto';
import type { WireSchema } from './schema-types.ts';

/** A libp2p peer id in its canonical string form (same bounds as the envelope's `from`). */
export const peerIdField = { type: 'string', minLength: 16, maxLength: 128, pattern: '^[A-Za-z0-9]+$' } as const satisfies WireSchema;

/** A SHA-256 digest, lowercase hex. */
export const sha256Field = { type: 'string', minLength: 64, maxLength: 64, pattern: '^[0-9a-f]{64}$' } as const satisfies WireSchema;

/** A model's name as its manifest announces it (file name without `.gguf` unless configured). */
export const modelNameField = { type: 'string', minLength: 1, maxLength: 128 } as const satisfies WireSchema;

/** A job id: see `deriveJobId` in job.ts. */
export const jobIdField = { ...sha256Field, description: 'sha256 of the job content and nonce (deriveJobId), lowercase hex' } as const satisfies WireSchema;

/** Absolute time, ms since epoch. */
export const epochMsField = { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } as const satisfies WireSchema;

/** Hex SHA-256 of a string's UTF-8 bytes (or of raw bytes): prompt_sha256, input_sha256, output_sha256. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(typeof data === 'string' ? Buffer.from(data, 'utf8') : data).digest('hex');
}
