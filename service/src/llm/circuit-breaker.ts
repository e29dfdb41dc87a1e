/**
 * A circuit breaker behind the retries. After `failureThreshold` consecutive failed requests (each
 * already retried), calls are refused at once for `openMs`: a provider that is down or throttling
 * hard gets no traffic from us, and clients get a fast 429/503 with an honest Retry-After instead of
 * waiting through three timeouts. Then one trial request is let through (half-open); its success
 * closes the circuit, its failure opens it again.
 */
export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions {
  /** @default 5 */
  readonly failureThreshold?: number;
  /** @default 30000 */
  readonly openMs?: number;
  readonly now?: () => number;
}

export type Admission = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterMs: number };

export class CircuitBreaker<K extends string = string> {
  private readonly failureThreshold: number;
  private readonly openMs: number;
  private readonly now: () => number;
  private consecutiveFailures = 0;
  private openedAt: number | undefined;
  private trialInFlight = false;
  private lastFailure: K | undefined;

  constructor(options: CircuitBreakerOptions = {}) {
    this.failureThreshold = options.failureThreshold ?? 5;
    this.openMs = options.openMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  get state(): CircuitState {
    if (this.openedAt === undefined) return 'closed';
    return this.now() - this.openedAt >= this.openMs ? 'half_open' : 'open';
  }

  /** Why the circuit last failed (e.g. throttled vs down), so refusals can say which. */
  get lastFailureKind(): K | undefined {
    return this.lastFailure;
  }

  tryAcquire(): Admission {
    const state = this.state;
    if (state === 'closed') return { allowed: true };
    if (state === 'half_open' && !this.trialInFlight) {
      this.trialInFlight = true;
      return { allowed: true };
    }
    const remaining = state === 'open' ? (this.openedAt ?? 0) + this.openMs - this.now() : 1_000;
    return { allowed: false, retryAfterMs: Math.max(1_000, remaining) };
  }

  onSuccess(): void {
    // A success that arrives while the circuit is open came from a request admitted before it
    // opened: stale evidence. Closing on it let a 429 storm through again after one lucky straggler.
    // Only a success while closed (resets the count) or the half-open trial closes the circuit.
    if (this.state === 'open') return;
    this.consecutiveFailures = 0;
    this.openedAt = undefined;
    this.trialInFlight = false;
  }

  onFailure(kind: K): void {
    this.lastFailure = kind;
    this.consecutiveFailures += 1;
    if (this.trialInFlight || this.consecutiveFailures >= this.failureThreshold) {
      this.openedAt = this.now();
    }
    this.trialInFlight = false;
  }

  /** A request that was admitted but ended without a verdict on the provider (e.g. client left). */
  onNeutral(): void {
    this.trialInFlight = false;
  }
}
