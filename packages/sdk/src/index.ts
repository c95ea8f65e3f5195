export { EmoStreamClient, type EmoStreamClientOptions } from './client.js';
export { LiveSubscription, type SubscriptionEvents } from './live-subscription.js';
export { ReplaySubscription, type ReplayEvents } from './replay-subscription.js';
export { ReactionSender, type SenderEvents, type SenderTimers, systemTimers } from './reaction-sender.js';
export { fullJitter } from './backoff.js';
export type { ApiErrorBody, ClientMessage, ConnectionState, GapMessage, GapReason, LiveMessage, LiveWindow, ReactionInput, ReplayClientMessage, ReplayServerMessage, ReplayStateMessage, ServerMessage, TokenProvider, TokenSource, WebSocketCtor, WebSocketLike, WindowAggregate } from './types.js';
export { decodeCompact, encodeCompact, type CompactContext, type HelloMessage } from '../../../src/wire/compact.js';
export { SseConnection, RATE_LIMITED_CLOSE_CODE } from './sse.js';
