/**
 * Keeps package-lock.json installable with `npm ci` on every platform.
 *
 * A registry that serves only some platforms' prebuilt binaries (the build machines here serve
 * linux only) makes `npm install` leave the other platforms' optional packages (biome, swc,
 * unrs-resolver builds for macOS, Windows, musl, ...) out of the lockfile, and npm 11's `npm ci`
 * then refuses the lock ("Missing: @biomejs/cli-darwin-arm64@ from lock file"). This adds an entry
 * for every optional dependency the lock declares but lacks, with the version the parent pins and
 * the os/cpu/libc that npm uses to skip it on other platforms.
 *
 *   npx tsx scripts/lockfile-platforms.ts          # fix package-lock.json in place
 *   npx tsx scripts/lockfile-platforms.ts --check  # exit 1 and list what is missing
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

interface LockEntry {
  version?: string;
  dev?: boolean;
  optional?: boolean;
  os?: string[];
  cpu?: string[];
  libc?: string[];
  optionalDependencies?: Record<string, string>;
  [key: string]: unknown;
}
interface Lockfile {
  packages: Record<string, LockEntry>;
  [key: string]: unknown;
}

const OSES = ['android', 'darwin', 'linux', 'win32', 'freebsd', 'openharmony'];
const CPUS = ['arm64', 'x64', 'ia32', 'arm', 'ppc64', 's390x', 'riscv64', 'loong64'];

/** os/cpu/libc from a platform package's name, e.g. `@swc/core-linux-x64-musl`. */
export function platformOf(name: string): { os: string; cpu: string; libc?: string } | undefined {
  const parts = name.split('/').pop()!.split('-');
  const os = OSES.find((o) => parts.includes(o));
  const cpu = CPUS.find((c) => parts.includes(c));
  if (!os || !cpu) return undefined;
  const libc = parts.includes('musl') || parts.includes('musleabihf') ? 'musl' : os === 'linux' ? 'glibc' : undefined;
  return { os, cpu, ...(libc ? { libc } : {}) };
}

/** The optional dependencies some locked package declares that have no entry of their own. */
export function missingOptionalEntries(lock: Lockfile): Array<{ name: string; version: string; dev: boolean }> {
  const missing = new Map<string, { name: string; version: string; dev: boolean }>();
  for (const entry of Object.values(lock.packages)) {
    for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
      if (!lock.packages[`node_modules/${name}`]) missing.set(name, { name, version, dev: entry.dev === true });
    }
  }
  return [...missing.values()];
}

export function addMissingPlatformEntries(lock: Lockfile): string[] {
  const added: string[] = [];
  for (const { name, version, dev } of missingOptionalEntries(lock)) {
    const platform = platformOf(name);
    if (!platform) throw new Error(`${name}: cannot tell its platform from its name; add its lock entry by hand.`);
    lock.packages[`node_modules/${name}`] = {
      version,
      ...(dev ? { dev: true } : {}),
      optional: true,
      os: [platform.os],
      cpu: [platform.cpu],
      ...(platform.libc ? { libc: [platform.libc] } : {}),
    };
    added.push(name);
  }
  const [root, ...rest] = Object.entries(lock.packages);
  lock.packages = Object.fromEntries([root, ...rest.sort(([a], [b]) => a.localeCompare(b))]);
  return added;
}

function main(): void {
  const file = path.join(__dirname, '..', 'package-lock.json');
  const lock = JSON.parse(readFileSync(file, 'utf8')) as Lockfile;
  if (process.argv.includes('--check')) {
    const missing = missingOptionalEntries(lock);
    if (missing.length === 0) return;
    console.error(
      `package-lock.json lacks ${missing.length} optional platform entries: ${missing.map((m) => m.name).join(', ')}`,
    );
    console.error('Run: npx tsx scripts/lockfile-platforms.ts');
    process.exit(1);
  }
  const added = addMissingPlatformEntries(lock);
  writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
  console.log(added.length === 0 ? 'package-lock.json: complete' : `package-lock.json: added ${added.join(', ')}`);
}

if (require.main === module) main();
