/**
 * `npm run alarms:prove [-- --stage S] [--assembly DIR] [--save]`
 *
 * Reads every alarm and the composite from a synthesized cloud assembly (synthesizing the stage when
 * no directory is given), runs the real service under each application alarm's fault and once
 * healthy, evaluates every alarm the way CloudWatch does, prints one row per alarm and run (fault,
 * datapoints evaluated, state reached), and exits 1 naming each alarm that failed. `--save` keeps
 * the run in docs/alarms-proof.json, from which `npm run docs` renders docs/monitoring.md's table.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { STAGE_NAMES, STAGES, type StageName, serviceDimension } from '../lib/config';
import { readAlarms } from '../lib/monitoring/prove/template';
import { readTemplates, synthesizeStage } from './alarms-prove/assembly';
import { captureFaults } from './alarms-prove/capture';
import { saveProof } from './alarms-prove/doc';
import { proveAlarms, renderProofTable } from './alarms-prove/prove';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      stage: { type: 'string' },
      assembly: { type: 'string' },
      save: { type: 'boolean', default: false },
    },
  });
  const stage = (values.stage ?? 'dev') as StageName;
  if (!STAGE_NAMES.includes(stage)) {
    console.error(`alarms:prove: unknown stage '${stage}' (one of ${STAGE_NAMES.join(', ')})`);
    return 2;
  }
  const config = STAGES[stage];
  const dir = values.assembly ?? synthesizeStage(stage);
  const { alarms, composites } = readAlarms(readTemplates(dir));
  console.log(`alarms:prove: ${alarms.length} alarms and ${composites.length} composite in ${dir} (stage ${stage})`);
  const captures = await captureFaults({ serviceName: serviceDimension(config), log: (l) => console.log(`  ${l}`) });
  if (process.env.ALARMS_PROVE_DUMP) writeFileSync(process.env.ALARMS_PROVE_DUMP, JSON.stringify(captures));
  const result = proveAlarms({ config, alarms, composites, captures });
  console.log(`\nTime: ${result.compression}\n`);
  console.log(renderProofTable(result));
  if (values.save) saveProof(result);
  if (result.failed.length > 0) {
    console.error(`\nalarms:prove: ${result.failed.length} alarm(s) FAILED: ${result.failed.join(', ')}`);
    return 1;
  }
  console.log(`\nalarms:prove: every alarm of ${stage} proven (${result.rows.length} runs)`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(2);
  },
);
