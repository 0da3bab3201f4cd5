// Swarm: the peers this node knows, laid out by d3-force (this node in the middle, a solid line
// to each peer it is connected to, dashed to known ones it is not), coloured by liveness, with
// reputation, the coordinator of each group and the partition state when there is one.
import { useMemo } from 'preact/hooks';
import { forceCenter, forceLink, forceManyBody, forceSimulation, type SimulationNodeDatum } from 'd3-force';
import type { NodeView } from '../store.ts';

interface GraphNode extends SimulationNodeDatum {
  id: string; label: string; state: 'self' | 'alive' | 'suspect' | 'dead'; score?: number; coordinates: string[]; connected: boolean;
}

const short = (id: string) => (id.length > 12 ? `…${id.slice(-8)}` : id);

function layout(nodes: GraphNode[], links: Array<{ source: string; target: string }>): void {
  // A fixed number of ticks and a fixed start (d3 places nodes on a spiral): the same swarm always
  // gets the same picture, and nothing moves between updates.
  forceSimulation(nodes)
    .force('link', forceLink<GraphNode, { source: string; target: string }>(links).id((d) => d.id).distance(150))
    .force('charge', forceManyBody().strength(-400))
    .force('center', forceCenter(0, 0))
    .stop()
    .tick(300);
}

export function Swarm({ view }: { view: NodeView }) {
  const o = view.orchestration;
  const coordinatorOf = new Map<string, string[]>();
  for (const g of o?.groups ?? []) {
    const c = g.coordinator ?? g.holder;
    if (c) coordinatorOf.set(c.peer_id, [...(coordinatorOf.get(c.peer_id) ?? []), g.group]);
  }
  const selfId = view.self?.peer_id ?? o?.self?.peer_id;
  const known = new Map<string, GraphNode>();
  if (selfId) known.set(selfId, { id: selfId, label: view.self?.node_id ?? short(selfId), state: 'self', coordinates: [], connected: true });
  for (const p of view.peers) {
    known.set(p.peer_id, { id: p.peer_id, label: p.node_id ?? short(p.peer_id), state: p.state, score: p.score, coordinates: [], connected: p.connected });
  }
  // Peers the consensus actor counts dead are gone from the peer table; still worth seeing.
  for (const p of o?.peers ?? []) {
    if (!known.has(p.peer_id) && p.status === 'dead') known.set(p.peer_id, { id: p.peer_id, label: p.node_id, state: 'dead', coordinates: [], connected: false });
  }
  for (const [id, groups] of coordinatorOf) { const n = known.get(id); if (n) n.coordinates = groups; }
  const nodes = [...known.values()];
  const topology = nodes.map((n) => n.id).sort().join(',');
  const positions = useMemo(() => {
    const copy = nodes.map((n) => ({ ...n }));
    layout(copy, selfId ? copy.filter((n) => n.id !== selfId).map((n) => ({ source: selfId, target: n.id })) : []);
    return new Map(copy.map((n) => [n.id, { x: n.x ?? 0, y: n.y ?? 0 }]));
  }, [topology]);
  const xs = [...positions.values()];
  // The drawing's extent, padded for labels, and never so small that a lone node fills the panel.
  const pad = 90;
  const span = (vs: number[], least: number) => {
    const lo = Math.min(0, ...vs) - pad; const hi = Math.max(0, ...vs) + pad;
    const grow = Math.max(0, least - (hi - lo)) / 2;
    return [lo - grow, hi + grow] as const;
  };
  const [minX, maxX] = span(xs.map((p) => p.x), 520);
  const [minY, maxY] = span(xs.map((p) => p.y), 300);
  const self = selfId ? positions.get(selfId) : undefined;
  const partition = o?.partition;

  return (
    <section class="panel swarm" aria-label="Swarm">
      <h2>Swarm</h2>
      <p class="summary">
        <span data-testid="peer-count">{view.peers.length} {view.peers.length === 1 ? 'peer' : 'peers'}</span>
        {' · '}{view.peers.filter((p) => p.connected).length} connected
        {o ? <> · mode {o.mode} · swarm epoch {o.epoch}</> : null}
      </p>
      {o && o.members > view.peers.length + 1
        ? <p class="muted">The swarm counts {o.members} members; this view shows the {view.peers.length + 1} in this node's peer table and the dead it remembers.</p>
        : null}
      {partition && partition.state !== 'ok'
        ? <p class="warn" data-testid="partition">Partition seen: {partition.state} ({partition.alive} alive, {partition.suspect} suspect, {partition.dead} dead)</p>
        : null}
      <svg class="graph" viewBox={`${minX} ${minY} ${maxX - minX} ${maxY - minY}`} role="img" aria-label="peer graph">
        {self ? nodes.filter((n) => n.id !== selfId).map((n) => {
          const p = positions.get(n.id);
          return p ? <line key={`l-${n.id}`} x1={self.x} y1={self.y} x2={p.x} y2={p.y} class={n.connected ? 'link' : 'link known'} /> : null;
        }) : null}
        {nodes.map((n) => {
          const p = positions.get(n.id);
          if (!p) return null;
          return (
            <g key={n.id} class={`node ${n.state}`} transform={`translate(${p.x},${p.y})`} data-peer={n.id}>
              {n.coordinates.length > 0 ? <circle r="26" class="coordinator-ring" /> : null}
              <circle r="18" />
              <text y="40" text-anchor="middle">{n.label}</text>
              <text y="56" text-anchor="middle" class="sub">
                {n.state === 'self' ? 'this node' : `${n.state}${n.score !== undefined ? ` · rep ${n.score.toFixed(1)}` : ''}`}
              </text>
              {n.coordinates.length > 0 ? <text y="70" text-anchor="middle" class="sub coordinator">coordinator: {n.coordinates.join(', ')}</text> : null}
            </g>
          );
        })}
      </svg>
      <table>
        <thead><tr><th>peer</th><th>state</th><th>connected</th><th>reputation</th><th>models</th></tr></thead>
        <tbody>
          {view.peers.map((p) => (
            <tr key={p.peer_id} data-testid="peer-row">
              <td title={p.peer_id}>{p.node_id ?? short(p.peer_id)}</td>
              <td class={`state ${p.state}`}>{p.state}</td>
              <td>{p.connected ? 'yes' : 'no'}</td>
              <td>{p.score.toFixed(2)}</td>
              <td>{p.models.join(', ')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
