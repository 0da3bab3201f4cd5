// Private swarms: a libp2p pre-shared key (pnet, `network.swarm_key`). Every connection is
// wrapped in XSalsa20 under the key before anything else is said, so a peer without the key
// cannot complete a handshake, and sees nothing of the swarm. A wrong key shows only as garbage
// after the nonce exchange; we notice it on the first bytes and report a suspected mismatch.
import { readFileSync } from 'node:fs';
import { generateKey, preSharedKey } from '@libp2p/pnet';
import type { AbortOptions, ConnectionProtector, MessageStream } from '@libp2p/interface';
import { CodedError } from '../../errors/registry.ts';

/** The key file is missing, unreadable, or not a libp2p swarm key. */
export class SwarmKeyError extends CodedError {
  override name = 'SwarmKeyError';
  constructor(message: string, options?: ErrorOptions) { super('invalid_swarm_key', message, options); }
}

const HEADER = '/key/swarm/psk/1.0.0/';
const CODEC = '/base16/';
/** Bytes of `generateKey`'s output: header, codec and 64 hex digits, newline-separated. */
const KEY_FILE_BYTES = 95;

/** A fresh swarm key file's content (what `mvp-node swarm-key generate` writes). */
export function newSwarmKey(): Uint8Array {
  const key = new Uint8Array(KEY_FILE_BYTES);
  generateKey(key);
  return key;
}

/** Checks a swarm key file's content; throws SwarmKeyError naming `source` and what is wrong. */
export function parseSwarmKey(bytes: Uint8Array, source: string): Uint8Array {
  const lines = new TextDecoder().decode(bytes).split(/\r?\n/);
  const what = (problem: string) => new SwarmKeyError(`swarm key ${source}: ${problem} (make one with \`mvp-node swarm-key generate --out FILE\`)`);
  if (lines[0] !== HEADER) throw what(`the first line must be ${HEADER}: this is not a libp2p swarm key file`);
  if (lines[1] !== CODEC) throw what(`the second line must be ${CODEC} (the only encoding supported)`);
  if (!/^[0-9a-fA-F]{64}$/.test(lines[2] ?? '')) throw what('the third line must be the key: 64 hexadecimal digits (32 bytes)');
  if (lines.slice(3).some((l) => l.trim() !== '')) throw what('it has more than three lines');
  return new TextEncoder().encode(`${HEADER}\n${CODEC}\n${lines[2]!.toLowerCase()}`);
}

/** Reads and checks a swarm key file. */
export function readSwarmKey(file: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new SwarmKeyError(`swarm key ${file} cannot be read: ${(err as Error).message}`);
  }
  return parseSwarmKey(bytes, file);
}

/**
 * What every libp2p peer sends first on a connection, once protected: the multistream-select
 * header (the encrypter is negotiated next). Under the wrong key it decrypts to noise.
 */
const FIRST_BYTES = new TextEncoder().encode('\x13/multistream/1.0.0\n');

/**
 * The pnet protector, watching each connection's first decrypted bytes: when they are not the
 * multistream-select header, or the connection ends before they came, the two ends do not share
 * the key (or the other end has none): `onMismatch` hears of it once, with the remote address.
 * The handshake fails on its own. (The dialer learns it late: a listener under another key reads
 * noise and says nothing, so the dialer's connection ends at its upgrade timeout.)
 */
export function swarmKeyProtector(psk: Uint8Array, onMismatch: (remoteAddr: string) => void): () => ConnectionProtector {
  const pnet = preSharedKey({ psk });
  return () => {
    const inner = pnet();
    return {
      async protect(connection: MessageStream, options?: AbortOptions): Promise<MessageStream> {
        const box = await inner.protect(connection, options);
        watchFirstBytes(box, () => onMismatch(String((connection as { remoteAddr?: unknown }).remoteAddr ?? 'unknown address')));
        return box;
      },
    };
  };
}

/**
 * Looks at the decrypted bytes as pnet hands them to the stream (its `onData`, the message
 * stream's documented entry point for incoming data) without taking them: a `message` listener
 * would be served data meant for the upgrader. Bytes that arrived before we looked wait in the
 * stream's read buffer (no one listens yet), so they are looked at first. Stops looking once
 * FIRST_BYTES are known.
 */
function watchFirstBytes(box: MessageStream, mismatch: () => void): void {
  type Chunk = Uint8Array | { subarray(): Uint8Array };
  const target = box as unknown as { onData(data: Chunk): void; readBuffer?: { subarray(): Uint8Array } };
  const onData = target.onData.bind(target);
  let seen = 0;
  let verdict = false;
  const decide = (matched: boolean) => {
    if (verdict) return;
    verdict = true;
    target.onData = onData;
    if (!matched) mismatch();
  };
  const look = (data: Chunk) => {
    const bytes = data instanceof Uint8Array ? data : data.subarray();
    for (let i = 0; i < bytes.length && !verdict; i++, seen++) {
      if (bytes[i] !== FIRST_BYTES[seen]) decide(false);
      else if (seen + 1 === FIRST_BYTES.length) decide(true);
    }
  };
  target.onData = (data) => {
    look(data);
    onData(data);
  };
  if (target.readBuffer) look(target.readBuffer);
  box.addEventListener('close', () => decide(false), { once: true });
}
