#!/bin/sh
":" //; exec node --max-semi-space-size=1 "$0" "$@"
/*
 * The line above is for /bin/sh, which runs this file when it is executed
 * (npx, a global install, systemd, a container's command): it starts node with
 * a 1 MiB young generation. A pull allocates a short-lived Buffer per socket
 * read; with V8's default the young generation grows to tens of MiB of mostly
 * empty pages, and this flag keeps peak RSS ~25 MiB lower and the pull no
 * slower (see docs/performance.md). To node the line is a string and a comment.
 */
// dist/bundle/: the CLI's modules in a few files (rolldown.config.mjs), ~35 ms less start-up than the ~100 of dist/.
import { main } from '../dist/bundle/cli.js';

// Until main() settles the exit code is 1: a process whose event loop empties with main() still
// pending (a promise nothing will settle) must not look like a success (publish: 0 = the donefile is written).
process.exitCode = 1;
main(process.argv).then((code) => {
  process.exitCode = code;
});
