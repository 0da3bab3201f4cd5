// The wire protocol: signed envelopes, message body schemas, version negotiation and the
// inspector that gates incoming gossip. Pure: no libp2p node, no I/O.
//
// Public API
//   PROTOCOL_VERSION: '2.0' (scoped offers; '1.0' = BROADCAST_PROTOCOL_VERSION); SUPPORTED_VERSIONS: readonly string[]
//   parseVersion(v: unknown): { major, minor } | undefined
//   isSupportedVersion(v: unknown, supported?): boolean
//   negotiateVersion(mine: readonly unknown[], theirs: readonly unknown[]): string | undefined
//   sealEnvelope<T extends MessageType>(privateKey, from, type: T, body: MessageBody<T>,
//                opts: { now; id?; v? }): Promise<Envelope<T>>          throws EnvelopeSealError
//   encodeEnvelope(env): Uint8Array                                   canonical JSON, UTF-8
//   createEnvelopeInspector(init?: { maxBytes?, maxSkewMs?, replayCapacity?, supportedVersions? })
//     .open(bytes, { now, propagationFrom? }): Promise<OpenResult>     never throws
//   DROP_REASONS, DropReason, OpenResult, OpenContext, EnvelopeLimits, DEFAULT_ENVELOPE_LIMITS
//   MESSAGE_BODIES, MESSAGE_TYPES, MessageType, MessageBody<T>, Envelope<T>, isMessageType
//   Manifest, ModelManifest, HeartbeatBody and their schemas; envelopeSchema, EnvelopeWire
//   Jobs: WorkOfferBody (work_offer, job.schema.json), JobClaimBody, JobAssignBody, ReceiptBody
//     and their schemas; JOB_PRIORITIES, RECEIPT_STATUSES, DEFAULT_JOB_VALUE, MAX_JOB_TOKENS
//   deriveJobId({ client, model, prompt_sha256, params: { max_tokens, temperature, seed? }, nonce })
//     → sha256 hex of the RFC 8785 JSON of that object; jobIdOf(offer); buildWorkOffer(content);
//     newJobNonce(); jobValue(offer); sha256Hex(text | bytes)
//   sealReceipt(privateKey, body, now, opts?): Promise<ReceiptEnvelope>  throws EnvelopeSealError
//   verifyReceipt(input: unknown, { text?, prompt? }?): Promise<ReceiptVerification>  never throws
//     checks RECEIPT_CHECKS in order: format, signature, executor, output_hash, input_hash
//   Orchestration (orchestration.ts, gossiped on mvp/1/orch): coord_claim, coord_vote,
//     coord_record (elections; the body's candidate / voter / holder must be `from`),
//     decision_proposal, decision_vote, decision_outcome (consensus decisions); OrchSummary
//     rides on the heartbeat as `orch`; model_request (model-request.ts: one node asks another
//     to pull and load a model; the requester must be `from`).
//   Per-type rules (BodyRules: signer, inconsistency; bodyProblem) run in the inspector and in
//   sealEnvelope: a body naming another sender than `from` (an offer's client, a claim's or a
//   receipt's executor) is `wrong_from`; an offer whose job_id is not derived from its content,
//   or a receipt ending before it started or failing without a reason, is `schema`.
//   TOPICS (topics.ts): the gossipsub topic names, announce / work / receipt / orch.
//   Lower level: signEnvelope, signingBytes, canonicalBytes, verifyEnvelopeSignature, newEnvelopeId
export * from './version.ts';
export * from './envelope.ts';
export * from './manifest.ts';
export * from './heartbeat.ts';
export * from './orchestration.ts';
export * from './model-request.ts';
export * from './fields.ts';
export * from './job.ts';
export * from './job-claim.ts';
export * from './job-assign.ts';
export * from './job-stream.ts';
export * from './receipt-body.ts';
export * from './receipt.ts';
export * from './registry.ts';
export * from './seal.ts';
export * from './inspector.ts';
export * from './topics.ts';
export type { FromSchema, WireSchema } from './schema-types.ts';
