// A node's identity on disk: its libp2p key in `<data_dir>/<node_id>/peer.key`, so a restarted
// node keeps its PeerId and two node ids never share a key. A node started without a node id
// uses `<data_dir>/default/` and takes an id derived from its key.
import { mkdir, readFile, writeFile, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import type { PrivateKey } from '@libp2p/interface';
import { CodedError } from '../errors/registry.ts';

export interface Identity { nodeId: string; peerId: string; privateKey: PrivateKey; dir: string }

export class DataDirError extends CodedError {
  override name = 'DataDirError';
  constructor(message: string, options?: ErrorOptions) { super('data_dir_unusable', message, options); }
}

export async function loadIdentity(dataDir: string, nodeId: string | undefined): Promise<Identity> {
  const dir = join(dataDir, nodeId ?? 'default');
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new DataDirError(`Cannot create data directory ${dir}: ${(err as Error).message}`);
  }
  const keyFile = join(dir, 'peer.key');
  let privateKey: PrivateKey;
  try {
    privateKey = privateKeyFromProtobuf(await readFile(keyFile));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new DataDirError(`Cannot read node key ${keyFile}: ${(err as Error).message}`);
    privateKey = await generateKeyPair('Ed25519');
    await writeFile(keyFile, privateKeyToProtobuf(privateKey), { mode: 0o600, flag: 'wx' }).catch((e: Error) => {
      throw new DataDirError(`Cannot write node key ${keyFile}: ${e.message}`);
    });
  }
  const peerId = peerIdFromPrivateKey(privateKey).toString();
  return { nodeId: nodeId ?? `node-${peerId.slice(-8)}`, peerId, privateKey, dir };
}

/**
 * One process per data directory: a second node with the same id would share the key and
 * PeerId. Returns a release function.
 */
export async function lockDataDir(dir: string): Promise<() => Promise<void>> {
  const file = join(dir, 'node.pid');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(file, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      return async () => { await unlink(file).catch(() => undefined); };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new DataDirError(`Cannot lock data directory ${dir}: ${(err as Error).message}`);
      const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new DataDirError(`Data directory ${dir} is in use by process ${pid}; give this node another --node-id`);
      }
      await unlink(file).catch(() => undefined); // stale lock from a node that died
    }
  }
  throw new DataDirError(`Cannot lock data directory ${dir}`);
}

function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}
