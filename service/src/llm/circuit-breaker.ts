/**
 * A circuit breaker behind the retries. After `failureThreshold` consecutive failed requests (each
 * already retried), calls are refused at once for `openMs`: a provider that is down or throttling
 * hard gets no traffic from us, and clients get a fast 429/503 with an honest Retry-After instead of
 * waiting through three timeouts. Then one trial request is let through (half-open); its success
 * closes the circuit, its failure opens it again.
 *
 * Only the provider's word counts on its own: its 429s and 5xx (`isProviderSignal`). A timeout, a
 * lost connection or an empty answer may be the caller's doing (a huge context, a prompt that makes
 * the model write until `max_tokens`, or nothing at all), so such failures count only once they
 * come from at least `minDistinctPrincipals` callers in the same run of failures.
 *
 * The half-open trial follows the same rule. A trial that fails with the provider's word re-opens
 * the circuit. One that fails otherwise says nothing about the provider until trials of
 * `minDistinctPrincipals` principals failed so: until then the circuit stays half-open, and the
 * principal whose trial failed gets no other trial for `openMs` (it cannot take every trial slot
 * and so hold the circuit for everyone). One principal can therefore neither open the circuit nor
 * keep it open.
 */
export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions<K extends string = string> {
  /** @default 5 */
  readonly failureThreshold?: number;
  /** @default 30000 */
  readonly openMs?: number;
  /** Failures that count whoever caused them. @default every kind */
  readonly isProviderSignal?: (kind: K) => boolean;
  /** Other failures count once this many distinct principals had one in the current run. @default 2 */
  readonly minDistinctPrincipals?: number;
  readonly now?: () => number;
}

export type Admission = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterMs: number };

export class CircuitBreaker<K extends string = string> {
  private readonly failureThreshold: number;
  private readonly openMs: number;
  private readonly now: () => number;
  private openedAt: number | undefined;
  private trialInFlight = false;
  private lastFailure: K | undefined;
  private readonly isProviderSignal: (kind: K) => boolean;
  private readonly minDistinctPrincipals: number;
  /** The current run of failures: those that count alone, and the others with who caused them. */
  private providerFailures = 0;
  private otherFailures = 0;
  private readonly otherPrincipals = new Set<string>();
  /**
   * While half-open: principals whose trial failed without the provider's word, and when. Never
   * more than `minDistinctPrincipals - 1` entries: one more re-opens the circuit and clears it.
   */
  private readonly failedTrials = new Map<string, number>();
  private trialPrincipal: string | undefined;

  constructor(options: CircuitBreakerOptions<K> = {}) {
    this.failureThreshold = options.failureThreshold ?? 5;
    this.openMs = options.openMs ?? 30_000;
    this.now = options.now ?? Date.now;
    this.isProviderSignal = options.isProviderSignal ?? (() => true);
    this.minDistinctPrincipals = options.minDistinctPrincipals ?? 2;
  }

  get state(): CircuitState {
    if (this.openedAt === undefined) return 'closed';
    return this.now() - this.openedAt >= this.openMs ? 'half_open' : 'open';
  }

  /** Why the circuit last failed (e.g. throttled vs down), so refusals can say which. */
  get lastFailureKind(): K | undefined {
    return this.lastFailure;
  }

  /** `principal`: who the request is for (the half-open trial rule needs it). */
  tryAcquire(principal = ''): Admission {
    const state = this.state;
    if (state === 'closed') return { allowed: true };
    if (state === 'half_open') {
      const failedAt = this.failedTrials.get(principal);
      const barredMs = failedAt === undefined ? 0 : failedAt + this.openMs - this.now();
      if (barredMs > 0) return { allowed: false, retryAfterMs: Math.max(1_000, barredMs) };
      if (!this.trialInFlight) {
        this.trialInFlight = true;
        this.trialPrincipal = principal;
        return { allowed: true };
      }
      return { allowed: false, retryAfterMs: 1_000 };
    }
    return { allowed: false, retryAfterMs: Math.max(1_000, (this.openedAt ?? 0) + this.openMs - this.now()) };
  }

  onSuccess(): void {
    // A success that arrives while the circuit is open came from a request admitted before it
    // opened: stale evidence. Closing on it let a 429 storm through again after one lucky straggler.
    // Only a success while closed (resets the count) or the half-open trial closes the circuit.
    if (this.state === 'open') return;
    this.resetRun();
    this.openedAt = undefined;
    this.endTrial();
    this.failedTrials.clear();
  }

  /** A failed request; `principal` is who sent it (needed for failures that are not provider signals). */
  onFailure(kind: K, principal = ''): void {
    this.lastFailure = kind;
    const provider = this.isProviderSignal(kind);
    if (provider) {
      this.providerFailures += 1;
    } else {
      this.otherFailures += 1;
      // Bounded: only "at least N distinct" matters.
      if (this.otherPrincipals.size < this.minDistinctPrincipals) this.otherPrincipals.add(principal);
    }
    // The trial is the request admitted while half-open, for this principal; a late failure of a
    // request admitted before the circuit opened is not it.
    const trial = this.trialInFlight && this.state === 'half_open' && this.trialPrincipal === principal;
    if (trial) {
      this.endTrial();
      if (!provider) this.failedTrials.set(principal, this.now());
      if (provider || this.failedTrials.size >= this.minDistinctPrincipals) this.open();
      return;
    }
    if (this.state === 'closed' && this.countedFailures() >= this.failureThreshold) this.open();
  }

  private open(): void {
    this.openedAt = this.now();
    this.endTrial();
    this.failedTrials.clear();
  }

  private endTrial(): void {
    this.trialInFlight = false;
    this.trialPrincipal = undefined;
  }

  /** Failed requests in the current run that count towards opening. */
  private countedFailures(): number {
    const others = this.otherPrincipals.size >= this.minDistinctPrincipals ? this.otherFailures : 0;
    return this.providerFailures + others;
  }

  private resetRun(): void {
    this.providerFailures = 0;
    this.otherFailures = 0;
    this.otherPrincipals.clear();
  }

  /** A request that was admitted but ended without a verdict on the provider (e.g. client left). */
  onNeutral(principal = ''): void {
    if (this.trialPrincipal === principal) this.endTrial();
  }
}
