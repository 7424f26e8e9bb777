#!/bin/sh
# Validate a Stryker mutation-testing report (JSON) against the schema that
# the npm package mutation-testing-report-schema ships, with ajv.
#
#   scripts/validate-stryker.sh REPORT.json
#
# The npm packages are installed once into $MUTORCH_NPM_DIR (default:
# build/npm in the repository) with `npm install --no-save --prefix DIR`.
# Exit status: 0 valid, 1 invalid (the errors go to stderr), 2 usage or
# installation failure.
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 REPORT.json" >&2
	exit 2
fi
report=$1
if [ ! -r "$report" ]; then
	echo "$0: cannot read $report" >&2
	exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
dir=${MUTORCH_NPM_DIR:-$here/../build/npm}
packages="mutation-testing-report-schema@3 ajv@8 ajv-formats@3"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "$0: node and npm are required" >&2
	exit 2
fi

if [ ! -f "$dir/node_modules/mutation-testing-report-schema/package.json" ] ||
   [ ! -f "$dir/node_modules/ajv/package.json" ] ||
   [ ! -f "$dir/node_modules/ajv-formats/package.json" ]; then
	mkdir -p "$dir"
	# shellcheck disable=SC2086 # the package list is split on purpose
	if ! npm install --no-save --no-audit --no-fund --prefix "$dir" \
		$packages >&2; then
		echo "$0: npm install into $dir failed" >&2
		exit 2
	fi
fi

exec node "$here/stryker-validate.mjs" "$dir" "$report"
