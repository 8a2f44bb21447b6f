// `npm run capacity -- --users 100000000 --devices 3 --verify-rps 200000 --login-rps 500`:
// the plan for a workload, from the measured constants in capacity/constants.json (which
// `npm run bench` rewrites). Bad arguments: a message naming them, and exit code 2.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseCapacityArgs, usage } from './args.js';
import { readConstants } from './constants.js';
import { plan } from './model.js';
import { renderPlan } from './render.js';

/** Where the committed constants live. */
export const CONSTANTS_URL: URL = new URL('constants.json', import.meta.url);

function main(argv: readonly string[]): number {
  let command;
  try {
    command = parseCapacityArgs(argv);
  } catch (err) {
    console.error(`capacity: ${(err as Error).message}`);
    return 2;
  }
  if (command.help) {
    console.log(usage());
    return 0;
  }
  const path = command.constantsPath === undefined ? CONSTANTS_URL : resolve(command.constantsPath);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    console.error(`capacity: cannot read the constants file ${String(path)}: ${(err as Error).message}; \`npm run bench -- --only=capacity\` writes it`);
    return 1;
  }
  const { constants } = readConstants(JSON.parse(text) as unknown);
  const result = plan(constants, command.workload);
  console.log(command.json ? JSON.stringify(result, null, 2) : renderPlan(result, constants));
  return 0;
}

process.exitCode = main(process.argv.slice(2));
