/** `npm run gate -- --target URL --profile NAME`: see scripts/gate/main.ts and docs/loadtests.md. */
import { GATE_EXIT_CODES } from '../lib/contract/gate';
import { runGate } from './gate/main';

runGate(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(
      `gate: unexpected wrapper error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    // Not k6's code and not 0: an internal error of the wrapper is a gate error.
    process.exitCode = GATE_EXIT_CODES.wrapperError;
  },
);
