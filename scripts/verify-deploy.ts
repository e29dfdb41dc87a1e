/**
 * A rehearsal of the first deploy, offline: synthesizes every stage and the release pipeline with
 * the CDK CLI into temporary directories, then walks each cloud assembly in CloudFormation's order
 * (scripts/deploy-rehearsal.ts says what is checked). Prints what it checked and every
 * finding; exits 1 if there is any.
 *
 *   npm run verify:deploy
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { STAGE_NAMES } from '../lib/config';
import { externalNames, readAssemblies, rehearse } from './deploy-rehearsal';

const REPO_ROOT = path.join(__dirname, '..');
const targets: { name: string; context: string[] }[] = [
  ...STAGE_NAMES.map((stage) => ({ name: stage, context: ['-c', `stage=${stage}`] })),
  { name: 'pipeline', context: ['-c', 'pipeline=true'] },
];

const root = mkdtempSync(path.join(tmpdir(), 'verify-deploy-'));
let findings = 0;
try {
  const external = externalNames();
  console.log('Named outside the app (allowed before anything creates them):');
  for (const e of external) console.log(`  ${e.kind} '${e.name}': ${e.why}`);
  for (const target of targets) {
    const out = path.join(root, target.name);
    console.log(`\n== ${target.name}: npx cdk synth --quiet ${target.context.join(' ')} -o ${out}`);
    try {
      execFileSync('npx', ['cdk', 'synth', '--quiet', ...target.context, '-o', out], {
        cwd: REPO_ROOT,
        // The CLI's own output (bundling progress) is noise here; it is shown when the synth fails.
        stdio: ['ignore', 'pipe', 'pipe'],
        maxBuffer: 64 * 1024 * 1024,
      });
    } catch (err) {
      const e = err as { stdout?: Buffer; stderr?: Buffer };
      process.stderr.write(`${e.stdout ?? ''}${e.stderr ?? ''}`);
      throw new Error(`synth of ${target.name} failed; nothing was rehearsed for it`);
    }
    for (const assembly of readAssemblies(out, target.name)) {
      const report = rehearse(assembly, external);
      console.log(`deploy order: ${report.order.join(' -> ')}`);
      for (const line of report.checked) console.log(`  checked ${line}`);
      for (const f of report.findings) {
        console.log(`  FINDING [${f.rule}] ${f.stack}${f.resource ? `/${f.resource}` : ''}: ${f.message}`);
      }
      findings += report.findings.length;
    }
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
console.log(
  findings === 0
    ? '\nNo finding: the first deploy is in order, as far as a synth can tell.'
    : `\n${findings} finding(s).`,
);
process.exit(findings === 0 ? 0 : 1);
