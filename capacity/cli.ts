// `npm run capacity -- --users 100000000 --devices 3 --verify-rps 200000 --login-rps 500`:
// the plan for a workload, from the measured constants in capacity/constants.json (which
// `npm run bench` rewrites). Bad arguments: a message naming them, and exit code 2. With
// `--render-doc` alone, it re-renders CAPACITY.md's generated part from the committed JSON.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseCapacityArgs, usage } from './args.js';
import { readConstants } from './constants.js';
import { plan } from './model.js';
import { renderGenerated, spliceGenerated, type ScaleResult } from './doc.js';
import { renderPlan } from './render.js';
import { CHECKSUM_LENGTH, SECRET_LENGTH, TAG_LENGTH, TOKEN_ID_LENGTH } from '../src/token.js';

/** Where the committed constants live. */
export const CONSTANTS_URL: URL = new URL('constants.json', import.meta.url);

/** Re-renders CAPACITY.md's generated part from the committed constants and scale run. */
function renderDoc(): number {
  const { file, constants } = readConstants(JSON.parse(readFileSync(CONSTANTS_URL, 'utf8')) as unknown);
  const scaleUrl = new URL('scale.json', import.meta.url);
  const scale = existsSync(scaleUrl) ? (JSON.parse(readFileSync(scaleUrl, 'utf8')) as ScaleResult) : undefined;
  const docUrl = new URL('../CAPACITY.md', import.meta.url);
  writeFileSync(docUrl, spliceGenerated(readFileSync(docUrl, 'utf8'), renderGenerated(file, constants, scale)));
  console.log('rewrote the generated part of CAPACITY.md');
  return 0;
}

function main(argv: readonly string[]): number {
  if (argv.length === 1 && argv[0] === '--render-doc') return renderDoc();
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
  const { file, constants } = readConstants(JSON.parse(text) as unknown);
  const now = { tagLength: TAG_LENGTH, secretLength: SECRET_LENGTH, checksumLength: CHECKSUM_LENGTH, tokenIdLength: TOKEN_ID_LENGTH };
  for (const [id, run] of Object.entries(file.runs)) {
    if (JSON.stringify(run.tokenFormat) !== JSON.stringify(now)) {
      console.error(`capacity: warning: run ${id} measured tokens of format ${JSON.stringify(run.tokenFormat)}, src/token.ts now has ${JSON.stringify(now)}; re-measure with \`npm run bench -- --only=capacity\``);
    }
  }
  const result = plan(constants, command.workload);
  console.log(command.json ? JSON.stringify(result, null, 2) : renderPlan(result, constants));
  return 0;
}

process.exitCode = main(process.argv.slice(2));
