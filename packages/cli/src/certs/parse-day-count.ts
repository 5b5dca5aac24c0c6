import { UsageError } from '../io.js';

/** `--days N` / `--within DAYS`: a whole number of days in [min, max]. */
export function parseDayCount(value: string, flag: string, min: number, max: number): number {
  const days = /^[0-9]{1,6}$/.test(value) ? Number(value) : Number.NaN;
  if (!(days >= min && days <= max)) {
    throw new UsageError(`${flag}: a whole number of days from ${min} to ${max}`);
  }
  return days;
}
