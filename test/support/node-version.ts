import { readFileSync } from 'node:fs';
import * as path from 'node:path';

/** The Node.js release CI runs the suite on and the images are built from (`.node-version`). */
export const NODE_VERSION = readFileSync(path.join(__dirname, '..', '..', '.node-version'), 'utf8').trim();
