// libp2p's datastore (its peer store) for a node whose store belongs to the store actor: each
// call becomes a `store.datastore` message to that actor, which owns the LevelDB handle (LevelDB
// locks its directory, so no second handle may open it). A missing key is libp2p's NotFoundError.
import { BaseDatastore } from 'datastore-core';
import { Key, type KeyQuery, type Pair, type Query } from 'interface-datastore';
import { NotFoundError } from '@libp2p/interface';
import type { DatastoreCall } from '../store/messages.ts';

export type StoreCall = (call: DatastoreCall) => Promise<unknown>;

export class RemoteDatastore extends BaseDatastore {
  constructor(private readonly call: StoreCall) { super(); }

  override async put(key: Key, value: Uint8Array): Promise<Key> {
    await this.call({ op: 'put', key: key.toString(), value });
    return key;
  }

  override async get(key: Key): Promise<Uint8Array> {
    const v = await this.call({ op: 'get', key: key.toString() }) as Uint8Array | null;
    if (v === null) throw new NotFoundError(`no datastore entry ${key.toString()}`);
    return v;
  }

  override async has(key: Key): Promise<boolean> { return await this.call({ op: 'has', key: key.toString() }) as boolean; }

  override async delete(key: Key): Promise<void> { await this.call({ op: 'delete', key: key.toString() }); }

  override async * _all(q: Query): AsyncGenerator<Pair> {
    const rows = await this.call({ op: 'all', ...(q.prefix !== undefined ? { prefix: q.prefix } : {}) }) as Array<{ key: string; value: Uint8Array }>;
    for (const r of rows) yield { key: new Key(r.key), value: r.value };
  }

  override async * _allKeys(q: KeyQuery): AsyncGenerator<Key> {
    for await (const p of this._all(q as Query)) yield p.key;
  }
}
