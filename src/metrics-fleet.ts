/**
 * The fleet's view on /metrics: which version each replica serves, what the
 * remote says is newest, and how stale the replica is. Across replicas,
 * `count by (version) (model_monitor_served_info)` is the version skew.
 * Info metrics (value 1, the data in labels) as Prometheus' own build_info:
 * one series per replica, replaced, never accumulated, when the version changes.
 */
import { Gauge, type Registry } from 'prom-client';
import type { Freshness, VersionRef } from './freshness.js';

const P = 'model_monitor_';

export interface FleetSources {
  /** What is served now, or null. */
  readonly served: () => VersionRef | null;
  readonly freshness?: (() => Freshness) | undefined;
}

/** An info metric: one series with `version` and `fingerprint` labels and value 1, or none. */
function infoGauge(registry: Registry, name: string, help: string, get: () => VersionRef | null): void {
  new Gauge({
    name: `${P}${name}`,
    help,
    labelNames: ['version', 'fingerprint'],
    registers: [registry],
    collect() {
      this.reset();
      const v = get();
      if (v) this.set({ version: v.version, fingerprint: v.fingerprint }, 1);
    },
  });
}

/** Registers the fleet gauges on `registry`; their values are read at each scrape. */
export function fleetGauges(registry: Registry, src: FleetSources): void {
  infoGauge(registry, 'served_info', 'The served model: version and donefile fingerprint as labels, value 1 (absent when nothing is served)', src.served);
  if (!src.freshness) return;
  const fresh = src.freshness;
  infoGauge(
    registry,
    'remote_info',
    "The remote's newest version as last polled: version and donefile fingerprint as labels, value 1 (absent before the first poll or without a donefile)",
    () => fresh().view().remote,
  );
  const registers = [registry];
  new Gauge({
    name: `${P}remote_seen_timestamp_seconds`,
    help: "Unix time this replica first saw the remote's newest version (absent before the first poll)",
    registers,
    collect() {
      const r = fresh().view().remote;
      if (r) this.set(r.seenAt / 1000);
      else this.remove();
    },
  });
  new Gauge({
    name: `${P}staleness_seconds`,
    help: "Seconds since this replica last confirmed it serves the remote's newest version (a newer one seen but not served yet, or the remote unreachable); 0 while it does",
    registers,
    collect() {
      this.set(fresh().stalenessSeconds());
    },
  });
}
