#!/usr/bin/env node
// The `passport-redis-multi-token` command: `npx passport-redis-multi-token --help`.
import { runCli } from './run.js';

// `| head` closing the pipe early is not an error of the command.
process.stdout.on('error', () => {});
const status = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
process.exitCode = status;
// Every connection is closed by now; should a stray handle linger, exit regardless.
setTimeout(() => process.exit(status), 1000).unref();
