// Where a node's durable state lives on disk, and which schema version its data directory has.
// `<data_dir>/<node-id>/schema.json` names the version; a directory without it is version 0.
import { open, readFile, rename } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { StoreVersionError } from './errors.ts';

/** The version this program writes. Version 0: before the store (orchestration state in a JSON file). */
export const SCHEMA_VERSION = 1;

export const storeDir = (nodeDir: string) => join(nodeDir, 'store');
export const schemaFile = (nodeDir: string) => join(nodeDir, 'schema.json');
/** Version 0 kept the election ledger outside the node's directory, by peer id. */
export const legacyLedgerFile = (dataDir: string, peerId: string) => join(dataDir, 'consensus', `${peerId}.json`);

/** The directory's schema version (0 when it has no schema file); refuses one it cannot read. */
export async function readSchemaVersion(nodeDir: string): Promise<number> {
  const file = schemaFile(nodeDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw new StoreVersionError(`Cannot read ${file}: ${(err as Error).message}`);
  }
  let version: unknown;
  try { version = (JSON.parse(text) as { version?: unknown }).version; } catch { version = undefined; }
  if (!Number.isInteger(version) || (version as number) < 1) {
    throw new StoreVersionError(`${file} is damaged (expected {"version": N}, found ${JSON.stringify(text.slice(0, 80))}): ` +
      `write {"version": ${SCHEMA_VERSION}} into it if the store beside it is this program's, or move the directory ${nodeDir} aside`);
  }
  if ((version as number) > SCHEMA_VERSION) {
    throw new StoreVersionError(`Data directory ${nodeDir} has schema version ${String(version)}, newer than this mvp-node understands ` +
      `(${SCHEMA_VERSION}): run the newer mvp-node that wrote it, or give this one another --node-id or --data-dir`);
  }
  return version as number;
}

/** Writes the schema file atomically and durably (file and directory entry fsynced). */
export async function writeSchemaVersion(nodeDir: string, version: number): Promise<void> {
  const file = schemaFile(nodeDir);
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(`${JSON.stringify({ version })}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  const dir = await open(dirname(file), 'r');
  try { await dir.sync(); } finally { await dir.close(); }
}
