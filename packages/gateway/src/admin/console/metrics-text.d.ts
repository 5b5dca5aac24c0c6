export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface RequestTotals {
  readonly time: number;
  readonly total: number;
  readonly clientErrors: number;
  readonly serverErrors: number;
}

export interface RequestRate {
  readonly time: number;
  readonly rate: number;
  readonly clientErrorRatio: number;
  readonly serverErrorRatio: number;
}

export function parsePrometheusText(text: string, family?: string): Sample[];
export function sumRequests(text: string, time: number): RequestTotals;
export function computeRate(previous: RequestTotals, next: RequestTotals): RequestRate | undefined;
