#!/usr/bin/env node
import { main } from './main.js';

// Safety net: should an operation ever wait on something that can no longer happen (a
// connection dropped at an unlucky moment), Node would end with its own exit code 13 and
// no word. Say it in one line and use the device-error code instead.
let settled = false;
process.on('exit', (code) => {
  if (!settled && code === 13) {
    process.stderr.write('refscope: an operation on the device never finished (the connection may have dropped). Run the command again\n');
    process.exitCode = 3;
  }
});

const code = await main(process.argv.slice(2));
settled = true;
// leave even if a stray handle (a timer, a pty) would keep the loop alive; stdout is flushed by main
process.exit(code);
