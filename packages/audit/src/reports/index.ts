export { readRetentionHorizon, retentionWarnings, type RetentionHorizon } from './read-retention-horizon.js';
export { renderReport, type ReportFormat, type ReportHeader } from './render-report.js';
export {
  concernsSubject,
  isIncident,
  selectRecords,
  type ReportPeriod,
  type ReportRecord,
  type ReportSource,
} from './select-records.js';
