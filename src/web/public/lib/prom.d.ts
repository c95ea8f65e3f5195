export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
export function parsePrometheus(text: string): Sample[];
export function metricValue(samples: Sample[], name: string, labels?: Record<string, string>): number;
export function counterRate(prev: { value: number; at: number } | undefined, next: { value: number; at: number }): number;
