// The wire protocol: signed envelopes, message body schemas, version negotiation and the
// inspector that gates incoming gossip. Pure: no libp2p node, no I/O.
//
// Public API
//   PROTOCOL_VERSION: '1.0'; SUPPORTED_VERSIONS: readonly string[]
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
//   Lower level: signEnvelope, signingBytes, canonicalBytes, verifyEnvelopeSignature, newEnvelopeId
export * from './version.ts';
export * from './envelope.ts';
export * from './manifest.ts';
export * from './heartbeat.ts';
export * from './registry.ts';
export * from './seal.ts';
export * from './inspector.ts';
export type { FromSchema, WireSchema } from './schema-types.ts';
