export function chooseStep(durationMs: number, windowMs: number, target?: number): number;
export function formatOffset(ms: number): string;
export function loadMatch(
  fetchFn: (url: string, init?: RequestInit) => Promise<{ ok: boolean; status: number; json(): Promise<any> }>,
  matchId: string,
  o?: { target?: number; top?: number },
): Promise<{ summary: any; step: number; points: any[]; moments: any[] } | undefined>;
export function playheadOptions(search: string | URLSearchParams): { replay: boolean; speed: number; offset?: number; at?: number };
export function parsePlayheadMessage(data: unknown): { offset?: number; at?: number; playing?: boolean } | null;
export function needsSeek(current: number | undefined, target: number, toleranceMs?: number): boolean;
