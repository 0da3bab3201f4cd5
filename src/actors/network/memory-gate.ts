// Connection gating for in-process nodes (memory transport), process-wide: the simulator's
// real-node mode (src/sim/real.ts) cuts the nodes of this process into sides — a partition —
// and heals it. While cut, libp2p's connection gater refuses dials and connections across sides,
// and the connections already open across are aborted; at heal each node dials the nodes across
// again. TCP nodes never consult it.
import type { NetworkNode } from './libp2p.ts';

const nodes = new Map<string, NetworkNode>();
let sides: ReadonlyMap<string, number> | undefined;

export const memoryGate = {
  register(peer: string, node: NetworkNode): void { nodes.set(peer, node); },
  unregister(peer: string): void { nodes.delete(peer); },

  /** Whether a connection between peers a and b is refused now. */
  denied(a: string, b: string): boolean {
    return sides !== undefined && (sides.get(a) ?? 0) !== (sides.get(b) ?? 0);
  },

  /** Cuts the registered nodes into sides (peer id → side; unlisted peers are on side 0). */
  async partition(bySide: ReadonlyMap<string, number>): Promise<void> {
    sides = bySide;
    const cut: Promise<unknown>[] = [];
    for (const [peer, node] of nodes) {
      for (const c of node.getConnections()) {
        if (this.denied(peer, c.remotePeer.toString())) cut.push(Promise.resolve().then(() => c.abort(new Error('simulated partition'))).catch(() => {}));
      }
    }
    await Promise.all(cut);
  },

  /** Lifts the partition; every node dials the nodes that were across. */
  async heal(): Promise<void> {
    const was = sides;
    sides = undefined;
    if (!was) return;
    const dials: Promise<unknown>[] = [];
    for (const [a, na] of nodes) {
      for (const [b, nb] of nodes) {
        if (a >= b || (was.get(a) ?? 0) === (was.get(b) ?? 0)) continue;
        dials.push(na.dial(nb.getMultiaddrs()).catch(() => {}));
      }
    }
    await Promise.all(dials);
  },
};
