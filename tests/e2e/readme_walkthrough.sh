#!/usr/bin/env bash
# Runs the curl walkthrough of docs/http-api.md exactly as written: the ```bash blocks
# between its `<!-- walkthrough:start -->` and `<!-- walkthrough:end -->` markers, in one
# `bash -euo pipefail` (the options of the shell the doc tells the reader to open, so a
# failing command stops it), from the checkout's folder (the walkthrough's first command
# activates the checkout's .venv).
#
#   bash tests/e2e/readme_walkthrough.sh            # API on port 8000, or PORT=…
#
# The doc is the only copy of the commands, so the doc and this test cannot drift apart.
# `tests/e2e/test_readme_walkthrough.py` runs it with a free port and TMPDIR in its tmp dir.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
doc="$root/docs/http-api.md"

walkthrough=$(awk '
  /<!-- walkthrough:start -->/ { inside = 1; next }
  /<!-- walkthrough:end -->/   { inside = 0; next }
  inside && /^```bash$/        { block = 1; next }
  inside && block && /^```$/   { block = 0; next }
  inside && block              { print }
' "$doc")

if [ -z "$walkthrough" ]; then
  echo "readme_walkthrough: no \`\`\`bash block between the walkthrough markers of $doc" >&2
  exit 1
fi

cd "$root"
exec bash -euo pipefail -c "$walkthrough"
