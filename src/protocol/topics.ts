// The gossipsub topics, named once: every node, client, test and bench takes them from here.
//   announce: signed manifests and heartbeats (liveness rides on them)
//   work:     the job marketplace's offers, claims and assignments
//   receipt:  executors' signed receipts
//   orch:     orchestration (coordinator elections, consensus decisions)
export const TOPICS = { announce: 'mvp/1/announce', work: 'mvp/1/work', receipt: 'mvp/1/receipt', orch: 'mvp/1/orch' } as const;

export type Topic = (typeof TOPICS)[keyof typeof TOPICS];

export const WORK_TOPIC = TOPICS.work;
export const RECEIPT_TOPIC = TOPICS.receipt;
