// GET /health's verdict from what the actors answered: the node is `ok` only when the network
// and the scheduler answered and every supervised actor is running (so every model is loaded:
// an inference actor runs once its model is). A draining node says `draining` whatever else
// holds: it is on its way out, and load balancers should send it nothing more.
import type { ActorInfo } from '../../runtime/supervisor.ts';
import type { NetworkStatus } from '../network/messages.ts';
import type { QueueStatus } from '../scheduler/messages.ts';
import type { ConsensusStatus } from '../consensus/messages.ts';
import { orchestrationSummary } from '../consensus/summary.ts';
import type { ApiArgs, HealthBody } from './messages.ts';

export interface HealthAnswers {
  /** Undefined: the actor did not answer (down, restarting, timed out). */
  network?: NetworkStatus;
  queue?: QueueStatus;
  actors?: readonly ActorInfo[];
  consensus?: ConsensusStatus;
}

const INFERENCE_PREFIX = 'inference:';

/** An inference actor is `ready` or `generating` once its model is loaded (inference/machine.ts). */
function modelState(a: ActorInfo): HealthBody['models'][string] {
  if (a.status === 'running') return a.state === 'ready' || a.state === 'generating' ? 'loaded' : a.state === 'loading' ? 'loading' : 'down';
  return a.status === 'starting' ? 'loading' : 'down';
}

export function healthOf(node: Pick<ApiArgs, 'nodeId' | 'peerId' | 'startedAt'>, answers: HealthAnswers, now: number, configuredCapacity: number): HealthBody {
  const { network, queue, actors = [] } = answers;
  const status: HealthBody['status'] = network?.draining ? 'draining'
    : actors.some((a) => a.status === 'starting') ? 'starting'
    : network && queue && answers.actors && actors.every((a) => a.status === 'running') ? 'ok'
    : 'degraded';
  return {
    status,
    node_id: node.nodeId,
    peer_id: node.peerId,
    peers: network?.peers ?? 0,
    known_peers: network?.known ?? 0,
    uptime_s: Math.round((now - node.startedAt) / 1000),
    actors: Object.fromEntries(actors.map((a) => [a.name, a.status === 'running' ? a.state : a.status])),
    models: Object.fromEntries(actors.filter((a) => a.name.startsWith(INFERENCE_PREFIX)).map((a) => [a.name.slice(INFERENCE_PREFIX.length), modelState(a)])),
    queue: { depth: queue?.depth ?? 0, capacity: queue?.capacity ?? configuredCapacity },
    ...(answers.consensus ? { orchestration: orchestrationSummary(answers.consensus) } : {}),
  };
}
