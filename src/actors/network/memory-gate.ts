// Connection gating and link shaping for in-process nodes (memory transport), process-wide: the
// simulator's real-node mode (src/sim/real.ts) cuts the nodes of this process into sides — a
// partition — and heals it. While cut, libp2p's connection gater refuses dials and connections
// across sides, and the connections already open across are aborted; at heal each node dials
// the nodes across again. It also shapes gossip: extra delay before a node takes in a message,
// and message loss (a reliable stream cannot lose bytes without breaking, so loss is modelled
// where a lost packet would end up: a gossip message that never arrives). TCP nodes never
// consult it.
import type { NetworkNode } from './libp2p.ts';

const nodes = new Map<string, NetworkNode>();
let sides: ReadonlyMap<string, number> | undefined;
let shaping = { extraMs: 0, loss: 0 };
let random: () => number = Math.random;

/** What becomes of one gossip message: lost, or taken in after this many ms (0: at once). */
export type Fate = 'lost' | number;

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

  /**
   * Shapes every gossip message from now on: `extraMs` of delay, a `loss` rate in [0, 1]; the
   * simulator passes its seeded random source. Called with no argument, shaping ends.
   */
  shape(s: { extraMs?: number; loss?: number } = {}, rng: () => number = Math.random): void {
    shaping = { extraMs: Math.max(0, s.extraMs ?? 0), loss: Math.min(1, Math.max(0, s.loss ?? 0)) };
    random = rng;
  },

  fate(): Fate {
    if (shaping.loss > 0 && random() < shaping.loss) return 'lost';
    return shaping.extraMs;
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
