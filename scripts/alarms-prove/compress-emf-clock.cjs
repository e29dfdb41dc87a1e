/**
 * Preloaded into the service (NODE_OPTIONS=--require) by `npm run alarms:prove` only: the service's
 * EMF aggregator flushes every 60 s (service/src/observability/metrics.ts, the only 60 000 ms
 * setInterval in the service); this runs that one timer every ALARMS_PROVE_FLUSH_MS instead, so a
 * fault run of seconds yields one EMF document per "minute". Nothing else in the service changes.
 * The proof then replays the documents on a clock stretched back by the same factor.
 */
const flushMs = Number(process.env.ALARMS_PROVE_FLUSH_MS);
if (Number.isFinite(flushMs) && flushMs > 0) {
  const original = global.setInterval;
  global.setInterval = function setInterval(callback, ms, ...args) {
    return original(callback, ms === 60000 ? flushMs : ms, ...args);
  };
}
