#!/usr/bin/env bash
# Assembles README.md from docs/ and the option specs (options are data: the
# flag tables are generated, so the README lists every flag the CLI accepts).
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
{
  cat docs/README.head.md
  echo
  echo "## Every flag"
  echo
  echo "Generated from the option specs (\`node scripts/flags-table.mjs\`). Each flag also reads"
  echo "\`MODEL_MONITOR_<FLAG>\` and the \`--config\` file; booleans take \`--no-<flag>\`."
  node scripts/flags-table.mjs
  echo
  cat docs/engines.md
  echo
  cat docs/publish.md
  echo
  cat docs/operations.md
  echo
  cat docs/fleet.md
  if [ -f docs/performance.md ]; then echo; cat docs/performance.md; fi
  echo
  cat docs/development.md
} > README.md
