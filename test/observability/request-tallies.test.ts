/**
 * The per-request metrics are counted without prom-client on the request path; what a scrape
 * shows must be exactly what prom-client's own Counter and Histogram show for the same requests.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import { createRequestTallies } from '../../src/observability/request-tallies.ts';

const requestsMetric = { name: 'x_http_requests_total', help: 'requests' };
const durationsMetric = { name: 'x_http_request_duration_seconds', help: 'durations' };

function reference() {
  const registry = new Registry();
  const requests = new Counter({
    ...requestsMetric,
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const durations = new Histogram({
    ...durationsMetric,
    labelNames: ['method', 'route'],
    registers: [registry],
  });
  return {
    registry,
    observe(method: string, route: string, status: number, seconds: number) {
      requests.inc({ method, route, status: String(status) });
      durations.observe({ method, route }, seconds);
    },
  };
}

function tallied() {
  const registry = new Registry();
  const tallies = createRequestTallies(registry, { requests: requestsMetric, durations: durationsMetric });
  return { registry, observe: tallies.observe };
}

// Interleaved label sets, values on bucket bounds, above the last bucket and at zero.
const ROUND: readonly [string, string, number, number][] = [
  ['GET', '/users/me', 200, 0.0012],
  ['POST', '/token', 401, 0.25],
  ['GET', '/users/me', 401, 0.005],
  ['GET', 'unmatched', 404, 12],
  ['GET', '/users/me', 200, 0.1 + 0.2],
  ['POST', '/token', 200, 0],
  ['GET', '/healthz', 200, 10],
];

type Target = { observe(method: string, route: string, status: number, seconds: number): void };
const feed = (rows: readonly (readonly [string, string, number, number])[], ...targets: Target[]) => {
  for (const [method, route, status, seconds] of rows)
    for (const t of targets) t.observe(method, route, status, seconds);
};

test('a scrape shows what prom-client would, line for line, before and after more requests', async () => {
  const ours = tallied();
  const theirs = reference();
  feed(ROUND, ours, theirs);
  assert.equal(await ours.registry.metrics(), await theirs.registry.metrics());
  assert.deepEqual(await ours.registry.getMetricsAsJSON(), await theirs.registry.getMetricsAsJSON());
  // Counted after a scrape: handed over at the next one, with the new label sets after the old.
  for (const [method, route, status, seconds] of [
    ...ROUND,
    ['DELETE', '/sessions/:id', 204, 0.03],
  ] as const) {
    ours.observe(method, route, status, seconds);
    theirs.observe(method, route, status, seconds);
  }
  const text = await ours.registry.metrics();
  assert.equal(text, await theirs.registry.metrics());
  assert.match(text, /x_http_requests_total\{method="GET",route="\/users\/me",status="200"\} 4/);
  assert.deepEqual(await ours.registry.getMetricsAsJSON(), await theirs.registry.getMetricsAsJSON());
});

test('a merged registry and a reset registry read the same as prom-client', async () => {
  const ours = tallied();
  const theirs = reference();
  feed(ROUND, ours, theirs);
  assert.equal(
    await Registry.merge([ours.registry]).metrics(),
    await Registry.merge([theirs.registry]).metrics(),
  );
  await ours.registry.metrics();
  await theirs.registry.metrics();
  ours.registry.resetMetrics();
  theirs.registry.resetMetrics();
  feed([['GET', '/healthz', 200, 0.001]], ours, theirs);
  assert.equal(await ours.registry.metrics(), await theirs.registry.metrics());
});
