// The node's answers as the console reads them: the wire contract seen from the browser. Only
// the fields the panels use; the node's own types (src/) are the full truth.
export interface PeerSummary {
  peer_id: string; node_id?: string; connected: boolean; addrs: string[];
  state: 'alive' | 'suspect'; silent_ms: number; models: string[]; score: number;
}
export interface ActorInfo {
  name: string; placement: 'inline' | 'thread'; restart: string;
  status: 'starting' | 'running' | 'restarting' | 'stopped'; state: string; restarts: number; crashes: number;
}
export interface JobRecord {
  id: string; client: string; model: string; status: string; reason?: string;
  queued_at: number; queue_ms: number | null; first_token_ms: number | null; generation_ms: number | null;
  tokens_in: number; tokens_out: number;
}
export interface NodeRef { node_id: string; peer_id: string }
export interface OrchestrationBody {
  enabled: boolean; mode: string; self: NodeRef | null; coordinator: NodeRef | null; epoch: number; members: number;
  groups: Array<{ group: string; members: number; epoch: number; coordinator?: NodeRef; holder?: NodeRef; partial: boolean }>;
  partition: { state: 'ok' | 'degraded' | 'minority'; alive: number; suspect: number; dead: number };
  peers: Array<NodeRef & { affinity: number; status: 'alive' | 'suspect' | 'dead'; groups: string[] }>;
  recent: Array<{ id: string; decision_type: string; decision: { action: string; reasoning?: string; confidence?: number };
    strategy_used: string; path: string; agreed: boolean; group: string; decided_at: number }>;
}
export interface DecisionRecord {
  id: string; decision_type: string; action: string; params: Record<string, unknown>; confidence: number;
  reasoning: string; source: string; outcome: string; outcome_reason?: string; ts: number; expires_at?: number;
}
/** GET /models: the models served here, those peers announce, and the pulls. */
export interface ModelsBody { loaded: LoadedModel[]; swarm: SwarmModel[]; pulls: PullProgress[] }
export interface LoadedModel {
  model: string; path: string; sha256: string; params: number; quantization: string;
  busy: number; queued: number; test_model: boolean;
}
export interface SwarmModel { name: string; sha256: string; params: number; quantization: string; peers: string[] }
export interface PullProgress {
  sha256: string; name: string; state: 'running' | 'done' | 'failed' | 'cancelled';
  size: number; bytes_done: number; chunks: number; verified_chunks: number;
  sources: Array<{ peer: string; chunks: number; dropped?: string }>;
  error?: { code: string; message: string };
}
export interface Receipt {
  v: string; type: string; id: string; from: string; ts: number; sig: string;
  body: { job_id: string; executor: string; status: string; output_sha256: string; input_sha256: string;
    tokens_in?: number; tokens_out?: number; [k: string]: unknown };
}
