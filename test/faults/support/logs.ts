/**
 * Everything the services of one test file print, kept in full (the harness' own buffers are
 * bounded), so the file can end with a scan for leaked secrets. (EMF parsing: scripts/harness/emf.ts.)
 */

export class OutputCapture {
  private readonly chunks: string[] = [];
  private bytes = 0;

  /** Pass as `onOutput` / `onServiceOutput`. */
  readonly sink = (chunk: string): void => {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
  };

  get size(): number {
    return this.bytes;
  }

  text(): string {
    return this.chunks.join('');
  }
}

export interface SecretLeak {
  readonly label: string;
  /** The line it appeared in, with the secret itself masked. */
  readonly line: string;
}

/**
 * Every occurrence of a secret in `text`, with the line masked so a failing test never prints the
 * secret it caught. Secrets shorter than 8 characters are refused: they would match by accident.
 */
export function findSecrets(text: string, secrets: ReadonlyMap<string, string>): SecretLeak[] {
  const leaks: SecretLeak[] = [];
  for (const [label, value] of secrets) {
    if (value.length < 8) throw new Error(`secret ${label} is too short to scan for reliably`);
    let from = 0;
    for (;;) {
      const at = text.indexOf(value, from);
      if (at === -1) break;
      const start = text.lastIndexOf('\n', at) + 1;
      const end = text.indexOf('\n', at);
      const line = text
        .slice(start, end === -1 ? undefined : end)
        .split(value)
        .join(`[${label}]`);
      leaks.push({ label, line: line.length > 400 ? `${line.slice(0, 400)}…` : line });
      from = at + value.length;
    }
  }
  return leaks;
}

/** A registry of the secrets a file generated, by label. */
export class SecretBook {
  private readonly values = new Map<string, string>();

  add(label: string, value: string | null | undefined): string {
    if (typeof value !== 'string' || value.length === 0) throw new Error(`secret ${label} is empty`);
    this.values.set(label, value);
    return value;
  }

  get entries(): ReadonlyMap<string, string> {
    return this.values;
  }
}
