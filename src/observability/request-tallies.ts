/**
 * The per-request metrics (`http_requests_total`, `http_request_duration_seconds`) counted
 * without prom-client on the request path: prom-client hashes a label object on every `inc` and
 * `observe` (a few percent of a `/healthz`). Here a request finds its tally by method and route
 * pattern in two map lookups and adds to plain numbers; the counter receives what was counted
 * when it is read (its `collect()` callback, at scrape time), and the histogram is a registry
 * metric of our own that reports exactly what prom-client's Histogram would. The exposition text
 * is the same, line for line and in the same order (label sets in order of first appearance).
 */
import { Counter, type Metric, type Registry } from 'prom-client';

/** prom-client's default buckets, which the histogram has always had. */
export const DURATION_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type RouteLabels = { readonly method: string; readonly route: string };
type StatusLabels = RouteLabels & { readonly status: string };

interface StatusTally {
  readonly labels: StatusLabels;
  count: number;
  /** How much of `count` the prom-client counter has received. */
  folded: number;
}

interface RouteTally {
  readonly labels: RouteLabels;
  readonly statuses: Map<number, StatusTally>;
  /** Observations per bucket (not cumulative), as prom-client keeps them. */
  readonly buckets: number[];
  sum: number;
  count: number;
}

interface MetricNames {
  readonly requests: { readonly name: string; readonly help: string };
  readonly durations: { readonly name: string; readonly help: string };
}

export interface RequestTallies {
  observe(method: string, route: string, status: number, seconds: number): void;
}

type ValuePair = {
  labels: Record<string, string | number>;
  sharedLabels: Record<string, string>;
  value: number;
  metricName: string;
  exemplar: null | undefined;
};

export function createRequestTallies(registry: Registry, names: MetricNames): RequestTallies {
  const routes = new Map<string, Map<string, RouteTally>>();
  // First appearance order, which is the order prom-client reports label sets in.
  const statusOrder: StatusTally[] = [];
  const routeOrder: RouteTally[] = [];

  new Counter({
    ...names.requests,
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
    collect() {
      for (const tally of statusOrder) {
        if (tally.count === tally.folded) continue;
        this.inc(tally.labels, tally.count - tally.folded);
        tally.folded = tally.count;
      }
    },
  });

  const { name, help } = names.durations;
  const valuesForPromString = (): ValuePair[] =>
    routeOrder.flatMap((tally) => {
      let cumulative = 0;
      const buckets: ValuePair[] = DURATION_BUCKETS.map((le, i) => {
        cumulative += tally.buckets[i] ?? 0;
        return {
          labels: { le },
          sharedLabels: tally.labels,
          value: cumulative,
          metricName: `${name}_bucket`,
          exemplar: null,
        };
      });
      const pair = (
        labels: ValuePair['labels'],
        value: number,
        suffix: string,
        exemplar: null | undefined,
      ) => ({
        labels,
        sharedLabels: tally.labels,
        value,
        metricName: `${name}${suffix}`,
        exemplar,
      });
      return [
        ...buckets,
        pair({ le: '+Inf' }, tally.count, '_bucket', null),
        pair({}, tally.sum, '_sum', undefined),
        pair({}, tally.count, '_count', undefined),
      ];
    });
  // What the registry asks of a metric (prom-client's Histogram answers the same shapes).
  const durations = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    labelNames: ['method', 'route'],
    async getForPromString() {
      return { name, help, type: 'histogram', values: valuesForPromString(), aggregator: 'sum' };
    },
    async get() {
      const values = valuesForPromString().map(({ sharedLabels, labels, ...pair }) => ({
        ...pair,
        labels: { ...labels, ...sharedLabels },
      }));
      return { name, help, type: 'histogram', values, aggregator: 'sum' };
    },
    // Registry#resetMetrics(): the histogram starts empty again, as prom-client's would (the
    // counter's tallies already handed over stay with it, and new ones start from zero).
    reset() {
      routes.clear();
      routeOrder.length = 0;
    },
  };
  registry.registerMetric(durations as unknown as Metric);

  // Only `observe` creates tallies, so creation order is the order of first appearance.
  const routeTally = (method: string, route: string): RouteTally => {
    let byRoute = routes.get(method);
    if (byRoute === undefined) {
      byRoute = new Map();
      routes.set(method, byRoute);
    }
    let tally = byRoute.get(route);
    if (tally === undefined) {
      tally = {
        labels: { method, route },
        statuses: new Map(),
        buckets: DURATION_BUCKETS.map(() => 0),
        sum: 0,
        count: 0,
      };
      byRoute.set(route, tally);
      routeOrder.push(tally);
    }
    return tally;
  };

  return {
    observe(method, route, status, seconds) {
      const tally = routeTally(method, route);
      let byStatus = tally.statuses.get(status);
      if (byStatus === undefined) {
        byStatus = { labels: { method, route, status: String(status) }, count: 0, folded: 0 };
        tally.statuses.set(status, byStatus);
        statusOrder.push(byStatus);
      }
      byStatus.count++;
      // prom-client's findBound: the first bucket the value fits; above the last, only the count.
      for (let i = 0; i < DURATION_BUCKETS.length; i++) {
        if (seconds <= (DURATION_BUCKETS[i] as number)) {
          tally.buckets[i] = (tally.buckets[i] as number) + 1;
          break;
        }
      }
      tally.sum += seconds;
      tally.count++;
    },
  };
}
