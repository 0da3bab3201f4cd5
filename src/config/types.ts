// The validated, defaulted, frozen configuration as the rest of the program sees it.
// Mirrors schemas/config.schema.json by hand; test/unit/config-types.test.ts keeps the two in step.

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';
export type OrchestratorModelType = 'llama3_2_3b' | 'llama3_2_1b' | 'mistral_7b' | 'phi3';
export type OrchestratorDevice = 'auto' | 'cpu' | 'cuda' | 'metal';
export type OrchestratorAction = 'start_election' | 'migrate_context' | 'adjust_gossip' | 'scale_queue' | 'wait';
export type OrchestrationMode = 'emergent' | 'permanent' | 'fully_decentralized';
export type RotationTrigger = 'adaptive' | 'periodic' | 'on_failure';
export type ActorPlacement = 'inline' | 'thread';

export interface NodeConfig {
  /** Absent: the runtime derives one from the node's key. */
  readonly node_id?: string;
  /** 0 lets the OS pick a port. */
  readonly listen_port: number;
  readonly listen_host: string;
  /** Always set after loading: the platform data directory when not configured. */
  readonly data_dir: string;
}

export interface NetworkConfig {
  /** Multiaddrs; empty means this node bootstraps the network. */
  readonly bootstrap_peers: readonly string[];
  readonly max_peers: number;
  readonly auto_accept_peers: boolean;
  readonly mdns_enabled: boolean;
  readonly announce_interval_secs: number;
  /** 'scoped' (protocol 2.0): per-model, sharded offer topics; 'broadcast' (protocol 1.0): every offer to every node. */
  readonly offer_scope: 'scoped' | 'broadcast';
  /** Most holders of a model per offer shard; 0: 2·log2(N), at least 4. */
  readonly offer_shard_size: number;
  readonly bootstrap_retry_max_secs: number;
  /** Replicas of each receipt record in the DHT: its k closest peers (also the DHT's bucket size). */
  readonly receipt_replicas: number;
  /** Pre-shared key file (libp2p pnet) of a private swarm; absent: an open swarm. */
  readonly swarm_key?: string;
}

export interface ModelConfig {
  /** One GGUF path or several; absent means no model is served. */
  readonly path?: string | readonly string[];
  readonly max_context_length: number;
  readonly threads?: number;
  readonly batch_threads?: number;
  readonly name?: string;
  /** Jobs each model runs at once (sequences of one context): slots per model. */
  readonly sequences: number;
}

export interface ModelsConfig {
  readonly share: boolean;
  readonly share_max_mib_per_sec: number;
  readonly share_chunks_per_peer_per_sec: number;
  /** Fewest nodes serving a model before one may unload it (migration, falling demand). */
  readonly min_replicas: number;
  /** Load models when a peer asks (migrate_context) or the model group replicates one. */
  readonly accept_replication: boolean;
  /** Names or sha256 peers may have this node load; empty: any. */
  readonly replicate_allow: readonly string[];
  /** Models (names or sha256) never unloaded on the node's own account (migration, falling demand). */
  readonly pinned: readonly string[];
  /** Disk the pulled model files may take together, MiB; 0: no cap. */
  readonly max_pulled_mib: number;
  /** Demand-driven replication: grow above this mean wait (s) held for replicate_after_secs; 0: never. */
  readonly replicate_wait_secs: number;
  /** Shrink below this mean wait (s) held for replicate_after_secs (the hysteresis band's lower bound). */
  readonly unreplicate_wait_secs: number;
  readonly replicate_after_secs: number;
  /** Nodes asked per replication step (k). */
  readonly replicate_count: number;
}

export interface ExecutorConfig {
  readonly max_queue_size: number;
  readonly job_timeout_secs: number;
  readonly max_load_per_core: number;
  /** Seconds running jobs may take to finish once the node drains (SIGTERM, POST /drain). */
  readonly drain_timeout_secs: number;
}

export interface MonitoringConfig {
  readonly log_level: LogLevel;
  /** GET /metrics served (false: 404 metrics_disabled). */
  readonly metrics_enabled: boolean;
  readonly health_check_interval_secs: number;
}

export interface OrchestratorConfig {
  readonly enabled: boolean;
  readonly model_path?: string;
  readonly model_type: OrchestratorModelType;
  readonly device: OrchestratorDevice;
  readonly decision_timeout_ms: number;
  readonly generation: {
    readonly max_tokens: number;
    readonly temperature: number;
    readonly top_p: number;
    readonly repetition_penalty: number;
  };
  readonly cache: {
    readonly enabled: boolean;
    readonly max_entries: number;
    readonly ttl_seconds: number;
  };
  readonly training: {
    readonly collect_data: boolean;
    readonly export_path: string;
    readonly auto_export_threshold: number;
    readonly outcome_delay_secs: number;
  };
  readonly safety: {
    readonly allowed_actions: readonly OrchestratorAction[];
    readonly max_confidence_threshold: number;
    readonly require_confirmation_above: number;
    readonly confirmation_timeout_secs: number;
  };
}

export interface DistributedOrchestrationConfig {
  readonly enabled: boolean;
  readonly mode: OrchestrationMode;
  /** permanent mode: node_id or peer id of the fixed coordinator; absent: no coordinator. */
  readonly coordinator?: string;
  readonly rotation_trigger: RotationTrigger;
  readonly high_value_threshold: number;
  readonly complexity_threshold: number;
  readonly min_nodes_per_group: number;
  readonly max_groups_per_node: number;
  readonly council_size: number;
  readonly heartbeat_timeout_secs: number;
  readonly consensus_timeout_ms: number;
  readonly max_consensus_rounds: number;
  readonly base_consensus_threshold: number;
}

export interface ApiConfig {
  readonly enabled: boolean;
  /** Loopback by default; any other address requires `token` (checked by the loader). */
  readonly listen: string;
  /** 0 lets the OS pick a port. */
  readonly port: number;
  /** Absent: no authentication (loopback only). Also MVP_NODE_API_TOKEN, which the CLI's status/peers/jobs send. */
  readonly token?: string;
  /** How long an OpenAI-gateway request waits for a node to take its job (503 past it). */
  readonly gateway_timeout_secs: number;
}

/** Pruning limits of the store; 0 means no limit (the default: keep everything). */
export interface StoreConfig {
  readonly receipts_max_age_days: number;
  readonly receipts_max_count: number;
  readonly jobs_max_age_days: number;
  readonly jobs_max_count: number;
}

export interface RuntimeConfig {
  readonly placement: {
    readonly store: ActorPlacement;
    readonly network: ActorPlacement;
    readonly scheduler: ActorPlacement;
    readonly orchestrator: ActorPlacement;
    readonly consensus: ActorPlacement;
    readonly api: ActorPlacement;
    readonly inference: ActorPlacement;
  };
  readonly restart_intensity: number;
  readonly restart_period_secs: number;
  readonly shutdown_timeout_ms: number;
}

export interface Config {
  readonly node: NodeConfig;
  readonly network: NetworkConfig;
  readonly model: ModelConfig;
  readonly models: ModelsConfig;
  readonly executor: ExecutorConfig;
  readonly monitoring: MonitoringConfig;
  readonly orchestrator: OrchestratorConfig;
  readonly distributed_orchestration: DistributedOrchestrationConfig;
  readonly api: ApiConfig;
  readonly store: StoreConfig;
  readonly runtime: RuntimeConfig;
}
