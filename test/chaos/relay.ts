// A userspace TCP relay that degrades a link: every chunk is held for a delay (plus jitter), and
// with probability `loss` for a retransmission-like stall instead. Over TCP a lost packet is not
// lost bytes but a stall until it is resent, so that is what "loss" means here. Order is kept.
import net from 'node:net';

export interface LinkShape {
  delayMs: number;
  jitterMs: number;
  /** Probability that a chunk stalls for stallMs (a lost and resent segment). */
  loss: number;
  stallMs: number;
}

export interface Relay { port: number; chunks: number; stalls: number; close(): Promise<void> }

export async function startRelay(target: { host: string; port: number }, shape: LinkShape, random: () => number = Math.random): Promise<Relay> {
  const sockets = new Set<net.Socket>();
  const stats = { chunks: 0, stalls: 0 };
  /** Forwards a → b through the degraded link: one queue per direction, so order is kept. */
  const pipe = (a: net.Socket, b: net.Socket) => {
    const queue: Array<{ chunk: Buffer | null; due: number }> = [];
    let last = 0;
    let pumping = false;
    const pump = () => {
      if (pumping) return;
      const head = queue[0];
      if (!head) return;
      const wait = head.due - Date.now();
      if (wait > 0) { pumping = true; setTimeout(() => { pumping = false; pump(); }, wait); return; }
      queue.shift();
      if (!b.destroyed) { if (head.chunk) b.write(head.chunk); else b.end(); }
      pump();
    };
    const enqueue = (chunk: Buffer | null, extraMs: number) => {
      last = Math.max(last, Date.now() + shape.delayMs + random() * shape.jitterMs + extraMs);
      queue.push({ chunk, due: last });
      pump();
    };
    a.on('data', (chunk: Buffer) => {
      stats.chunks++;
      const stalled = random() < shape.loss;
      if (stalled) stats.stalls++;
      enqueue(chunk, stalled ? shape.stallMs : 0);
    });
    a.on('end', () => enqueue(null, 0));
    a.on('error', () => b.destroy());
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    for (const s of [client, upstream]) { sockets.add(s); s.on('close', () => sockets.delete(s)); }
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    get chunks() { return stats.chunks; },
    get stalls() { return stats.stalls; },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
