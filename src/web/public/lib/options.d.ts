export interface OverlayOptions {
  matchId: string;
  position: 'bottom-right' | 'bottom-left' | 'top-right' | 'top-left' | 'full';
  theme: 'dark' | 'light';
  bg: string;
  maxSprites: number;
  spritesPerUnit: number;
  size: number;
  sentiment: boolean;
  burst: boolean;
  format: 'json' | 'compact';
  transport: 'ws' | 'sse';
}
export const POSITIONS: string[];
export const THEMES: string[];
export const FORMATS: string[];
export const TRANSPORTS: string[];
export function overlayOptions(search: string | URLSearchParams): OverlayOptions;
export function overlayQuery(o: Partial<OverlayOptions> & { matchId: string }): string;
export function embedSnippet(origin: string, o: Partial<OverlayOptions> & { matchId: string }, width?: number, height?: number): string;
