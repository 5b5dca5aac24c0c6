import type { MetricsRegistry } from '@gatehouse/core';
import type { SinkDelivery } from '../delivery/create-sink-delivery.js';

/**
 * Adds the sink gauges to a registry without prefix, sampled from `state()` at each scrape:
 * `gatehouse_audit_sink_lag_events`, `gatehouse_audit_sink_backlog_full` (1: alert),
 * `gatehouse_audit_sink_consecutive_failures`, `gatehouse_audit_sink_rejected` (1 while the last
 * failure was a permanent refusal: someone must act) and
 * `gatehouse_audit_sink_last_delivery_timestamp_seconds`, each by `sink` (configured ids: bounded).
 */
export function registerSinkMetrics(registry: MetricsRegistry, sinks: () => readonly SinkDelivery[]): void {
  const states = () => sinks().map((sink) => sink.state());
  registry.gauge({
    name: 'gatehouse_audit_sink_lag_events',
    help: 'Audit events stored but not yet delivered to the sink',
    labelNames: ['sink'],
    collect: (gauge) => {
      gauge.reset();
      for (const state of states()) gauge.set([state.id], state.lag);
    },
  });
  registry.gauge({
    name: 'gatehouse_audit_sink_backlog_full',
    help: 'Whether the sink lag is above its alert bound (events are kept, never dropped)',
    labelNames: ['sink'],
    collect: (gauge) => {
      gauge.reset();
      for (const state of states()) gauge.set([state.id], state.backlogFull ? 1 : 0);
    },
  });
  registry.gauge({
    name: 'gatehouse_audit_sink_consecutive_failures',
    help: 'Failed delivery attempts since the last successful one',
    labelNames: ['sink'],
    collect: (gauge) => {
      gauge.reset();
      for (const state of states()) gauge.set([state.id], state.consecutiveFailures);
    },
  });
  registry.gauge({
    name: 'gatehouse_audit_sink_rejected',
    help: 'Whether the sink is failing because its receiver refuses batches (4xx): needs action',
    labelNames: ['sink'],
    collect: (gauge) => {
      gauge.reset();
      for (const state of states()) {
        gauge.set([state.id], state.consecutiveFailures > 0 && state.lastError?.permanent === true ? 1 : 0);
      }
    },
  });
  registry.gauge({
    name: 'gatehouse_audit_sink_last_delivery_timestamp_seconds',
    help: 'Unix time of the last batch the sink delivered',
    labelNames: ['sink'],
    collect: (gauge) => {
      gauge.reset();
      for (const state of states()) {
        if (state.lastDeliveryAt !== undefined)
          gauge.set([state.id], Date.parse(state.lastDeliveryAt) / 1000);
      }
    },
  });
}
