/**
 * Emitted on the HTTP server by a route whose response becomes a long-lived stream (the SSE live
 * feed), with the request: like an upgraded socket, it leaves the per-address HTTP socket count
 * (WS_MAX_CONNECTIONS_PER_IP bounds live connections of both transports). A port between the stage
 * that streams (fanout) and the HTTP edge that counts sockets (http/server-limits), which know
 * nothing of each other.
 */
export const LIVE_STREAM_EVENT = 'emostream:live-stream';
