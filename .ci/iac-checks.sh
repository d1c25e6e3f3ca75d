#!/usr/bin/env bash
# Infrastructure-as-code checks for terraform/: checkov must report zero failed checks,
# zero parsing errors, and every skip must carry a reason.
#
# checkov pins its own versions of libraries the project also uses, so it lives in a
# virtual environment of its own (IAC_VENV), created once and reused.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${IAC_VENV:-/tmp/sco-iac-venv}"
# Pinned: a new checkov release adds checks, and CI must not turn red on its own.
checkov_version="${CHECKOV_VERSION:-3.3.30}"
python_bin="${IAC_PYTHON:-python3}"

cd "$repo_root"

installed_version() {
    "$venv/bin/python" -c "import importlib.metadata as m; print(m.version('checkov'))" 2>/dev/null || true
}

if [[ ! -x "$venv/bin/checkov" ]] || [[ "$(installed_version)" != "$checkov_version" ]]; then
    echo "iac-checks: installing checkov $checkov_version into $venv"
    "$python_bin" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "checkov==$checkov_version"
fi

# A skip without a reason hides a finding instead of explaining it.
unexplained="$(grep -rnE '#[[:space:]]*checkov:skip=[A-Z0-9_]+[[:space:]]*(:[[:space:]]*)?$' terraform || true)"
if [[ -n "$unexplained" ]]; then
    echo "iac-checks: checkov skips without a reason:" >&2
    echo "$unexplained" >&2
    exit 1
fi

report="$(mktemp -d)"
trap 'rm -rf "$report"' EXIT

# No calls home: --skip-download skips the vendor's platform (no token, and CI has no
# internet), the variable skips the PyPI "newer version" probe.
export CKV_SKIP_PACKAGE_UPDATE_CHECK=true
status=0
"$venv/bin/checkov" -d terraform --framework terraform --quiet --compact --skip-download \
    -o cli -o json --output-file-path "console,$report/checkov.json" || status=$?

"$venv/bin/python" - "$report/checkov.json" "$status" <<'PY'
import json
import sys

path, status = sys.argv[1], int(sys.argv[2])
with open(path, encoding="utf-8") as handle:
    results = json.load(handle)
reports = results if isinstance(results, list) else [results]
summary = {key: sum(report["summary"][key] for report in reports) for key in ("passed", "failed", "skipped", "parsing_errors")}
print(
    "iac-checks: checkov passed={passed} failed={failed} skipped={skipped} parsing_errors={parsing_errors}".format(**summary)
)
if summary["failed"] or summary["parsing_errors"] or summary["passed"] == 0 or status != 0:
    sys.exit(1)
PY
